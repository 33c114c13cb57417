#include "auth/api_server.h"

#include <charconv>
#include <set>

#include "common/strings.h"
#include "rbac/access.h"

namespace tp {

using nlohmann::json;
using net::HttpRequest;
using net::HttpResponse;
using Params = net::Router::Params;

namespace {

HttpResponse respond(const Status& s, json ok_body = json::object()) {
  return s.ok() ? HttpResponse::json(ok_body) : HttpResponse::error(s.error());
}

json certs_json(const IssuedCerts& c) {
  return {{"cert", c.cert_pem},
          {"user_cas", c.user_ca_pems},
          {"host_cas", c.host_ca_pems},
          {"db_ca", c.db_ca_pem},
          {"expires", format_rfc3339(c.expires)},
          {"expires_unix", to_unix_seconds(c.expires)}};
}

}  // namespace

Status AuthApi::authorize(const HttpRequest& r, const std::string& resource, const std::string& verb) const {
  if (!r.peer) return unauthenticated("this API needs a client certificate; run 'tsh login' or use tctl on the auth host");
  const Identity& id = *r.peer;
  if (id.is_host_role(kHostRoleAdmin)) return {};
  if (id.kind == IdentityKind::kHost) {
    static const std::set<std::pair<std::string, std::string>> kDbAgent = {
        {"cluster", "read"}, {"role", "read"}, {"role", "list"}, {"db_server", "update"},
        {"db_server", "delete"}, {"event", "create"}, {"host", "renew"}};
    if (id.is_host_role(kHostRoleDb) && kDbAgent.count({resource, verb})) return {};
    if (id.is_host_role(kHostRoleProxy) && (resource == "cluster" || verb == "read" || verb == "list")) return {};
    return access_denied("host role " + (id.roles.empty() ? std::string("?") : id.roles[0]) + " may not " + verb +
                         " " + resource);
  }
  if (resource == "cluster" && verb == "read") return {};
  auto roles = auth_.roles_for(id.roles);
  if (!roles.ok()) return roles.error();
  auto decision = check_resource_access(*roles, resource, verb);
  if (!decision.allowed) return access_denied("user \"" + id.username + "\" may not " + verb + " " + resource + ": " + decision.reason);
  return {};
}

AuthApi::AuthApi(AuthServer& auth) : auth_(auth) {
  auto& r = router_;

  r.add("GET", "/v1/cluster", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "cluster", "read"); !s.ok()) return HttpResponse::error(s.error());
    auto pin = auth_.ca_pin();
    return HttpResponse::json({{"cluster_name", auth_.config().cluster_name},
                               {"server_version", TP_VERSION},
                               {"ca_pin", pin.ok() ? *pin : ""},
                               {"host_cas", auth_.ca_cert_pems(CaType::kHost)},
                               {"user_cas", auth_.ca_cert_pems(CaType::kUser)},
                               {"db_cas", auth_.ca_cert_pems(CaType::kDb)}});
  });

  // Users.
  r.add("GET", "/v1/users", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "user", "list"); !s.ok()) return HttpResponse::error(s.error());
    auto users = auth_.list_users();
    if (!users.ok()) return HttpResponse::error(users.error());
    json out = json::array();
    for (const auto& u : *users) out.push_back(u.to_json(false));
    return HttpResponse::json(out);
  });
  r.add("GET", "/v1/users/:name", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "user", "read"); !s.ok()) return HttpResponse::error(s.error());
    auto u = auth_.get_user(p.at("name"));
    return u.ok() ? HttpResponse::json(u->to_json(false)) : HttpResponse::error(u.error());
  });
  r.add("POST", "/v1/users", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "user", "create"); !s.ok()) return HttpResponse::error(s.error());
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    auto user = User::from_json(*body);
    if (!user.ok()) return HttpResponse::error(user.error());
    auto token = auth_.create_user(*user);
    if (!token.ok()) return HttpResponse::error(token.error());
    return HttpResponse::json({{"invite_token", *token},
                               {"invite_url", auth_.invite_url(*token)},
                               {"ttl", format_duration(auth_.config().invite_ttl)}});
  });
  r.add("PUT", "/v1/users/:name", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "user", "update"); !s.ok()) return HttpResponse::error(s.error());
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    auto user = User::from_json(*body);
    if (!user.ok()) return HttpResponse::error(user.error());
    if (user->name != p.at("name")) return HttpResponse::error(invalid_argument("user name in path and body differ"));
    return respond(auth_.update_user(*user));
  });
  r.add("DELETE", "/v1/users/:name", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "user", "delete"); !s.ok()) return HttpResponse::error(s.error());
    return respond(auth_.delete_user(p.at("name")));
  });
  r.add("POST", "/v1/users/:name/reset", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "user", "update"); !s.ok()) return HttpResponse::error(s.error());
    auto token = auth_.reset_user(p.at("name"));
    if (!token.ok()) return HttpResponse::error(token.error());
    return HttpResponse::json({{"invite_token", *token},
                               {"invite_url", auth_.invite_url(*token)},
                               {"ttl", format_duration(auth_.config().invite_ttl)}});
  });

  // Roles.
  r.add("GET", "/v1/roles", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "role", "list"); !s.ok()) return HttpResponse::error(s.error());
    auto roles = auth_.list_roles();
    if (!roles.ok()) return HttpResponse::error(roles.error());
    json out = json::array();
    for (const auto& role : *roles) out.push_back(role_to_json(role));
    return HttpResponse::json(out);
  });
  r.add("GET", "/v1/roles/:name", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "role", "read"); !s.ok()) return HttpResponse::error(s.error());
    auto role = auth_.get_role(p.at("name"));
    return role.ok() ? HttpResponse::json(role_to_json(*role)) : HttpResponse::error(role.error());
  });
  r.add("PUT", "/v1/roles", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "role", "create"); !s.ok()) return HttpResponse::error(s.error());
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    auto role = role_from_json(*body);
    if (!role.ok()) return HttpResponse::error(role.error());
    return respond(auth_.upsert_role(*role));
  });
  r.add("DELETE", "/v1/roles/:name", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "role", "delete"); !s.ok()) return HttpResponse::error(s.error());
    return respond(auth_.delete_role(p.at("name")));
  });

  // Join tokens.
  r.add("POST", "/v1/tokens", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "token", "create"); !s.ok()) return HttpResponse::error(s.error());
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    Labels labels;
    if (body->contains("labels") && (*body)["labels"].is_object())
      for (auto it = (*body)["labels"].begin(); it != (*body)["labels"].end(); ++it)
        labels[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    auto token = auth_.create_token(body->value("type", ""), std::chrono::seconds(body->value("ttl_seconds", int64_t{0})),
                                    labels, body->value("value", ""));
    if (!token.ok()) return HttpResponse::error(token.error());
    json out = token->to_json();
    auto pin = auth_.ca_pin();
    out["ca_pin"] = pin.ok() ? *pin : "";
    return HttpResponse::json(out);
  });
  r.add("GET", "/v1/tokens", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "token", "list"); !s.ok()) return HttpResponse::error(s.error());
    auto tokens = auth_.list_tokens();
    if (!tokens.ok()) return HttpResponse::error(tokens.error());
    json out = json::array();
    for (const auto& t : *tokens) out.push_back(t.to_json());
    return HttpResponse::json(out);
  });
  r.add("DELETE", "/v1/tokens/:token", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "token", "delete"); !s.ok()) return HttpResponse::error(s.error());
    return respond(auth_.delete_token(p.at("token")));
  });

  // Hosts renew their own certificate before it expires.
  r.add("POST", "/v1/hosts/renew", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "host", "renew"); !s.ok()) return HttpResponse::error(s.error());
    if (q.peer->kind != IdentityKind::kHost) return HttpResponse::error(access_denied("only hosts renew host certificates"));
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    auto certs = auth_.issue_host_certs(q.peer->username, q.peer->roles.at(0), body->value("public_key", ""),
                                        body->value("dns_names", std::vector<std::string>{}));
    return certs.ok() ? HttpResponse::json(certs_json(*certs)) : HttpResponse::error(certs.error());
  });

  // Database servers (agent heartbeats).
  r.add("PUT", "/v1/db_servers", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "db_server", "update"); !s.ok()) return HttpResponse::error(s.error());
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    auto server = DatabaseServer::from_json(*body);
    if (!server.ok()) return HttpResponse::error(server.error());
    if (q.peer->kind == IdentityKind::kHost && !q.peer->is_host_role(kHostRoleAdmin))
      server->host_id = q.peer->username;  // an agent speaks only for itself
    return respond(auth_.heartbeat_database(*server, std::chrono::seconds(body->value("ttl_seconds", int64_t{60}))));
  });
  r.add("GET", "/v1/db_servers", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "db", "list"); !s.ok()) return HttpResponse::error(s.error());
    auto servers = auth_.list_database_servers();
    if (!servers.ok()) return HttpResponse::error(servers.error());
    json out = json::array();
    for (const auto& s : *servers) out.push_back(s.to_json());
    return HttpResponse::json(out);
  });
  r.add("DELETE", "/v1/db_servers/:db/:host", [this](const HttpRequest& q, const Params& p) {
    if (auto s = authorize(q, "db_server", "delete"); !s.ok()) return HttpResponse::error(s.error());
    std::string host = p.at("host");
    if (q.peer->kind == IdentityKind::kHost && !q.peer->is_host_role(kHostRoleAdmin)) host = q.peer->username;
    return respond(auth_.remove_database_server(p.at("db"), host));
  });

  // Audit events.
  r.add("POST", "/v1/events", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "event", "create"); !s.ok()) return HttpResponse::error(s.error());
    // An agent's events carry its host id, whatever they say.
    const std::string* server_id = q.peer->kind == IdentityKind::kHost ? &q.peer->username : nullptr;
    auto type = q.headers.find("content-type");
    if (type != q.headers.end() && starts_with(type->second, events::kJsonLinesContentType)) {
      std::vector<std::string_view> lines;
      std::string_view rest = q.body;
      while (!rest.empty()) {
        const size_t end = std::min(rest.find('\n'), rest.size());
        std::string_view line = rest.substr(0, end);
        rest.remove_prefix(std::min(end + 1, rest.size()));
        if (line.find_first_not_of(" \t\r") != std::string_view::npos) lines.push_back(line);
      }
      if (auto s = auth_.emit_event_lines(lines, server_id); !s.ok()) return HttpResponse::error(s.error());
      return HttpResponse::json({{"accepted", lines.size()}});
    }
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    json list = body->is_array() ? std::move(*body) : json::array({std::move(*body)});
    std::vector<json> batch;
    batch.reserve(list.size());
    for (auto& e : list) {
      if (e.is_object() && server_id) e["server_id"] = *server_id;
      batch.push_back(std::move(e));
    }
    size_t n = batch.size();
    if (auto s = auth_.emit_events(std::move(batch)); !s.ok()) return HttpResponse::error(s.error());
    return HttpResponse::json({{"accepted", n}});
  });
  r.add("GET", "/v1/events", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "event", "list"); !s.ok()) return HttpResponse::error(s.error());
    EventFilter f;
    if (q.query.count("type")) f.type = q.query.at("type");
    if (q.query.count("user")) f.user = q.query.at("user");
    if (auto it = q.query.find("limit"); it != q.query.end()) {
      const std::string& text = it->second;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), f.limit);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return HttpResponse::error(
            invalid_argument("limit \"" + text + "\" is not a count of events, e.g. limit=100"));
    }
    if (auto it = q.query.find("since"); it != q.query.end()) {
      auto d = parse_duration(it->second);
      if (!d.ok())
        return HttpResponse::error(
            invalid_argument("since \"" + it->second + "\" is not a duration, e.g. since=1h"));
      f.from = auth_.clock().now() - *d;
    }
    auto events = auth_.search_events(f);
    if (!events.ok()) return HttpResponse::error(events.error());
    return HttpResponse::json(*events);
  });

  // Server certificates for self-hosted databases that trust the db CA.
  r.add("POST", "/v1/certs/db_server", [this](const HttpRequest& q, const Params&) {
    if (auto s = authorize(q, "db_cert", "create"); !s.ok()) return HttpResponse::error(s.error());
    auto body = q.json();
    if (!body.ok()) return HttpResponse::error(body.error());
    auto certs = auth_.sign_db_server_cert(body->value("public_key", ""), body->value("hosts", std::vector<std::string>{}),
                                           std::chrono::seconds(body->value("ttl_seconds", int64_t{90 * 24 * 3600})));
    return certs.ok() ? HttpResponse::json(certs_json(*certs)) : HttpResponse::error(certs.error());
  });
}

}  // namespace tp
