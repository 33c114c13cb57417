// STS over the Query API: request shape, response and error parsing, role chaining.
#include "aws/sts.h"

#include <gtest/gtest.h>

#include "common/strings.h"
#include "unit/aws/fake_transport.h"

namespace tp::aws {
namespace {

using testing::FakeTransport;
using testing::form_param;
using testing::sts_credentials_xml;
using testing::xml_response;

constexpr const char* kAccessDenied = R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:sts::111111111111:assumed-role/teleport-db-service-role/i-0abc is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/db-user-role</Message>
  </Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>)";

class StsTest : public ::testing::Test {
 protected:
  MapEnv env_;
  FakeTransport transport_;
  FakeClock clock_{from_unix_seconds(1440938160)};
  ApiContext ctx_{transport_, env_, clock_};
  Credentials base_{"AKBASE", "SKBASE", "", std::nullopt, "test"};
};

TEST_F(StsTest, AssumeRoleRequestAndResponse) {
  transport_.set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    return xml_response(200, sts_credentials_xml("AssumeRole", "ASIAA"));
  });
  AssumeRoleRequest req{"arn:aws:iam::1:role/a", "sess", "ext", std::chrono::seconds(900)};
  auto c = assume_role(ctx_, base_, "us-west-1", req);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAA");
  EXPECT_EQ(c->secret_access_key, "secret-ASIAA");
  EXPECT_EQ(c->session_token, "token-ASIAA");
  EXPECT_EQ(c->expiration, *parse_iso8601("2015-08-30T13:36:00Z"));
  const HttpRequest& r = transport_.requests.at(0);
  EXPECT_EQ(r.url, "https://sts.us-west-1.amazonaws.com/");
  EXPECT_EQ(
      r.body,
      "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa&RoleSessionName=sess"
      "&DurationSeconds=900&ExternalId=ext");
  EXPECT_EQ(find_header(r.headers, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(find_header(r.headers, "Host"), "sts.us-west-1.amazonaws.com");
  EXPECT_EQ(find_header(r.headers, "X-Amz-Date"), "20150830T123600Z");
  auto auth = find_header(r.headers, "Authorization");
  ASSERT_TRUE(auth);
  EXPECT_NE(auth->find("SignedHeaders=content-type;host;x-amz-date,"), std::string::npos) << *auth;
}

TEST_F(StsTest, AccessDeniedKeepsAwsMessageAndSaysWhatToFix) {
  transport_.set_handler(
      [](const HttpRequest&) -> Result<HttpResponse> { return xml_response(403, kAccessDenied); });
  auto c = assume_role(ctx_, base_, "", {"arn:aws:iam::111111111111:role/db-user-role"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kAccessDenied);
  EXPECT_EQ(
      c.error().message,
      "sts AssumeRole: AccessDenied: User: arn:aws:sts::111111111111:assumed-role/teleport-db-service-role/"
      "i-0abc is not authorized to perform: sts:AssumeRole on resource: "
      "arn:aws:iam::111111111111:role/db-user-role (request id c6104cbe-af31-11e0-8154-cbc7ccf896c7); "
      "check the trust relationship of arn:aws:iam::111111111111:role/db-user-role: it must allow "
      "sts:AssumeRole by arn:aws:sts::111111111111:assumed-role/teleport-db-service-role/i-0abc");
  EXPECT_EQ(transport_.requests.at(0).url, "https://sts.amazonaws.com/");  // no region: global endpoint
}

TEST_F(StsTest, RoleChainingUsesEachStepsCredentials) {
  transport_.set_handler([](const HttpRequest& r) -> Result<HttpResponse> {
    std::string role = form_param(r, "RoleArn");
    return xml_response(
        200, sts_credentials_xml("AssumeRole", role == "arn:aws:iam::1:role/a" ? "ASIAA" : "ASIAB"));
  });
  auto c = assume_role_chain(
      ctx_, base_, "us-east-1",
      {{"arn:aws:iam::1:role/a"}, {"arn:aws:iam::2:role/b", "s", "", std::chrono::hours(12)}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAB");
  ASSERT_EQ(transport_.requests.size(), 2u);
  EXPECT_NE(find_header(transport_.requests[0].headers, "Authorization")->find("Credential=AKBASE/"),
            std::string::npos);
  const HttpRequest& second = transport_.requests[1];
  EXPECT_NE(find_header(second.headers, "Authorization")->find("Credential=ASIAA/"), std::string::npos);
  EXPECT_EQ(find_header(second.headers, "X-Amz-Security-Token"), "token-ASIAA");
  EXPECT_EQ(form_param(second, "DurationSeconds"), "3600");  // chained sessions are capped at an hour
}

TEST_F(StsTest, RoleChainingNamesTheFailingStep) {
  transport_.set_handler([](const HttpRequest& r) -> Result<HttpResponse> {
    if (form_param(r, "RoleArn") == "arn:aws:iam::1:role/a") {
      return xml_response(200, sts_credentials_xml("AssumeRole", "ASIAA"));
    }
    return xml_response(403, kAccessDenied);
  });
  auto c =
      assume_role_chain(ctx_, base_, "us-east-1", {{"arn:aws:iam::1:role/a"}, {"arn:aws:iam::2:role/b"}});
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(
      starts_with(c.error().message, "role chaining step 2 (as arn:aws:iam::1:role/a): sts AssumeRole"))
      << c.error().message;
}

TEST_F(StsTest, GetCallerIdentity) {
  transport_.set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    return xml_response(200, R"(<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>
    <UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>)");
  });
  auto id = get_caller_identity(ctx_, base_, "");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->arn, "arn:aws:iam::123456789012:user/Alice");
  EXPECT_EQ(id->account, "123456789012");
  EXPECT_EQ(id->user_id, "AIDACKCEVSQ6C2EXAMPLE");
}

TEST_F(StsTest, EndpointOverride) {
  env_.set("AWS_ENDPOINT_URL", "http://127.0.0.1:1111");
  env_.set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566/");
  transport_.set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    return xml_response(200, sts_credentials_xml("AssumeRole", "ASIAA"));
  });
  ASSERT_TRUE(assume_role(ctx_, base_, "eu-west-1", {"arn:aws:iam::1:role/a"}).ok());
  const HttpRequest& r = transport_.requests.at(0);
  EXPECT_EQ(r.url, "http://127.0.0.1:4566/");
  EXPECT_EQ(find_header(r.headers, "Host"), "127.0.0.1:4566");
  EXPECT_NE(find_header(r.headers, "Authorization")->find("/eu-west-1/sts/aws4_request"), std::string::npos);
}

TEST_F(StsTest, TransportFailureAndGarbage) {
  auto c = assume_role(ctx_, base_, "us-east-1", {"arn:aws:iam::1:role/a"});  // no handler: refused
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(starts_with(c.error().message, "sts AssumeRole: ")) << c.error().message;

  transport_.set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    return HttpResponse{502, {}, "<html>Bad Gateway</html>"};
  });
  c = assume_role(ctx_, base_, "us-east-1", {"arn:aws:iam::1:role/a"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(c.error().message.find("HTTP 502"), std::string::npos) << c.error().message;
}

TEST(StsParse, MissingCredentials) {
  auto doc = xml::parse("<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>");
  ASSERT_TRUE(doc.ok());
  EXPECT_FALSE(parse_sts_credentials(*doc, "AssumeRoleResult").ok());
  EXPECT_EQ(caller_from_access_denied("no user here"), "");
}

}  // namespace
}  // namespace tp::aws
