#include "auth/auth_server.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include "common/files.h"
#include "common/json_scan.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/strings.h"
#include "crypto/password.h"
#include "rbac/access.h"

namespace tp {

using nlohmann::json;

namespace {

const char* kCluster = "/cluster/name";
std::string ca_key(CaType t) { return std::string("/authorities/") + ca_type_name(t); }
std::string user_key(const std::string& n) { return "/users/" + n; }
std::string role_key(const std::string& n) { return "/roles/" + n; }
std::string token_key(const std::string& t) { return "/tokens/" + t; }
std::string invite_key(const std::string& t) { return "/invites/" + t; }
std::string db_server_key(const std::string& db, const std::string& host) { return "/db_servers/" + db + "/" + host; }

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 128) return false;
  return std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '@';
  });
}

// Every stored resource under `prefix` that parses; a corrupt one is skipped
// rather than failing the whole listing.
template <class T, class Parse>
Result<std::vector<T>> load_all(Backend& backend, const std::string& prefix, Parse parse) {
  TP_TRY(auto items, backend.range(prefix));
  std::vector<T> out;
  for (const auto& item : items) {
    auto j = json::parse(item.value, nullptr, false);
    if (j.is_discarded()) continue;
    if (auto r = parse(j); r.ok()) out.push_back(std::move(*r));
  }
  return out;
}

json ca_to_json(const CertAuthority& ca) {
  return {{"type", ca_type_name(ca.type)}, {"cluster_name", ca.cluster_name}, {"key_pem", ca.key_pem}, {"cert_pem", ca.cert_pem}};
}

}  // namespace

Result<std::unique_ptr<AuthServer>> AuthServer::open(AuthConfig config, std::unique_ptr<Backend> backend,
                                                     const Clock& clock, Rng& rng) {
  std::unique_ptr<AuthServer> server(new AuthServer(std::move(config), std::move(backend), clock, rng));
  TP_CHECK(server->init());
  return server;
}

Status AuthServer::init() {
  // The cluster name is fixed at first start: certificates carry it.
  auto existing = backend_->get(kCluster);
  if (existing.ok()) {
    if (!config_.cluster_name.empty() && existing->value != config_.cluster_name)
      return invalid_argument("auth_service.cluster_name is \"" + config_.cluster_name + "\" but the data directory " +
                              config_.data_dir + " belongs to cluster \"" + existing->value +
                              "\"; a cluster cannot be renamed");
    config_.cluster_name = existing->value;
  } else {
    if (config_.cluster_name.empty()) return invalid_argument("auth_service.cluster_name: missing");
    TP_CHECK(backend_->put({kCluster, config_.cluster_name}).ok() ? Status{} : Status(internal_error("cannot store cluster name")));
  }
  for (CaType t : {CaType::kUser, CaType::kHost, CaType::kDb}) {
    if (backend_->get(ca_key(t)).ok()) continue;
    TP_TRY(auto ca, create_cert_authority(t, config_.cluster_name, clock_));
    auto created = backend_->create({ca_key(t), ca_to_json(ca).dump()});
    if (!created.ok() && created.error().code != ErrorCode::kAlreadyExists) return created.error();
    log::info("auth", "created certificate authority", {{"type", ca_type_name(t)}, {"cluster", config_.cluster_name}});
  }
  if (!config_.data_dir.empty()) TP_CHECK(write_admin_identity());
  return {};
}

