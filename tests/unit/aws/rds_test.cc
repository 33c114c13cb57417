// RDS: response parsing from fixtures, paging, ModifyDB*, unsupported engines, endpoint names.
#include "aws/rds.h"

#include <gtest/gtest.h>

#include "common/strings.h"
#include "unit/aws/fake_transport.h"

namespace tp::aws {
namespace {

using testing::FakeTransport;
using testing::form_param;
using testing::xml_response;

constexpr const char* kInstances = R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>rds-example</DBInstanceIdentifier>
        <Engine>postgres</Engine>
        <EngineVersion>15.4</EngineVersion>
        <DBInstanceStatus>available</DBInstanceStatus>
        <Endpoint>
          <Address>rds-example.abcdefgh.us-east-1.rds.amazonaws.com</Address>
          <Port>5432</Port>
          <HostedZoneId>Z2R2ITUGPM61AM</HostedZoneId>
        </Endpoint>
        <DBInstanceArn>arn:aws:rds:us-east-1:123456789012:db:rds-example</DBInstanceArn>
        <DbiResourceId>db-ABCDEFGHIJKL01234</DbiResourceId>
        <IAMDatabaseAuthenticationEnabled>true</IAMDatabaseAuthenticationEnabled>
        <TagList>
          <Tag><Key>env</Key><Value>dev</Value></Tag>
          <Tag><Key>team</Key><Value>a &amp; b</Value></Tag>
        </TagList>
      </DBInstance>
      <DBInstance>
        <DBInstanceIdentifier>aurora-1</DBInstanceIdentifier>
        <Engine>aurora-mysql</Engine>
        <EngineVersion>8.0.mysql_aurora.3.04.0</EngineVersion>
        <Endpoint><Address>aurora-1.abcdefgh.us-east-1.rds.amazonaws.com</Address><Port>3306</Port></Endpoint>
        <DBClusterIdentifier>aurora</DBClusterIdentifier>
        <DBInstanceArn>arn:aws:rds:us-east-1:123456789012:db:aurora-1</DBInstanceArn>
        <DbiResourceId>db-XYZ</DbiResourceId>
        <IAMDatabaseAuthenticationEnabled>false</IAMDatabaseAuthenticationEnabled>
        <TagList/>
      </DBInstance>
    </DBInstances>
    <Marker>next-page</Marker>
  </DescribeDBInstancesResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>)";

constexpr const char* kClusters =
    R"(<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBClustersResult>
    <DBClusters>
      <DBCluster>
        <DBClusterIdentifier>aurora-sls</DBClusterIdentifier>
        <Engine>aurora-postgresql</Engine>
        <EngineVersion>13.9</EngineVersion>
        <EngineMode>serverless</EngineMode>
        <Status>available</Status>
        <Endpoint>aurora-sls.cluster-abcdefgh.eu-west-1.rds.amazonaws.com</Endpoint>
        <ReaderEndpoint>aurora-sls.cluster-ro-abcdefgh.eu-west-1.rds.amazonaws.com</ReaderEndpoint>
        <Port>5432</Port>
        <DBClusterArn>arn:aws:rds:eu-west-1:210987654321:cluster:aurora-sls</DBClusterArn>
        <DbClusterResourceId>cluster-ABCDEF</DbClusterResourceId>
        <IAMDatabaseAuthenticationEnabled>false</IAMDatabaseAuthenticationEnabled>
        <TagList><Tag><Key>owner</Key><Value>db-team</Value></Tag></TagList>
      </DBCluster>
    </DBClusters>
  </DescribeDBClustersResult>
</DescribeDBClustersResponse>)";

constexpr const char* kNotFound = R"(<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance nope not found.</Message></Error>
  <RequestId>req-2</RequestId>
</ErrorResponse>)";

TEST(RdsParse, Instances) {
  auto doc = xml::parse(kInstances);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  std::string marker;
  auto dbs = parse_db_instances(*doc, &marker);
  ASSERT_TRUE(dbs.ok()) << dbs.error().message;
  ASSERT_EQ(dbs->size(), 2u);
  EXPECT_EQ(marker, "next-page");
  const RdsDatabase& a = (*dbs)[0];
  EXPECT_FALSE(a.is_cluster);
  EXPECT_EQ(a.identifier, "rds-example");
  EXPECT_EQ(a.engine, "postgres");
  EXPECT_EQ(a.engine_version, "15.4");
  EXPECT_EQ(a.status, "available");
  EXPECT_EQ(a.address, "rds-example.abcdefgh.us-east-1.rds.amazonaws.com");
  EXPECT_EQ(a.port, 5432);
  EXPECT_EQ(a.region, "us-east-1");
  EXPECT_EQ(a.account_id, "123456789012");
  EXPECT_EQ(a.resource_id, "db-ABCDEFGHIJKL01234");
  EXPECT_TRUE(a.iam_auth_enabled);
  EXPECT_EQ(a.tags, (std::map<std::string, std::string>{{"env", "dev"}, {"team", "a & b"}}));
  const RdsDatabase& b = (*dbs)[1];
  EXPECT_EQ(b.cluster_id, "aurora");
  EXPECT_FALSE(b.iam_auth_enabled);
  EXPECT_TRUE(b.tags.empty());
}

