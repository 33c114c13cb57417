#include "service/config.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/strings.h"
#include "common/yaml_json.h"

namespace tp {

using nlohmann::json;

namespace {

// Reads keys off one YAML map, remembering the path for error messages and
// refusing keys nobody reads (typos are errors, not silent defaults).
class Section {
 public:
  Section(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  Status check_known(std::initializer_list<const char*> keys) const {
    if (j_.is_null()) return {};
    if (!j_.is_object()) return invalid_argument(path_ + ": expected a map");
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      bool known = false;
      for (const char* k : keys) known = known || it.key() == k;
      if (!known) return invalid_argument(at(it.key()) + ": unknown key");
    }
    return {};
  }
  bool has(const char* key) const { return j_.is_object() && j_.contains(key); }
  const json& raw(const char* key) const { return j_.at(key); }
  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  Status string(const char* key, std::string& out) const {
    if (!has(key) || j_[key].is_null()) return {};
    const json& v = j_[key];
    if (v.is_string()) out = v.get<std::string>();
    else if (v.is_number_integer()) out = std::to_string(v.get<int64_t>());
    else return invalid_argument(at(key) + ": expected a string");
    return {};
  }
  Status boolean(const char* key, bool& out) const {
    if (!has(key)) return {};
    const json& v = j_[key];
    if (v.is_boolean()) {
      out = v.get<bool>();
      return {};
    }
    if (v.is_string()) {
      std::string s = to_lower(v.get<std::string>());
      if (s == "yes" || s == "true" || s == "on") { out = true; return {}; }
      if (s == "no" || s == "false" || s == "off") { out = false; return {}; }
    }
    return invalid_argument(at(key) + ": expected yes or no");
  }
  Status strings(const char* key, std::vector<std::string>& out) const {
    if (!has(key) || j_[key].is_null()) return {};
    const json& v = j_[key];
    if (v.is_string()) { out = {v.get<std::string>()}; return {}; }
    if (!v.is_array()) return invalid_argument(at(key) + ": expected a list of strings");
    out.clear();
    for (const auto& e : v) {
      if (!e.is_string()) return invalid_argument(at(key) + ": expected a list of strings");
      out.push_back(e.get<std::string>());
    }
    return {};
  }
  Status labels(const char* key, Labels& out) const {
    if (!has(key) || j_[key].is_null()) return {};
    const json& v = j_[key];
    if (!v.is_object()) return invalid_argument(at(key) + ": expected a map of label names to values");
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
      else if (it.value().is_primitive() && !it.value().is_null()) out[it.key()] = it.value().dump();
      else return invalid_argument(at(key) + "." + it.key() + ": expected a string");
    }
    return {};
  }
  Status address(const char* key, std::string& out) const {
    TP_CHECK(string(key, out));
    if (!out.empty() && !parse_host_port(out).ok())
      return invalid_argument(at(key) + ": \"" + out + "\" is not host:port");
    return {};
  }
  Section sub(const char* key) const { return Section(has(key) ? j_[key] : null_, at(key)); }

