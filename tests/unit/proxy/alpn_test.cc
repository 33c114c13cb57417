#include "proxy/alpn.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tp::proxy {
namespace {

TEST(AlpnTest, EachTeleportProtocolHasItsRoute) {
  EXPECT_EQ(route_for_alpn("teleport-postgres"), WebRoute::kPostgres);
  EXPECT_EQ(route_for_alpn("teleport-mysql"), WebRoute::kMysql);
  EXPECT_EQ(route_for_alpn("teleport-reversetunnel"), WebRoute::kReverseTunnel);
  EXPECT_EQ(route_for_alpn("teleport-auth"), WebRoute::kAuth);
  EXPECT_EQ(route_for_alpn("http/1.1"), WebRoute::kHttp);
}

TEST(AlpnTest, NoOrUnknownAlpnIsHttp) {
  EXPECT_EQ(route_for_alpn(""), WebRoute::kHttp);
  EXPECT_EQ(route_for_alpn("h2"), WebRoute::kHttp);
  EXPECT_EQ(route_for_alpn("teleport-postgres-ping"), WebRoute::kHttp);
}

TEST(AlpnTest, OffersEveryRouteWithHttpLast) {
  auto offered = web_alpn_protocols();
  for (const char* p : {"teleport-postgres", "teleport-mysql", "teleport-reversetunnel", "teleport-auth", "http/1.1"})
    EXPECT_NE(std::find(offered.begin(), offered.end(), p), offered.end()) << p;
  EXPECT_EQ(offered.back(), "http/1.1");
}

TEST(AlpnTest, DatabaseProtocolToAlpn) {
  EXPECT_EQ(alpn_for_db_protocol("postgres"), "teleport-postgres");
  EXPECT_EQ(alpn_for_db_protocol("mysql"), "teleport-mysql");
  EXPECT_EQ(alpn_for_db_protocol("mongodb"), "");
}

}  // namespace
}  // namespace tp::proxy
