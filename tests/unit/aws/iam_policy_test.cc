// The IAM policy against the guide, size limits, principals and PutUserPolicy / PutRolePolicy.
#include "aws/iam_policy.h"

#include <gtest/gtest.h>

#include "common/strings.h"
#include "unit/aws/fake_transport.h"

namespace tp::aws {
namespace {

using testing::FakeTransport;
using testing::form_param;
using testing::xml_response;

// Verbatim from the guide (seed/000_068bd79c3226f201.txt, "권한 부여").
constexpr const char* kGuidePolicy =
    R"({ "Version": "2012-10-17", "Statement": [ { "Sid": "RDSAutoEnableIAMAuth", "Effect": "Allow", "Action": [ "rds:ModifyDBCluster", "rds:ModifyDBInstance" ], "Resource": "*" }, { "Sid": "RDSConnect", "Effect": "Allow", "Action": "rds-db:connect", "Resource": "*" }, { "Sid": "RDSFetchMetadata", "Effect": "Allow", "Action": [ "rds:DescribeDBClusters", "rds:DescribeDBInstances" ], "Resource": "*" } ] })";

std::string without_spaces(std::string s) {
  std::erase(s, ' ');
  return s;
}

TEST(IamPolicy, RdsMatchesTheGuide) {
  auto p = build_iam_policy({"rds"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(*p, nlohmann::ordered_json::parse(kGuidePolicy));
  EXPECT_EQ(p->dump(), without_spaces(kGuidePolicy));  // same key order too
}

TEST(IamPolicy, OtherTypesAndCombinations) {
  auto p = build_iam_policy({"rds", "RDS-Proxy", "rds", "redshift", "redshift-serverless"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  std::vector<std::string> sids;
  std::string actions;
  for (const auto& s : (*p)["Statement"]) {
    sids.push_back(s["Sid"]);
    actions += s["Action"].dump();
    EXPECT_EQ(s["Resource"], "*");
    EXPECT_EQ(s["Effect"], "Allow");
  }
  EXPECT_EQ(sids, (std::vector<std::string>{"RDSAutoEnableIAMAuth", "RDSConnect", "RDSFetchMetadata",
                                            "RDSProxyConnect", "RDSProxyFetchMetadata", "RedshiftConnect",
                                            "RedshiftFetchMetadata", "RedshiftServerlessConnect",
                                            "RedshiftServerlessFetchMetadata"}));
  for (const char* a : {"rds:DescribeDBProxies", "rds:DescribeDBProxyEndpoints", "redshift:DescribeClusters",
                        "redshift:GetClusterCredentials", "redshift-serverless:GetWorkgroup"}) {
    EXPECT_NE(actions.find(a), std::string::npos) << a;
  }
}

TEST(IamPolicy, UnknownTypeListsValidOnes) {
  auto p = build_iam_policy({"rds", "dynamodb"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message,
            "unknown database type \"dynamodb\"; valid types: rds, rds-proxy, redshift, redshift-serverless");
  EXPECT_FALSE(build_iam_policy({}).ok());
}

TEST(IamPolicy, SizeLimits) {
  IamPrincipal user{IamPrincipalKind::kUser, "alice", "1", "arn:aws:iam::1:user/alice"};
  IamPrincipal role{IamPrincipalKind::kRole, "db", "1", "arn:aws:iam::1:role/db"};
  auto small = check_policy_size(build_iam_policy({"rds"})->dump(), user);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(*small, "");
  auto warn = check_policy_size(std::string(1844, 'x'), user);  // 90.04 % of 2048
  ASSERT_TRUE(warn.ok());
  EXPECT_NE(warn->find("90% of IAM's 2048-byte limit for user policies"), std::string::npos) << *warn;
  EXPECT_EQ(*check_policy_size(std::string(1843, 'x'), user), "");
  auto over = check_policy_size(std::string(2049, 'x'), user);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(starts_with(over.error().message, "Maximum policy size of 2048 bytes exceeded for user alice"));
  EXPECT_TRUE(check_policy_size(std::string(2049, 'x'), role).ok());
  EXPECT_TRUE(check_policy_size(std::string(10240, 'x'), role).ok());
  auto role_over = check_policy_size(std::string(10241, 'x'), role);
  ASSERT_FALSE(role_over.ok());
  EXPECT_TRUE(
      starts_with(role_over.error().message, "Maximum policy size of 10240 bytes exceeded for role db"));
}

TEST(IamPolicy, Principals) {
  auto u = parse_principal_arn("arn:aws:iam::123456789012:user/division/alice");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, IamPrincipalKind::kUser);
  EXPECT_EQ(u->name, "alice");
  EXPECT_EQ(u->account_id, "123456789012");
  auto r = parse_principal_arn("arn:aws:sts::123456789012:assumed-role/teleport-db-service-role/i-0abc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, IamPrincipalKind::kRole);
  EXPECT_EQ(r->name, "teleport-db-service-role");
  auto plain_role = parse_principal_arn("arn:aws:iam::123456789012:role/path/db-role");
  ASSERT_TRUE(plain_role.ok());
  EXPECT_EQ(plain_role->name, "db-role");
  EXPECT_FALSE(parse_principal_arn("arn:aws:iam::123456789012:root").ok());
  EXPECT_FALSE(parse_principal_arn("alice").ok());
}

TEST(IamPolicy, PutInlinePolicy) {
  MapEnv env;
  FakeTransport transport([](const HttpRequest& r) -> Result<HttpResponse> {
    std::string action = form_param(r, "Action");
    return xml_response(200, "<" + action + "Response><ResponseMetadata/></" + action + "Response>");
  });
  FakeClock clock(from_unix_seconds(1440938160));
  ApiContext ctx{transport, env, clock};
  Credentials creds{"AK", "SK", "", std::nullopt, ""};
  std::string doc = build_iam_policy({"rds"})->dump();
  ASSERT_TRUE(
      put_inline_policy(ctx, creds, *parse_principal_arn("arn:aws:iam::1:role/db"), "DatabaseAccess", doc)
          .ok());
  ASSERT_TRUE(
      put_inline_policy(ctx, creds, *parse_principal_arn("arn:aws:iam::1:user/al"), "DatabaseAccess", doc)
          .ok());
  ASSERT_EQ(transport.requests.size(), 2u);
  const HttpRequest& role = transport.requests[0];
  EXPECT_EQ(role.url, "https://iam.amazonaws.com/");
  EXPECT_EQ(form_param(role, "Action"), "PutRolePolicy");
  EXPECT_EQ(form_param(role, "Version"), "2010-05-08");
  EXPECT_EQ(form_param(role, "RoleName"), "db");
  EXPECT_EQ(form_param(role, "PolicyName"), "DatabaseAccess");
  EXPECT_EQ(form_param(role, "PolicyDocument"), doc);
  EXPECT_NE(find_header(role.headers, "Authorization")->find("/us-east-1/iam/aws4_request"),
            std::string::npos);
  EXPECT_EQ(form_param(transport.requests[1], "Action"), "PutUserPolicy");
  EXPECT_EQ(form_param(transport.requests[1], "UserName"), "al");

  env.set("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:7000");
  transport.set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    return xml_response(
        403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>");
  });
  auto st = put_inline_policy(ctx, creds, *parse_principal_arn("arn:aws:iam::1:role/db"), "P", doc);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(transport.requests.back().url, "http://127.0.0.1:7000/");
  EXPECT_EQ(st.error().code, ErrorCode::kAccessDenied);
  EXPECT_NE(
      st.error().message.find("iam PutRolePolicy: AccessDenied: no; the caller needs iam:PutRolePolicy"),
      std::string::npos)
      << st.error().message;
}

TEST(IamPolicy, AttachToTheCaller) {
  MapEnv env;
  FakeTransport transport([](const HttpRequest& r) -> Result<HttpResponse> {
    std::string action = form_param(r, "Action");
    if (action == "GetCallerIdentity") {
      return xml_response(200,
                          "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                          "<Arn>arn:aws:sts::123:assumed-role/teleport-db/i-1</Arn><Account>123</Account>"
                          "</GetCallerIdentityResult></GetCallerIdentityResponse>");
    }
    return xml_response(200, "<" + action + "Response/>");
  });
  FakeClock clock(from_unix_seconds(1440938160));
  ApiContext ctx{transport, env, clock};
  Credentials creds{"AK", "SK", "", std::nullopt, ""};
  auto attached = attach_database_policy(ctx, creds, {"rds"}, "DatabaseAccess");
  ASSERT_TRUE(attached.ok()) << attached.error().message;
  EXPECT_EQ(attached->principal.name, "teleport-db");
  EXPECT_EQ(attached->warning, "");
  ASSERT_EQ(transport.requests.size(), 2u);
  EXPECT_EQ(transport.requests[0].url, "https://sts.amazonaws.com/");
  EXPECT_EQ(form_param(transport.requests[1], "Action"), "PutRolePolicy");
  EXPECT_EQ(form_param(transport.requests[1], "RoleName"), "teleport-db");
  EXPECT_EQ(form_param(transport.requests[1], "PolicyDocument"), without_spaces(kGuidePolicy));

  // A bad type is refused before anything is sent.
  IamPrincipal user{IamPrincipalKind::kUser, "u", "1", "arn:aws:iam::1:user/u"};
  auto unknown = attach_database_policy(ctx, creds, {"nope"}, "P", user);
  EXPECT_FALSE(unknown.ok());
  EXPECT_EQ(transport.requests.size(), 2u);
}

}  // namespace
}  // namespace tp::aws
