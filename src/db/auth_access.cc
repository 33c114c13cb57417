#include "db/auth_access.h"

#include <mutex>
#include <optional>

#include "auth/auth_server.h"
#include "common/json_writer.h"
#include "net/http.h"
#include "net/http_client.h"

namespace tp::db {
namespace {

using nlohmann::json;

constexpr std::chrono::seconds kCallTimeout{10};

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array())
    for (const auto& v : j[key])
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

net::HttpsClient auth_client(const HostPort& proxy, const HostIdentity& identity) {
  net::TlsClientConfig tls;
  tls.cert_pem = identity.cert_pem;
  tls.key_pem = identity.key_pem;
  tls.ca_pems = identity.host_ca_pems;
  tls.alpn = {kAlpnAuth};
  return net::HttpsClient(proxy, tls, kCallTimeout);
}

class ProxyAuthAccess final : public AuthAccess {
 public:
  ProxyAuthAccess(HostPort proxy, std::function<HostIdentity()> identity)
      : proxy_(std::move(proxy)), identity_(std::move(identity)) {}

  Result<ClusterCas> cluster() override {
    TP_TRY(auto j, client().call("GET", "/v1/cluster"));
    return ClusterCas{j.value("cluster_name", ""), strings(j, "host_cas"), strings(j, "user_cas")};
  }

  Result<std::vector<Role>> roles() override {
    TP_TRY(auto j, client().call("GET", "/v1/roles"));
    if (!j.is_array()) return internal_error("GET /v1/roles: expected a list");
    std::vector<Role> out;
    for (const auto& r : j) {
      TP_TRY(auto role, role_from_json(r));
      out.push_back(std::move(role));
    }
    return out;
  }

  Status heartbeat(const DatabaseServer& server, std::chrono::seconds ttl) override {
    json body = server.to_json();
    body["ttl_seconds"] = ttl.count();
    TP_TRY(auto ignored, client().call("PUT", "/v1/db_servers", body));
    (void)ignored;
    return {};
  }

  Status remove_database_server(const std::string& db_name, const std::string& host_id) override {
    TP_TRY(auto ignored, client().call("DELETE", "/v1/db_servers/" + net::url_encode(db_name) + "/" +
                                                     net::url_encode(host_id)));
    (void)ignored;
    return {};
  }

  Status emit_events(const std::vector<std::string>& events) override {
    TP_TRY(auto response, events_client().raw("POST", "/v1/events", json_lines(events.begin(), events.end()),
                                              events::kJsonLinesContentType));
    if (response.status < 200 || response.status >= 300)
      return net::error_from_response(response.status, response.body);
    return {};
  }

  Result<json> renew_host_cert(const std::string& public_key_pem,
                               const std::vector<std::string>& dns_names) override {
    return client().call("POST", "/v1/hosts/renew",
                         json{{"public_key", public_key_pem}, {"dns_names", dns_names}});
  }

 private:
  net::HttpsClient client() const { return auth_client(proxy_, identity_()); }

  // The audit uploader calls several times a second under load: it keeps one
  // connection, replaced when the host certificate is renewed.
  net::HttpsClient events_client() {
    HostIdentity id = identity_();
    std::lock_guard lock(events_mu_);
    if (!events_client_ || events_cert_ != id.cert_pem) {
      events_client_ = auth_client(proxy_, id);
      events_client_->keep_alive();
      events_cert_ = id.cert_pem;
    }
    return *events_client_;  // copies share the connection
  }

  HostPort proxy_;
  std::function<HostIdentity()> identity_;
  std::mutex events_mu_;
  std::optional<net::HttpsClient> events_client_;
  std::string events_cert_;
};

// The agent in the Auth Service's own process calls it directly: there is no
// proxy to go through before the io_context runs, and no need for one.
class LocalAuthAccess final : public AuthAccess {
 public:
  LocalAuthAccess(AuthServer& auth, std::string host_id) : auth_(auth), host_id_(std::move(host_id)) {}