TEST(RdsParse, Clusters) {
  auto doc = xml::parse(kClusters);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  std::string marker = "stale";
  auto dbs = parse_db_clusters(*doc, &marker);
  ASSERT_TRUE(dbs.ok()) << dbs.error().message;
  ASSERT_EQ(dbs->size(), 1u);
  EXPECT_EQ(marker, "");
  const RdsDatabase& c = (*dbs)[0];
  EXPECT_TRUE(c.is_cluster);
  EXPECT_EQ(c.identifier, "aurora-sls");
  EXPECT_EQ(c.engine_mode, "serverless");
  EXPECT_EQ(c.address, "aurora-sls.cluster-abcdefgh.eu-west-1.rds.amazonaws.com");
  EXPECT_EQ(c.reader_address, "aurora-sls.cluster-ro-abcdefgh.eu-west-1.rds.amazonaws.com");
  EXPECT_EQ(c.port, 5432);
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.account_id, "210987654321");
  EXPECT_EQ(c.resource_id, "cluster-ABCDEF");
  EXPECT_EQ(c.tags.at("owner"), "db-team");
  EXPECT_FALSE(check_rds_supported(c.engine, c.engine_version, c.engine_mode).ok());
}

class RdsApiTest : public ::testing::Test {
 protected:
  MapEnv env_;
  FakeTransport transport_;
  FakeClock clock_{from_unix_seconds(1440938160)};
  ApiContext ctx_{transport_, env_, clock_};
  Credentials creds_{"AK", "SK", "", std::nullopt, "test"};
};

TEST_F(RdsApiTest, DescribePagesThroughMarker) {
  env_.set("AWS_ENDPOINT_URL_RDS", "http://127.0.0.1:5000");
  transport_.set_handler([](const HttpRequest& r) -> Result<HttpResponse> {
    if (form_param(r, "Marker").empty()) return xml_response(200, kInstances);
    std::string last = kInstances;
    last.replace(last.find("<Marker>next-page</Marker>"), 26, "");
    return xml_response(200, last);
  });
  auto dbs = describe_db_instances(ctx_, creds_, "us-east-1", "rds-example");
  ASSERT_TRUE(dbs.ok()) << dbs.error().message;
  EXPECT_EQ(dbs->size(), 4u);
  ASSERT_EQ(transport_.requests.size(), 2u);
  EXPECT_EQ(transport_.requests[0].url, "http://127.0.0.1:5000/");
  EXPECT_EQ(form_param(transport_.requests[0], "Action"), "DescribeDBInstances");
  EXPECT_EQ(form_param(transport_.requests[0], "Version"), "2014-10-31");
  EXPECT_EQ(form_param(transport_.requests[0], "DBInstanceIdentifier"), "rds-example");
  EXPECT_EQ(form_param(transport_.requests[1], "Marker"), "next-page");
  EXPECT_NE(find_header(transport_.requests[0].headers, "Authorization")->find("/us-east-1/rds/aws4_request"),
            std::string::npos);
}