Status AuthServer::write_admin_identity() {
  std::string dir = config_.data_dir + "/admin";
  TP_CHECK(make_dirs(dir, 0700));
  std::string cert_path = dir + "/cert.pem";
  if (auto cert = read_file(cert_path); cert.ok()) {
    auto exp = cert_expiry(*cert);
    auto host_cas = ca_cert_pems(CaType::kHost);
    if (exp.ok() && *exp - clock_.now() > std::chrono::hours(24 * 7) && !host_cas.empty() &&
        verify_cert(*cert, host_cas, clock_.now()).ok())
      return {};
  }
  TP_TRY(auto key, PrivateKey::generate());
  Identity id;
  id.kind = IdentityKind::kHost;
  id.username = "admin";
  id.roles = {kHostRoleAdmin};
  id.cluster_name = config_.cluster_name;
  id.expires = clock_.now() + std::chrono::hours(24 * 365);
  TP_TRY(auto ca, authority(CaType::kHost));
  CertRequest req{key.public_key_pem(), id, clock_.now() - std::chrono::minutes(1), {}, {}, false};
  TP_TRY(auto cert, sign_certificate(ca, req));
  TP_CHECK(write_file_atomic(dir + "/key.pem", key.to_pem(), 0600));
  TP_CHECK(write_file_atomic(cert_path, cert, 0600));
  TP_CHECK(write_file_atomic(dir + "/ca.pem", ca.cert_pem, 0600));
  return {};
}

Result<CertAuthority> AuthServer::authority(CaType type) {
  const auto index = static_cast<size_t>(type);
  {
    std::lock_guard lock(ca_mutex_);
    if (cas_[index]) return *cas_[index];
  }
  TP_TRY(auto item, backend_->get(ca_key(type)));
  auto j = json::parse(item.value, nullptr, false);
  if (j.is_discarded()) return internal_error("stored certificate authority is corrupt");
  CertAuthority ca{type, j.value("cluster_name", ""), j.value("key_pem", ""), j.value("cert_pem", "")};
  std::lock_guard lock(ca_mutex_);
  cas_[index] = ca;
  return ca;
}

std::vector<std::string> AuthServer::ca_cert_pems(CaType type) {
  auto ca = authority(type);
  if (!ca.ok()) return {};
  return {ca->cert_pem};
}

Result<std::string> AuthServer::ca_pin() {
  TP_TRY(auto ca, authority(CaType::kHost));
  return tp::ca_pin(ca.cert_pem);
}

// ---- Users ----------------------------------------------------------------

Status AuthServer::put_user(const User& user) {
  auto r = backend_->put({user_key(user.name), user.to_json(true).dump()});
  if (!r.ok()) return r.error();
  return {};
}

Result<std::string> AuthServer::create_user(const User& input) {
  if (!valid_name(input.name))
    return invalid_argument("user name \"" + input.name + "\" is not valid: use letters, digits, '-', '_', '.', '@'");
  if (input.roles.empty()) return invalid_argument("a user needs at least one role: pass --roles (e.g. --roles=access)");
  TP_TRY(auto roles, roles_for(input.roles));
  (void)roles;
  User user = input;
  user.created = clock_.now();
  user.password_hash.clear();
  auto created = backend_->create({user_key(user.name), user.to_json(true).dump()});
  if (!created.ok()) {
    if (created.error().code == ErrorCode::kAlreadyExists)
      return already_exists("user \"" + user.name + "\" already exists; use 'tctl users reset " + user.name +
                            "' to send a new invite");
    return created.error();
  }
  std::string token = rng_.hex(16);
  json invite{{"user", user.name}};
  TP_CHECK(backend_->put({invite_key(token), invite.dump(), clock_.now() + config_.invite_ttl}).ok()
               ? Status{} : Status(internal_error("cannot store invite")));
  (void)emit_event({{"event", events::kUserCreate}, {"name", user.name}, {"roles", user.roles}, {"success", true}});
  return token;
}

Result<std::string> AuthServer::reset_user(const std::string& name) {
  TP_TRY(auto user, get_user(name));
  user.password_hash.clear();
  user.totp_secret.clear();
  user.failed_logins.clear();
  user.locked_until = 0;
  TP_CHECK(put_user(user));
  std::string token = rng_.hex(16);
  auto r = backend_->put({invite_key(token), json{{"user", name}}.dump(), clock_.now() + config_.invite_ttl});
  if (!r.ok()) return r.error();
  (void)emit_event({{"event", events::kUserUpdate}, {"name", name}, {"action", "reset"}, {"success", true}});
  return token;
}

