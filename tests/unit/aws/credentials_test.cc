// The credential chain with a fake environment, temporary shared files and a scripted transport.
#include "aws/credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "aws/shared_config.h"
#include "common/files.h"
#include "common/strings.h"
#include "unit/aws/fake_transport.h"

namespace tp::aws {
namespace {

using testing::FakeTransport;
using testing::form_param;
using testing::sts_credentials_xml;
using testing::xml_response;

constexpr const char* kNoCredentials =
    "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity (IRSA) "
    "or "
    "run on EC2 with an instance profile";

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tp-aws-creds-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    env_.set("HOME", home_);
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  void write(const std::string& rel, const std::string& text) {
    std::string path = home_ + "/" + rel;
    ASSERT_TRUE(make_dirs(std::filesystem::path(path).parent_path().string()).ok());
    ASSERT_TRUE(write_file_atomic(path, text).ok());
  }

  Result<Credentials> chain_retrieve() {
    ApiContext ctx{transport_, env_, clock_};
    return make_default_credentials_chain(ctx)->retrieve();
  }

  std::string home_;
  MapEnv env_;
  FakeTransport transport_;
  FakeClock clock_{from_unix_seconds(1440938160)};  // 2015-08-30T12:36:00Z
};

TEST_F(CredentialsTest, EnvironmentComesFirst) {
  env_.set("AWS_ACCESS_KEY_ID", "AKENV");
  env_.set("AWS_SECRET_ACCESS_KEY", "SKENV");
  env_.set("AWS_SESSION_TOKEN", "TKENV");
  write(".aws/credentials", "[default]\naws_access_key_id = AKFILE\naws_secret_access_key = SKFILE\n");
  auto c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKENV");
  EXPECT_EQ(c->secret_access_key, "SKENV");
  EXPECT_EQ(c->session_token, "TKENV");
  EXPECT_EQ(c->source, "environment");
  EXPECT_TRUE(transport_.requests.empty());
}

TEST_F(CredentialsTest, HalfSetEnvironmentIsAnError) {
  env_.set("AWS_ACCESS_KEY_ID", "AKENV");
  auto c = chain_retrieve();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos) << c.error().message;
}

TEST_F(CredentialsTest, SharedCredentialsFileWithProfile) {
  write(".aws/credentials",
        "# comment\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key = SKDEF\n\n"
        "[prod]\naws_access_key_id=AKPROD\naws_secret_access_key=SKPROD\naws_session_token = TKPROD\n");
  auto c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKDEF");

  env_.set("AWS_PROFILE", "prod");
  c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKPROD");
  EXPECT_EQ(c->session_token, "TKPROD");
  EXPECT_NE(c->source.find("shared credentials file"), std::string::npos);
  EXPECT_TRUE(transport_.requests.empty());
}

TEST_F(CredentialsTest, FileLocationsFromEnvironment) {
  write("elsewhere/creds", "[default]\naws_access_key_id = AKX\naws_secret_access_key = SKX\n");
  write("elsewhere/config", "[profile cfg]\naws_access_key_id = AKCFG\naws_secret_access_key = SKCFG\n");
  env_.set("AWS_SHARED_CREDENTIALS_FILE", home_ + "/elsewhere/creds");
  env_.set("AWS_CONFIG_FILE", "~/elsewhere/config");
  auto c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKX");
  env_.set("AWS_PROFILE", "cfg");  // static keys in the config file
  c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKCFG");
}

TEST_F(CredentialsTest, ProfileWithRoleArnAssumesRoleWithSourceProfile) {
  write(".aws/credentials", "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n");
  write(
      ".aws/config",
      "[default]\nregion = us-west-2\n\n[profile dev]\nrole_arn = arn:aws:iam::111111111111:role/db-access\n"
      "source_profile = base\nexternal_id = ext-42\nrole_session_name = agent-1\nregion = eu-central-1\n"
      "s3 =\n  max_concurrent_requests = 2\n");
  env_.set("AWS_PROFILE", "dev");
  transport_.set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    return xml_response(200, sts_credentials_xml("AssumeRole", "ASIADEV"));
  });
  auto c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIADEV");
  EXPECT_EQ(c->session_token, "token-ASIADEV");
  EXPECT_EQ(c->expiration, clock_.now() + std::chrono::hours(1));
  ASSERT_EQ(transport_.requests.size(), 1u);
  const HttpRequest& r = transport_.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://sts.eu-central-1.amazonaws.com/");
  EXPECT_EQ(form_param(r, "Action"), "AssumeRole");
  EXPECT_EQ(form_param(r, "Version"), "2011-06-15");
  EXPECT_EQ(form_param(r, "RoleArn"), "arn:aws:iam::111111111111:role/db-access");
  EXPECT_EQ(form_param(r, "RoleSessionName"), "agent-1");
  EXPECT_EQ(form_param(r, "ExternalId"), "ext-42");
  auto auth = find_header(r.headers, "Authorization");
  ASSERT_TRUE(auth);
  EXPECT_TRUE(starts_with(*auth, "AWS4-HMAC-SHA256 Credential=AKBASE/20150830/eu-central-1/sts/aws4_request"))
      << *auth;
}

