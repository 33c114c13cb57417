// Connecting to the real PostgreSQL server: TCP, SSLRequest then TLS
// ("Message Flow" -> "SSL Session Encryption"), StartupMessage, the password
// exchange, and the messages up to the first ReadyForQuery ("Start-up").
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "db/postgres/internal/session_io.h"
#include "db/postgres/upstream_login.h"
#include "protocol/postgres/backend_messages.h"
#include "protocol/postgres/framer.h"

namespace tp::db::pg_internal {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::chrono::seconds kConnectTimeout{10};
constexpr std::chrono::seconds kUpstreamSetupTimeout{30};
// Messages before ReadyForQuery are small; a huge one means a confused peer.
constexpr uint32_t kMaxSetupMessage = 1 << 20;

struct RawMessage {
  char type = 0;
  std::string payload;
  std::string bytes;  // the whole message, header included
};

asio::awaitable<Result<RawMessage>> read_message(net::TlsStream& stream, std::string& buffer) {
  while (true) {
    auto frame = pg::frame_message(buffer, kMaxSetupMessage);
    if (!frame.ok()) co_return frame.error().wrap("reading from the database");
    if (*frame) {
      RawMessage m;
      m.type = (*frame)->type;
      m.payload = std::string((*frame)->payload);
      size_t total = (*frame)->total_size();
      m.bytes = buffer.substr(0, total);
      buffer.erase(0, total);
      co_return m;
    }
    auto more = co_await read_more(stream, buffer);
    if (!more.ok()) co_return unavailable("the database closed the connection during startup");
  }
}

std::string server_message(const std::string& error_payload) {
  auto parsed = pg::parse_error_response(error_payload);
  if (!parsed.ok()) return "the database refused the connection";
  return std::string(parsed->message());
}

asio::awaitable<std::variant<UpstreamSession, UpstreamFailure>> connect_and_login(UpstreamRequest& r) {
  auto fail = [](Error e, std::string server_error = {}) -> std::variant<UpstreamSession, UpstreamFailure> {
    return UpstreamFailure{std::move(e), std::move(server_error)};
  };
  auto hp = parse_host_port(r.db.uri);
  if (!hp.ok()) co_return fail(hp.error());
  auto socket =
      co_await net::connect_tcp(*hp, std::chrono::duration_cast<std::chrono::milliseconds>(kConnectTimeout));
  if (!socket.ok()) co_return fail(socket.error().wrap("database \"" + r.db.name + "\""));

  // SSLRequest first, on the plain socket; the answer is one byte.
  std::string ssl_request = pg::encode_ssl_request();
  auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer(ssl_request), kTuple);
  char answer = 0;
  boost::system::error_code rec = wec;
  if (!wec) std::tie(rec, std::ignore) = co_await asio::async_read(*socket, asio::buffer(&answer, 1), kTuple);
  if (rec) co_return fail(unavailable("database \"" + r.db.name + "\" closed the connection at SSLRequest"));
  if (answer != pg::kSslAccepted)
    co_return fail(unavailable("database \"" + r.db.name + "\" at " + r.db.uri +
                               " does not accept TLS connections; enable ssl on the server"));

  auto stream = std::make_unique<net::TlsStream>(std::move(*socket), r.tls.context());
  if (auto s = r.tls.prepare(stream->native_handle()); !s.ok()) co_return fail(s.error());
  if (!co_await net::tls_handshake(*stream, asio::ssl::stream_base::client, std::chrono::seconds(10)))
    co_return fail(unavailable("TLS with database \"" + r.db.name +
                               "\": " + r.tls.describe_failure(stream->native_handle(), "handshake failed")));

  auto startup = pg::encode_startup_message(r.startup);
  if (!startup.ok()) co_return fail(startup.error());
  if (auto s = co_await write_bytes(*stream, *startup); !s.ok()) co_return fail(s.error());

  UpstreamLogin login(r.startup.user(), r.password, r.missing_password, r.rng);
  std::string buffer;
  bool authenticated = false;
  UpstreamSession session;
  while (true) {
    auto m = co_await read_message(*stream, buffer);
    if (!m.ok()) co_return fail(m.error());
    if (m->type == pg::backend_type::kErrorResponse)
      co_return fail(unauthenticated("database \"" + r.db.name + "\": " + server_message(m->payload)),
                     m->bytes);
    if (!authenticated) {
      if (m->type == pg::backend_type::kNegotiateProtocolVersion) continue;
      if (m->type != pg::backend_type::kAuthentication)
        co_return fail(unavailable("database \"" + r.db.name + "\" sent an unexpected message during login"));
      auto step = login.on_authentication(m->payload);
      if (!step.ok()) co_return fail(step.error().wrap("database \"" + r.db.name + "\""));
      if (!step->reply.empty())
        if (auto s = co_await write_bytes(*stream, step->reply); !s.ok()) co_return fail(s.error());
      authenticated = step->authenticated;
      continue;
    }
    if (m->type == pg::backend_type::kBackendKeyData) {
      auto key = pg::parse_backend_key_data(m->payload);
      if (!key.ok()) co_return fail(key.error().wrap("database \"" + r.db.name + "\""));
      CancelTarget target = r.cancel_target;
      target.upstream_key = {key->process_id, key->secret_key};
      session.client_key = r.cancels.issue(std::move(target));
      session.to_client +=
          pg::encode_backend_key_data(session.client_key->process_id, session.client_key->secret_key);
      continue;
    }
    session.to_client += m->bytes;
    if (m->type == pg::backend_type::kReadyForQuery) break;
  }
  session.stream = std::move(stream);
  session.pending = std::move(buffer);
  co_return std::move(session);
}

}  // namespace

asio::awaitable<std::variant<UpstreamSession, UpstreamFailure>> connect_upstream(UpstreamRequest request) {
  asio::steady_timer timer(co_await asio::this_coro::executor, kUpstreamSetupTimeout);
  // `variant<A, B> || C` flattens to variant<A, B, C>: index 2 is the timer.
  auto outcome = co_await (connect_and_login(request) || timer.async_wait(kTuple));
  if (auto* session = std::get_if<0>(&outcome)) co_return std::move(*session);
  if (auto* failure = std::get_if<1>(&outcome)) co_return std::move(*failure);
  co_return UpstreamFailure{
      unavailable("database \"" + request.db.name + "\" did not complete the login within " +
                  std::to_string(kUpstreamSetupTimeout.count()) + "s"),
      {}};
}

asio::awaitable<Status> send_cancel(const CancelTarget& target) {
  auto socket = co_await net::connect_tcp(target.upstream, std::chrono::seconds(5));
  if (!socket.ok()) co_return socket.error();
  std::string request =
      pg::encode_cancel_request({target.upstream_key.process_id, target.upstream_key.secret_key});
  auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(request), kTuple);
  if (ec)
    co_return unavailable("sending the cancel request to " + target.upstream.str() + ": " + ec.message());
  // The server closes the connection once it has read the request.
  char byte;
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(2));
  co_await (socket->async_read_some(asio::buffer(&byte, 1), kTuple) || timer.async_wait(kTuple));
  co_return Status{};
}

}  // namespace tp::db::pg_internal