Status AuthServer::update_user(const User& input) {
  TP_TRY(auto user, get_user(input.name));
  TP_TRY(auto roles, roles_for(input.roles));
  (void)roles;
  user.roles = input.roles;
  user.traits = input.traits;
  TP_CHECK(put_user(user));
  (void)emit_event({{"event", events::kUserUpdate}, {"name", user.name}, {"roles", user.roles}, {"success", true}});
  return {};
}

Result<User> AuthServer::get_user(const std::string& name) {
  auto item = backend_->get(user_key(name));
  if (!item.ok()) {
    if (item.error().code == ErrorCode::kNotFound)
      return not_found("user \"" + name + "\" not found; 'tctl users ls' lists users");
    return item.error();
  }
  auto j = json::parse(item->value, nullptr, false);
  if (j.is_discarded()) return internal_error("stored user \"" + name + "\" is corrupt");
  return User::from_json(j);
}

Result<std::vector<User>> AuthServer::list_users() {
  return load_all<User>(*backend_, "/users/", User::from_json);
}

Status AuthServer::delete_user(const std::string& name) {
  auto r = backend_->remove(user_key(name));
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kNotFound) return not_found("user \"" + name + "\" not found");
    return r;
  }
  (void)emit_event({{"event", events::kUserDelete}, {"name", name}, {"success", true}});
  return {};
}

std::string AuthServer::invite_url(const std::string& token) const {
  return "https://" + (config_.public_proxy_addr.empty() ? std::string("<proxy>:3080") : config_.public_proxy_addr) +
         "/web/invite/" + token;
}

Result<std::string> AuthServer::complete_invite(const std::string& token, const std::string& password) {
  auto item = backend_->get(invite_key(token));
  if (!item.ok())
    return not_found("invite token is unknown or has expired; ask an administrator to run 'tctl users reset <user>'");
  std::string name = json::parse(item->value, nullptr, false).value("user", "");
  TP_CHECK(check_password_strength(password));
  TP_TRY(auto user, get_user(name));
  TP_TRY(user.password_hash, hash_password(password, rng_));
  user.failed_logins.clear();
  user.locked_until = 0;
  TP_CHECK(put_user(user));
  (void)backend_->remove(invite_key(token));
  (void)emit_event({{"event", events::kUserPasswordChange}, {"user", name}, {"success", true}});
  return name;
}

Status AuthServer::authenticate(const std::string& username, const std::string& password, const std::string& totp,
                                const std::string& client_addr) {
  const int64_t now = to_unix_seconds(clock_.now());
  auto fail = [&](const std::string& why, Error err) -> Status {
    (void)emit_event({{"event", events::kUserLogin}, {"user", username}, {"method", "local"}, {"success", false},
                      {"error", why}, {"addr.remote", client_addr}});
    return err;
  };
  // One message for unknown user and wrong password: do not reveal which users exist.
  const Error bad_credentials = access_denied("invalid user name or password");
  auto user_result = get_user(username);
  if (!user_result.ok()) return fail("unknown user", bad_credentials);
  User user = std::move(*user_result);
  if (user.locked_until > now)
    return fail("user locked", limit_exceeded("user \"" + username + "\" is locked until " +
                                              format_rfc3339(from_unix_seconds(user.locked_until)) +
                                              " after too many failed login attempts; try again later or ask an "
                                              "administrator to run 'tctl users reset " + username + "'"));
  if (user.password_hash.empty())
    return fail("no password set", access_denied("user \"" + username +
                                                 "\" has no password yet; open the invite link from 'tctl users add'"));
  bool ok = verify_password(password, user.password_hash);
  if (ok && !user.totp_secret.empty()) ok = verify_totp(user.totp_secret, totp, clock_.now());
  if (!ok) {
    const int64_t window_start = now - config_.lockout_window.count();
    std::erase_if(user.failed_logins, [&](int64_t t) { return t < window_start; });
    user.failed_logins.push_back(now);
    if (static_cast<int>(user.failed_logins.size()) >= config_.max_failed_logins) {
      user.locked_until = now + config_.lockout_duration.count();
      user.failed_logins.clear();
      log::warn("auth", "user locked after repeated failed logins", {{"user", username}});
    }
    (void)put_user(user);
    return fail("bad password", bad_credentials);
  }
  if (!user.failed_logins.empty() || user.locked_until) {
    user.failed_logins.clear();
    user.locked_until = 0;
    (void)put_user(user);
  }
  (void)emit_event({{"event", events::kUserLogin}, {"user", username}, {"method", "local"}, {"success", true},
                    {"addr.remote", client_addr}});
  return {};
}

