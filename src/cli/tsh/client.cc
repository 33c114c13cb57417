#include "cli/tsh/client.h"

#include "common/files.h"
#include "crypto/certs.h"
#include "crypto/keys.h"

namespace tp::tsh {

std::string login_command(const Profile& profile) {
  return "tsh login --proxy=" + profile.web_proxy_addr + " --user=" + profile.user;
}

Result<UserCredentials> load_credentials(const ProfileStore& store, const Profile& profile, bool require_valid) {
  auto key = read_file(store.key_path(profile));
  auto cert = read_file(store.cert_path(profile));
  if (!key.ok() || !cert.ok())
    return unauthenticated("not logged in to " + profile.web_proxy_addr + " (no stored key); run '" +
                           login_command(profile) + "'");
  auto identity = identity_from_cert_pem(*cert);
  if (!identity.ok()) return identity.error().wrap(store.cert_path(profile) + ": run '" + login_command(profile) + "'");
  if (require_valid && identity->expires <= system_clock().now())
    return expired("your credentials for " + profile.web_proxy_addr + " expired at " +
                   format_rfc3339(identity->expires) + "; run '" + login_command(profile) + "'");
  return UserCredentials{std::move(*key), std::move(*cert), std::move(*identity)};
}

Result<net::TlsClientConfig> proxy_tls(const ProfileStore& store, const Profile& profile, bool insecure) {
  net::TlsClientConfig tls;
  tls.server_name = parse_host_port(profile.web_proxy_addr, 3080).ok()
                        ? parse_host_port(profile.web_proxy_addr, 3080)->host
                        : std::string();
  if (insecure || profile.trust == kTrustInsecure) {
    tls.insecure_skip_verify = true;
  } else if (profile.trust == kTrustHostCa) {
    auto ca = read_file(store.ca_path(profile));
    if (!ca.ok())
      return unauthenticated("the cluster's CA certificate is missing (" + store.ca_path(profile) + "); run '" +
                             login_command(profile) + "'");
    tls.ca_pems = {*ca};
  }
  return tls;
}

Result<net::HttpsClient> web_client(const ProfileStore& store, const Profile& profile, bool insecure,
                                    const UserCredentials* credentials) {
  TP_TRY(auto addr, parse_host_port(profile.web_proxy_addr, 3080));
  TP_TRY(auto tls, proxy_tls(store, profile, insecure));
  if (credentials) {
    tls.cert_pem = credentials->cert_pem;
    tls.key_pem = credentials->key_pem;
  }
  return net::HttpsClient(addr, tls);
}

Result<DbCertificate> load_db_certificate(const ProfileStore& store, const Profile& profile,
                                          const std::string& db_name) {
  DbCertificate out;
  out.path = store.db_cert_path(profile, db_name);
  auto cert = read_file(out.path);
  if (!cert.ok())
    return not_found("not logged in to database \"" + db_name + "\"; run 'tsh db login " + db_name +
                     " --db-user=<user>'");
  out.cert_pem = std::move(*cert);
  auto identity = identity_from_cert_pem(out.cert_pem);
  if (!identity.ok()) return identity.error().wrap(out.path);
  out.identity = std::move(*identity);
  return out;
}

Result<std::string> issue_db_certificate(const ProfileStore& store, const Profile& profile, bool insecure,
                                         const std::string& db_name, const std::string& db_user,
                                         const std::string& db_database) {
  TP_TRY(auto creds, load_credentials(store, profile, true));
  TP_TRY(auto key, PrivateKey::from_pem(creds.key_pem));
  TP_TRY(auto client, web_client(store, profile, insecure, &creds));
  auto response = client.call("POST", "/v1/webapi/certs/db",
                              {{"public_key", key.public_key_pem()},
                               {"db_name", db_name},
                               {"db_user", db_user},
                               {"db_database", db_database}});
  if (!response.ok()) return response.error();
  std::string cert = response->value("cert", "");
  if (cert.empty()) return internal_error("the proxy answered without a certificate");
  TP_CHECK(make_dirs(store.db_cert_dir(profile), 0700));
  TP_CHECK(write_file_atomic(store.db_cert_path(profile, db_name), cert, 0600));
  std::string protocol;
  if (response->contains("database") && (*response)["database"].is_object())
    protocol = (*response)["database"].value("protocol", "");
  return protocol;
}

}  // namespace tp::tsh
