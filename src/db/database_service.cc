#include "db/database_service.h"

#include "db/aws_databases.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <map>

#include "common/log.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "net/io_pool.h"
#include "crypto/keys.h"
#include "db/agent_context.h"
#include "db/auth_access.h"
#include "db/mysql/engine.h"
#include "db/postgres/engine.h"
#include "service/auth_service.h"
#include "service/service_set.h"
#include "tunnel/mux.h"
#include "tunnel/tunnel.h"

namespace tp::db {

namespace {

constexpr std::chrono::seconds kJoinRetryFor{60};
constexpr size_t kTunnelConnections = 4;

std::string local_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// A wildcard listen address is not something to dial: use loopback.
HostPort dialable(HostPort hp) {
  if (hp.host.empty() || hp.host == "0.0.0.0") hp.host = "127.0.0.1";
  if (hp.host == "::") hp.host = "::1";
  return hp;
}

std::chrono::milliseconds shutdown_grace() {
  const char* text = std::getenv("TELEPORT_DB_SHUTDOWN_GRACE");
  if (text && *text) {
    if (auto d = parse_duration(text); d.ok()) return *d;
    log::warn("db", "ignoring TELEPORT_DB_SHUTDOWN_GRACE: not a duration", {{"value", text}});
  }
  return kDefaultShutdownGrace;
}

}  // namespace

struct DatabaseService::Parts {
  Parts(boost::asio::io_context& io_, const TeleportConfig& config_) : io(io_), config(config_) {
    net::name_pool_threads(blocking, kBlockingThreads, "tp-db-block");
  }

  boost::asio::io_context& io;
  TeleportConfig config;
  std::string hostname;
  HostIdentity identity;  // guarded by DatabaseService::mu_
  AuthServer* local_auth = nullptr;
  std::optional<HostPort> proxy;  // the proxy's web address, for a remote agent
  tunnel::TunnelAgentConfig tunnel_config;

  std::unique_ptr<AuthAccess> auth;
  std::unique_ptr<RoleCache> roles;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<UpstreamCredentials> credentials;
  UpstreamTlsMap upstream_tls;
  SessionTracker sessions;
  static constexpr size_t kBlockingThreads = 4;
  boost::asio::thread_pool blocking{kBlockingThreads};
  std::unique_ptr<AgentContext> ctx;
  std::map<std::string, std::unique_ptr<Engine>> engines;  // by protocol
  std::shared_ptr<tunnel::TunnelAgent> tunnel;

