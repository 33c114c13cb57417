// TLS 1.3 resumption as the reverse tunnel uses it (net/tls.h resume_sessions_for and
// remember_sessions), over real loopback handshakes with client certificates: which connections
// get a ticket, which resume, and that a resumed connection still names its client.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/server.h"
#include "net/tls.h"
#include "net/tls_stream.h"
#include "unit/tunnel/test_pki.h"

namespace tp::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Handshake {
  bool ok = false;
  bool client_resumed = false;
  bool server_resumed = false;
  std::string server_saw;  // the client certificate the server's connection carries
  int tickets = 0;         // NewSessionTicket messages the client received
};

// Counts the NewSessionTicket messages a client receives (the message callback's `arg`: an int).
void count_tickets(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
  if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
      static_cast<const unsigned char*>(buf)[0] == SSL3_MT_NEWSESSION_TICKET)
    ++*static_cast<int*>(arg);
}

class TlsResumptionTest : public ::testing::Test {
 protected:
  TlsResumptionTest() {
    server_cert_ = pki_.host_cert("server", kHostRoleProxy);
    client_cert_ = pki_.host_cert("agent", kHostRoleDb);
    server_ctx_ = server_context(true);
  }

  // Accepts client certificates from the host CA and the protocols "tunnel" and "web".
  std::unique_ptr<ssl::context> server_context(bool resumable) {
    auto ctx = make_server_context(
        {server_cert_.cert_pem, server_cert_.key_pem, {pki_.host_ca.cert_pem}, true, {"tunnel", "web"}});
    EXPECT_TRUE(ctx.ok());
    auto out = std::make_unique<ssl::context>(std::move(*ctx));
    if (resumable) resume_sessions_for(*out, "tunnel", 60s);
    return out;
  }

  std::unique_ptr<ssl::context> client_context(std::vector<std::string> alpn,
                                               std::chrono::seconds lifetime = 60s) {
    auto ctx = make_client_context(
        {client_cert_.cert_pem, client_cert_.key_pem, {pki_.host_ca.cert_pem}, false, "", std::move(alpn)});
    EXPECT_TRUE(ctx.ok());
    auto out = std::make_unique<ssl::context>(std::move(*ctx));
    remember_sessions(*out, lifetime);
    return out;
  }

