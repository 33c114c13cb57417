// RDS metadata and discovery over a scripted AWS transport.
#include "discovery/rds_metadata.h"

#include <gtest/gtest.h>

#include "aws/env.h"
#include "unit/aws/fake_transport.h"

namespace tp::discovery {
namespace {

using aws::testing::FakeTransport;
using aws::testing::form_param;
using aws::testing::xml_response;

std::string instance_xml(const std::string& id, const std::string& engine, const std::string& version, bool iam,
                         const std::string& tags, const std::string& cluster = "") {
  return "<DBInstance><DBInstanceIdentifier>" + id + "</DBInstanceIdentifier><Engine>" + engine +
         "</Engine><EngineVersion>" + version + "</EngineVersion><DBInstanceStatus>available</DBInstanceStatus>" +
         "<Endpoint><Address>" + id + ".abc.us-east-1.rds.amazonaws.com</Address><Port>5432</Port></Endpoint>" +
         (cluster.empty() ? "" : "<DBClusterIdentifier>" + cluster + "</DBClusterIdentifier>") +
         "<DBInstanceArn>arn:aws:rds:us-east-1:123456789012:db:" + id + "</DBInstanceArn><DbiResourceId>db-" + id +
         "</DbiResourceId><IAMDatabaseAuthenticationEnabled>" + (iam ? "true" : "false") +
         "</IAMDatabaseAuthenticationEnabled><TagList>" + tags + "</TagList></DBInstance>";
}

std::string instances_response(const std::string& body) {
  return "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances>" + body +
         "</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>";
}

const char* kNoClusters =
    "<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters/></DescribeDBClustersResult>"
    "</DescribeDBClustersResponse>";

class RdsMetadataTest : public ::testing::Test {
 protected:
  FakeTransport transport;
  aws::MapEnv env{{{"AWS_ENDPOINT_URL", "http://127.0.0.1:1"}}};
  FakeClock clock{from_unix_seconds(1'700'000'000)};
  aws::ApiContext ctx{transport, env, clock};
  aws::Credentials creds{"AKID", "SECRET", "", std::nullopt, "test"};

  Database rds_db(const std::string& id) {
    Database db;
    db.name = "rds-example";
    db.protocol = "postgres";
    db.uri = id + ".abc.us-east-1.rds.amazonaws.com:5432";
    return db;
  }
};

TEST_F(RdsMetadataTest, FillsMetadataAndImportsTags) {
  transport.set_handler([](const aws::HttpRequest& r) -> Result<aws::HttpResponse> {
    EXPECT_EQ(form_param(r, "Action"), "DescribeDBInstances");
    EXPECT_EQ(form_param(r, "DBInstanceIdentifier"), "mydb");
    return xml_response(200, instances_response(instance_xml("mydb", "postgres", "15.4", true,
                                                             "<Tag><Key>env</Key><Value>dev</Value></Tag>")));
  });
  auto r = fetch_rds_metadata(ctx, creds, rds_db("mydb"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->database.aws.region, "us-east-1");
  EXPECT_EQ(r->database.aws.account_id, "123456789012");
  EXPECT_EQ(r->database.aws.rds_resource_id, "db-mydb");
  EXPECT_EQ(r->database.aws.rds_instance_id, "mydb");
  EXPECT_EQ(r->database.aws_labels.at("env"), "dev");
  EXPECT_EQ(r->database.aws_labels.at("engine"), "postgres");
  EXPECT_TRUE(r->actions.empty());
  EXPECT_EQ(transport.requests.size(), 1u);
}

TEST_F(RdsMetadataTest, EnablesIamAuthWhenOff) {
  transport.set_handler([](const aws::HttpRequest& r) -> Result<aws::HttpResponse> {
    if (form_param(r, "Action") == "ModifyDBInstance") {
      EXPECT_EQ(form_param(r, "EnableIAMDatabaseAuthentication"), "true");
      return xml_response(200, "<ModifyDBInstanceResponse><ModifyDBInstanceResult/></ModifyDBInstanceResponse>");
    }
    return xml_response(200, instances_response(instance_xml("mydb", "postgres", "15.4", false, "")));
  });
  auto r = fetch_rds_metadata(ctx, creds, rds_db("mydb"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->actions.size(), 1u);
  EXPECT_NE(r->actions[0].find("enabled IAM authentication on RDS instance mydb"), std::string::npos);
  EXPECT_EQ(form_param(transport.requests.back(), "Action"), "ModifyDBInstance");
}

TEST_F(RdsMetadataTest, WarnsWhenNotAllowedToEnableIamAuth) {
  transport.set_handler([](const aws::HttpRequest& r) -> Result<aws::HttpResponse> {
    if (form_param(r, "Action") == "ModifyDBInstance")
      return xml_response(403, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not "
                               "authorized to perform: rds:ModifyDBInstance</Message></Error></ErrorResponse>");
    return xml_response(200, instances_response(instance_xml("mydb", "postgres", "15.4", false, "")));
  });
  auto r = fetch_rds_metadata(ctx, creds, rds_db("mydb"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("rds:ModifyDBInstance"), std::string::npos);
}

TEST_F(RdsMetadataTest, OldMariaDbIsUnsupported) {
  transport.set_handler([](const aws::HttpRequest&) -> Result<aws::HttpResponse> {
    return xml_response(200, instances_response(instance_xml("mydb", "mariadb", "10.5.18", true, "")));
  });
  auto r = fetch_rds_metadata(ctx, creds, rds_db("mydb"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("10.6"), std::string::npos) << r.error().message;
}

TEST_F(RdsMetadataTest, NonRdsHostNeedsIds) {
  Database db = rds_db("x");
  db.uri = "db.internal:5432";
  db.aws.region = "us-east-1";
  auto r = fetch_rds_metadata(ctx, creds, db);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("aws.rds.instance_id"), std::string::npos);
}

TEST_F(RdsMetadataTest, DiscoveryFiltersByTagsAndSkipsClusterMembers) {
  transport.set_handler([](const aws::HttpRequest& r) -> Result<aws::HttpResponse> {
    if (form_param(r, "Action") == "DescribeDBClusters") return xml_response(200, kNoClusters);
    return xml_response(200, instances_response(
                                 instance_xml("dev-db", "postgres", "15.4", true, "<Tag><Key>env</Key><Value>dev</Value></Tag>") +
                                 instance_xml("prod-db", "mysql", "8.0.35", true, "<Tag><Key>env</Key><Value>prod</Value></Tag>") +
                                 instance_xml("member", "aurora-postgresql", "15.4", true,
                                              "<Tag><Key>env</Key><Value>dev</Value></Tag>", "aurora")));
  });
  AwsMatcher m;
  m.types = {"rds"};
  m.regions = {"us-east-1"};
  m.tags = {{"env", {"dev"}}};
  auto dbs = discover_rds_databases(ctx, creds, m);
  ASSERT_TRUE(dbs.ok()) << dbs.error().message;
  ASSERT_EQ(dbs->size(), 1u);
  EXPECT_EQ((*dbs)[0].name, "dev-db");
  EXPECT_EQ((*dbs)[0].protocol, "postgres");
  EXPECT_TRUE((*dbs)[0].iam_auth());

  m.tags = {{"*", {"*"}}};
  auto all = discover_rds_databases(ctx, creds, m);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].protocol, "mysql");
}

}  // namespace
}  // namespace tp::discovery