  std::chrono::milliseconds grace{kDefaultShutdownGrace};
  std::chrono::steady_clock::time_point last_ca_refresh = std::chrono::steady_clock::now();
  std::map<std::string, bool> registered;  // db name -> last heartbeat succeeded
};

DatabaseService::DatabaseService(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

DatabaseService::~DatabaseService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (control_.joinable()) control_.join();
}

HostIdentity DatabaseService::identity() const {
  std::lock_guard lock(mu_);
  return parts_->identity;
}

Result<DatabaseService*> DatabaseService::start(ServiceSet& services) {
  std::unique_ptr<DatabaseService> service(
      new DatabaseService(std::make_unique<Parts>(services.io, services.config)));
  TP_CHECK(service->obtain_identity(services));
  TP_CHECK(service->build(services));
  DatabaseService* raw = service.release();
  raw->control_ = std::thread([raw] {
    set_thread_name("tp-db-control");
    raw->control_loop();
  });
  return raw;
}

Status DatabaseService::obtain_identity(ServiceSet& services) {
  Parts& p = *parts_;
  const TeleportConfig& config = p.config;
  p.hostname = config.nodename.empty() ? local_hostname() : config.nodename;
  if (services.auth) p.local_auth = &services.auth->server();
  if (!config.proxy_server.empty()) {
    auto hp = parse_host_port(config.proxy_server, 3080);
    if (!hp.ok()) return invalid_argument("teleport.proxy_server: " + hp.error().message);
    p.proxy = *hp;
  }
  if (!p.local_auth && !p.proxy)
    return invalid_argument(
        "teleport.proxy_server: missing; the Database Service joins the cluster and tunnels "
        "through the proxy (e.g. proxy_server: teleport.example.com:3080)");

  TP_TRY(auto host_id, load_or_create_host_id(config.data_dir, crypto_rng()));
  auto now = system_clock().now();
  auto stored = load_host_identity(config.data_dir, host_id);
  if (stored.ok() && (stored->expires > now || !p.local_auth)) {
    if (stored->expires <= now)
      return expired("the agent's host certificate expired at " + format_rfc3339(stored->expires) +
                     "; remove " + identity_dir(config.data_dir) +
                     " and join again with a new token from "
                     "'tctl tokens add --type=db'");
    log::info("db", "using the stored host identity",
              {{"host_id", host_id}, {"expires", format_rfc3339(stored->expires)}});
    p.identity = std::move(*stored);
    return {};
  }
  if (!stored.ok() && stored.error().code != ErrorCode::kNotFound) return stored.error();

  TP_TRY(auto key, PrivateKey::generate());
  HostIdentity id;
  id.host_id = host_id;
  id.key_pem = key.to_pem();
  if (p.local_auth) {
    TP_TRY(auto certs,
           p.local_auth->issue_host_certs(host_id, kHostRoleDb, key.public_key_pem(), {p.hostname}));
    TP_CHECK(apply_issued_certs(id, nlohmann::json{{"cert", certs.cert_pem},
                                                   {"host_cas", certs.host_ca_pems},
                                                   {"user_cas", certs.user_ca_pems},
                                                   {"db_ca", certs.db_ca_pem}}));
  } else {
    TP_TRY(auto token, config.join_token());
    JoinParams params{*p.proxy, token, host_id, p.hostname, key.public_key_pem(), {p.hostname}};
    if (config.ca_pins.empty())
      log::warn("db",
                "no teleport.ca_pin configured: joining without checking the cluster's CA; "
                "add the pin 'tctl status' shows to the config");
    auto attempt = [&]() -> Result<nlohmann::json> {
      std::optional<std::string> pinned;
      if (!config.ca_pins.empty()) {
        TP_TRY(pinned, fetch_pinned_host_ca(*p.proxy, config.ca_pins));
      }
      return join_via_proxy(params, pinned);
    };
    auto give_up = std::chrono::steady_clock::now() + kJoinRetryFor;
    auto answer = attempt();
    // The proxy may still be starting: retry what looks like a network problem, not a refusal.
    while (!answer.ok() && answer.error().code == ErrorCode::kUnavailable &&
           std::chrono::steady_clock::now() < give_up) {
      log::warn("db", "cannot reach the proxy to join; retrying", {{"error", answer.error().message}});
      std::this_thread::sleep_for(std::chrono::seconds(2));
      answer = attempt();
    }
    if (!answer.ok()) return answer.error();
    TP_CHECK(apply_issued_certs(id, *answer));
    TP_CHECK(check_ca_pins(id.host_ca_pems, config.ca_pins));
    TP_CHECK(verify_proxy(*p.proxy, id));
  }
  TP_CHECK(save_host_identity(config.data_dir, id));
  log::info("db", "joined the cluster", {{"host_id", host_id}, {"expires", format_rfc3339(id.expires)}});
  p.identity = std::move(id);
  return {};
}

Status DatabaseService::build(ServiceSet& services) {
  Parts& p = *parts_;
  // RDS metadata, IAM auth enabled where off, and discovered databases.
  p.config.db.databases = resolve_aws_databases(p.config);
  const TeleportConfig& config = p.config;
  p.grace = shutdown_grace();
  if (p.local_auth) {
    p.auth = make_local_auth_access(*p.local_auth, p.identity.host_id);
  } else {
    p.auth = make_proxy_auth_access(*p.proxy, [this] { return identity(); });
  }
  AuthAccess* auth = p.auth.get();
  p.roles = std::make_unique<RoleCache>([auth] { return auth->roles(); }, system_clock());
  AuditLogOptions audit_options;
  audit_options.spool_dir = identity_dir(config.data_dir) + "/spool";
  p.audit = std::make_unique<AuditLog>(
      audit_options, [auth](const std::vector<std::string>& events) { return auth->emit_events(events); },
      system_clock(), crypto_rng());
  p.credentials = make_upstream_credentials(make_rds_iam_token_provider(system_clock()), system_env_lookup());
  if (config.db.databases.empty())
    log::warn("db", "db_service.databases is empty: this agent serves no database");
  for (const auto& db : config.db.databases) {
    TP_TRY(p.upstream_tls[db.name], UpstreamTls::for_database(db));
    if (db.iam_auth()) log::info("db", "database uses RDS IAM authentication", {{"db", db.name}});
  }
  p.ctx = std::make_unique<AgentContext>(AgentContext{system_clock(), crypto_rng(), config.db.databases,
                                                      [this] {
                                                        std::lock_guard lock(mu_);
                                                        return parts_->identity.user_ca_pems;
                                                      },
                                                      *p.roles, *p.audit, *p.credentials, p.upstream_tls,
                                                      p.sessions, p.blocking});
  p.engines["postgres"] = std::make_unique<PostgresEngine>(*p.ctx);
  p.engines["mysql"] = std::make_unique<MysqlEngine>(*p.ctx);

  // Where to dial the tunnel: the configured proxy, or this process's own.
  tunnel::TunnelAgentConfig& t = p.tunnel_config;
  if (p.proxy) {
    t.proxy_addr = *p.proxy;
  } else if (config.proxy.enabled) {
    const std::string& addr = config.proxy.tunnel_listen_addr.empty() ? config.proxy.web_listen_addr
                                                                      : config.proxy.tunnel_listen_addr;
    auto hp = parse_host_port(addr);
    if (!hp.ok()) return invalid_argument("proxy_service listen address: " + hp.error().message);
    t.proxy_addr = dialable(*hp);
    t.via_web_port = config.proxy.tunnel_listen_addr.empty();
  } else {
    return invalid_argument(
        "teleport.proxy_server: missing; the Database Service needs a proxy to tunnel through");
  }
  t.cert_pem = p.identity.cert_pem;
  t.key_pem = p.identity.key_pem;
  t.host_ca_pems = p.identity.host_ca_pems;
  t.connections = kTunnelConnections;
  t.accept = [this](const tunnel::DialRequest& r) -> Status {
    if (r.kind == tunnel::kDialPostgresCancel) return parts_->engines.at("postgres")->accept_dial(r);
    const Database* db = parts_->ctx->find_database(r.db_name);
    if (!db) return not_found("this agent does not serve database \"" + r.db_name + "\"");
    auto engine = parts_->engines.find(db->protocol);
    if (engine == parts_->engines.end())
      return unavailable("this agent has no " + db->protocol + " engine for database \"" + db->name + "\"");
    return engine->second->accept_dial(r);
  };
  p.audit->start();
  t.session_io = services.session_io;
  p.tunnel = tunnel::start_tunnel_agent(
      services.io, t,
      [this](tunnel::DialRequest r, std::unique_ptr<tunnel::MuxStream> s) -> boost::asio::awaitable<void> {
        std::string protocol = "postgres";
        if (r.kind != tunnel::kDialPostgresCancel)
          if (const Database* db = parts_->ctx->find_database(r.db_name)) protocol = db->protocol;
        return parts_->engines.at(protocol)->serve(std::move(r), std::move(s));
      });
  log::info("db", "Database Service started",
            {{"host_id", p.identity.host_id},
             {"proxy", t.proxy_addr.str()},
             {"databases", std::to_string(config.db.databases.size())}});
  return {};
}

void DatabaseService::heartbeat_all() {
  Parts& p = *parts_;
  for (const auto& db : p.config.db.databases) {
    DatabaseServer server;
    server.host_id = p.identity.host_id;
    server.hostname = p.hostname;
    server.database = db;
    auto sent = p.auth->heartbeat(server, kHeartbeatTtl);
    auto [it, first] = p.registered.try_emplace(db.name, false);
    if (sent.ok() && (!it->second || first)) log::info("db", "database registered", {{"db", db.name}});
    if (!sent.ok() && (it->second || first))
      log::warn("db", "heartbeat failed; will retry", {{"db", db.name}, {"error", sent.error().message}});
    it->second = sent.ok();
  }
}

void DatabaseService::renew_if_due() {
  Parts& p = *parts_;
  HostIdentity current = identity();
  if (system_clock().now() < renewal_time(current)) return;
  auto key = PrivateKey::generate();
  if (!key.ok()) return;
  auto answer = p.auth->renew_host_cert(key->public_key_pem(), {p.hostname});
  HostIdentity renewed = current;
  renewed.key_pem = key->to_pem();
  Status applied = answer.ok() ? apply_issued_certs(renewed, *answer) : Status(answer.error());
  if (applied.ok()) applied = save_host_identity(p.config.data_dir, renewed);
  if (!applied.ok()) {
    log::warn("db", "cannot renew the host certificate; will retry",
              {{"expires", format_rfc3339(current.expires)}, {"error", applied.error().message}});
    return;
  }
  {
    std::lock_guard lock(mu_);
    p.identity = renewed;
  }
  p.tunnel->update_identity(renewed.cert_pem, renewed.key_pem);
  log::info("db", "renewed the host certificate", {{"expires", format_rfc3339(renewed.expires)}});
}

void DatabaseService::refresh_cas() {
  Parts& p = *parts_;
  p.last_ca_refresh = std::chrono::steady_clock::now();
  auto cas = p.auth->cluster();
  if (!cas.ok() || cas->user_ca_pems.empty() || cas->host_ca_pems.empty()) return;
  HostIdentity updated = identity();
  if (updated.user_ca_pems == cas->user_ca_pems && updated.host_ca_pems == cas->host_ca_pems) return;
  updated.user_ca_pems = cas->user_ca_pems;
  updated.host_ca_pems = cas->host_ca_pems;
  if (save_host_identity(p.config.data_dir, updated).ok()) {
    std::lock_guard lock(mu_);
    p.identity = std::move(updated);
    log::info("db", "updated the cluster's certificate authorities");
  }
}

void DatabaseService::control_loop() {
  heartbeat_all();
  renew_if_due();
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (wake_.wait_for(lock, kHeartbeatInterval, [&] { return stopping_; })) return;
    }
    heartbeat_all();
    renew_if_due();
    if (std::chrono::steady_clock::now() - parts_->last_ca_refresh >= kCaRefreshInterval) refresh_cas();
  }
}

void DatabaseService::stop() {
  Parts& p = *parts_;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  log::info("db", "Database Service stopping", {{"sessions", std::to_string(p.sessions.active())}});
  p.tunnel->stop();
  if (control_.joinable()) control_.join();
  for (const auto& db : p.config.db.databases) {
    if (auto s = p.auth->remove_database_server(db.name, p.identity.host_id); !s.ok())
      log::warn("db", "cannot unregister database", {{"db", db.name}, {"error", s.error().message}});
  }
  if (!p.sessions.wait_idle(p.grace)) {
    log::info("db", "grace period over; ending the remaining sessions",
              {{"sessions", std::to_string(p.sessions.active())}});
    p.sessions.stop_all();
    p.sessions.wait_idle(std::chrono::seconds(3));
  }
  p.audit->stop(std::chrono::seconds(3));
  log::info("db", "Database Service stopped");
}

}  // namespace tp::db