  // One connection: both handshakes, then a byte from the server, whose read on the client side
  // takes in the ticket the server sent after its handshake.
  // `alpn`, when set, replaces the protocols the client context offers on this connection.
  Handshake connect(ssl::context& client_ctx, std::optional<std::string> alpn = std::nullopt) {
    Handshake out;
    tcp::acceptor acceptor = *listen_tcp(io_, {"127.0.0.1", 0});
    tcp::socket client_socket(io_);
    client_socket.connect(acceptor.local_endpoint());
    TlsStream client(std::move(client_socket), client_ctx);
    TlsStream server(acceptor.accept(), *server_ctx_);
    offer_remembered_session(client.native_handle());
    SSL_set_msg_callback(client.native_handle(), count_tickets);
    SSL_set_msg_callback_arg(client.native_handle(), &out.tickets);
    if (alpn) {
      std::string wire = static_cast<char>(alpn->size()) + *alpn;
      SSL_set_alpn_protos(client.native_handle(), reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    auto test = [&]() -> asio::awaitable<void> {
      auto side = [](TlsStream& s, ssl::stream_base::handshake_type type) -> asio::awaitable<bool> {
        auto [ec] = co_await s.async_handshake(type, kTuple);
        co_return !ec;
      };
      auto [client_ok, server_ok] =
          co_await (side(client, ssl::stream_base::client) && side(server, ssl::stream_base::server));
      if (!client_ok || !server_ok) co_return;
      char byte = 'x';
      auto [wec, written] = co_await asio::async_write(server, asio::buffer(&byte, 1), kTuple);
      auto [rec, read] = co_await asio::async_read(client, asio::buffer(&byte, 1), kTuple);
      out.ok = !wec && !rec;
    };
    asio::co_spawn(io_, test(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io_.run();
    io_.restart();
    out.client_resumed = resumed(client.native_handle());
    out.server_resumed = resumed(server.native_handle());
    out.server_saw = peer_cert_pem(server.native_handle());
    return out;
  }

  asio::io_context io_;
  testing::TestPki pki_;
  testing::KeyPair server_cert_, client_cert_;
  std::unique_ptr<ssl::context> server_ctx_;
};

TEST_F(TlsResumptionTest, AClientResumesTheSessionOfItsLastFullHandshake) {
  auto client_ctx = client_context({"tunnel"});
  Handshake first = connect(*client_ctx);
  ASSERT_TRUE(first.ok);
  EXPECT_FALSE(first.server_resumed);
  EXPECT_FALSE(first.client_resumed);
  EXPECT_EQ(first.tickets, 1);

  for (int i = 0; i < 3; ++i) {
    Handshake next = connect(*client_ctx);
    ASSERT_TRUE(next.ok);
    EXPECT_TRUE(next.server_resumed) << "connection " << i + 2;
    EXPECT_TRUE(next.client_resumed) << "connection " << i + 2;
    // Neither end would use its ticket.
    EXPECT_EQ(next.tickets, 0) << "connection " << i + 2;
    // The server still learns who connected: the certificate comes back from the ticket.
    EXPECT_EQ(next.server_saw, first.server_saw);
    auto identity = identity_from_cert_pem(next.server_saw);
    ASSERT_TRUE(identity.ok());
    EXPECT_EQ(identity->username, "agent");
  }
}

TEST_F(TlsResumptionTest, ConnectionsThatOfferAnythingButTheOneProtocolGetNoTicket) {
  for (const auto& alpn : std::vector<std::vector<std::string>>{{"web"}, {"tunnel", "web"}, {}}) {
    auto client_ctx = client_context(alpn);
    ASSERT_TRUE(connect(*client_ctx).ok);
    Handshake second = connect(*client_ctx);
    ASSERT_TRUE(second.ok);
    EXPECT_FALSE(second.server_resumed) << "ALPN list of " << alpn.size();
  }
}

TEST_F(TlsResumptionTest, ATicketOfferedWithAnotherProtocolDoesNotResume) {
  auto client_ctx = client_context({"tunnel"});
  ASSERT_TRUE(connect(*client_ctx).ok);
  Handshake web = connect(*client_ctx, "web");  // the tunnel's ticket, on a web connection
  ASSERT_TRUE(web.ok);
  EXPECT_FALSE(web.server_resumed);
  EXPECT_TRUE(connect(*client_ctx).server_resumed);  // the ticket still works for the tunnel
}

TEST_F(TlsResumptionTest, ATls12ClientMakesFullHandshakes) {
  auto client_ctx = client_context({"tunnel"});
  SSL_CTX_set_max_proto_version(client_ctx->native_handle(), TLS1_2_VERSION);
  for (int i = 0; i < 2; ++i) {
    Handshake h = connect(*client_ctx);
    ASSERT_TRUE(h.ok);
    EXPECT_FALSE(h.server_resumed) << "connection " << i + 1;
  }
}

TEST_F(TlsResumptionTest, AServerWithoutResumptionNeverResumes) {
  server_ctx_ = server_context(false);
  auto client_ctx = client_context({"tunnel"});
  ASSERT_TRUE(connect(*client_ctx).ok);
  Handshake second = connect(*client_ctx);
  ASSERT_TRUE(second.ok);
  EXPECT_FALSE(second.server_resumed);
}

TEST_F(TlsResumptionTest, ATicketFromAnotherServerContextFallsBackToAFullHandshake) {
  auto client_ctx = client_context({"tunnel"});
  ASSERT_TRUE(connect(*client_ctx).ok);
  server_ctx_ = server_context(true);  // a restarted or renewed proxy: new ticket keys
  Handshake second = connect(*client_ctx);
  ASSERT_TRUE(second.ok);
  EXPECT_FALSE(second.server_resumed);
  EXPECT_FALSE(second.client_resumed);
  EXPECT_EQ(second.tickets, 1) << "a resumption that fell back to a full handshake gets a ticket";
  // That full handshake's ticket is the one kept now.
  Handshake third = connect(*client_ctx);
  ASSERT_TRUE(third.ok);
  EXPECT_TRUE(third.server_resumed);
}

TEST_F(TlsResumptionTest, ASessionPastTheClientsLifetimeIsNotOffered) {
  auto client_ctx = client_context({"tunnel"}, 0s);
  ASSERT_TRUE(connect(*client_ctx).ok);
  Handshake second = connect(*client_ctx);
  ASSERT_TRUE(second.ok);
  EXPECT_FALSE(second.server_resumed);
}

}  // namespace
}  // namespace tp::net