 private:
  static inline const json null_ = nullptr;
  const json& j_;
  std::string path_;
};

Status parse_service_enabled(const Section& s, bool& enabled) {
  enabled = true;  // a section that is present runs unless it says enabled: no
  return s.boolean("enabled", enabled);
}

Result<AwsMatcher> parse_matcher(const json& j, const std::string& path) {
  Section s(j, path);
  TP_CHECK(s.check_known({"types", "regions", "tags", "assume_role_arn", "external_id"}));
  AwsMatcher m;
  TP_CHECK(s.strings("types", m.types));
  TP_CHECK(s.strings("regions", m.regions));
  if (m.types.empty()) return invalid_argument(path + ".types: name at least one type, e.g. [rds]");
  for (const auto& t : m.types)
    if (t != "rds") return invalid_argument(path + ".types: \"" + t + "\" is not supported; use rds");
  if (m.regions.empty()) return invalid_argument(path + ".regions: name at least one AWS region");
  if (s.has("tags")) {
    const json& tags = s.raw("tags");
    if (!tags.is_object()) return invalid_argument(path + ".tags: expected a map");
    for (auto it = tags.begin(); it != tags.end(); ++it) {
      std::vector<std::string> values;
      if (it.value().is_string()) values = {it.value().get<std::string>()};
      else if (it.value().is_array())
        for (const auto& v : it.value()) values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      else return invalid_argument(path + ".tags." + it.key() + ": expected a string or a list");
      m.tags[it.key()] = values;
    }
  } else {
    m.tags["*"] = {"*"};
  }
  TP_CHECK(s.string("assume_role_arn", m.assume_role_arn));
  TP_CHECK(s.string("external_id", m.external_id));
  return m;
}

Result<Database> parse_database(const json& j, const std::string& path) {
  Section s(j, path);
  TP_CHECK(s.check_known({"name", "description", "protocol", "uri", "static_labels", "dynamic_labels", "aws", "tls",
                          "mysql", "password_file", "admin_user"}));
  Database d;
  TP_CHECK(s.string("name", d.name));
  TP_CHECK(s.string("description", d.description));
  TP_CHECK(s.string("protocol", d.protocol));
  TP_CHECK(s.string("uri", d.uri));
  TP_CHECK(s.labels("static_labels", d.static_labels));
  TP_CHECK(s.string("password_file", d.password_file));
  if (d.name.empty()) return invalid_argument(s.at("name") + ": missing (every database needs a name)");
  if (d.protocol.empty()) return invalid_argument(s.at("protocol") + ": missing; use postgres or mysql");
  if (d.protocol != "postgres" && d.protocol != "mysql")
    return invalid_argument(s.at("protocol") + ": \"" + d.protocol + "\" is not supported; use postgres or mysql");
  if (d.uri.empty()) return invalid_argument(s.at("uri") + ": missing (host:port of the database)");
  if (auto hp = parse_host_port(d.uri); !hp.ok())
    return invalid_argument(s.at("uri") + ": " + hp.error().message);
  Section aws = s.sub("aws");
  TP_CHECK(aws.check_known({"region", "account_id", "assume_role_arn", "external_id", "rds"}));
  TP_CHECK(aws.string("region", d.aws.region));
  TP_CHECK(aws.string("account_id", d.aws.account_id));
  TP_CHECK(aws.string("assume_role_arn", d.aws.assume_role_arn));
  TP_CHECK(aws.string("external_id", d.aws.external_id));
  Section rds = aws.sub("rds");
  TP_CHECK(rds.check_known({"instance_id", "cluster_id", "resource_id"}));
  TP_CHECK(rds.string("instance_id", d.aws.rds_instance_id));
  TP_CHECK(rds.string("cluster_id", d.aws.rds_cluster_id));
  TP_CHECK(rds.string("resource_id", d.aws.rds_resource_id));
  Section tls = s.sub("tls");
  TP_CHECK(tls.check_known({"mode", "ca_cert_file", "server_name"}));
  TP_CHECK(tls.string("mode", d.tls.mode));
  TP_CHECK(tls.string("ca_cert_file", d.tls.ca_cert_file));
  TP_CHECK(tls.string("server_name", d.tls.server_name));
  if (d.tls.mode != "verify-full" && d.tls.mode != "verify-ca" && d.tls.mode != "insecure")
    return invalid_argument(tls.at("mode") + ": \"" + d.tls.mode + "\" is not one of verify-full, verify-ca, insecure");
  if (!d.tls.ca_cert_file.empty() && !file_exists(d.tls.ca_cert_file))
    return invalid_argument(tls.at("ca_cert_file") + ": " + d.tls.ca_cert_file + " does not exist");
  Section mysql = s.sub("mysql");
  TP_CHECK(mysql.check_known({"server_version"}));
  TP_CHECK(mysql.string("server_version", d.mysql_server_version));
  return d;
}

}  // namespace