  Result<ClusterCas> cluster() override {
    return ClusterCas{auth_.config().cluster_name, auth_.ca_cert_pems(CaType::kHost),
                      auth_.ca_cert_pems(CaType::kUser)};
  }
  Result<std::vector<Role>> roles() override { return auth_.list_roles(); }
  Status heartbeat(const DatabaseServer& server, std::chrono::seconds ttl) override {
    return auth_.heartbeat_database(server, ttl);
  }
  Status remove_database_server(const std::string& db_name, const std::string& host_id) override {
    return auth_.remove_database_server(db_name, host_id);
  }
  Status emit_events(const std::vector<std::string>& events) override {
    return auth_.emit_event_lines(std::vector<std::string_view>(events.begin(), events.end()), &host_id_);
  }
  Result<json> renew_host_cert(const std::string& public_key_pem,
                               const std::vector<std::string>& dns_names) override {
    TP_TRY(auto certs, auth_.issue_host_certs(host_id_, kHostRoleDb, public_key_pem, dns_names));
    return json{{"cert", certs.cert_pem},
                {"host_cas", certs.host_ca_pems},
                {"user_cas", certs.user_ca_pems},
                {"db_ca", certs.db_ca_pem}};
  }

 private:
  AuthServer& auth_;
  std::string host_id_;
};

}  // namespace

std::unique_ptr<AuthAccess> make_proxy_auth_access(HostPort proxy, std::function<HostIdentity()> identity) {
  return std::make_unique<ProxyAuthAccess>(std::move(proxy), std::move(identity));
}

std::unique_ptr<AuthAccess> make_local_auth_access(AuthServer& auth, std::string host_id) {
  return std::make_unique<LocalAuthAccess>(auth, std::move(host_id));
}

Result<std::string> fetch_pinned_host_ca(const HostPort& proxy, const std::vector<std::string>& pins) {
  net::TlsClientConfig tls;
  tls.insecure_skip_verify = true;  // what comes back is checked against the pins
  auto answer =
      net::HttpsClient(proxy, tls, kCallTimeout).raw("GET", "/v1/webapi/auth/export?type=tls-host", "");
  if (!answer.ok())
    return answer.error().wrap("fetching the cluster's host CA from the proxy at " + proxy.str());
  if (answer->status != 200)
    return net::error_from_response(answer->status, answer->body)
        .wrap("fetching the cluster's host CA from the proxy at " + proxy.str());
  auto cas = split_pem_bundle(answer->body);
  for (const auto& ca : cas)
    if (check_ca_pins({ca}, pins).ok()) return ca;
  TP_CHECK(check_ca_pins(cas, pins));  // names the pins the proxy's CAs have
  return unauthenticated("the proxy at " + proxy.str() + " sent no host CA");
}

Result<json> join_via_proxy(const JoinParams& p, const std::optional<std::string>& trusted_host_ca) {
  json body{{"token", p.token},    {"host_id", p.host_id},           {"nodename", p.nodename},
            {"role", kHostRoleDb}, {"public_key", p.public_key_pem}, {"dns_names", p.dns_names}};
  auto join = [&](const net::TlsClientConfig& tls) {
    return net::HttpsClient(p.proxy, tls, std::chrono::seconds(15))
        .call("POST", "/v1/webapi/host/join", body);
  };
  net::TlsClientConfig tls;
  if (trusted_host_ca) {
    tls.ca_pems = {*trusted_host_ca};
  } else {
    tls.insecure_skip_verify = true;  // nothing to trust yet: the caller checks the answer
  }
  auto answer = join(tls);
  if (!answer.ok() && trusted_host_ca && answer.error().code == ErrorCode::kUnauthenticated &&
      answer.error().message.find("TLS handshake") != std::string::npos) {
    // The web port may serve a public certificate (https_keypairs): trust the system's roots for it.
    net::TlsClientConfig public_tls;
    public_tls.server_name = p.proxy.host;
    answer = join(public_tls);
  }
  if (!answer.ok()) return answer.error().wrap("joining the cluster through the proxy at " + p.proxy.str());
  return answer;
}

Status verify_proxy(const HostPort& proxy, const HostIdentity& identity) {
  auto answer = auth_client(proxy, identity).call("GET", "/v1/cluster");
  if (!answer.ok())
    return answer.error().wrap("the proxy at " + proxy.str() +
                               " could not be verified against the cluster's host CA");
  return {};
}

}  // namespace tp::db
