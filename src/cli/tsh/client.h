// tsh's view of the proxy: the stored credentials, and an HTTPS client that trusts the proxy the
// way the profile says (profile.h) and presents the user certificate when asked to.
#pragma once

#include <string>

#include "cli/tsh/profile.h"
#include "common/clock.h"
#include "crypto/identity.h"
#include "net/http_client.h"

namespace tp::tsh {

struct UserCredentials {
  std::string key_pem;
  std::string cert_pem;
  Identity identity;  // decoded from cert_pem
};

// The stored key and user certificate. With require_valid, an expired certificate is an error that
// says to run tsh login.
Result<UserCredentials> load_credentials(const ProfileStore& store, const Profile& profile, bool require_valid);

// The command that logs this profile in again.
std::string login_command(const Profile& profile);

// The TLS settings to reach the proxy's web port. `insecure` (the --insecure flag) overrides the
// profile's trust.
Result<net::TlsClientConfig> proxy_tls(const ProfileStore& store, const Profile& profile, bool insecure);

// A web API client; with credentials, it presents the user certificate.
Result<net::HttpsClient> web_client(const ProfileStore& store, const Profile& profile, bool insecure,
                                    const UserCredentials* credentials = nullptr);

// The database certificate for `db_name` and its identity; errors name the tsh command to run.
struct DbCertificate {
  std::string path;
  std::string cert_pem;
  Identity identity;
};
Result<DbCertificate> load_db_certificate(const ProfileStore& store, const Profile& profile,
                                          const std::string& db_name);

// Asks the proxy for a database certificate and stores it (tsh db login; renewal in tsh proxy db).
// Returns the database's protocol.
Result<std::string> issue_db_certificate(const ProfileStore& store, const Profile& profile, bool insecure,
                                         const std::string& db_name, const std::string& db_user,
                                         const std::string& db_database);

}  // namespace tp::tsh