Result<std::string> TeleportConfig::join_token() const {
  if (auth_token.empty()) return invalid_argument("teleport.auth_token: missing; put the token from 'tctl tokens add' there");
  if (auth_token[0] == '/' || auth_token[0] == '.') {
    auto text = read_file(auth_token);
    if (!text.ok()) return invalid_argument("teleport.auth_token: cannot read the token file " + auth_token);
    std::string t = trim(*text);
    if (t.empty()) return invalid_argument("teleport.auth_token: the token file " + auth_token + " is empty");
    return t;
  }
  return auth_token;
}

Result<TeleportConfig> parse_config(const std::string& yaml_text, const std::string& path) {
  auto parsed = yaml_to_json(yaml_text);
  std::string where = path.empty() ? "config" : path;
  if (!parsed.ok()) return invalid_argument(where + ": " + parsed.error().message);
  const json& root = *parsed;
  if (!root.is_object()) return invalid_argument(where + ": expected a YAML map at the top level");
  TeleportConfig c;
  c.path = path;
  Section top(root, "");
  TP_CHECK(top.check_known({"version", "teleport", "auth_service", "proxy_service", "db_service", "discovery_service",
                            "ssh_service", "app_service", "kubernetes_service", "windows_desktop_service"}));
  std::string version = "v3";
  TP_CHECK(top.string("version", version));
  if (version != "v1" && version != "v2" && version != "v3")
    return invalid_argument("version: \"" + version + "\" is not supported; use v3");

  Section t = top.sub("teleport");
  TP_CHECK(t.check_known({"nodename", "data_dir", "auth_token", "join_params", "proxy_server", "auth_server",
                          "auth_servers", "ca_pin", "log", "diag_addr", "io_threads"}));
  TP_CHECK(t.string("nodename", c.nodename));
  TP_CHECK(t.string("data_dir", c.data_dir));
  TP_CHECK(t.string("auth_token", c.auth_token));
  if (t.has("join_params")) {
    Section jp = t.sub("join_params");
    TP_CHECK(jp.check_known({"token_name", "method"}));
    TP_CHECK(jp.string("token_name", c.auth_token));
  }
  TP_CHECK(t.address("proxy_server", c.proxy_server));
  TP_CHECK(t.strings("auth_servers", c.auth_servers));
  if (t.has("auth_server")) {
    std::string one;
    TP_CHECK(t.string("auth_server", one));
    c.auth_servers.push_back(one);
  }
  TP_CHECK(t.strings("ca_pin", c.ca_pins));
  if (t.has("io_threads")) {
    std::string text;
    TP_CHECK(t.string("io_threads", text));
    size_t used = 0;
    int n = -1;
    try {
      n = std::stoi(text, &used);
    } catch (const std::exception&) {
    }
    if (used != text.size() || n < 0 || n > 256)
      return invalid_argument(t.at("io_threads") + ": \"" + text +
                              "\" is not a thread count; use 0 (one per CPU, the default) to 256");
    c.io_threads = static_cast<size_t>(n);
  }
  Section log = t.sub("log");
  TP_CHECK(log.check_known({"output", "severity", "format"}));
  TP_CHECK(log.string("severity", c.log_severity));
  if (log.has("format") && log.raw("format").is_object()) {
    c.log_format = log.raw("format").value("output", "text");
  }
  if (c.nodename.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.nodename = host;
  }

  if (top.has("auth_service")) {
    Section a = top.sub("auth_service");
    TP_CHECK(a.check_known({"enabled", "cluster_name", "listen_addr", "authentication", "tokens",
                            "proxy_listener_mode", "session_recording"}));
    TP_CHECK(parse_service_enabled(a, c.auth.enabled));
    TP_CHECK(a.string("cluster_name", c.auth.cluster_name));
    TP_CHECK(a.address("listen_addr", c.auth.listen_addr));
    Section authn = a.sub("authentication");
    TP_CHECK(authn.check_known({"type", "second_factor"}));
    TP_CHECK(authn.string("second_factor", c.auth.second_factor));
    if (c.auth.second_factor != "off" && c.auth.second_factor != "otp" && c.auth.second_factor != "optional")
      return invalid_argument(authn.at("second_factor") + ": use off, otp or optional");
    if (c.auth.enabled && c.auth.cluster_name.empty()) {
      c.auth.cluster_name = c.nodename;
    }
  }
  if (top.has("proxy_service")) {
    Section p = top.sub("proxy_service");
    TP_CHECK(p.check_known({"enabled", "web_listen_addr", "public_addr", "postgres_listen_addr",
                            "postgres_public_addr", "mysql_listen_addr", "mysql_public_addr", "tunnel_listen_addr",
                            "https_keypairs", "listen_addr"}));
    TP_CHECK(parse_service_enabled(p, c.proxy.enabled));
    TP_CHECK(p.address("web_listen_addr", c.proxy.web_listen_addr));
    TP_CHECK(p.address("postgres_listen_addr", c.proxy.postgres_listen_addr));
    TP_CHECK(p.address("mysql_listen_addr", c.proxy.mysql_listen_addr));
    TP_CHECK(p.address("tunnel_listen_addr", c.proxy.tunnel_listen_addr));
    std::vector<std::string> public_addrs;
    TP_CHECK(p.strings("public_addr", public_addrs));
    if (!public_addrs.empty()) c.proxy.public_addr = public_addrs.front();
    if (p.has("https_keypairs")) {
      const json& kp = p.raw("https_keypairs");
      if (!kp.is_array()) return invalid_argument(p.at("https_keypairs") + ": expected a list");
      for (size_t i = 0; i < kp.size(); ++i) {
        Section e(kp[i], p.at("https_keypairs") + "[" + std::to_string(i) + "]");
        TP_CHECK(e.check_known({"key_file", "cert_file"}));
        KeyPairFiles files;
        TP_CHECK(e.string("key_file", files.key_file));
        TP_CHECK(e.string("cert_file", files.cert_file));
        if (!file_exists(files.cert_file)) return invalid_argument(e.at("cert_file") + ": " + files.cert_file + " does not exist");
        if (!file_exists(files.key_file)) return invalid_argument(e.at("key_file") + ": " + files.key_file + " does not exist");
        c.proxy.https_keypairs.push_back(files);
      }
    }
  }
  if (top.has("db_service")) {
    Section d = top.sub("db_service");
    TP_CHECK(d.check_known({"enabled", "databases", "aws", "resources"}));
    TP_CHECK(parse_service_enabled(d, c.db.enabled));
    if (d.has("databases")) {
      const json& dbs = d.raw("databases");
      if (!dbs.is_array() && !dbs.is_null()) return invalid_argument("db_service.databases: expected a list");
      for (size_t i = 0; dbs.is_array() && i < dbs.size(); ++i) {
        TP_TRY(auto db, parse_database(dbs[i], "db_service.databases[" + std::to_string(i) + "]"));
        for (const auto& other : c.db.databases)
          if (other.name == db.name)
            return invalid_argument("db_service.databases[" + std::to_string(i) + "].name: \"" + db.name +
                                    "\" is used twice");
        c.db.databases.push_back(std::move(db));
      }
    }
    if (d.has("aws")) {
      const json& ms = d.raw("aws");
      if (!ms.is_array()) return invalid_argument("db_service.aws: expected a list");
      for (size_t i = 0; i < ms.size(); ++i) {
        TP_TRY(auto m, parse_matcher(ms[i], "db_service.aws[" + std::to_string(i) + "]"));
        c.db.aws.push_back(std::move(m));
      }
    }
  }
  if (top.has("discovery_service")) {
    Section d = top.sub("discovery_service");
    TP_CHECK(d.check_known({"enabled", "aws", "discovery_group"}));
    TP_CHECK(parse_service_enabled(d, c.discovery.enabled));
    if (d.has("aws")) {
      const json& ms = d.raw("aws");
      if (!ms.is_array()) return invalid_argument("discovery_service.aws: expected a list");
      for (size_t i = 0; i < ms.size(); ++i) {
        TP_TRY(auto m, parse_matcher(ms[i], "discovery_service.aws[" + std::to_string(i) + "]"));
        c.discovery.aws.push_back(std::move(m));
      }
    }
  }
  if (!c.auth.enabled && !c.proxy.enabled && !c.db.enabled && !c.discovery.enabled)
    return invalid_argument(where + ": no service is enabled; add auth_service, proxy_service or db_service");
  if (c.proxy.enabled && !c.auth.enabled)
    return invalid_argument("proxy_service: this version runs the proxy in the same process as the auth service; "
                            "enable auth_service in the same config");
  if ((c.db.enabled || c.discovery.enabled) && !c.auth.enabled && c.proxy_server.empty() && c.auth_servers.empty())
    return invalid_argument("teleport.proxy_server: missing; the database service joins the cluster through the proxy "
                            "(e.g. proxy_server: teleport.example.com:443)");
  return c;
}

