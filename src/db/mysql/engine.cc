#include "db/mysql/engine.h"

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "common/log.h"
#include "common/release.h"
#include "db/host_identity.h"
#include "db/internal/blocking.h"
#include "db/mysql/client_handshake.h"
#include "db/mysql/internal/session_io.h"
#include "db/session.h"
#include "protocol/mysql/command.h"

namespace tp::db {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace mysql_internal;

namespace {

constexpr std::chrono::seconds kHandshakeTimeout{30};
constexpr uint16_t kErServerShutdown = 1053;  // ER_SERVER_SHUTDOWN

log::Field field(std::string_view k, const std::string& v) {
  return {k, v};
}

// Connection ids the agent's own greeting advertises. Clients use the id for KILL QUERY on
// Ctrl-C; ids from this range name no real server thread, so such a KILL fails harmlessly
// instead of hitting someone else's query. (`SELECT CONNECTION_ID()` gives the real one.)
uint32_t greeting_connection_id(Rng& rng) {
  return 0xF0000000u | (rng.u32() & 0x0FFFFFFFu);
}

// TLS routing: greet the client and read its HandshakeResponse41, within kHandshakeTimeout.
asio::awaitable<Result<MysqlClientHello>> greet_client(tunnel::MuxStream& client,
                                                       const mysql::HandshakeV10& greeting,
                                                       std::string& buffer) {
  auto exchange = [&]() -> asio::awaitable<Result<MysqlClientHello>> {
    auto payload = mysql::encode_handshake_v10(greeting);
    if (!payload.ok()) co_return payload.error().wrap("db.mysql.server_version");
    if (auto s = co_await write_bytes(client, mysql::encode_packet(*payload, 0)); !s.ok())
      co_return s.error();
    std::array<char, 4096> chunk;
    while (true) {
      auto hello = take_client_hello(greeting, buffer);
      if (!hello.ok()) co_return hello.error();
      if (*hello) co_return std::move(**hello);
      auto [ec, n] = co_await client.async_read_some(asio::buffer(chunk), kTuple);
      if (ec) co_return unavailable("the client closed the connection during the handshake");
      buffer.append(chunk.data(), n);
    }
  };
  const asio::any_io_executor timer_executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(timer_executor, kHandshakeTimeout);
  auto outcome = co_await (exchange() || timer.async_wait(kTuple));
  if (outcome.index() == 1) co_return unavailable("the client sent no handshake response within 30s");
  co_return std::get<0>(std::move(outcome));
}

mysql::ErrPacket upstream_err(const UpstreamFailure& failure) {
  mysql::ErrPacket err = err_packet_for(failure.error);
  if (failure.server_error) {
    // The server's own code and state (e.g. 1045 / 28000), with our message naming the database.
    err.error_code = failure.server_error->error_code;
    err.sql_state = failure.server_error->sql_state;
  }
  return err;
}

}  // namespace

// A session that passed its checks and logged in upstream: what it holds while it relays.
struct MysqlEngine::Started {
  SessionInfo info;
  MysqlClientHello hello;
  std::string client_pending;  // client bytes read past its handshake response
  UpstreamSession upstream;
  std::vector<Role> roles;  // the user's roles, for a change of database
  TimePoint started;
};

// A session's coroutines. GCC keeps every local of a coroutine, and every temporary of its co_await
// expressions, in the coroutine's frame for as long as it runs; so the login runs in start(), whose
// frame is gone once the session is on, and serve() keeps only what the relay needs.
asio::awaitable<void> MysqlEngine::serve(tunnel::DialRequest request,
                                         std::unique_ptr<tunnel::MuxStream> client) {
  auto executor = co_await asio::this_coro::executor;
  internal::SessionDeadline deadline(executor, ctx_.clock);
  auto registration = ctx_.sessions.add(deadline.stop_hook());
  std::optional<Started> started = co_await start(request, *client);
  release(request);  // the certificate and the rest: nothing the relay needs
  if (started) co_await run(*started, *client, deadline);
}

asio::awaitable<std::optional<MysqlEngine::Started>> MysqlEngine::start(tunnel::DialRequest& request,
                                                                        tunnel::MuxStream& client) {
  const Database* db = ctx_.find_database(request.db_name);
  const bool handoff = !request.initial_data.empty();

  // 1. The client's connection phase.
  MysqlClientHello hello;  // until the response is in: sequence id 0, no capabilities
  std::string client_pending;
  Result<MysqlClientHello> received = internal_error("no handshake");
  if (handoff) {
    received = parse_native_handoff(request.initial_data);
  } else if (db) {
    auto greeting =
        make_client_greeting(db->mysql_server_version, greeting_connection_id(ctx_.rng), ctx_.rng);
    received = co_await greet_client(client, greeting, client_pending);
  }
  if (received.ok()) hello = std::move(*received);

  SessionInfo s;
  s.sid = request.session_id.empty() ? new_uuid(ctx_.rng) : request.session_id;
  if (db) s.db = *db;
  s.db_user = hello.response.username;
  s.db_name = hello.response.database;
  s.client_addr = request.client_addr;

  // One place for every refusal before the session starts: the client gets an ERR_Packet (which
  // mariadb shows as "ERROR 1045 (28000): <why>"), the audit log a failed db.session.start once
  // there is a session to speak of (a known database and a complete handshake; a port probe that
  // hangs up at the greeting is only logged).
  // (Arguments by reference: GCC 12 mishandles aggregate prvalues passed by value to coroutines.)
  auto refuse = [&](const Error& e, const mysql::ErrPacket* err = nullptr) -> asio::awaitable<void> {
    const bool audited = db && received.ok();
    log::write(audited ? log::Level::kWarn : log::Level::kInfo, "db", "mysql session refused",
               {field("db", request.db_name), field("user", s.identity.username), field("db_user", s.db_user),
                field("db_name", s.db_name), field("sid", s.sid), field("error", e.message)});
    if (audited) ctx_.audit.emit(session_start_event(s, e, ctx_.clock.now()));
    const std::string answer = encode_client_error(hello, err ? *err : err_packet_for(e));
    (void)co_await write_bytes(client, answer);
    co_await close_stream(client);
  };

  if (!db) {
    co_await refuse(not_found("database \"" + request.db_name + "\" is not served by this agent"));
    co_return std::nullopt;
  }
  if (!received.ok()) {
    // Nobody to answer when the client went away; otherwise tell it what was wrong.
    co_await refuse(received.error().wrap("MySQL handshake"));
    co_return std::nullopt;
  }

  // 2. Who the client is, and whether the route and the roles let it in.
  auto identity =
      verify_client_identity(request.client_cert_pem, ctx_.user_cas(), *db, "mysql", ctx_.clock.now());
  if (!identity.ok()) {
    co_await refuse(identity.error());
    co_return std::nullopt;
  }
  s.identity = std::move(*identity);
  auto db_name = check_route(*s.identity.route, s.db_user, s.db_name);
  if (!db_name.ok()) {
    co_await refuse(db_name.error());
    co_return std::nullopt;
  }
  s.db_name = *db_name;  // MySQL sessions may start without a database
  auto admission = co_await internal::run_blocking(ctx_.blocking, [&] { return ctx_.admit(s); });
  if (!admission.roles.ok()) {
    co_await refuse(admission.roles.error());
    co_return std::nullopt;
  }
  if (!admission.decision.allowed) {
    co_await refuse(access_denied(admission.decision.reason));
    co_return std::nullopt;
  }

  // 3. The real server.
  const auto& password = admission.password;
  // No password is fine for an account without one; an IAM database always needs its token.
  if (!password.ok() && (password.error().code != ErrorCode::kNotFound || db->iam_auth())) {
    co_await refuse(password.error());
    co_return std::nullopt;
  }
  auto tls = ctx_.upstream_tls.find(db->name);
  if (tls == ctx_.upstream_tls.end()) {
    co_await refuse(internal_error("no TLS settings for database " + db->name));
    co_return std::nullopt;
  }
  MysqlUpstreamLoginRequest login;
  login.db_service = db->name;
  login.user = s.db_user;
  login.database = s.db_name;
  if (password.ok())
    login.password = *password;
  else
    login.missing_password = password.error().message;
  login.client_capabilities = hello.capabilities;
  login.character_set = hello.response.character_set;
  login.max_packet_size = hello.response.max_packet_size;
  login.connect_attributes = hello.response.connect_attributes;
  UpstreamRequest upstream_request{*db, *tls->second, std::move(login)};
  auto connected = co_await connect_upstream(std::move(upstream_request));
  if (auto* failure = std::get_if<UpstreamFailure>(&connected)) {
    const mysql::ErrPacket err = upstream_err(*failure);
    co_await refuse(failure->error, &err);
    co_return std::nullopt;
  }
  std::optional<Started> on(std::in_place);
  on->upstream = std::move(std::get<UpstreamSession>(connected));
  const UpstreamSession& upstream = on->upstream;

  // 4. The session is on.
  on->started = ctx_.clock.now();
  ctx_.audit.emit(session_start_event(s, Status{}, on->started));
  log::info("db", "mysql session started",
            {field("db", s.db.name), field("user", s.identity.username), field("db_user", s.db_user),
             field("db_name", s.db_name), field("sid", s.sid),
             field("server_thread_id", std::to_string(upstream.connection_id)),
             field("entry", hello.native_handoff ? "native listener" : "tls routing")});

  on->info = std::move(s);
  on->hello = std::move(hello);
  on->client_pending = std::move(client_pending);
  on->roles = std::move(*admission.roles);
  co_return std::move(on);
}

asio::awaitable<void> MysqlEngine::run(Started& on, tunnel::MuxStream& client,
                                       internal::SessionDeadline& deadline) {
  SessionInfo& s = on.info;
  const MysqlClientHello& hello = on.hello;
  UpstreamSession& upstream = on.upstream;
  const std::vector<Role>& session_roles = on.roles;
  RelayEnd end = RelayEnd::kClientClosed;
  std::string detail;
  if (auto sent = co_await write_bytes(client, encode_client_auth_ok(hello, upstream.ok.status_flags));
      sent.ok()) {
    SessionEventFields event_fields(s);
    MysqlQueryAuditor auditor(
        [&](std::string_view query, std::vector<std::string> parameters) {
          ctx_.audit.emit(session_query_event(event_fields, query, parameters, ctx_.clock.now()));
        },
        [&](const std::string& database) {
          s.db_name = database;
          event_fields = SessionEventFields(s);  // later events name the new database
        });
    // A change of database passes the same checks as the connection did.
    auto allowed_database = [&](const std::string& database) -> Status {
      TP_TRY(auto name, check_route(*s.identity.route, s.db_user, database));
      SessionInfo target = s;
      target.db_name = name;
      auto d = authorize_session(session_roles, target);
      if (!d.allowed) return access_denied(d.reason);
      return {};
    };
    deadline.arm(s.identity.expires);
    RelayParts parts{client,  std::move(on.client_pending), *upstream.stream, deadline,
                     auditor, hello.capabilities,           allowed_database, &detail};
    end = co_await relay(std::move(parts));
  }

  // 5. The end: a last word to the client when the agent ends the session.
  if (end == RelayEnd::kCertificateExpired || end == RelayEnd::kShutdown) {
    mysql::ErrPacket err;
    if (end == RelayEnd::kCertificateExpired) {
      err = err_packet_for(expired(expired_session_message(s)));
    } else {
      err.error_code = kErServerShutdown;
      err.sql_state = "08S01";
      err.message = "the database agent is shutting down; connect again";
    }
    // Sequence id 1: the answer to the command the client may be waiting on.
    (void)co_await write_bytes(client,
                               mysql::encode_packet(mysql::encode_err_packet(err, hello.capabilities), 1));
  }
  if (end != RelayEnd::kServerClosed && end != RelayEnd::kServerProtocolError) {
    // Tell the server we are leaving, so it does not log an aborted connection.
    mysql::Command quit;
    quit.type = mysql::CommandType::kQuit;
    if (auto bytes = mysql::encode_command(quit, hello.capabilities); bytes.ok())
      (void)co_await write_bytes(*upstream.stream, mysql::encode_packet(*bytes, 0));
  }
  co_await close_stream(*upstream.stream);
  co_await close_stream(client);
  ctx_.audit.emit(session_end_event(s, on.started, ctx_.clock.now()));
  log::info("db", "mysql session ended",
            {field("db", s.db.name), field("user", s.identity.username), field("db_user", s.db_user),
             field("db_name", s.db_name), field("sid", s.sid), field("reason", relay_end_name(end)),
             field("detail", detail)});
}

}  // namespace tp::db
