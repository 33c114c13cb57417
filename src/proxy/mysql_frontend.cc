#include "tunnel/mux.h"
#include "proxy/mysql_frontend.h"

#include <set>

#include "common/log.h"
#include "common/release.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "proxy/internal/frontends.h"
#include "proxy/internal/streams.h"

namespace tp::proxy {

namespace asio = boost::asio;
namespace m = tp::mysql;
using namespace asio::experimental::awaitable_operators;
using internal::close_stream;
using internal::send_and_close;
using internal::write_all;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What the greeting offers: what every MySQL 5.7+ and MariaDB 10.2+ server has (the agent then
// negotiates the same with the real server; it reads this list back from the handoff, so the two
// need not be kept in step), plus CLIENT_SSL. No compression, no MariaDB-only or MySQL-8-only
// extensions (CLIENT_MYSQL set).
constexpr uint64_t kGreetingCapabilities =
    m::CLIENT_LONG_PASSWORD | m::CLIENT_FOUND_ROWS | m::CLIENT_LONG_FLAG | m::CLIENT_CONNECT_WITH_DB |
    m::CLIENT_NO_SCHEMA | m::CLIENT_ODBC | m::CLIENT_LOCAL_FILES | m::CLIENT_IGNORE_SPACE |
    m::CLIENT_PROTOCOL_41 | m::CLIENT_INTERACTIVE | m::CLIENT_SSL | m::CLIENT_IGNORE_SIGPIPE |
    m::CLIENT_TRANSACTIONS | m::CLIENT_SECURE_CONNECTION | m::CLIENT_MULTI_STATEMENTS |
    m::CLIENT_MULTI_RESULTS | m::CLIENT_PS_MULTI_RESULTS | m::CLIENT_PLUGIN_AUTH | m::CLIENT_CONNECT_ATTRS |
    m::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | m::CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS |
    m::CLIENT_SESSION_TRACK | m::CLIENT_DEPRECATE_EOF;

// Connection-phase packets are small.
constexpr size_t kMaxLoginPacket = 64 * 1024;

Error tls_required() {
  return unauthenticated(
      "this Teleport proxy accepts MySQL clients only over TLS with a database certificate: run "
      "'tsh db login <database>' and connect with 'tsh db connect <database>', or with the --ssl-ca, "
      "--ssl-cert "
      "and --ssl-key options 'tsh db config <database>' prints");
}

m::ErrPacket err_packet(const Error& error) {
  m::ErrPacket err;
  err.message = error.message;
  if (error.code == ErrorCode::kUnauthenticated || error.code == ErrorCode::kAccessDenied ||
      error.code == ErrorCode::kExpired) {
    err.error_code = 1045;  // ER_ACCESS_DENIED_ERROR
    err.sql_state = "28000";
  } else if (error.code == ErrorCode::kUnavailable) {
    // Not 2003 (CR_CONN_HOST_ERROR): libmariadb reports a server ERR with a client-library code
    // (2000-2999) as "malformed packet" instead of showing our message.
    err.error_code = 1105;    // ER_UNKNOWN_ERROR
    err.sql_state = "08S01";  // communication link failure
  } else {
    err.error_code = 1105;  // ER_UNKNOWN_ERROR
  }
  return err;
}

std::string encode_error(const Error& error, uint64_t capabilities, uint8_t sequence_id) {
  return m::encode_packet(m::encode_err_packet(err_packet(error), capabilities), sequence_id);
}

// Reads exactly one packet and returns its wire bytes. Exactly: a client starts its TLS
// handshake right after the SSLRequest without waiting for an answer, so bytes past the packet
// belong to TLS and must stay in the socket.
template <class Stream>
asio::awaitable<Result<std::string>> read_packet(Stream& stream) {
  std::string wire(m::kPacketHeaderSize, '\0');
  auto [ec, n] = co_await asio::async_read(stream, asio::buffer(wire), kTuple);
  if (ec) co_return unavailable("the MySQL client closed the connection during the handshake");
  const size_t length = static_cast<uint8_t>(wire[0]) | (static_cast<uint8_t>(wire[1]) << 8) |
                        (static_cast<size_t>(static_cast<uint8_t>(wire[2])) << 16);
  if (length > kMaxLoginPacket)
    co_return invalid_argument("MySQL client handshake packet of " + std::to_string(length) +
                               " bytes is too large");
  wire.resize(m::kPacketHeaderSize + length);
  auto [ec2, n2] =
      co_await asio::async_read(stream, asio::buffer(wire.data() + m::kPacketHeaderSize, length), kTuple);
  if (ec2) co_return unavailable("the MySQL client closed the connection during the handshake");
  co_return wire;
}

using Accepted = std::optional<std::pair<std::unique_ptr<net::TlsStream>, MysqlClientLogin>>;

// The connection phase up to the client's HandshakeResponse41; nullopt when the client was
// refused (and told why) or went away.
asio::awaitable<Accepted> connection_phase(net::tcp::socket& socket, asio::ssl::context& tls,
                                           const MysqlFrontendOptions& options,
                                           const std::string& client_addr) {
  Rng& rng = options.rng ? *options.rng : crypto_rng();
  m::HandshakeV10 greeting;
  greeting.server_version =
      options.server_version.empty() ? std::string(kDefaultMysqlServerVersion) : options.server_version;
  // Clients send "KILL QUERY <id>" on Ctrl-C; ids in this range name no real server thread.
  greeting.connection_id = 0xF0000000u | (rng.u32() & 0x0FFFFFFFu);
  greeting.auth_plugin_data = m::make_scramble(rng);
  greeting.capabilities = kGreetingCapabilities;
  greeting.auth_plugin_name = std::string(m::kNativePasswordPlugin);
  auto greeting_payload = m::encode_handshake_v10(greeting);
  if (!greeting_payload.ok()) {
    log::error("proxy", "cannot encode the MySQL greeting", {{"error", greeting_payload.error().message}});
    co_return std::nullopt;
  }
  const std::string greeting_wire = m::encode_packet(*greeting_payload, 0);
  if (!co_await write_all(socket, greeting_wire)) co_return std::nullopt;

  auto first = co_await read_packet(socket);
  if (!first.ok()) co_return std::nullopt;
  std::string_view first_payload = std::string_view(*first).substr(m::kPacketHeaderSize);
  const uint8_t first_id = static_cast<uint8_t>((*first)[3]);
  if (!m::is_ssl_request(first_payload)) {
    // A client without TLS sent its HandshakeResponse41 in the clear.
    co_await send_and_close(socket, encode_error(tls_required(), m::CLIENT_PROTOCOL_41, first_id + 1));
    co_return std::nullopt;
  }

  auto stream = std::make_unique<net::TlsStream>(std::move(socket), tls);
  if (!co_await net::tls_handshake(*stream, asio::ssl::stream_base::server, std::chrono::seconds(10))) {
    log::debug("proxy", "mysql client TLS handshake failed", {{"client", client_addr}});
    co_return std::nullopt;
  }
  MysqlClientLogin login;
  login.client_addr = client_addr;
  login.peer = options.verify_peer ? options.verify_peer(stream->native_handle()) : PeerCert{};

  auto response_wire = co_await read_packet(*stream);
  if (!response_wire.ok()) co_return std::nullopt;
  const uint8_t response_id = static_cast<uint8_t>((*response_wire)[3]);
  login.next_sequence_id = static_cast<uint8_t>(response_id + 1);
  auto response =
      m::parse_handshake_response41(std::string_view(*response_wire).substr(m::kPacketHeaderSize));
  if (!response.ok()) {
    co_await send_and_close(*stream,
                            encode_error(response.error(), m::CLIENT_PROTOCOL_41, login.next_sequence_id));
    co_return std::nullopt;
  }
  login.username = response->username;
  login.database = response->database;
  login.capabilities = greeting.capabilities & response->capabilities;
  login.handoff = greeting_wire + *response_wire;
  if (auto user = require_user(login.peer); !user.ok()) {
    log::info("proxy", "mysql client refused", {{"client", client_addr}, {"error", user.error().message}});
    co_await send_and_close(*stream, encode_login_error(login, user.error()));
    co_return std::nullopt;
  }
  co_return std::make_pair(std::move(stream), std::move(login));
}

}  // namespace

std::string greeting_server_version(const std::vector<DatabaseServer>& servers) {
  std::set<std::string> versions;
  for (const auto& s : servers)
    if (s.database.protocol == "mysql")
      versions.insert(s.database.mysql_server_version.empty() ? std::string(kDefaultMysqlServerVersion)
                                                              : s.database.mysql_server_version);
  return versions.size() == 1 ? *versions.begin() : std::string(kDefaultMysqlServerVersion);
}

std::string encode_login_error(const MysqlClientLogin& login, const Error& error) {
  return encode_error(error, login.capabilities, login.next_sequence_id);
}

asio::awaitable<void> serve_mysql_client(net::tcp::socket socket, asio::ssl::context& tls,
                                         MysqlFrontendOptions options, MysqlRoute route) {
  boost::system::error_code ignored;
  socket.set_option(net::tcp::no_delay(true), ignored);
  const std::string client_addr = net::endpoint_text(socket);
  const asio::any_io_executor timer_executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(timer_executor, options.timeout);
  auto outcome = co_await (connection_phase(socket, tls, options, client_addr) || timer.async_wait(kTuple));
  if (outcome.index() == 1) {
    log::debug("proxy", "mysql client did not finish the handshake in time", {{"client", client_addr}});
    co_return;
  }
  auto accepted = std::get<0>(std::move(outcome));
  if (!accepted) co_return;
  auto& [stream, login] = *accepted;
  co_await route(*stream, std::move(login));
}

namespace internal {

asio::awaitable<void> serve_mysql_native(std::shared_ptr<ProxyState> state, net::tcp::socket socket) {
  auto ctx = state->contexts().database;  // kept alive for the connection, across renewals
  MysqlFrontendOptions options;
  if (auto servers = state->auth.list_database_servers(); servers.ok())
    options.server_version = greeting_server_version(*servers);
  options.verify_peer = [state](SSL* ssl) { return state->verify_peer(ssl); };
  options.rng = &state->rng;
  MysqlRoute route = [state](net::TlsStream& client, MysqlClientLogin login) -> asio::awaitable<void> {
    std::string session_id;
    auto agent = co_await open_database_stream(*state, login.peer, "mysql", login.handoff, login.client_addr,
                                               session_id);
    release(login.peer);  // the certificate: nothing the relay needs
    if (!agent.ok()) {
      log::info("proxy", "database connection refused",
                {{"protocol", "mysql"}, {"client", login.client_addr}, {"error", agent.error().message}});
      co_await send_and_close(client, encode_login_error(login, agent.error()));
      co_return;
    }
    co_await relay(client, **agent);
    log::debug("proxy", "database session relay ended",
               {{"session_id", session_id}, {"client", login.client_addr}});
    co_await close_stream(**agent);
    co_await close_stream(client);
  };
  co_await serve_mysql_client(std::move(socket), *ctx, std::move(options), std::move(route));
}

}  // namespace internal

}  // namespace tp::proxy
