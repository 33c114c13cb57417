// The Auth Service's logic over the backend: certificate authorities, users,
// roles, join tokens, registered databases and the audit log. No I/O other
// than the backend and the audit file; the HTTP API (auth/api_server.h) and
// the in-process proxy call into it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/types.h"
#include "backend/backend.h"
#include "common/clock.h"
#include "common/rng.h"
#include "crypto/certs.h"
#include "rbac/role.h"

namespace tp {

struct AuthConfig {
  std::string cluster_name;
  std::string data_dir;
  std::string public_proxy_addr;  // for invite URLs, e.g. "proxy.example.com:3080"
  std::chrono::seconds default_token_ttl{30 * 60};
  std::chrono::seconds invite_ttl{3600};
  std::chrono::seconds default_user_cert_ttl{12 * 3600};
  int max_failed_logins = 5;
  std::chrono::seconds lockout_window{30 * 60};
  std::chrono::seconds lockout_duration{20 * 60};
  std::chrono::seconds host_cert_ttl{24 * 3600};
};

// Certificates handed to a client: its leaf plus the CAs it should trust.
struct IssuedCerts {
  std::string cert_pem;
  std::vector<std::string> user_ca_pems;  // verify user certs (agents)
  std::vector<std::string> host_ca_pems;  // verify hosts (clients)
  std::string db_ca_pem;
  TimePoint expires{};
};

struct UserCertRequest {
  std::string username;
  std::string public_key_pem;
  std::chrono::seconds ttl{0};            // 0: the default (12 h), always capped by roles
  std::optional<DatabaseRoute> route;
};

struct JoinRequest {
  std::string token;
  std::string host_id;   // stable id the agent generated
  std::string nodename;
  std::string role;      // "Db", "Proxy", ...
  std::string public_key_pem;
  std::vector<std::string> dns_names;
};

class AuthServer {
 public:
  // Opens the cluster state: creates CAs and the admin identity on first start.
  static Result<std::unique_ptr<AuthServer>> open(AuthConfig config, std::unique_ptr<Backend> backend,
                                                  const Clock& clock, Rng& rng);

  const AuthConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  Result<CertAuthority> authority(CaType type);
  Result<std::string> ca_pin();  // of the host CA
  std::vector<std::string> ca_cert_pems(CaType type);

  // Users.
  // Creates the user (no password yet) and returns the invite token.
  Result<std::string> create_user(const User& user);
  Result<std::string> reset_user(const std::string& name);  // new invite, clears password and lock
  Status update_user(const User& user);  // roles and traits only
  Result<User> get_user(const std::string& name);
  Result<std::vector<User>> list_users();
  Status delete_user(const std::string& name);
  std::string invite_url(const std::string& token) const;
  // Sets the password through an invite token; returns the user name.
  Result<std::string> complete_invite(const std::string& token, const std::string& password);
  // Checks the password (and TOTP when enrolled), counting failures and locking.
  Status authenticate(const std::string& username, const std::string& password, const std::string& totp,
                      const std::string& client_addr);

  // Roles.
  Status upsert_role(const Role& role);
  Result<Role> get_role(const std::string& name);
  Result<std::vector<Role>> list_roles();
  Status delete_role(const std::string& name);
  // The roles an identity names, skipping none: a missing role is an error.
  Result<std::vector<Role>> roles_for(const std::vector<std::string>& names);

  // Certificates.
  Result<IssuedCerts> issue_user_certs(const UserCertRequest& request);
  // Re-issues a certificate for an already authenticated user identity (tsh db login).
  Result<IssuedCerts> issue_db_certs(const Identity& user, const std::string& public_key_pem,
                                     const DatabaseRoute& route);
  // Host certificate for a self-hosted database server trusting the db CA (tctl auth sign --format=db).
  Result<IssuedCerts> sign_db_server_cert(const std::string& public_key_pem, const std::vector<std::string>& hosts,
                                          std::chrono::seconds ttl);
  Result<IssuedCerts> issue_host_certs(const std::string& host_id, const std::string& role,
                                       const std::string& public_key_pem, const std::vector<std::string>& dns_names);

  // Join tokens.
  Result<JoinToken> create_token(const std::string& type, std::chrono::seconds ttl, const Labels& labels,
                                 const std::string& value = "");
  Result<std::vector<JoinToken>> list_tokens();
  Status delete_token(const std::string& token);
  // Validates and consumes the token, then issues the host certificate.
  Result<IssuedCerts> join(const JoinRequest& request, const std::string& client_addr);

  // Databases.
  Status heartbeat_database(const DatabaseServer& server, std::chrono::seconds ttl);
  Status remove_database_server(const std::string& db_name, const std::string& host_id);
  Result<std::vector<DatabaseServer>> list_database_servers();
  Result<std::vector<DatabaseServer>> database_servers(const std::string& db_name);

  // Audit. Events get "time", "uid", "code" and "cluster_name" when missing,
  // go to the backend's audit log and to <data_dir>/log/events.log.
  Status emit_event(nlohmann::json event);
  // Stores a batch in one backend transaction: all of them or, on error, none.
  Status emit_events(std::vector<nlohmann::json> events);
  // The same for events as JSON text, one object per line (what agents upload):
  // a complete event is stored as it came, with "cluster_name" and, when
  // `server_id` is given, "server_id" (the agent's host id, which overrides
  // whatever the event says) added in front.
  Status emit_event_lines(const std::vector<std::string_view>& lines, const std::string* server_id);
  Result<std::vector<nlohmann::json>> search_events(const EventFilter& filter);

  Backend& backend() { return *backend_; }

 private:
  AuthServer(AuthConfig config, std::unique_ptr<Backend> backend, const Clock& clock, Rng& rng)
      : config_(std::move(config)), backend_(std::move(backend)), clock_(clock), rng_(rng) {}
  Status init();
  Status write_admin_identity();
  // Fills what emit_events promises into `event` and returns its text.
  Result<std::string> complete_event(nlohmann::json& event, const std::string* server_id, size_t index,
                                     size_t count, TimePoint now);
  // One backend transaction for the batch, then the events.log file.
  Status store_events(const std::vector<AuditRecord>& records);
  Status put_user(const User& user);
  Result<IssuedCerts> sign_for(const Identity& identity, const std::string& public_key_pem, CaType ca_type,
                               const std::vector<std::string>& dns_names, bool is_server);

  AuthConfig config_;
  std::unique_ptr<Backend> backend_;
  const Clock& clock_;
  Rng& rng_;
  std::mutex audit_file_mutex_;
  // The certificate authorities, read once: they are created at the first start and never change
  // (no rotation yet; one that comes must clear this). Every proxied connection asks for them.
  std::mutex ca_mutex_;
  std::optional<CertAuthority> cas_[3];  // by CaType
  // The database servers by backend key, read from the backend at first use and then kept
  // up to date by heartbeat_database and remove_database_server, the only writers of
  // /db_servers/: every proxied connection looks its database up here.
  std::mutex db_servers_mutex_;
  std::optional<std::map<std::string, DatabaseServer>> db_servers_;
  // Loads db_servers_ if needed and returns the live servers whose key starts with `prefix`,
  // forgetting the expired ones. Call with db_servers_mutex_ held.
  Result<std::vector<DatabaseServer>> live_database_servers(const std::string& prefix);
};

}  // namespace tp
