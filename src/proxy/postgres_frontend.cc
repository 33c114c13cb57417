// PostgreSQL clients at the proxy: the start-up phase up to the StartupMessage, then routing. See
// the PostgreSQL documentation, "Message Flow" → "Start-up", "SSL Session Encryption", "GSSAPI
// Session Encryption" and "Canceling Requests in Progress".
#include <boost/asio/ssl/stream.hpp>
#include <type_traits>
#include <variant>

#include "common/log.h"
#include "proxy/client_errors.h"
#include "proxy/internal/database_session.h"
#include "proxy/internal/frontends.h"
#include "proxy/internal/streams.h"

namespace tp::proxy::internal {

namespace {

constexpr auto kStartupTimeout = std::chrono::seconds(30);

struct PgClient {
  std::shared_ptr<ProxyState> state;
  std::string addr;
  PeerCert peer;     // the innermost TLS layer's client certificate
  bool tls = false;  // at least one TLS layer protects the connection
};

Error tls_required() {
  return unauthenticated(
      "this Teleport proxy accepts PostgreSQL clients only over TLS with a database certificate: run "
      "'tsh db login <database>' and connect with the settings 'tsh db config <database>' prints "
      "(sslmode=verify-full), or use 'tsh db connect <database>'");
}

// The TLS layer an SSLRequest adds: on a plain socket our own stream; inside TLS routing (psql's
// TLS inside the TLS of `tsh proxy db` without --tunnel) Asio's, which layers over any stream.
template <class Stream>
using TlsOver = std::conditional_t<std::is_same_v<Stream, net::tcp::socket>, net::BasicTlsStream<Stream&>,
                                   asio::ssl::stream<Stream&>>;

// Reads until `buffer` starts with one complete startup packet and returns its length; 0 when the
// client went away or ran out of time (nothing left to tell it).
template <class Stream>
asio::awaitable<Result<size_t>> read_startup_packet(Stream& stream, std::string& buffer,
                                                    std::chrono::steady_clock::time_point deadline) {
  std::array<char, 4096> chunk;
  while (true) {
    auto framed = pg::frame_startup_packet(buffer);
    if (!framed.ok()) co_return framed.error();
    if (*framed > 0) co_return *framed;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return size_t{0};
    size_t n = co_await read_some_for(stream, asio::buffer(chunk), left);
    if (n == 0) co_return size_t{0};
    buffer.append(chunk.data(), n);
  }
}

// Where the start-up phase on one layer ended.
struct Startup {
  enum Next { kDone, kUpgrade, kRoute } next = kDone;
  std::string initial;  // kRoute: the StartupMessage and whatever the client sent after it
};

// One layer's start-up phase: GSSENCRequest refused, SSLRequest accepted (kUpgrade: 'S' sent) or refused,
// a CancelRequest forwarded, a StartupMessage handed back for routing (kRoute); refusals are sent here
// (kDone). kMayUpgrade: an SSLRequest may still add a TLS layer (false once inside the layer it added).
template <class Stream, bool kMayUpgrade>
asio::awaitable<Startup> read_startup(Stream& stream, PgClient& client) {
  std::string buffer;
  const auto deadline = std::chrono::steady_clock::now() + kStartupTimeout;
  const std::string accepted = pg::encode_ssl_response(true);
  const std::string refused = pg::encode_ssl_response(false);
  Startup done;
  // A client sends at most GSSENCRequest, SSLRequest, then the StartupMessage or a CancelRequest.
  for (int step = 0; step < 3; ++step) {
    auto length = co_await read_startup_packet(stream, buffer, deadline);
    if (!length.ok()) {
      const std::string refusal = postgres_error(length.error());
      co_await send_and_close(stream, refusal);
      co_return done;
    }
    if (*length == 0) co_return done;
    std::string packet = buffer.substr(0, *length);
    buffer.erase(0, *length);
    auto parsed = pg::parse_startup_packet(packet);
    if (!parsed.ok()) {
      const std::string refusal = postgres_error(parsed.error());
      co_await send_and_close(stream, refusal);
      co_return done;
    }

    if (std::holds_alternative<pg::GssEncRequest>(*parsed)) {
      // No GSSAPI here; libpq then carries on with SSLRequest.
      if (!co_await write_all(stream, refused)) co_return done;
      continue;
    }

    if (std::holds_alternative<pg::SslRequest>(*parsed)) {
      // Bytes the client sent before our answer would be read as if they had come over TLS
      // (CVE-2021-23214): refuse them.
      if (!buffer.empty()) {
        const std::string refusal = postgres_error(
            invalid_argument("protocol violation: data received after SSLRequest before the TLS handshake"));
        co_await send_and_close(stream, refusal);
        co_return done;
      }
      if constexpr (kMayUpgrade) {
        if (!co_await write_all(stream, accepted)) co_return done;
        Startup upgrade;
        upgrade.next = Startup::kUpgrade;
        co_return upgrade;
      } else {
        // Already inside our TLS layer: no second one.
        if (!co_await write_all(stream, refused)) co_return done;
        continue;
      }
    }

    if (auto* cancel = std::get_if<pg::CancelRequest>(&*parsed)) {
      // A plain psql sends its cancel key without TLS and without a certificate; the agent that
      // issued the key recognises it, so forwarding it reveals nothing new.
      std::string db_name;
      if (client.peer.identity && client.peer.identity->route) db_name = client.peer.identity->route->service_name;
      co_await forward_cancel(*client.state, *cancel, db_name, client.addr);
      co_await close_stream(stream);
      co_return done;
    }

    // StartupMessage.
    if (!client.tls) {
      const std::string refusal = postgres_error(tls_required());
      co_await send_and_close(stream, refusal);
      co_return done;
    }
    Startup route;
    route.next = Startup::kRoute;
    route.initial = packet + buffer;
    co_return route;
  }
  const std::string refusal = postgres_error(invalid_argument("protocol violation: too many start-up packets"));
  co_await send_and_close(stream, refusal);
  co_return done;
}

template <class Stream>
asio::awaitable<void> route(Stream& stream, PgClient& client, Startup& startup) {
  const std::string protocol = "postgres";
  co_await route_and_relay(*client.state, stream, client.peer, protocol, std::move(startup.initial),
                           client.addr);
}

// One coroutine per client. The start-up phase runs in read_startup's frames, gone once the session is
// routed: GCC keeps every local of a coroutine in its frame as long as it runs, and this one runs as
// long as the session.
template <class Stream>
asio::awaitable<void> serve_startup(Stream& stream, PgClient& client) {
  Startup outer = co_await read_startup<Stream, true>(stream, client);
  if (outer.next == Startup::kRoute) co_await route(stream, client, outer);
  if (outer.next != Startup::kUpgrade) co_return;
  auto ctx = client.state->contexts().database;
  TlsOver<Stream> tls(stream, *ctx);
  if (!co_await handshake_for(tls, asio::ssl::stream_base::server, std::chrono::seconds(10))) {
    log::debug("proxy", "postgres client TLS handshake failed", {{"client", client.addr}});
    co_return;
  }
  PeerCert inner = client.state->verify_peer(tls.native_handle());
  if (inner.presented() || !client.peer.presented()) client.peer = std::move(inner);
  client.tls = true;
  Startup startup = co_await read_startup<TlsOver<Stream>, false>(tls, client);
  if (startup.next == Startup::kRoute) co_await route(tls, client, startup);
}

}  // namespace

asio::awaitable<void> serve_postgres_native(std::shared_ptr<ProxyState> state, net::tcp::socket socket) {
  boost::system::error_code ignored;
  socket.set_option(net::tcp::no_delay(true), ignored);
  PgClient client{std::move(state), net::endpoint_text(socket), {}, false};
  co_await serve_startup(socket, client);
}

asio::awaitable<void> serve_postgres_routed(std::shared_ptr<ProxyState> state, net::TlsStream& stream,
                                            PeerCert outer_peer, std::string client_addr) {
  PgClient client{std::move(state), std::move(client_addr), std::move(outer_peer), true};
  co_await serve_startup(stream, client);
}

}  // namespace tp::proxy::internal
