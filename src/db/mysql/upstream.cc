// Connecting to the real MySQL / MariaDB server: TCP, the server's greeting, SSLRequest then TLS
// (dev.mysql.com "Connection Phase": "SSL Handshake"), HandshakeResponse41 and the authentication
// exchange up to the server's OK. The protocol decisions are MysqlUpstreamLogin's; this file only
// moves its packets.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "db/mysql/internal/session_io.h"

namespace tp::db::mysql_internal {

using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::chrono::seconds kConnectTimeout{10};
constexpr std::chrono::seconds kTlsTimeout{10};
constexpr std::chrono::seconds kUpstreamSetupTimeout{30};
// Packets before the OK are small; a huge one means a confused peer.
constexpr size_t kMaxLoginPacket = 1 << 20;

using Outcome = std::variant<UpstreamSession, UpstreamFailure>;
// Asio's || flattens a variant result into its own variant; a struct keeps the two apart.
struct Wrapped {
  Outcome outcome;
};

asio::awaitable<Wrapped> connect_and_login(UpstreamRequest& r) {
  MysqlUpstreamLogin login(r.login);
  auto fail = [&login](Error e) -> Wrapped {
    return Wrapped{UpstreamFailure{std::move(e), login.server_error()}};
  };
  const std::string who = "database \"" + r.db.name + "\"";
  auto hp = parse_host_port(r.db.uri);
  if (!hp.ok()) co_return fail(hp.error().wrap(who + " uri"));
  auto socket =
      co_await net::connect_tcp(*hp, std::chrono::duration_cast<std::chrono::milliseconds>(kConnectTimeout));
  if (!socket.ok()) co_return fail(socket.error().wrap(who));
  boost::system::error_code ignored;
  socket->set_option(net::tcp::no_delay(true), ignored);

  // The greeting and our SSLRequest travel in the clear; nothing secret is in them.
  std::string buffer;
  mysql::PacketFramer framer(kMaxLoginPacket);
  auto greeting = co_await read_packet(*socket, buffer, framer);
  if (!greeting.ok()) co_return fail(unavailable(who + " closed the connection before its greeting"));
  auto ssl_request = login.on_greeting(greeting->packet);
  if (!ssl_request.ok()) co_return fail(ssl_request.error());
  buffer.erase(0, greeting->consumed);
  if (!buffer.empty()) co_return fail(unavailable(who + " sent data before the TLS handshake"));
  if (auto s = co_await write_bytes(*socket, *ssl_request); !s.ok()) co_return fail(s.error().wrap(who));

  auto stream = std::make_unique<net::TlsStream>(std::move(*socket), r.tls.context());
  if (auto s = r.tls.prepare(stream->native_handle()); !s.ok()) co_return fail(s.error());
  if (!co_await net::tls_handshake(*stream, asio::ssl::stream_base::client, kTlsTimeout))
    co_return fail(unavailable("TLS with " + who + ": " +
                               r.tls.describe_failure(stream->native_handle(), "handshake failed")));

  auto response = login.handshake_response();
  if (!response.ok()) co_return fail(response.error());
  if (auto s = co_await write_bytes(*stream, *response); !s.ok()) co_return fail(s.error().wrap(who));
  while (true) {
    auto packet = co_await read_packet(*stream, buffer, framer);
    if (!packet.ok()) co_return fail(unavailable(who + " closed the connection during login"));
    auto step = login.on_packet(packet->packet);
    if (!step.ok()) co_return fail(step.error());
    buffer.erase(0, packet->consumed);
    if (!step->reply.empty())
      if (auto s = co_await write_bytes(*stream, step->reply); !s.ok()) co_return fail(s.error().wrap(who));
    if (step->done) {
      // The server says nothing more until the first command.
      if (!buffer.empty()) co_return fail(unavailable(who + " sent data after its login OK"));
      UpstreamSession session;
      session.stream = std::move(stream);
      session.ok = std::move(step->ok);
      session.connection_id = login.server_greeting().connection_id;
      session.server_version = login.server_greeting().server_version;
      co_return Wrapped{std::move(session)};
    }
  }
}

}  // namespace

asio::awaitable<Outcome> connect_upstream(UpstreamRequest request) {
  const asio::any_io_executor timer_executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(timer_executor, kUpstreamSetupTimeout);
  auto outcome = co_await (connect_and_login(request) || timer.async_wait(kTuple));
  if (outcome.index() == 1)
    co_return UpstreamFailure{
        unavailable("database \"" + request.db.name + "\" did not complete the login within " +
                    std::to_string(kUpstreamSetupTimeout.count()) + "s"),
        std::nullopt};
  co_return std::move(std::get<0>(outcome).outcome);
}

}  // namespace tp::db::mysql_internal