// ---- Roles ----------------------------------------------------------------

Status AuthServer::upsert_role(const Role& role) {
  if (!valid_name(role.name)) return invalid_argument("role name \"" + role.name + "\" is not valid");
  auto r = backend_->put({role_key(role.name), role_to_json(role).dump()});
  if (!r.ok()) return r.error();
  (void)emit_event({{"event", events::kRoleCreate}, {"name", role.name}, {"success", true}});
  return {};
}

Result<Role> AuthServer::get_role(const std::string& name) {
  auto item = backend_->get(role_key(name));
  if (item.ok()) {
    auto j = json::parse(item->value, nullptr, false);
    if (j.is_discarded()) return internal_error("stored role \"" + name + "\" is corrupt");
    return role_from_json(j);
  }
  for (auto& r : builtin_roles())
    if (r.name == name) return r;
  return not_found("role \"" + name + "\" not found; 'tctl get roles' lists roles");
}

Result<std::vector<Role>> AuthServer::list_roles() {
  std::map<std::string, Role> by_name;
  for (auto& r : builtin_roles()) by_name[r.name] = r;
  TP_TRY(auto items, backend_->range("/roles/"));
  for (const auto& item : items) {
    auto j = json::parse(item.value, nullptr, false);
    if (j.is_discarded()) continue;
    if (auto r = role_from_json(j); r.ok()) by_name[r->name] = *r;
  }
  std::vector<Role> out;
  for (auto& [_, r] : by_name) out.push_back(r);
  return out;
}

Status AuthServer::delete_role(const std::string& name) {
  for (auto& r : builtin_roles())
    if (r.name == name && !backend_->get(role_key(name)).ok())
      return invalid_argument("role \"" + name + "\" is built in and cannot be deleted");
  auto r = backend_->remove(role_key(name));
  if (!r.ok()) return r.error().code == ErrorCode::kNotFound ? Status(not_found("role \"" + name + "\" not found")) : r;
  (void)emit_event({{"event", events::kRoleDelete}, {"name", name}, {"success", true}});
  return {};
}

Result<std::vector<Role>> AuthServer::roles_for(const std::vector<std::string>& names) {
  std::vector<Role> out;
  for (const auto& n : names) {
    auto r = get_role(n);
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kNotFound)
        return not_found("role \"" + n + "\" does not exist; create it with 'tctl create -f role.yaml' or use a "
                         "built-in role (access, editor, auditor)");
      return r.error();
    }
    out.push_back(std::move(*r));
  }
  return out;
}

// ---- Certificates ---------------------------------------------------------

Result<IssuedCerts> AuthServer::sign_for(const Identity& identity, const std::string& public_key_pem, CaType ca_type,
                                         const std::vector<std::string>& dns_names, bool is_server) {
  TP_TRY(auto ca, authority(ca_type));
  CertRequest req;
  req.public_key_pem = public_key_pem;
  req.identity = identity;
  req.not_before = clock_.now() - std::chrono::minutes(1);
  req.is_server = is_server;
  for (const auto& n : dns_names) {
    bool is_ip = !n.empty() && (std::isdigit(static_cast<unsigned char>(n[0])) || n.find(':') != std::string::npos) &&
                 n.find_first_not_of("0123456789.:abcdefABCDEF") == std::string::npos;
    (is_ip ? req.ip_addresses : req.dns_names).push_back(n);
  }
  TP_TRY(auto cert, sign_certificate(ca, req));
  IssuedCerts out;
  out.cert_pem = std::move(cert);
  out.user_ca_pems = ca_cert_pems(CaType::kUser);
  out.host_ca_pems = ca_cert_pems(CaType::kHost);
  auto db = ca_cert_pems(CaType::kDb);
  out.db_ca_pem = db.empty() ? "" : db[0];
  out.expires = identity.expires;
  return out;
}

