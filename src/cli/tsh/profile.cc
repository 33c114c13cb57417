#include "cli/tsh/profile.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/strings.h"
#include "common/yaml_json.h"

namespace tp::tsh {

namespace fs = std::filesystem;

namespace {
constexpr const char* kDbCertSuffix = "-x509.pem";
}

std::string profile_name_for(const std::string& web_proxy_addr) {
  auto hp = parse_host_port(web_proxy_addr, 3080);
  return hp.ok() ? hp->host : web_proxy_addr;
}

std::string Profile::name() const { return profile_name_for(web_proxy_addr); }

ProfileStore ProfileStore::from_environment() {
  if (const char* env = std::getenv("TELEPORT_HOME"); env && *env) return ProfileStore(env);
  return ProfileStore(home_dir() + "/.tsh");
}

std::string ProfileStore::profile_path(const std::string& name) const { return home_ + "/" + name + ".yaml"; }
std::string ProfileStore::current_path() const { return home_ + "/current-profile"; }
std::string ProfileStore::keys_dir(const Profile& p) const { return home_ + "/keys/" + p.name(); }
std::string ProfileStore::key_path(const Profile& p) const { return keys_dir(p) + "/" + p.user; }
std::string ProfileStore::cert_path(const Profile& p) const { return keys_dir(p) + "/" + p.user + "-x509.pem"; }
std::string ProfileStore::ca_path(const Profile& p) const { return keys_dir(p) + "/cas/" + p.cluster + ".pem"; }
std::string ProfileStore::db_cert_dir(const Profile& p) const {
  return keys_dir(p) + "/" + p.user + "-db/" + p.cluster;
}
std::string ProfileStore::db_cert_path(const Profile& p, const std::string& db_name) const {
  return db_cert_dir(p) + "/" + db_name + kDbCertSuffix;
}

Result<Profile> ProfileStore::load(const std::string& name) const {
  auto text = read_file(profile_path(name));
  if (!text.ok()) return not_found("no tsh profile for \"" + name + "\"");
  auto j = yaml_to_json(*text);
  if (!j.ok() || !j->is_object()) return invalid_argument(profile_path(name) + ": not a tsh profile; run 'tsh login'");
  Profile p;
  p.web_proxy_addr = j->value("web_proxy_addr", "");
  p.user = j->value("user", "");
  p.cluster = j->value("cluster", "");
  p.postgres_proxy_addr = j->value("postgres_proxy_addr", "");
  p.mysql_proxy_addr = j->value("mysql_proxy_addr", "");
  p.trust = j->value("trust", std::string(kTrustHostCa));
  if (p.web_proxy_addr.empty() || p.user.empty() || p.cluster.empty())
    return invalid_argument(profile_path(name) + ": incomplete profile; run 'tsh login' again");
  return p;
}

Result<Profile> ProfileStore::current() const {
  auto name = read_file(current_path());
  if (!name.ok() || trim(*name).empty())
    return not_found("not logged in; run 'tsh login --proxy=<proxy host:port> --user=<user>'");
  auto p = load(trim(*name));
  if (!p.ok() && p.error().code == ErrorCode::kNotFound)
    return not_found("not logged in; run 'tsh login --proxy=<proxy host:port> --user=<user>'");
  return p;
}

Status ProfileStore::save(const Profile& p) const {
  TP_CHECK(make_dirs(home_, 0700));
  nlohmann::ordered_json j = {{"web_proxy_addr", p.web_proxy_addr},
                              {"user", p.user},
                              {"cluster", p.cluster},
                              {"postgres_proxy_addr", p.postgres_proxy_addr},
                              {"mysql_proxy_addr", p.mysql_proxy_addr},
                              {"trust", p.trust}};
  TP_CHECK(write_file_atomic(profile_path(p.name()), json_to_yaml(j), 0600));
  return write_file_atomic(current_path(), p.name() + "\n", 0600);
}

Status ProfileStore::remove(const Profile& p) const {
  std::error_code ec;
  fs::remove_all(keys_dir(p), ec);
  if (ec) return internal_error("cannot remove " + keys_dir(p) + ": " + ec.message());
  fs::remove(profile_path(p.name()), ec);
  auto current = read_file(current_path());
  if (current.ok() && trim(*current) == p.name()) fs::remove(current_path(), ec);
  return {};
}

std::vector<Profile> ProfileStore::all() const {
  std::vector<Profile> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(home_, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    if (auto p = load(entry.path().stem().string()); p.ok()) out.push_back(std::move(*p));
  }
  return out;
}

std::vector<std::string> ProfileStore::db_logins(const Profile& p) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(db_cert_dir(p), ec)) {
    std::string file = entry.path().filename().string();
    if (entry.is_regular_file() && ends_with(file, kDbCertSuffix))
      out.push_back(file.substr(0, file.size() - std::string(kDbCertSuffix).size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tp::tsh