TEST_F(RdsApiTest, NotFoundError) {
  transport_.set_handler(
      [](const HttpRequest&) -> Result<HttpResponse> { return xml_response(404, kNotFound); });
  auto dbs = describe_db_instances(ctx_, creds_, "us-east-1", "nope");
  ASSERT_FALSE(dbs.ok());
  EXPECT_EQ(dbs.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(dbs.error().message,
            "rds DescribeDBInstances: DBInstanceNotFound: DBInstance nope not found. (request id req-2)");
  EXPECT_EQ(transport_.requests.at(0).url, "https://rds.us-east-1.amazonaws.com/");
}

TEST_F(RdsApiTest, EnableIamAuth) {
  transport_.set_handler([](const HttpRequest& r) -> Result<HttpResponse> {
    std::string action = form_param(r, "Action");
    return xml_response(200, "<" + action + "Response><" + action + "Result/></" + action + "Response>");
  });
  ASSERT_TRUE(enable_iam_auth_instance(ctx_, creds_, "us-east-1", "db1").ok());
  ASSERT_TRUE(enable_iam_auth_cluster(ctx_, creds_, "us-east-1", "cl1").ok());
  ASSERT_EQ(transport_.requests.size(), 2u);
  EXPECT_EQ(transport_.requests[0].body,
            "Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=db1"
            "&EnableIAMDatabaseAuthentication=true&ApplyImmediately=true");
  EXPECT_EQ(transport_.requests[1].body,
            "Action=ModifyDBCluster&Version=2014-10-31&DBClusterIdentifier=cl1"
            "&EnableIAMDatabaseAuthentication=true&ApplyImmediately=true");
}

TEST_F(RdsApiTest, NoRegion) {
  auto dbs = describe_db_clusters(ctx_, creds_, "");
  ASSERT_FALSE(dbs.ok());
  EXPECT_NE(dbs.error().message.find("AWS_REGION"), std::string::npos);
  EXPECT_TRUE(transport_.requests.empty());
}

TEST(RdsSupport, UnsupportedEngines) {
  auto sls = check_rds_supported("aurora-mysql", "5.7.mysql_aurora.2.11.2", "serverless");
  ASSERT_FALSE(sls.ok());
  EXPECT_NE(sls.error().message.find("IAM authentication is not supported"), std::string::npos);
  EXPECT_NE(sls.error().message.find("upgrade to Aurora Serverless v2"), std::string::npos);
  for (const char* old : {"10.5.16", "10.4", "10.3.39", "5.5", "10", ""}) {
    auto st = check_rds_supported("mariadb", old, "");
    ASSERT_FALSE(st.ok()) << old;
    EXPECT_NE(st.error().message.find("MariaDB versions lower than 10.6"), std::string::npos);
  }
  for (const char* ok : {"10.6.8", "10.6", "10.11.4", "11.4.2"})
    EXPECT_TRUE(check_rds_supported("mariadb", ok, "").ok());
  EXPECT_TRUE(check_rds_supported("mysql", "5.7.44", "").ok());
  EXPECT_TRUE(check_rds_supported("postgres", "9.6", "").ok());
  EXPECT_TRUE(check_rds_supported("aurora-postgresql", "15.4", "provisioned").ok());
}

TEST(RdsEndpoint, Parse) {
  struct Case {
    const char* host;
    const char* id;
    const char* region;
    bool cluster, reader, custom, proxy;
  };
  for (const Case& c : std::vector<Case>{
           {"myrds.abcdefgh.us-east-1.rds.amazonaws.com", "myrds", "us-east-1", false, false, false, false},
           {"MyRDS.ABCDEFGH.us-east-1.rds.amazonaws.com.", "myrds", "us-east-1", false, false, false, false},
           {"aurora.cluster-abcdefgh.eu-west-1.rds.amazonaws.com", "aurora", "eu-west-1", true, false, false,
            false},
           {"aurora.cluster-ro-abcdefgh.eu-west-1.rds.amazonaws.com", "aurora", "eu-west-1", true, true,
            false, false},
           {"custom1.cluster-custom-abcdefgh.eu-west-1.rds.amazonaws.com", "custom1", "eu-west-1", true,
            false, true, false},
           {"my-proxy.proxy-abcdefgh.us-west-2.rds.amazonaws.com", "my-proxy", "us-west-2", false, false,
            false, true},
           {"ro-ep.endpoint.proxy-abcdefgh.us-west-2.rds.amazonaws.com", "ro-ep", "us-west-2", false, false,
            true, true},
           {"db.abcdefgh.cn-north-1.rds.amazonaws.com.cn", "db", "cn-north-1", false, false, false, false},
       }) {
    auto info = parse_rds_endpoint(c.host);
    ASSERT_TRUE(info.ok()) << c.host << ": " << info.error().message;
    EXPECT_EQ(info->id, c.id) << c.host;
    EXPECT_EQ(info->region, c.region) << c.host;
    EXPECT_EQ(info->is_cluster, c.cluster) << c.host;
    EXPECT_EQ(info->is_reader, c.reader) << c.host;
    EXPECT_EQ(info->is_custom, c.custom) << c.host;
    EXPECT_EQ(info->is_proxy, c.proxy) << c.host;
  }
  for (const char* bad : {"localhost", "db.example.com", "abcdefgh.us-east-1.rds.amazonaws.com",
                          "a.b.c.us-east-1.rds.amazonaws.com", ".abc.us-east-1.rds.amazonaws.com"}) {
    EXPECT_FALSE(parse_rds_endpoint(bad).ok()) << bad;
  }
}

TEST(Arn, Parse) {
  auto a = parse_arn("arn:aws:rds:us-east-1:123456789012:db:my:db");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->partition, "aws");
  EXPECT_EQ(a->service, "rds");
  EXPECT_EQ(a->region, "us-east-1");
  EXPECT_EQ(a->account_id, "123456789012");
  EXPECT_EQ(a->resource, "db:my:db");
  EXPECT_FALSE(parse_arn("arn:aws:rds").ok());
}

}  // namespace
}  // namespace tp::aws