Result<IssuedCerts> AuthServer::issue_user_certs(const UserCertRequest& request) {
  TP_TRY(auto user, get_user(request.username));
  TP_TRY(auto roles, roles_for(user.roles));
  auto ttl = request.ttl.count() > 0 ? request.ttl : config_.default_user_cert_ttl;
  ttl = std::min(ttl, max_session_ttl(roles));
  Identity id;
  id.kind = IdentityKind::kUser;
  id.username = user.name;
  id.roles = user.roles;
  id.traits = user.traits;
  id.route = request.route;
  id.cluster_name = config_.cluster_name;
  id.expires = clock_.now() + ttl;
  TP_TRY(auto certs, sign_for(id, request.public_key_pem, CaType::kUser, {}, false));
  (void)emit_event({{"event", events::kCertCreate}, {"user", user.name}, {"cert_type", "user"},
                    {"expires", format_rfc3339(id.expires)}, {"success", true}});
  return certs;
}

Result<IssuedCerts> AuthServer::issue_db_certs(const Identity& caller, const std::string& public_key_pem,
                                               const DatabaseRoute& route) {
  if (caller.kind != IdentityKind::kUser) return access_denied("only users can request database certificates");
  // Refresh roles and traits from the stored user: a deleted or changed user loses access at once.
  TP_TRY(auto user, get_user(caller.username));
  TP_TRY(auto servers, database_servers(route.service_name));
  if (servers.empty())
    return not_found("database \"" + route.service_name + "\" is not registered; 'tsh db ls' lists databases");
  Identity id;
  id.kind = IdentityKind::kUser;
  id.username = user.name;
  id.roles = user.roles;
  id.traits = user.traits;
  id.route = route;
  id.route->protocol = servers.front().database.protocol;
  id.cluster_name = config_.cluster_name;
  id.expires = std::min(caller.expires, clock_.now() + config_.default_user_cert_ttl);
  if (id.expires <= clock_.now()) return expired("your session has expired; run 'tsh login'");
  return sign_for(id, public_key_pem, CaType::kUser, {}, false);
}

Result<IssuedCerts> AuthServer::sign_db_server_cert(const std::string& public_key_pem,
                                                    const std::vector<std::string>& hosts, std::chrono::seconds ttl) {
  if (hosts.empty()) return invalid_argument("--host: name at least one host name or IP for the database server");
  Identity id;
  id.kind = IdentityKind::kHost;
  id.username = hosts.front();
  id.roles = {"Database"};
  id.cluster_name = config_.cluster_name;
  id.expires = clock_.now() + ttl;
  return sign_for(id, public_key_pem, CaType::kDb, hosts, true);
}

Result<IssuedCerts> AuthServer::issue_host_certs(const std::string& host_id, const std::string& role,
                                                 const std::string& public_key_pem,
                                                 const std::vector<std::string>& dns_names) {
  Identity id;
  id.kind = IdentityKind::kHost;
  id.username = host_id;
  id.roles = {role};
  id.cluster_name = config_.cluster_name;
  id.expires = clock_.now() + config_.host_cert_ttl;
  std::vector<std::string> names = dns_names;
  names.push_back(host_id);
  return sign_for(id, public_key_pem, CaType::kHost, names, true);
}

// ---- Join tokens ----------------------------------------------------------

