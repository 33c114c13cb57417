#include "db/postgres/engine.h"

#include "common/log.h"
#include "common/release.h"
#include "db/host_identity.h"
#include "db/internal/blocking.h"
#include "db/postgres/internal/session_io.h"
#include "db/session.h"
#include "protocol/postgres/backend_messages.h"

namespace tp::db {

namespace asio = boost::asio;
using namespace pg_internal;

namespace {

std::string encode_fatal(const char* sqlstate, const std::string& message) {
  pg::ErrorReport report;
  report.severity = "FATAL";
  report.sqlstate = sqlstate;
  report.message = message;
  return pg::encode_error_response(report);
}

// Protocol options ("_pq_.*") the client asked for; the agent speaks plain 3.0 upstream.
std::vector<std::string> protocol_options(const pg::StartupMessage& startup) {
  std::vector<std::string> out;
  for (const auto& [name, value] : startup.parameters)
    if (starts_with(name, "_pq_.")) out.push_back(name);
  return out;
}

// What the server sees: the client's parameters with the route's user and database.
pg::StartupMessage upstream_startup(const pg::StartupMessage& client, const std::string& user,
                                    const std::string& database) {
  pg::StartupMessage out;
  out.protocol_version = pg::kProtocolVersion3;
  for (const auto& [name, value] : client.parameters)
    if (!starts_with(name, "_pq_.")) out.parameters[name] = value;
  out.parameters["user"] = user;
  out.parameters["database"] = database;
  return out;
}

log::Field field(std::string_view k, const std::string& v) {
  return {k, v};
}

void log_cancel(const CancelTarget& target, const Status& sent) {
  std::string error;
  if (!sent.ok()) error = sent.error().message;
  log::info("db", "cancel request forwarded",
            {field("db", target.db_name), field("user", target.user), field("sid", target.sid),
             field("error", error)});
}

}  // namespace

Status PostgresEngine::accept_dial(const tunnel::DialRequest& request) {
  if (request.kind == tunnel::kDialPostgresCancel) {
    CancelKey key{static_cast<int32_t>(request.cancel_process_id),
                  static_cast<int32_t>(request.cancel_secret_key)};
    if (!cancels_.find(key)) return not_found("no PostgreSQL session on this agent has that cancel key");
  }
  return {};
}

// A session that passed its checks and logged in upstream: what it holds while it relays.
struct PostgresEngine::Started {
  SessionInfo info;
  UpstreamSession upstream;
  TimePoint started;
  std::string hello;  // for the client: AuthenticationOk, then the server's greeting
};

// A session's coroutines. GCC keeps every local of a coroutine, and every temporary of its co_await
// expressions, in the coroutine's frame for as long as it runs: a serve() that did the login itself
// held a 5 KiB frame through the whole session. So the login runs in start(), whose frame is gone
// once the session is on, and serve() keeps only what the relay needs.
asio::awaitable<void> PostgresEngine::serve(tunnel::DialRequest request,
                                            std::unique_ptr<tunnel::MuxStream> client) {
  auto executor = co_await asio::this_coro::executor;
  internal::SessionDeadline deadline(executor, ctx_.clock);
  auto registration = ctx_.sessions.add(deadline.stop_hook());
  if (request.kind == tunnel::kDialPostgresCancel) {
    co_await serve_cancel_dial(request);
  } else {
    ClientConn conn{*client, std::move(request.initial_data)};
    std::optional<Started> started = co_await start(request, conn);
    release(request);  // the certificate and the rest: nothing the relay needs
    if (started) co_await run(*started, conn, deadline);
  }
  co_await close_stream(*client);
}

asio::awaitable<void> PostgresEngine::serve_cancel_dial(const tunnel::DialRequest& request) {
  CancelKey key{static_cast<int32_t>(request.cancel_process_id),
                static_cast<int32_t>(request.cancel_secret_key)};
  if (auto target = cancels_.find(key)) {
    auto sent = co_await send_cancel(*target);
    log_cancel(*target, sent);
  }
}

asio::awaitable<std::optional<PostgresEngine::Started>> PostgresEngine::start(
    const tunnel::DialRequest& request, ClientConn& conn) {
  const Database* db = ctx_.find_database(request.db_name);
  if (!db) {
    (void)co_await write_bytes(conn.stream,
                               encode_fatal(pg::sqlstate::kInvalidCatalogName,
                                            "database \"" + request.db_name + "\" is not served here"));
    co_return std::nullopt;
  }

  auto startup = co_await read_client_startup(conn);
  if (!startup.ok()) {
    log::warn("db", "bad client startup", {field("db", db->name), field("error", startup.error().message)});
    (void)co_await write_bytes(conn.stream,
                               encode_fatal(pg::sqlstate::kProtocolViolation, startup.error().message));
    co_return std::nullopt;
  }

  if (auto* cancel = std::get_if<pg::CancelRequest>(&*startup)) {
    // Through `tsh proxy db` the cancel comes with the user's certificate: only
    // the session's own user may cancel it.
    auto identity =
        verify_client_identity(request.client_cert_pem, ctx_.user_cas(), *db, "postgres", ctx_.clock.now());
    auto target = cancels_.find({cancel->process_id, cancel->secret_key});
    if (identity.ok() && target && target->user == identity->username) {
      auto sent = co_await send_cancel(*target);
      log_cancel(*target, sent);
    } else {
      log::warn("db", "ignoring a cancel request for an unknown session or another user's session",
                {field("db", db->name)});
    }
    co_return std::nullopt;
  }
  const auto& client_startup = std::get<pg::StartupMessage>(*startup);

  SessionInfo s;
  // (No ?: with class temporaries in coroutines: GCC 12 may destroy them twice.)
  s.sid = request.session_id;
  if (s.sid.empty()) s.sid = new_uuid(ctx_.rng);
  s.db = *db;
  s.db_user = client_startup.user();
  s.db_name = client_startup.parameter("database");
  s.client_addr = request.client_addr;

  // One place for every refusal before the session starts: the client gets a
  // FATAL ErrorResponse, the audit log a failed db.session.start.
  auto refuse = [&](const Error& e, const char* sqlstate,
                    std::string server_error = {}) -> asio::awaitable<void> {
    log::warn("db", "session refused",
              {field("db", s.db.name), field("user", s.identity.username), field("db_user", s.db_user),
               field("db_name", s.db_name), field("sid", s.sid), field("error", e.message)});
    ctx_.audit.emit(session_start_event(s, e, ctx_.clock.now()));
    std::string reply = std::move(server_error);
    if (reply.empty()) reply = encode_fatal(sqlstate, e.message);
    (void)co_await write_bytes(conn.stream, reply);
  };

  auto identity =
      verify_client_identity(request.client_cert_pem, ctx_.user_cas(), *db, "postgres", ctx_.clock.now());
  if (!identity.ok()) {
    co_await refuse(identity.error(), pg::sqlstate::kInvalidAuthorizationSpecification);
    co_return std::nullopt;
  }
  s.identity = std::move(*identity);
  auto db_name = check_route(*s.identity.route, s.db_user, s.db_name);
  if (!db_name.ok()) {
    co_await refuse(db_name.error(), pg::sqlstate::kInvalidAuthorizationSpecification);
    co_return std::nullopt;
  }
  // PostgreSQL connects to the database named like the user when none is given.
  s.db_name = *db_name;
  if (s.db_name.empty()) s.db_name = s.db_user;

  auto admission = co_await internal::run_blocking(ctx_.blocking, [&] { return ctx_.admit(s); });
  if (!admission.roles.ok()) {
    co_await refuse(admission.roles.error(), pg::sqlstate::kInvalidAuthorizationSpecification);
    co_return std::nullopt;
  }
  if (!admission.decision.allowed) {
    co_await refuse(access_denied(admission.decision.reason),
                    pg::sqlstate::kInvalidAuthorizationSpecification);
    co_return std::nullopt;
  }
  const auto& password = admission.password;
  if (!password.ok() && password.error().code != ErrorCode::kNotFound) {
    co_await refuse(password.error(), pg::sqlstate::kConnectionFailure);
    co_return std::nullopt;
  }
  auto tls = ctx_.upstream_tls.find(db->name);
  if (tls == ctx_.upstream_tls.end()) {
    co_await refuse(internal_error("no TLS settings for database " + db->name), pg::sqlstate::kInternalError);
    co_return std::nullopt;
  }
  CancelTarget cancel_target;
  cancel_target.upstream = *parse_host_port(db->uri);
  cancel_target.db_name = db->name;
  cancel_target.user = s.identity.username;
  cancel_target.sid = s.sid;
  std::optional<std::string> secret;
  std::string missing_secret;
  if (password.ok())
    secret = *password;
  else
    missing_secret = password.error().message;
  UpstreamRequest upstream_request{
      *db,      *tls->second,   upstream_startup(client_startup, s.db_user, s.db_name),
      secret,   missing_secret, ctx_.rng,
      cancels_, cancel_target};
  auto connected = co_await connect_upstream(std::move(upstream_request));
  if (auto* failure = std::get_if<UpstreamFailure>(&connected)) {
    co_await refuse(failure->error, pg::sqlstate::kConnectionFailure, failure->server_error);
    co_return std::nullopt;
  }
  std::optional<Started> on(std::in_place);
  on->upstream = std::move(std::get<UpstreamSession>(connected));
  const UpstreamSession& upstream = on->upstream;

  // The session is on: tell the client it is authenticated (run()), then what the server said.
  on->started = ctx_.clock.now();
  ctx_.audit.emit(session_start_event(s, Status{}, on->started));
  log::info("db", "session started",
            {field("db", s.db.name), field("user", s.identity.username), field("db_user", s.db_user),
             field("db_name", s.db_name), field("sid", s.sid)});
  std::string& hello = on->hello;
  auto options = protocol_options(client_startup);
  if (client_startup.protocol_minor() > 0 || !options.empty())
    hello += pg::encode_negotiate_protocol_version(0, options);
  hello += pg::encode_authentication_ok();
  hello += upstream.to_client;
  std::string().swap(on->upstream.to_client);

  on->info = std::move(s);
  co_return std::move(on);
}

asio::awaitable<void> PostgresEngine::run(Started& on, ClientConn& conn,
                                          internal::SessionDeadline& deadline) {
  const SessionInfo& s = on.info;
  UpstreamSession& upstream = on.upstream;
  RelayEnd end = RelayEnd::kClientClosed;
  if (auto sent = co_await write_bytes(conn.stream, on.hello); sent.ok()) {
    std::string().swap(on.hello);
    const SessionEventFields event_fields(s);
    QueryAuditor auditor([&](std::string_view query, std::vector<std::string> parameters) {
      ctx_.audit.emit(session_query_event(event_fields, query, parameters, ctx_.clock.now()));
    });
    deadline.arm(s.identity.expires);
    end = co_await relay(conn, *upstream.stream, std::move(upstream.pending), deadline, auditor);
  }
  if (upstream.client_key) cancels_.release(*upstream.client_key);
  if (end == RelayEnd::kCertificateExpired)
    (void)co_await write_bytes(conn.stream, encode_fatal(pg::sqlstate::kInvalidAuthorizationSpecification,
                                                         expired_session_message(s)));
  if (end == RelayEnd::kShutdown)
    (void)co_await write_bytes(
        conn.stream,
        encode_fatal(pg::sqlstate::kAdminShutdown, "the database agent is shutting down; connect again"));
  boost::system::error_code ignored;
  upstream.stream->next_layer().close(ignored);
  ctx_.audit.emit(session_end_event(s, on.started, ctx_.clock.now()));
  log::info("db", "session ended",
            {field("db", s.db.name), field("user", s.identity.username), field("db_user", s.db_user),
             field("db_name", s.db_name), field("sid", s.sid), field("reason", relay_end_name(end))});
}

}  // namespace tp::db