TEST_F(CredentialsTest, SourceProfilesChainAndLoopsAreCaught) {
  write(".aws/credentials", "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n");
  write(".aws/config",
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = base\n"
        "[profile x]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = y\n"
        "[profile y]\nrole_arn = arn:aws:iam::1:role/y\nsource_profile = x\n");
  transport_.set_handler([](const HttpRequest& r) -> Result<HttpResponse> {
    std::string role = form_param(r, "RoleArn");
    return xml_response(200, sts_credentials_xml("AssumeRole", "ASIA" + role.substr(role.size() - 1)));
  });
  env_.set("AWS_PROFILE", "a");
  auto c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAa");
  ASSERT_EQ(transport_.requests.size(), 2u);  // b with the base keys, then a with b's credentials
  EXPECT_EQ(form_param(transport_.requests[0], "RoleArn"), "arn:aws:iam::1:role/b");
  EXPECT_NE(find_header(transport_.requests[1].headers, "Authorization")->find("Credential=ASIAb/"),
            std::string::npos);

  env_.set("AWS_PROFILE", "x");
  c = chain_retrieve();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("a loop?"), std::string::npos) << c.error().message;
}

TEST_F(CredentialsTest, ProfileRoleWithoutSourceIsAnError) {
  write(".aws/config", "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\n");
  env_.set("AWS_PROFILE", "dev");
  auto c = chain_retrieve();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("add source_profile"), std::string::npos) << c.error().message;
}

TEST_F(CredentialsTest, MissingNamedProfileIsAnError) {
  env_.set("AWS_PROFILE", "nope");
  auto c = chain_retrieve();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("AWS_PROFILE=nope but there is no such profile"), std::string::npos)
      << c.error().message;
}

TEST_F(CredentialsTest, WebIdentity) {
  write("token", "eyJhbGciOi.token.sig\n");
  env_.set("AWS_WEB_IDENTITY_TOKEN_FILE", home_ + "/token");
  env_.set("AWS_ROLE_ARN", "arn:aws:iam::222222222222:role/irsa");
  env_.set("AWS_ROLE_SESSION_NAME", "pod-7");
  env_.set("AWS_REGION", "us-east-2");
  transport_.set_handler([](const HttpRequest&) -> Result<HttpResponse> {
    return xml_response(200, sts_credentials_xml("AssumeRoleWithWebIdentity", "ASIAIRSA"));
  });
  auto c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAIRSA");
  ASSERT_EQ(transport_.requests.size(), 1u);
  const HttpRequest& r = transport_.requests[0];
  EXPECT_EQ(r.url, "https://sts.us-east-2.amazonaws.com/");
  EXPECT_EQ(form_param(r, "Action"), "AssumeRoleWithWebIdentity");
  EXPECT_EQ(form_param(r, "RoleArn"), "arn:aws:iam::222222222222:role/irsa");
  EXPECT_EQ(form_param(r, "RoleSessionName"), "pod-7");
  EXPECT_EQ(form_param(r, "WebIdentityToken"), "eyJhbGciOi.token.sig");
  EXPECT_FALSE(find_header(r.headers, "Authorization")) << "AssumeRoleWithWebIdentity is unsigned";
}