Result<JoinToken> AuthServer::create_token(const std::string& type, std::chrono::seconds ttl, const Labels& labels,
                                           const std::string& value) {
  JoinToken t;
  for (const auto& part : split_list(type)) {
    TP_TRY(auto role, join_role_from_type(part));
    t.roles.push_back(role);
  }
  if (t.roles.empty()) return invalid_argument("--type: name the token type, e.g. --type=db");
  if (ttl.count() <= 0) ttl = config_.default_token_ttl;
  if (ttl > std::chrono::hours(24 * 30)) return invalid_argument("--ttl: at most 720h");
  t.token = value.empty() ? rng_.hex(16) : value;
  t.labels = labels;
  t.expires = clock_.now() + ttl;
  auto r = backend_->create({token_key(t.token), t.to_json().dump(), t.expires});
  if (!r.ok()) return r.error();
  (void)emit_event({{"event", events::kJoinTokenCreate}, {"roles", t.roles},
                    {"expires", format_rfc3339(t.expires)}, {"success", true}});
  return t;
}

Result<std::vector<JoinToken>> AuthServer::list_tokens() {
  return load_all<JoinToken>(*backend_, "/tokens/", JoinToken::from_json);
}

Status AuthServer::delete_token(const std::string& token) {
  auto r = backend_->remove(token_key(token));
  if (!r.ok() && r.error().code == ErrorCode::kNotFound) return not_found("token not found (it may have expired)");
  if (r.ok()) (void)emit_event({{"event", events::kJoinTokenDelete}, {"success", true}});
  return r;
}

Result<IssuedCerts> AuthServer::join(const JoinRequest& request, const std::string& client_addr) {
  auto refuse = [&](Error e) -> Result<IssuedCerts> {
    (void)emit_event({{"event", events::kInstanceJoin}, {"host_id", request.host_id}, {"nodename", request.nodename},
                      {"role", request.role}, {"success", false}, {"error", e.message}, {"addr.remote", client_addr}});
    return e;
  };
  if (request.host_id.empty() || !valid_name(request.host_id)) return refuse(invalid_argument("join: bad host id"));
  auto item = backend_->get(token_key(request.token));
  if (!item.ok())
    return refuse(access_denied("the join token is unknown, already used or expired; create a new one with "
                                "'tctl tokens add --type=" + to_lower(request.role) + "'"));
  auto j = json::parse(item->value, nullptr, false);
  auto token = JoinToken::from_json(j);
  if (!token.ok()) return refuse(internal_error("stored join token is corrupt"));
  if (std::find(token->roles.begin(), token->roles.end(), request.role) == token->roles.end())
    return refuse(access_denied("the join token is for " + tp::join(token->roles, ",") + ", not for a " + request.role +
                                " service; create one with 'tctl tokens add --type=" + to_lower(request.role) + "'"));
  // Single use: whoever removes it first joins.
  if (!backend_->remove(token_key(request.token)).ok())
    return refuse(access_denied("the join token was already used; create a new one with 'tctl tokens add'"));
  auto certs = issue_host_certs(request.host_id, request.role, request.public_key_pem, request.dns_names);
  if (!certs.ok()) return refuse(certs.error());
  (void)emit_event({{"event", events::kInstanceJoin}, {"host_id", request.host_id}, {"nodename", request.nodename},
                    {"role", request.role}, {"success", true}, {"addr.remote", client_addr}});
  return certs;
}

// ---- Databases ------------------------------------------------------------

Status AuthServer::heartbeat_database(const DatabaseServer& server, std::chrono::seconds ttl) {
  DatabaseServer s = server;
  s.expires = clock_.now() + ttl;
  std::string key = db_server_key(s.database.name, s.host_id);
  std::lock_guard lock(db_servers_mutex_);
  TP_CHECK(backend_->put({key, s.to_json().dump(), s.expires}));
  if (db_servers_) (*db_servers_)[key] = std::move(s);
  return {};
}

Status AuthServer::remove_database_server(const std::string& db_name, const std::string& host_id) {
  std::string key = db_server_key(db_name, host_id);
  std::lock_guard lock(db_servers_mutex_);
  TP_CHECK(backend_->remove(key));
  if (db_servers_) db_servers_->erase(key);
  return {};
}

