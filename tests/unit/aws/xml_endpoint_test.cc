// The tiny XML reader, URL parsing, endpoint resolution and AWS error documents.
#include <gtest/gtest.h>

#include "aws/endpoint.h"
#include "aws/query_api.h"
#include "aws/xml.h"

namespace tp::aws {
namespace {

TEST(Xml, ParsesAwsShapes) {
  auto doc = xml::parse(R"(<?xml version="1.0"?>
<!-- a comment -->
<a:Root xmlns:a="urn:x" attr='1>2'>
  <Item>one &amp; &lt;two&gt; &quot;&apos; &#65;&#x42;&#xE9;</Item>
  <Item><![CDATA[<raw>]]></Item>
  <Empty/>
  <Nested><Deep>x</Deep></Nested>
</a:Root>)");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(doc->name, "Root");
  auto items = doc->children_named("Item");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]->text, "one & <two> \"' AB\xC3\xA9");
  EXPECT_EQ(items[1]->text, "<raw>");
  EXPECT_NE(doc->child("Empty"), nullptr);
  EXPECT_EQ(doc->child("Missing"), nullptr);
  EXPECT_EQ(doc->child_text("Missing"), "");
  ASSERT_NE(doc->find("Deep"), nullptr);
  EXPECT_EQ(doc->find("Deep")->text, "x");
}

TEST(Xml, SkipsByteOrderMark) {
  auto doc = xml::parse("\xEF\xBB\xBF<a>1</a>");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(doc->text, "1");
}

TEST(Xml, RejectsMalformed) {
  for (const char* bad :
       {"", "text", "<a>", "<a></b>", "<a>&bogus;</a>", "<a></a><b></b>", "<a><b></a>", "<a>&#xZZ;</a>"}) {
    EXPECT_FALSE(xml::parse(bad).ok()) << bad;
  }
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<x>";
  EXPECT_FALSE(xml::parse(deep).ok());
  EXPECT_EQ(xml::escape("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
}

TEST(ApiError, Parses) {
  auto e = parse_api_error(400, R"(<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
    <Message>Rate exceeded</Message></Error><RequestId>rid</RequestId></ErrorResponse>)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "Throttling");
  EXPECT_EQ(e->message, "Rate exceeded");
  EXPECT_EQ(e->request_id, "rid");
  Error err = to_error({"rds", "us-east-1", "2014-10-31", "DescribeDBInstances", {}}, *e);
  EXPECT_EQ(err.code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(err.message, "rds DescribeDBInstances: Throttling: Rate exceeded (request id rid)");
  EXPECT_FALSE(parse_api_error(500, "<html/>"));
  EXPECT_FALSE(parse_api_error(500, "not xml"));
}

TEST(Url, Parse) {
  auto u = parse_url("https://sts.us-east-1.amazonaws.com");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "sts.us-east-1.amazonaws.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->host_header(), "sts.us-east-1.amazonaws.com");
  u = parse_url("http://127.0.0.1:4566/latest/api/token?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 4566);
  EXPECT_EQ(u->target, "/latest/api/token?x=1");
  EXPECT_EQ(u->host_header(), "127.0.0.1:4566");
  u = parse_url("http://[::1]:80?q");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/?q");
  EXPECT_EQ(u->host_header(), "[::1]");
  EXPECT_FALSE(parse_url("ftp://x").ok());
  EXPECT_FALSE(parse_url("no-scheme").ok());
  EXPECT_FALSE(parse_url("http://:80/").ok());
}

TEST(Endpoint, DefaultsAndOverrides) {
  MapEnv env;
  auto rds = resolve_endpoint("rds", "eu-west-1", env);
  ASSERT_TRUE(rds.ok());
  EXPECT_EQ(rds->url, "https://rds.eu-west-1.amazonaws.com");
  EXPECT_EQ(rds->signing_region, "eu-west-1");
  EXPECT_EQ(resolve_endpoint("rds", "cn-north-1", env)->url, "https://rds.cn-north-1.amazonaws.com.cn");
  auto iam = resolve_endpoint("iam", "eu-west-1", env);
  EXPECT_EQ(iam->url, "https://iam.amazonaws.com");
  EXPECT_EQ(iam->signing_region, "us-east-1");
  EXPECT_EQ(resolve_endpoint("sts", "", env)->url, "https://sts.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("sts", "ap-south-1", env)->url, "https://sts.ap-south-1.amazonaws.com");
  EXPECT_FALSE(resolve_endpoint("rds", "", env).ok());

  env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/");
  EXPECT_EQ(resolve_endpoint("rds", "eu-west-1", env)->url, "http://127.0.0.1:9000");
  EXPECT_EQ(resolve_endpoint("iam", "", env)->url, "http://127.0.0.1:9000");
  env.set("AWS_ENDPOINT_URL_RDS", "http://127.0.0.1:9001");
  env.set("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:9002");
  env.set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9003");
  EXPECT_EQ(resolve_endpoint("rds", "eu-west-1", env)->url, "http://127.0.0.1:9001");
  EXPECT_EQ(resolve_endpoint("iam", "", env)->url, "http://127.0.0.1:9002");
  auto sts = resolve_endpoint("sts", "", env);
  EXPECT_EQ(sts->url, "http://127.0.0.1:9003");
  EXPECT_EQ(sts->signing_region, "us-east-1");
  env.set("AWS_ENDPOINT_URL_RDS", "not a url");
  auto bad = resolve_endpoint("rds", "eu-west-1", env);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("AWS_ENDPOINT_URL_RDS"), std::string::npos);
}

}  // namespace
}  // namespace tp::aws
