// The RDS IAM token against botocore's RDS.generate_db_auth_token with a frozen clock, and the
// token cache.
#include "aws/rds_auth_token.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace tp::aws {
namespace {

// Debian's python with python3-botocore (not whatever python3 is first on PATH).
constexpr const char* kPython = "/usr/bin/python3";

// Reads a JSON list of token requests on argv[1], prints one token per line. Time is frozen by
// replacing botocore.auth's datetime, which SigV4QueryAuth reads through utcnow().
constexpr const char* kBotocoreScript = R"PY(
import datetime, json, sys
import unittest.mock as mock
import botocore.auth, botocore.session

class Frozen(datetime.datetime):
    at = None
    @classmethod
    def utcnow(cls): return cls.at
    @classmethod
    def now(cls, tz=None): return cls.at.replace(tzinfo=tz) if tz else cls.at

for case in json.loads(sys.argv[1]):
    Frozen.at = datetime.datetime.utcfromtimestamp(case["unix"])
    session = botocore.session.Session()
    session.set_credentials(case["key"], case["secret"], case["token"] or None)
    client = session.create_client("rds", region_name=case["region"])
    with mock.patch.object(botocore.auth.datetime, "datetime", Frozen):
        print(client.generate_db_auth_token(case["host"], case["port"], case["user"], Region=case["region"]))
)PY";

struct Case {
  RdsTokenRequest req;
  Credentials creds;
  int64_t unix;
};

bool botocore_available() {
  if (access(kPython, X_OK) != 0) return false;
  return std::system((std::string(kPython) + " -c 'import botocore' >/dev/null 2>&1").c_str()) == 0;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> botocore_tokens(const std::vector<Case>& cases) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : cases) {
    list.push_back({{"host", c.req.host},
                    {"port", c.req.port},
                    {"region", c.req.region},
                    {"user", c.req.db_user},
                    {"key", c.creds.access_key_id},
                    {"secret", c.creds.secret_access_key},
                    {"token", c.creds.session_token},
                    {"unix", c.unix}});
  }
  std::string cmd =
      std::string(kPython) + " -c " + shell_quote(kBotocoreScript) + " " + shell_quote(list.dump());
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << "botocore script failed";
  return split(out, '\n');
}

TEST(RdsAuthToken, ByteIdenticalToBotocore) {
  if (!botocore_available())
    GTEST_SKIP() << kPython << " with botocore (Debian python3-botocore) is not installed";
  Credentials longlived{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", std::nullopt, ""};
  Credentials temporary{"ASIAEXAMPLE",
                        "secret/with+chars=", "FwoGZXIvYXdzEJr//////////wEaDH+/abc=", std::nullopt, ""};
  std::vector<Case> cases = {
      {{"mydb.abcdefgh.us-east-1.rds.amazonaws.com", 5432, "us-east-1", "alice"}, longlived, 1440938160},
      {{"mydb.abcdefgh.us-east-1.rds.amazonaws.com", 5432, "us-east-1", "alice"}, temporary, 1440938160},
      // Special characters in the user, an uppercase host, another region and a late clock.
      {{"MyCluster.cluster-xyz.eu-west-1.rds.amazonaws.com", 3306, "eu-west-1", "bob@corp+db /ü~.-_"},
       temporary,
       1767225599},
      // Port 443: botocore leaves the default port out of the signed Host header.
      {{"db.example.internal", 443, "ap-southeast-2", "svc:role=x&y"}, longlived, 1700000000},
  };
  auto expected = botocore_tokens(cases);
  ASSERT_EQ(expected.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(generate_rds_auth_token(cases[i].req, cases[i].creds, from_unix_seconds(cases[i].unix)),
              expected[i])
        << "case " << i;
  }
}

TEST(RdsAuthToken, Shape) {
  Credentials creds{"AKID", "SECRET", "TOK", std::nullopt, ""};
  std::string t = generate_rds_auth_token("h.rds.amazonaws.com", 5432, "us-east-1", "u", creds,
                                          from_unix_seconds(1440938160));
  EXPECT_TRUE(starts_with(t,
                          "h.rds.amazonaws.com:5432/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                          "&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Frds-db%2Faws4_request"
                          "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
                          "&X-Amz-Security-Token=TOK&X-Amz-Signature="))
      << t;
}

TEST(RdsTokenCache, ReusesWhileFiveMinutesLeft) {
  FakeClock clock(from_unix_seconds(1440938160));
  RdsTokenCache cache(clock);
  Credentials creds{"AKID", "SECRET", "", std::nullopt, ""};
  RdsTokenRequest req{"h.rds.amazonaws.com", 5432, "us-east-1", "alice"};
  std::string first = cache.get(req, creds);
  EXPECT_EQ(first, generate_rds_auth_token(req, creds, clock.now()));
  clock.advance(std::chrono::minutes(10));  // exactly 5 minutes left: still served
  EXPECT_EQ(cache.get(req, creds), first);
  clock.advance(std::chrono::seconds(1));  // less than 5 minutes left: a fresh token
  std::string second = cache.get(req, creds);
  EXPECT_NE(second, first);
  EXPECT_EQ(second, generate_rds_auth_token(req, creds, clock.now()));
}

TEST(RdsTokenCache, KeyedByRouteAndAccessKey) {
  FakeClock clock(from_unix_seconds(1440938160));
  RdsTokenCache cache(clock);
  Credentials a{"AKID-A", "SECRET", "", std::nullopt, ""}, b{"AKID-B", "SECRET", "", std::nullopt, ""};
  RdsTokenRequest req{"h.rds.amazonaws.com", 5432, "us-east-1", "alice"};
  RdsTokenRequest other_user = req, other_port = req;
  other_user.db_user = "bob";
  other_port.port = 5433;
  std::string t = cache.get(req, a);
  EXPECT_NE(cache.get(req, b), t);
  EXPECT_NE(cache.get(other_user, a), t);
  EXPECT_NE(cache.get(other_port, a), t);
  EXPECT_EQ(cache.get(req, a), t);
  EXPECT_EQ(cache.size(), 4u);
  clock.advance(std::chrono::minutes(11));
  cache.get(req, a);
  EXPECT_EQ(cache.size(), 1u);  // stale entries are dropped
}

TEST(RdsTokenCache, ShortLivedCredentialsAreNotOutlived) {
  FakeClock clock(from_unix_seconds(1440938160));
  RdsTokenCache cache(clock);
  Credentials creds{"ASIA", "SECRET", "TOKEN", clock.now() + std::chrono::minutes(7), ""};
  RdsTokenRequest req{"h.rds.amazonaws.com", 5432, "us-east-1", "alice"};
  std::string first = cache.get(req, creds);
  clock.advance(std::chrono::minutes(3));  // the credentials have 4 minutes left
  EXPECT_NE(cache.get(req, creds), first);
}

}  // namespace
}  // namespace tp::aws