Result<std::vector<DatabaseServer>> AuthServer::live_database_servers(const std::string& prefix) {
  if (!db_servers_) {
    // Each expires at the whole second its JSON records, until its agent's next heartbeat.
    TP_TRY(auto servers, load_all<DatabaseServer>(*backend_, "/db_servers/", DatabaseServer::from_json));
    db_servers_.emplace();
    for (auto& server : servers) {
      std::string key = db_server_key(server.database.name, server.host_id);
      db_servers_->emplace(std::move(key), std::move(server));
    }
  }
  const TimePoint now = clock_.now();
  std::vector<DatabaseServer> out;
  for (auto it = db_servers_->lower_bound(prefix); it != db_servers_->end() && it->first.starts_with(prefix);) {
    if (it->second.expires <= now) {
      it = db_servers_->erase(it);  // its agent stopped heartbeating; the backend drops it too
      continue;
    }
    out.push_back(it->second);
    ++it;
  }
  return out;
}

Result<std::vector<DatabaseServer>> AuthServer::list_database_servers() {
  std::lock_guard lock(db_servers_mutex_);
  return live_database_servers("/db_servers/");
}

Result<std::vector<DatabaseServer>> AuthServer::database_servers(const std::string& db_name) {
  std::lock_guard lock(db_servers_mutex_);
  return live_database_servers(db_server_key(db_name, ""));
}

// ---- Audit ----------------------------------------------------------------

Status AuthServer::emit_event(json event) {
  std::vector<json> one;
  one.push_back(std::move(event));
  return emit_events(std::move(one));
}

namespace {

// What emit_event_lines needs to know about one event's text, read without building a document
// (common/json_scan.h validates the whole text and shows the top-level members as written).
struct EventScan {
  bool plain = true;      // no top-level key is written with an escape, so the flags below are exact
  bool typed = false;     // "event" is a string
  bool complete = false;  // "time", "uid" (a string without escapes) and "code" are there
  bool has_server_id = false;
  bool has_cluster_name = false;
  // What the audit log indexes, when "event", "user" and "time" are strings without escapes, or
  // absent: then `searchable` stays true and these are their text.
  bool searchable = true;
  std::string_view type, user, time;