Result<TeleportConfig> load_config(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok())
    return not_found("cannot read config file " + path +
                     "; create one with 'teleport db configure create' or pass -c FILE");
  return parse_config(*text, path);
}

Result<std::string> render_db_config(const DbConfigureOptions& o) {
  if (o.proxy.empty()) return invalid_argument("--proxy: missing (host:port of the Teleport Proxy Service)");
  if (auto hp = parse_host_port(o.proxy); !hp.ok()) return invalid_argument("--proxy: " + hp.error().message);
  if (o.token.empty()) return invalid_argument("--token: missing (the join token, or a file holding it, e.g. /tmp/token)");
  nlohmann::ordered_json doc;
  doc["version"] = "v3";
  doc["teleport"]["nodename"] = "";
  doc["teleport"]["data_dir"] = o.data_dir;
  doc["teleport"]["proxy_server"] = o.proxy;
  doc["teleport"]["auth_token"] = o.token;
  if (!o.ca_pin.empty()) doc["teleport"]["ca_pin"] = o.ca_pin;
  doc["teleport"].erase("nodename");
  doc["auth_service"]["enabled"] = false;
  doc["proxy_service"]["enabled"] = false;
  doc["db_service"]["enabled"] = true;
  nlohmann::ordered_json dbs = nlohmann::ordered_json::array();
  if (!o.name.empty() || !o.uri.empty() || !o.protocol.empty()) {
    if (o.name.empty()) return invalid_argument("--name: missing (the database's name in Teleport)");
    if (o.protocol.empty()) return invalid_argument("--protocol: missing; use postgres or mysql");
    if (o.protocol != "postgres" && o.protocol != "mysql")
      return invalid_argument("--protocol: \"" + o.protocol + "\" is not supported; use postgres or mysql");
    if (o.uri.empty()) return invalid_argument("--uri: missing (the database endpoint, host:port)");
    if (auto hp = parse_host_port(o.uri); !hp.ok()) return invalid_argument("--uri: " + hp.error().message);
    TP_TRY(auto labels, parse_labels(o.labels));
    nlohmann::ordered_json db;
    db["name"] = o.name;
    db["protocol"] = o.protocol;
    db["uri"] = o.uri;
    if (!labels.empty()) db["static_labels"] = labels;
    if (!o.aws_region.empty() || !o.assume_role_arn.empty()) {
      if (!o.aws_region.empty()) db["aws"]["region"] = o.aws_region;
      if (!o.assume_role_arn.empty()) db["aws"]["assume_role_arn"] = o.assume_role_arn;
      if (!o.external_id.empty()) db["aws"]["external_id"] = o.external_id;
    }
    if (!o.ca_cert_file.empty()) db["tls"]["ca_cert_file"] = o.ca_cert_file;
    dbs.push_back(db);
  }
  doc["db_service"]["databases"] = dbs;
  if (!o.rds_discovery_regions.empty()) {
    nlohmann::ordered_json m;
    m["types"] = {"rds"};
    m["regions"] = o.rds_discovery_regions;
    m["tags"]["*"] = "*";
    doc["db_service"]["aws"] = nlohmann::ordered_json::array({m});
  }
  std::string text = json_to_yaml(doc);
  // The file we write must load: parse it back (file checks aside).
  auto check = yaml_to_json(text);
  if (!check.ok()) return internal_error("generated config does not parse: " + check.error().message);
  return text;
}

}  // namespace tp