TEST_F(CredentialsTest, InstanceMetadataV2Sequence) {
  env_.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/");
  transport_.set_handler([](const HttpRequest& r) -> Result<HttpResponse> {
    if (r.method == "PUT" && r.url == "http://127.0.0.1:9/latest/api/token")
      return HttpResponse{200, {}, "TOKEN-1"};
    if (find_header(r.headers, "X-aws-ec2-metadata-token") != "TOKEN-1") return HttpResponse{401, {}, ""};
    if (r.url == "http://127.0.0.1:9/latest/meta-data/iam/security-credentials/") {
      return HttpResponse{200, {}, "teleport-db-role\n"};
    }
    if (r.url == "http://127.0.0.1:9/latest/meta-data/iam/security-credentials/teleport-db-role") {
      return HttpResponse{
          200, {}, R"({"Code":"Success","LastUpdated":"2015-08-30T12:00:00Z","Type":"AWS-HMAC",
        "AccessKeyId":"ASIAEC2","SecretAccessKey":"SKEC2","Token":"TKEC2","Expiration":"2015-08-30T18:00:00Z"})"};
    }
    return HttpResponse{404, {}, ""};
  });
  auto c = chain_retrieve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAEC2");
  EXPECT_EQ(c->session_token, "TKEC2");
  EXPECT_EQ(c->expiration, *parse_iso8601("2015-08-30T18:00:00Z"));
  ASSERT_EQ(transport_.requests.size(), 3u);
  EXPECT_EQ(transport_.requests[0].method, "PUT");
  EXPECT_EQ(find_header(transport_.requests[0].headers, "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(transport_.requests[1].method, "GET");
  EXPECT_EQ(transport_.requests[2].method, "GET");
  for (auto t : transport_.timeouts) EXPECT_EQ(t, std::chrono::milliseconds(1000));
}

TEST_F(CredentialsTest, NothingFoundListsWhatWasTried) {
  // No handler: the metadata service "refuses the connection", as off EC2.
  auto c = chain_retrieve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
  const std::string& m = c.error().message;
  EXPECT_TRUE(starts_with(m, kNoCredentials)) << m;
  for (const char* tried :
       {"environment:", "shared credentials file:", "shared config file:", "web identity:",
        "EC2 instance metadata: no instance metadata service at http://169.254.169.254"}) {
    EXPECT_NE(m.find(tried), std::string::npos) << tried << " missing in: " << m;
  }
  ASSERT_EQ(transport_.requests.size(), 1u);
  EXPECT_EQ(transport_.requests[0].url, "http://169.254.169.254/latest/api/token");
}

TEST_F(CredentialsTest, MetadataCanBeDisabled) {
  env_.set("AWS_EC2_METADATA_DISABLED", "TRUE");
  auto c = chain_retrieve();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("disabled by AWS_EC2_METADATA_DISABLED"), std::string::npos);
  EXPECT_TRUE(transport_.requests.empty());
}

// Counts calls and hands out credentials that expire an hour after each call.
class CountingProvider final : public CredentialsProvider {
 public:
  CountingProvider(const Clock& clock, int* calls, bool* fail) : clock_(clock), calls_(calls), fail_(fail) {}
  Result<Credentials> retrieve() override {
    ++*calls_;
    if (*fail_) return unavailable("sts is down");
    return Credentials{"AK" + std::to_string(*calls_), "SK", "TK", clock_.now() + std::chrono::hours(1),
                       "test"};
  }
  std::string name() const override { return "counting"; }

 private:
  const Clock& clock_;
  int* calls_;
  bool* fail_;
};

TEST(CachingProvider, RefreshesFiveMinutesBeforeExpiry) {
  FakeClock clock(from_unix_seconds(1440938160));
  int calls = 0;
  bool fail = false;
  auto p = make_caching_provider(std::make_unique<CountingProvider>(clock, &calls, &fail), clock);
  EXPECT_EQ(p->retrieve()->access_key_id, "AK1");
  clock.advance(std::chrono::minutes(54));
  EXPECT_EQ(p->retrieve()->access_key_id, "AK1");
  clock.advance(std::chrono::minutes(1));  // 5 minutes before expiry
  EXPECT_EQ(p->retrieve()->access_key_id, "AK2");
  EXPECT_EQ(calls, 2);
  // A failed refresh keeps unexpired credentials, and fails once they have expired.
  clock.advance(std::chrono::minutes(57));
  fail = true;
  EXPECT_EQ(p->retrieve()->access_key_id, "AK2");
  clock.advance(std::chrono::minutes(3));
  EXPECT_FALSE(p->retrieve().ok());
}

TEST(SharedConfig, ParseIni) {
  auto ini = parse_ini("[default]\nregion = us-east-1\n; c\n[profile x]\nKey=V = W\n", "cfg");
  ASSERT_TRUE(ini.ok()) << ini.error().message;
  EXPECT_EQ(ini->at("default").at("region"), "us-east-1");
  EXPECT_EQ(ini->at("profile x").at("key"), "V = W");
  auto bad = parse_ini("region = x\n", "cfg");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("cfg:1"), std::string::npos);
}

TEST(SharedConfig, DefaultRegion) {
  MapEnv env;
  env.set("AWS_DEFAULT_REGION", "eu-west-3");
  EXPECT_EQ(resolve_default_region(env), "eu-west-3");
  env.set("AWS_REGION", "eu-west-1");
  EXPECT_EQ(resolve_default_region(env), "eu-west-1");
}

}  // namespace
}  // namespace tp::aws