  // False unless the text is one JSON object.
  bool scan(std::string_view text) {
    bool has_code = false, has_uid = false;
    const bool valid = scan_json(text, [&](const JsonMember& m) {
      if (m.key_escaped) {
        plain = false;
        return;
      }
      const bool simple_string = m.kind == JsonMember::kString && !m.value_escaped;
      if (m.key == "event") {
        typed = m.kind == JsonMember::kString;
        type = m.value;
        searchable = searchable && simple_string;
      } else if (m.key == "uid") {
        has_uid = simple_string;
      } else if (m.key == "user" || m.key == "time") {
        (m.key == "user" ? user : time) = simple_string ? m.value : std::string_view();
        searchable = searchable && (simple_string || m.kind != JsonMember::kString);
      } else {
        has_code = has_code || m.key == "code";
        has_server_id = has_server_id || m.key == "server_id";
        has_cluster_name = has_cluster_name || m.key == "cluster_name";
      }
    });
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (!valid || first == std::string_view::npos || text[first] != '{') return false;
    complete = !time.empty() && has_code && has_uid;
    return true;
  }
};

// The fields the audit log searches by, from a completed event.
AuditRecord audit_record(const json& event, std::string text, TimePoint now) {
  AuditRecord r;
  auto string_field = [&event](const char* key) {
    auto it = event.find(key);
    return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.type = string_field("event");
  r.user = string_field("user");
  r.time = parse_rfc3339(string_field("time")).value_or(now);
  r.text = std::move(text);
  return r;
}

std::string batch_error(size_t index, size_t count, const std::string& what) {
  return "event " + std::to_string(index + 1) + " of " + std::to_string(count) + ": " + what +
         "; nothing in this batch was stored";
}

}  // namespace

Result<std::string> AuthServer::complete_event(json& event, const std::string* server_id, size_t index,
                                               size_t count, TimePoint now) {
  if (!event.is_object() || !event.contains("event") || !event["event"].is_string())
    return invalid_argument(batch_error(index, count, "missing type (\"event\": \"<type>\")"));
  if (server_id) event["server_id"] = *server_id;
  if (!event.contains("time")) event["time"] = format_rfc3339(now);
  if (!event.contains("uid") || !event["uid"].is_string()) event["uid"] = rng_.hex(16);
  bool success = event.value("success", true);
  if (!event.contains("code"))
    event["code"] = std::string(events::code_for(event["event"].get<std::string>(), success));
  if (!event.contains("cluster_name")) event["cluster_name"] = config_.cluster_name;
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status AuthServer::emit_events(std::vector<json> events) {
  if (events.empty()) return {};
  const auto now = clock_.now();
  std::vector<AuditRecord> stored;
  stored.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    TP_TRY(auto text, complete_event(events[i], nullptr, i, events.size(), now));
    stored.push_back(audit_record(events[i], std::move(text), now));
  }
  return store_events(stored);
}

Status AuthServer::emit_event_lines(const std::vector<std::string_view>& lines,
                                    const std::string* server_id) {
  if (lines.empty()) return {};
  const auto now = clock_.now();
  // What goes in front of a complete event's own fields.
  std::string prefix = "{";
  append_json_string(prefix, "cluster_name");
  prefix += ':';
  append_json_string(prefix, config_.cluster_name);
  prefix += ',';
  const size_t without_server_id = prefix.size();
  if (server_id) {
    append_json_string(prefix, "server_id");
    prefix += ':';
    append_json_string(prefix, *server_id);
    prefix += ',';
  }
  std::vector<AuditRecord> stored;
  stored.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view text = lines[i];
    EventScan scan;
    if (!scan.scan(text)) return invalid_argument(batch_error(i, lines.size(), "not one JSON object"));
    if (scan.plain && !scan.typed)
      return invalid_argument(batch_error(i, lines.size(), "missing type (\"event\": \"<type>\")"));
    if (scan.plain && scan.complete && scan.searchable && !scan.has_cluster_name &&
        !(server_id && scan.has_server_id)) {
      // The common case: splice the two fields in, keep the rest byte for byte.
      const size_t open = text.find('{');
      AuditRecord& r = stored.emplace_back();
      r.type = scan.type;
      r.user = scan.user;
      r.time = parse_rfc3339(scan.time).value_or(now);
      r.text.reserve(prefix.size() + text.size());
      r.text.append(prefix, 0, server_id ? prefix.size() : without_server_id);
      r.text.append(text.substr(open + 1));
      continue;
    }
    json event = json::parse(text);  // valid: nlohmann accepts whatever scan_json does
    TP_TRY(auto out, complete_event(event, server_id, i, lines.size(), now));
    stored.push_back(audit_record(event, std::move(out), now));
  }
  return store_events(stored);
}

Status AuthServer::store_events(const std::vector<AuditRecord>& records) {
  TP_CHECK(backend_->append_audit_events(records));
  if (config_.data_dir.empty()) return {};
  size_t bytes = 0;
  for (const AuditRecord& r : records) bytes += r.text.size() + 1;
  std::string lines;
  lines.reserve(bytes);
  for (const AuditRecord& r : records) {
    lines += r.text;
    lines += '\n';
  }
  std::lock_guard lock(audit_file_mutex_);
  std::ofstream out(config_.data_dir + "/log/events.log", std::ios::app);
  if (!out) {
    (void)make_dirs(config_.data_dir + "/log", 0700);
    out.open(config_.data_dir + "/log/events.log", std::ios::app);
  }
  out << lines;
  return {};
}

Result<std::vector<json>> AuthServer::search_events(const EventFilter& filter) {
  TP_TRY(auto records, backend_->search_audit_events({.type = filter.type,
                                                      .user = filter.user,
                                                      .from = filter.from,
                                                      .to = filter.to,
                                                      .limit = filter.limit}));
  std::vector<json> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    auto j = json::parse(r.text, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace tp
