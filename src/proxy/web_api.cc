#include "proxy/web_api.h"

#include <algorithm>
#include <map>

#include "common/strings.h"
#include "proxy/internal/web_pages.h"
#include "rbac/access.h"

namespace tp::proxy {

using nlohmann::json;
using net::HttpRequest;
using net::HttpResponse;
using Params = net::Router::Params;

namespace {

// The request body as a JSON object; `what` names the endpoint in the error.
Result<json> object_body(const HttpRequest& q, const std::string& what) {
  auto body = q.json();
  if (!body.ok() || !body->is_object())
    return invalid_argument(what + ": the request body must be a JSON object");
  return *body;
}

// A string field, "" when absent; an error when it has another type.
Result<std::string> string_field(const json& j, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return invalid_argument(key + ": must be a string");
  return it->get<std::string>();
}

json certs_json(const IssuedCerts& c) {
  return {{"cert", c.cert_pem},
          {"host_cas", c.host_ca_pems},
          {"user_cas", c.user_ca_pems},
          {"db_ca", c.db_ca_pem},
          {"expires", format_rfc3339(c.expires)},
          {"expires_unix", to_unix_seconds(c.expires)}};
}

}  // namespace

Result<PublicAddrs> public_addrs(const TeleportConfig& config, bool mysql_listening) {
  PublicAddrs out;
  TP_TRY(auto web_listen, parse_host_port(config.proxy.web_listen_addr, 3080));
  std::string host = config.nodename.empty() ? "localhost" : config.nodename;
  if (!config.proxy.public_addr.empty()) {
    TP_TRY(auto pub, parse_host_port(config.proxy.public_addr, 3080));
    host = pub.host;
    out.web = pub.str();
  } else {
    out.web = HostPort{host, web_listen.port}.str();
  }
  auto public_form = [&](const std::string& listen, const char* key) -> Result<std::string> {
    if (listen.empty()) return std::string();
    auto hp = parse_host_port(listen);
    if (!hp.ok()) return hp.error().wrap(std::string("proxy_service.") + key);
    return HostPort{host, hp->port}.str();
  };
  TP_TRY(out.postgres, public_form(config.proxy.postgres_listen_addr, "postgres_listen_addr"));
  if (mysql_listening) {
    TP_TRY(out.mysql, public_form(config.proxy.mysql_listen_addr, "mysql_listen_addr"));
  }
  TP_TRY(out.tunnel, public_form(config.proxy.tunnel_listen_addr, "tunnel_listen_addr"));
  return out;
}

net::HttpResponse WebApi::handle(const net::HttpRequest& request) const {
  // Handlers check field types; this catches what slipped through instead of ending the process.
  try {
    return router_.dispatch(request);
  } catch (const json::exception& e) {
    return HttpResponse::error(invalid_argument(std::string("malformed request: ") + e.what()));
  }
}

json WebApi::ping_json() const {
  json db = json::object();
  if (!config_.addrs.postgres.empty()) {
    db["postgres_listen_addr"] = config_.addrs.postgres;
    db["postgres_public_addr"] = config_.addrs.postgres;
  }
  if (!config_.addrs.mysql.empty()) {
    db["mysql_listen_addr"] = config_.addrs.mysql;
    db["mysql_public_addr"] = config_.addrs.mysql;
  }
  json proxy = {{"public_addr", config_.addrs.web},
                {"web_public_addr", config_.addrs.web},
                {"tunnel_public_addr", config_.addrs.tunnel.empty() ? config_.addrs.web : config_.addrs.tunnel},
                {"postgres_listen_addr", config_.addrs.postgres},
                {"mysql_listen_addr", config_.addrs.mysql},
                {"db", db},
                {"tls_routing_enabled", true}};
  return {{"server_version", TP_VERSION},
          {"min_client_version", TP_VERSION},
          {"cluster_name", auth_.config().cluster_name},
          {"proxy", proxy},
          {"auth", {{"type", "local"}, {"second_factor", config_.second_factor}, {"local", {{"name", ""}}}}}};
}

Result<Identity> WebApi::caller(const HttpRequest& q) const {
  if (auto it = q.headers.find(kPeerCertErrorHeader); it != q.headers.end()) return unauthenticated(it->second);
  if (!q.peer)
    return unauthenticated("this request needs your user certificate; run 'tsh login --proxy=" + config_.addrs.web +
                           " --user=<user>'");
  if (q.peer->kind != IdentityKind::kUser)
    return access_denied("a host certificate cannot call this endpoint; log in as a user with 'tsh login'");
  return *q.peer;
}

WebApi::WebApi(AuthServer& auth, WebApiConfig config) : auth_(auth), config_(std::move(config)) {
  auto& r = router_;

  r.add("GET", "/", [this](const HttpRequest&, const Params&) {
    return internal::landing_page(auth_.config().cluster_name, config_.addrs.web);
  });
  r.add("GET", "/web", [this](const HttpRequest&, const Params&) {
    return internal::landing_page(auth_.config().cluster_name, config_.addrs.web);
  });
  r.add("GET", "/v1/webapi/find", [this](const HttpRequest&, const Params&) { return HttpResponse::json(ping_json()); });
  r.add("GET", "/v1/webapi/ping", [this](const HttpRequest&, const Params&) { return HttpResponse::json(ping_json()); });

  // The cluster's CA certificates (public), e.g. for `tsh login --ca-pin` to check before trusting.
  r.add("GET", "/v1/webapi/auth/export", [this](const HttpRequest& q, const Params&) -> HttpResponse {
    auto it = q.query.find("type");
    std::string type = it == q.query.end() ? "tls-host" : it->second;
    CaType ca;
    if (type == "tls-host") ca = CaType::kHost;
    else if (type == "tls-user") ca = CaType::kUser;
    else if (type == "db") ca = CaType::kDb;
    else return HttpResponse::error(invalid_argument("type: one of tls-host, tls-user, db"));
    return HttpResponse::text(join(auth_.ca_cert_pems(ca), ""), "application/x-pem-file");
  });

  r.add("POST", "/v1/webapi/login", [this](const HttpRequest& q, const Params&) -> HttpResponse {
    auto body = object_body(q, "login");
    if (!body.ok()) return HttpResponse::error(body.error());
    auto user = string_field(*body, "user");
    auto password = string_field(*body, "password");
    auto totp = string_field(*body, "totp_code");
    auto public_key = string_field(*body, "public_key");
    for (const auto* f : {&user, &password, &totp, &public_key})
      if (!f->ok()) return HttpResponse::error(f->error().wrap("login"));
    if (user->empty()) return HttpResponse::error(invalid_argument("login: user is missing"));
    if (public_key->empty())
      return HttpResponse::error(invalid_argument("login: public_key is missing (a PEM public key to certify)"));
    int64_t ttl = 0;
    if (auto it = body->find("ttl_seconds"); it != body->end() && it->is_number_integer()) ttl = it->get<int64_t>();
    if (auto s = auth_.authenticate(*user, *password, *totp, q.peer_addr); !s.ok()) return HttpResponse::error(s.error());
    UserCertRequest req;
    req.username = *user;
    req.public_key_pem = *public_key;
    req.ttl = std::chrono::seconds(std::max<int64_t>(ttl, 0));
    auto certs = auth_.issue_user_certs(req);
    if (!certs.ok()) return HttpResponse::error(certs.error().wrap("issuing your certificate"));
    json out = certs_json(*certs);
    out["username"] = *user;
    out["cluster_name"] = auth_.config().cluster_name;
    return HttpResponse::json(out);
  });

  r.add("GET", "/web/invite/:token", [](const HttpRequest&, const Params& p) {
    return internal::invite_page(p.at("token"));
  });
  r.add("POST", "/v1/webapi/users/invite/:token", [this](const HttpRequest& q, const Params& p) -> HttpResponse {
    const std::string& token = p.at("token");
    auto ct = q.headers.find("content-type");
    const bool form = ct != q.headers.end() && starts_with(to_lower(ct->second), "application/x-www-form-urlencoded");
    std::string password, confirm;
    if (form) {
      auto fields = net::parse_query(q.body);
      password = fields["password"];
      confirm = fields.count("password_confirm") ? fields["password_confirm"] : password;
    } else {
      auto body = object_body(q, "invite");
      if (!body.ok()) return HttpResponse::error(body.error());
      auto pw = string_field(*body, "password");
      if (!pw.ok()) return HttpResponse::error(pw.error());
      password = confirm = *pw;
    }
    Result<std::string> user = password != confirm
                                   ? Result<std::string>(invalid_argument("the two passwords differ; type them again"))
                                   : auth_.complete_invite(token, password);
    if (form) {
      return user.ok() ? internal::invite_done_page(*user, config_.addrs.web)
                       : internal::invite_failed_page(user.error(), token);
    }
    if (!user.ok()) return HttpResponse::error(user.error());
    return HttpResponse::json({{"user", *user}});
  });

  r.add("POST", "/v1/webapi/host/join", [this](const HttpRequest& q, const Params&) -> HttpResponse {
    auto body = object_body(q, "join");
    if (!body.ok()) return HttpResponse::error(body.error());
    JoinRequest req;
    for (auto [key, field] : {std::pair{"token", &req.token}, {"host_id", &req.host_id}, {"nodename", &req.nodename},
                              {"role", &req.role}, {"public_key", &req.public_key_pem}}) {
      auto v = string_field(*body, key);
      if (!v.ok()) return HttpResponse::error(v.error().wrap("join"));
      *field = *v;
    }
    if (auto it = body->find("dns_names"); it != body->end() && it->is_array())
      for (const auto& n : *it)
        if (n.is_string()) req.dns_names.push_back(n.get<std::string>());
    auto certs = auth_.join(req, q.peer_addr);
    if (!certs.ok()) return HttpResponse::error(certs.error());
    json out = certs_json(*certs);
    out["cluster_name"] = auth_.config().cluster_name;
    return HttpResponse::json(out);
  });

  r.add("GET", "/v1/webapi/databases", [this](const HttpRequest& q, const Params&) -> HttpResponse {
    auto id = caller(q);
    if (!id.ok()) return HttpResponse::error(id.error());
    // The stored user, not the certificate: changed roles and traits apply at once.
    auto user = auth_.get_user(id->username);
    if (!user.ok()) return HttpResponse::error(user.error());
    auto roles = auth_.roles_for(user->roles);
    if (!roles.ok()) return HttpResponse::error(roles.error());
    auto servers = auth_.list_database_servers();
    if (!servers.ok()) return HttpResponse::error(servers.error());
    std::map<std::string, json> by_name;
    for (const auto& s : *servers) {
      const Database& db = s.database;
      if (by_name.count(db.name) || !can_see_database(*roles, user->traits, db.all_labels())) continue;
      by_name[db.name] = {{"name", db.name},
                          {"description", db.description},
                          {"protocol", db.protocol},
                          {"labels", db.all_labels()}};
    }
    json out = json::array();
    for (auto& [_, d] : by_name) out.push_back(std::move(d));
    return HttpResponse::json(out);
  });

  r.add("POST", "/v1/webapi/certs/db", [this](const HttpRequest& q, const Params&) -> HttpResponse {
    auto id = caller(q);
    if (!id.ok()) return HttpResponse::error(id.error());
    auto body = object_body(q, "database certificate");
    if (!body.ok()) return HttpResponse::error(body.error());
    DatabaseRoute route;
    std::string public_key;
    for (auto [key, field] : {std::pair{"db_name", &route.service_name}, {"db_user", &route.username},
                              {"db_database", &route.database}, {"public_key", &public_key}}) {
      auto v = string_field(*body, key);
      if (!v.ok()) return HttpResponse::error(v.error());
      *field = *v;
    }
    if (route.service_name.empty()) return HttpResponse::error(invalid_argument("db_name: name the database"));
    if (public_key.empty()) return HttpResponse::error(invalid_argument("public_key: missing"));
    // Only databases the user may see: do not confirm that others exist.
    auto user = auth_.get_user(id->username);
    if (!user.ok()) return HttpResponse::error(user.error());
    auto roles = auth_.roles_for(user->roles);
    if (!roles.ok()) return HttpResponse::error(roles.error());
    auto servers = auth_.database_servers(route.service_name);
    if (!servers.ok()) return HttpResponse::error(servers.error());
    if (servers->empty() || !can_see_database(*roles, user->traits, servers->front().database.all_labels()))
      return HttpResponse::error(not_found("database \"" + route.service_name +
                                           "\" not found or not accessible; 'tsh db ls' lists your databases"));
    auto certs = auth_.issue_db_certs(*id, public_key, route);
    if (!certs.ok()) return HttpResponse::error(certs.error());
    json out = certs_json(*certs);
    out["database"] = {{"name", route.service_name},
                       {"protocol", servers->front().database.protocol},
                       {"description", servers->front().database.description}};
    return HttpResponse::json(out);
  });
}

}  // namespace tp::proxy
