// What `tsh login` leaves on disk, in the reference's layout, and where each file lives:
//
//   $TELEPORT_HOME (default ~/.tsh)/
//     current-profile                               the active profile's name (the proxy host)
//     <proxy-host>.yaml                             the profile (below)
//     keys/<proxy-host>/<user>                      private key, PKCS#8 PEM, mode 0600
//     keys/<proxy-host>/<user>-x509.pem             user certificate (from tsh login)
//     keys/<proxy-host>/cas/<cluster>.pem           the cluster's host CA certificates
//     keys/<proxy-host>/<user>-db/<cluster>/<db>-x509.pem   database certificates (tsh db login)
//
// The database certificates certify the same key as the user certificate.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace tp::tsh {

// How tsh trusts the proxy's web certificate.
inline constexpr const char* kTrustHostCa = "host_ca";    // the cluster's host CA stored at login
inline constexpr const char* kTrustSystem = "system";     // the system's root certificates
inline constexpr const char* kTrustInsecure = "insecure"; // no verification (--insecure)

struct Profile {
  std::string web_proxy_addr;       // host:port of the proxy's web listener
  std::string user;
  std::string cluster;
  std::string postgres_proxy_addr;  // the native PostgreSQL listener, "" when the proxy has none
  std::string mysql_proxy_addr;     // the native MySQL listener, "" when the proxy has none
  std::string trust = kTrustHostCa;

  std::string name() const;  // the proxy host, which names the files
};

// The profile name for a proxy address: its host ("proxy.example.com:3080" -> "proxy.example.com").
std::string profile_name_for(const std::string& web_proxy_addr);

class ProfileStore {
 public:
  // `home` is the tsh directory itself (e.g. /home/alice/.tsh).
  explicit ProfileStore(std::string home) : home_(std::move(home)) {}
  // $TELEPORT_HOME when set, else ~/.tsh.
  static ProfileStore from_environment();

  const std::string& home() const { return home_; }
  std::string profile_path(const std::string& name) const;
  std::string current_path() const;
  std::string keys_dir(const Profile& p) const;
  std::string key_path(const Profile& p) const;
  std::string cert_path(const Profile& p) const;
  std::string ca_path(const Profile& p) const;
  std::string db_cert_dir(const Profile& p) const;
  std::string db_cert_path(const Profile& p, const std::string& db_name) const;

  // The active profile; kNotFound ("not logged in ...") when there is none.
  Result<Profile> current() const;
  Result<Profile> load(const std::string& name) const;
  // Writes the profile and makes it the current one.
  Status save(const Profile& p) const;
  // Deletes the profile, its keys and certificates.
  Status remove(const Profile& p) const;
  std::vector<Profile> all() const;
  // Names of the databases with a stored certificate, sorted.
  std::vector<std::string> db_logins(const Profile& p) const;

 private:
  std::string home_;
};

}  // namespace tp::tsh
