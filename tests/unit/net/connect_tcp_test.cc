// connect_tcp: an IP address connects without the resolver, a name is resolved, and a failure
// names the address.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "net/server.h"

namespace tp::net {
namespace {

using namespace std::chrono_literals;

Result<tcp::socket> connect(asio::io_context& io, HostPort addr) {
  std::optional<Result<tcp::socket>> out;
  auto run = [&out, addr]() -> asio::awaitable<void> { out.emplace(co_await connect_tcp(addr, 5s)); };
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  io.restart();
  return std::move(*out);
}

class ConnectTcpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto acceptor = listen_tcp(io_, {"127.0.0.1", 0});
    ASSERT_TRUE(acceptor.ok()) << acceptor.error().message;
    acceptor_.emplace(std::move(*acceptor));
    port_ = acceptor_->local_endpoint().port();
  }

  asio::io_context io_;
  std::optional<tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
};

TEST_F(ConnectTcpTest, ConnectsToAnIpAddress) {
  auto socket = connect(io_, {"127.0.0.1", port_});
  ASSERT_TRUE(socket.ok()) << socket.error().message;
  EXPECT_EQ(socket->remote_endpoint().port(), port_);
  tcp::no_delay no_delay;
  socket->get_option(no_delay);
  EXPECT_TRUE(no_delay.value());
}

TEST_F(ConnectTcpTest, ResolvesAName) {
  auto socket = connect(io_, {"localhost", port_});
  ASSERT_TRUE(socket.ok()) << socket.error().message;
  EXPECT_EQ(socket->remote_endpoint().port(), port_);
}

TEST_F(ConnectTcpTest, AFailureNamesTheAddress) {
  acceptor_.reset();  // nothing listens on the port any more
  auto refused = connect(io_, {"127.0.0.1", port_});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("cannot connect to 127.0.0.1:" + std::to_string(port_)),
            std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace tp::net
