// tctl: the administrator's CLI, talking to the Auth Service API.
#include <CLI/CLI.hpp>
#include <iostream>

#include "auth/types.h"
#include "cli/common/admin_client.h"
#include "cli/common/table.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/yaml_json.h"
#include "crypto/keys.h"
#include "net/http.h"

#include <set>

namespace tp {
namespace {

using nlohmann::json;

int fail(const std::string& message) {
  std::cerr << "ERROR: " << message << "\n";
  return 1;
}
int fail(const Error& e) { return fail(e.message); }

struct Globals {
  AdminClientOptions client;
  std::string format = "text";
};

Result<net::HttpsClient> client(const Globals& g) { return connect_admin_client(g.client); }

Status check_format(const std::string& f) {
  if (f != "text" && f != "json" && f != "yaml") return invalid_argument("--format: use text, json or yaml");
  return {};
}

void print_structured(const json& j, const std::string& format) {
  if (format == "json") std::cout << j.dump(2) << "\n";
  else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) std::cout << (i ? "---\n" : "") << json_to_yaml(j[i]);
  } else std::cout << json_to_yaml(j);
}

std::string traits_text(const json& traits, const char* key) {
  if (!traits.contains(key)) return "";
  return join(traits[key].get<std::vector<std::string>>(), ",");
}

// ---- status ----------------------------------------------------------------
int cmd_status(const Globals& g) {
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto info = c->call("GET", "/v1/cluster");
  if (!info.ok()) return fail(info.error());
  std::cout << "Cluster  " << info->value("cluster_name", "") << "\n"
            << "Version  " << info->value("server_version", "") << "\n"
            << "CA pin   " << info->value("ca_pin", "") << "\n";
  return 0;
}

// ---- users -----------------------------------------------------------------
struct UserFlags {
  std::string name, roles, db_users, db_names, logins;
};

json user_resource(const UserFlags& f) {
  json traits = json::object();
  if (!f.db_users.empty()) traits["db_users"] = split_list(f.db_users);
  if (!f.db_names.empty()) traits["db_names"] = split_list(f.db_names);
  if (!f.logins.empty()) traits["logins"] = split_list(f.logins);
  return {{"kind", "user"}, {"metadata", {{"name", f.name}}}, {"spec", {{"roles", split_list(f.roles)}, {"traits", traits}}}};
}

void print_invite(const std::string& name, const json& r, bool reset) {
  std::cout << "User \"" << name << "\" has been " << (reset ? "reset" : "created")
            << " but requires a password. Share this URL with the user to complete user setup, link is valid for "
            << r.value("ttl", "1h") << ":\n"
            << r.value("invite_url", "") << "\n\n"
            << "NOTE: Make sure the address in the link points at a Teleport proxy which users can access.\n"
            << "From a terminal the user can also run: tsh --proxy=<proxy> users set-password --invite="
            << r.value("invite_token", "") << "\n";
}

int cmd_users_add(const Globals& g, const UserFlags& f) {
  if (f.roles.empty()) return fail("--roles is required, e.g. --roles=access");
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto r = c->call("POST", "/v1/users", user_resource(f));
  if (!r.ok()) return fail(r.error());
  print_invite(f.name, *r, false);
  return 0;
}

int cmd_users_update(const Globals& g, const UserFlags& f) {
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto current = c->call("GET", "/v1/users/" + f.name);
  if (!current.ok()) return fail(current.error());
  json u = *current;
  if (!f.roles.empty()) u["spec"]["roles"] = split_list(f.roles);
  if (!f.db_users.empty()) u["spec"]["traits"]["db_users"] = split_list(f.db_users);
  if (!f.db_names.empty()) u["spec"]["traits"]["db_names"] = split_list(f.db_names);
  if (!f.logins.empty()) u["spec"]["traits"]["logins"] = split_list(f.logins);
  auto r = c->call("PUT", "/v1/users/" + f.name, u);
  if (!r.ok()) return fail(r.error());
  std::cout << "User " << f.name << " has been updated\n";
  return 0;
}

int cmd_users_ls(const Globals& g) {
  if (auto s = check_format(g.format); !s.ok()) return fail(s.error());
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto users = c->call("GET", "/v1/users");
  if (!users.ok()) return fail(users.error());
  if (g.format != "text") {
    print_structured(*users, g.format);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : *users) {
    const json& spec = u["spec"];
    rows.push_back({u["metadata"]["name"], join(spec["roles"].get<std::vector<std::string>>(), ","),
                    traits_text(spec["traits"], "db_users"), traits_text(spec["traits"], "db_names")});
  }
  std::cout << render_table({"User", "Roles", "DB Users", "DB Names"}, rows);
  return 0;
}

int cmd_users_rm(const Globals& g, const std::string& name) {
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  for (const auto& n : split_list(name)) {
    auto r = c->call("DELETE", "/v1/users/" + net::url_encode(n));
    if (!r.ok()) return fail(r.error());
    std::cout << "User \"" << n << "\" has been deleted\n";
  }
  return 0;
}

int cmd_users_reset(const Globals& g, const std::string& name) {
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto r = c->call("POST", "/v1/users/" + net::url_encode(name) + "/reset");
  if (!r.ok()) return fail(r.error());
  print_invite(name, *r, true);
  return 0;
}

// ---- tokens ----------------------------------------------------------------
int cmd_tokens_add(const Globals& g, const std::string& type, const std::string& ttl_text, const std::string& labels_text,
                   const std::string& value) {
  if (type.empty()) return fail("--type is required, e.g. --type=db");
  auto ttl = parse_duration(ttl_text);
  if (!ttl.ok()) return fail("--ttl: " + ttl.error().message);
  auto labels = parse_labels(labels_text);
  if (!labels.ok()) return fail("--labels: " + labels.error().message);
  if (auto s = check_format(g.format); !s.ok()) return fail(s.error());
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto r = c->call("POST", "/v1/tokens", {{"type", type}, {"ttl_seconds", ttl->count()}, {"labels", *labels}, {"value", value}});
  if (!r.ok()) return fail(r.error());
  if (g.format != "text") {
    print_structured(*r, g.format);
    return 0;
  }
  std::string token = r->value("/metadata/name"_json_pointer, "");
  std::cout << "The invite token: " << token << "\n"
            << "This token will expire in " << format_duration(*ttl) << ".\n\n"
            << "Save it on the host that will run the service, e.g. in /tmp/token, and point the service at it:\n"
            << "> teleport db configure create --token=/tmp/token --proxy=<proxy host:port> --name=<db> "
               "--protocol=<postgres|mysql> --uri=<host:port> -o file\n"
            << "> teleport start -c /etc/teleport.yaml\n\n"
            << "The cluster CA pin is " << r->value("ca_pin", "") << "\n";
  return 0;
}

int cmd_tokens_ls(const Globals& g) {
  if (auto s = check_format(g.format); !s.ok()) return fail(s.error());
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto tokens = c->call("GET", "/v1/tokens");
  if (!tokens.ok()) return fail(tokens.error());
  if (g.format != "text") {
    print_structured(*tokens, g.format);
    return 0;
  }
  auto now = system_clock().now();
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : *tokens) {
    auto expires = from_unix_seconds(t["metadata"].value("expires_unix", int64_t{0}));
    Labels labels;
    for (auto it = t["spec"]["labels"].begin(); it != t["spec"]["labels"].end(); ++it) labels[it.key()] = it.value();
    auto left = std::chrono::duration_cast<std::chrono::seconds>(expires - now);
    rows.push_back({t["metadata"]["name"], join(t["spec"]["roles"].get<std::vector<std::string>>(), ","),
                    format_labels(labels), format_short_utc(expires) + " (" + format_duration(left) + ")"});
  }
  std::cout << render_table({"Token", "Type", "Labels", "Expiry Time (UTC)"}, rows);
  return 0;
}

int cmd_tokens_rm(const Globals& g, const std::string& token) {
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto r = c->call("DELETE", "/v1/tokens/" + net::url_encode(token));
  if (!r.ok()) return fail(r.error());
  std::cout << "Token " << token << " has been deleted\n";
  return 0;
}

// ---- resources -------------------------------------------------------------
int cmd_create(const Globals& g, const std::string& file, bool force) {
  auto text = file == "-" ? Result<std::string>(std::string(std::istreambuf_iterator<char>(std::cin), {})) : read_file(file);
  if (!text.ok()) return fail(text.error());
  auto docs = yaml_documents_to_json(*text);
  if (!docs.ok()) return fail(file + ": " + docs.error().message);
  if (docs->empty()) return fail(file + ": no resources found");
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  for (size_t i = 0; i < docs->size(); ++i) {
    const json& doc = (*docs)[i];
    std::string where = file + (docs->size() > 1 ? " (document " + std::to_string(i + 1) + ")" : "");
    if (!doc.is_object()) return fail(where + ": expected a resource map with kind, metadata and spec");
    std::string kind = doc.value("kind", "");
    std::string name = doc.value("/metadata/name"_json_pointer, "");
    Result<json> r = json();
    if (kind == "role") {
      if (!force && c->call("GET", "/v1/roles/" + net::url_encode(name)).ok() && name != "access" && name != "editor" &&
          name != "auditor")
        return fail("role \"" + name + "\" already exists; use 'tctl create -f --force' to overwrite it");
      r = c->call("PUT", "/v1/roles", doc);
      if (r.ok()) std::cout << "role \"" << name << "\" has been " << (force ? "created or updated" : "created") << "\n";
    } else if (kind == "user") {
      if (force && c->call("GET", "/v1/users/" + net::url_encode(name)).ok()) {
        r = c->call("PUT", "/v1/users/" + net::url_encode(name), doc);
        if (r.ok()) std::cout << "user \"" << name << "\" has been updated\n";
      } else {
        r = c->call("POST", "/v1/users", doc);
        if (r.ok()) print_invite(name, *r, false);
      }
    } else if (kind == "token") {
      auto roles = doc.value("/spec/roles"_json_pointer, std::vector<std::string>{});
      r = c->call("POST", "/v1/tokens", {{"type", join(roles, ",")}, {"value", name},
                                         {"labels", doc.value("/spec/labels"_json_pointer, json::object())}});
      if (r.ok()) std::cout << "token has been created\n";
    } else if (kind.empty()) {
      return fail(where + ": kind: missing (e.g. kind: role)");
    } else {
      return fail(where + ": kind: \"" + kind + "\" cannot be created with tctl create; supported: role, user, token");
    }
    if (!r.ok()) return fail(where + ": " + r.error().message);
  }
  return 0;
}

Result<std::pair<std::string, std::string>> parse_ref(const std::string& ref) {
  auto slash = ref.find('/');
  std::string kind = to_lower(ref.substr(0, slash));
  std::string name = slash == std::string::npos ? "" : ref.substr(slash + 1);
  static const std::map<std::string, std::string> kAliases = {
      {"role", "roles"}, {"roles", "roles"}, {"user", "users"}, {"users", "users"}, {"token", "tokens"},
      {"tokens", "tokens"}, {"db", "db"}, {"dbs", "db"}, {"databases", "db"}, {"database", "db"},
      {"db_server", "db_servers"}, {"db_servers", "db_servers"}};
  auto it = kAliases.find(kind);
  if (it == kAliases.end())
    return invalid_argument("unknown resource kind \"" + kind + "\"; use roles, users, tokens, db or db_servers");
  return std::make_pair(it->second, name);
}

int cmd_get(const Globals& g, const std::string& ref) {
  auto parsed = parse_ref(ref);
  if (!parsed.ok()) return fail(parsed.error());
  if (auto s = check_format(g.format); !s.ok()) return fail(s.error());
  auto [kind, name] = *parsed;
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  json out;
  if (kind == "db" || kind == "db_servers") {
    auto servers = c->call("GET", "/v1/db_servers");
    if (!servers.ok()) return fail(servers.error());
    out = json::array();
    std::set<std::string> seen;
    for (const auto& s : *servers) {
      std::string db = s["metadata"]["name"];
      if (!name.empty() && db != name) continue;
      if (kind == "db") {
        if (seen.insert(db).second) out.push_back(s["spec"]["database"]);
      } else {
        out.push_back(s);
      }
    }
    if (!name.empty() && out.empty()) return fail(kind + " \"" + name + "\" not found");
  } else {
    auto r = c->call("GET", "/v1/" + kind + (name.empty() ? "" : "/" + net::url_encode(name)));
    if (!r.ok()) return fail(r.error());
    out = *r;
  }
  if (g.format == "text") {
    print_structured(out, "yaml");
  } else {
    print_structured(out, g.format);
  }
  return 0;
}

int cmd_rm(const Globals& g, const std::string& ref) {
  auto parsed = parse_ref(ref);
  if (!parsed.ok()) return fail(parsed.error());
  auto [kind, name] = *parsed;
  if (name.empty()) return fail("name the resource to delete, e.g. tctl rm role/db-reader");
  if (kind == "db" || kind == "db_servers")
    return fail("databases are registered by their Database Service; remove them from its config and restart it");
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto r = c->call("DELETE", "/v1/" + kind + "/" + net::url_encode(name));
  if (!r.ok()) return fail(r.error());
  std::cout << kind.substr(0, kind.size() - 1) << " \"" << name << "\" has been deleted\n";
  return 0;
}

// ---- audit -----------------------------------------------------------------
int cmd_events(const Globals& g, const std::string& type, const std::string& user, const std::string& since, int limit) {
  if (auto s = check_format(g.format); !s.ok()) return fail(s.error());
  std::string q = "?limit=" + std::to_string(limit);
  if (!type.empty()) q += "&type=" + net::url_encode(type);
  if (!user.empty()) q += "&user=" + net::url_encode(user);
  if (!since.empty()) {
    if (!parse_duration(since).ok()) return fail("--since: use a duration like 1h or 30m");
    q += "&since=" + net::url_encode(since);
  }
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto events = c->call("GET", "/v1/events" + q);
  if (!events.ok()) return fail(events.error());
  if (g.format == "json") {
    for (const auto& e : *events) std::cout << e.dump() << "\n";
    return 0;
  }
  if (g.format == "yaml") {
    print_structured(*events, "yaml");
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : *events) {
    std::string detail;
    for (const char* k : {"db_service", "db_user", "db_name", "db_query", "error", "name"})
      if (e.contains(k) && e[k].is_string() && !e[k].get<std::string>().empty())
        detail += std::string(detail.empty() ? "" : " ") + k + "=" + e[k].get<std::string>();
    rows.push_back({e.value("time", ""), e.value("event", ""), e.value("code", ""), e.value("user", ""), detail});
  }
  std::cout << render_table({"Time", "Event", "Code", "User", "Details"}, rows);
  return 0;
}

// ---- auth sign ---------------------------------------------------------------
int cmd_auth_sign(const Globals& g, const std::string& format, const std::string& hosts, const std::string& out,
                  const std::string& ttl_text) {
  if (format != "db") return fail("--format: only db is supported (certificates for self-hosted databases)");
  if (out.empty()) return fail("--out is required, e.g. --out=server (writes server.crt, server.key, server.cas)");
  auto ttl = parse_duration(ttl_text);
  if (!ttl.ok()) return fail("--ttl: " + ttl.error().message);
  auto key = PrivateKey::generate();
  if (!key.ok()) return fail(key.error());
  auto c = client(g);
  if (!c.ok()) return fail(c.error());
  auto r = c->call("POST", "/v1/certs/db_server",
                   {{"public_key", key->public_key_pem()}, {"hosts", split_list(hosts)}, {"ttl_seconds", ttl->count()}});
  if (!r.ok()) return fail(r.error());
  for (auto [suffix, data] : {std::pair<std::string, std::string>{".crt", r->value("cert", "")},
                              {".key", key->to_pem()}, {".cas", r->value("db_ca", "")}}) {
    if (auto s = write_file_atomic(out + suffix, data, 0600); !s.ok()) return fail(s.error());
  }
  std::cout << "Database credentials have been written to " << out << ".crt, " << out << ".key, " << out << ".cas.\n"
            << "Configure the database to use " << out << ".crt/" << out << ".key as its server certificate and to "
            << "trust client certificates signed by " << out << ".cas.\n";
  return 0;
}

}  // namespace
}  // namespace tp

int main(int argc, char** argv) {
  using namespace tp;
  CLI::App app{"tctl: administer a Teleport cluster (users, roles, join tokens, audit)"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("-c,--config", g.client.config_path, "Path to the auth server's config file (default /etc/teleport.yaml)");
  app.add_option("--auth-server", g.client.auth_server, "Address of the Auth Service (default: from the config)");
  int rc = 0;

  app.add_subcommand("status", "Report cluster status")->callback([&] { rc = cmd_status(g); });
  app.add_subcommand("version", "Print the version")->callback([&] { std::cout << "Teleport v" TP_VERSION "\n"; });

  auto* users = app.add_subcommand("users", "Manage users")->require_subcommand(1);
  UserFlags uf;
  auto* users_add = users->add_subcommand("add", "Create a user and print an invite link");
  users_add->add_option("name", uf.name, "User name")->required();
  users_add->add_option("--roles", uf.roles, "Roles to assign, comma-separated (e.g. access)");
  users_add->add_option("--db-users", uf.db_users, "Database users the user may connect as");
  users_add->add_option("--db-names", uf.db_names, "Logical databases the user may connect to");
  users_add->add_option("--logins", uf.logins, "Host logins");
  users_add->callback([&] { rc = cmd_users_add(g, uf); });
  auto* users_update = users->add_subcommand("update", "Change a user's roles or traits");
  users_update->add_option("name", uf.name, "User name")->required();
  users_update->add_option("--set-roles,--roles", uf.roles, "New roles");
  users_update->add_option("--set-db-users,--db-users", uf.db_users, "New database users");
  users_update->add_option("--set-db-names,--db-names", uf.db_names, "New database names");
  users_update->callback([&] { rc = cmd_users_update(g, uf); });
  auto* users_ls = users->add_subcommand("ls", "List users");
  users_ls->add_option("--format", g.format, "text, json or yaml");
  users_ls->callback([&] { rc = cmd_users_ls(g); });
  std::string name;
  auto* users_rm = users->add_subcommand("rm", "Delete users (comma-separated)");
  users_rm->add_option("name", name, "User name(s)")->required();
  users_rm->callback([&] { rc = cmd_users_rm(g, name); });
  auto* users_reset = users->add_subcommand("reset", "Clear a user's password and print a new invite link");
  users_reset->add_option("name", name, "User name")->required();
  users_reset->callback([&] { rc = cmd_users_reset(g, name); });

  auto* tokens = app.add_subcommand("tokens", "Manage join tokens")->require_subcommand(1);
  std::string type, ttl = "30m", labels, value;
  auto* tokens_add = tokens->add_subcommand("add", "Create a join token");
  tokens_add->add_option("--type", type, "Service type: db, proxy, auth, discovery, node")->required();
  tokens_add->add_option("--ttl", ttl, "How long the token is valid (default 30m)");
  tokens_add->add_option("--labels", labels, "Labels for the joining service, e.g. env=dev");
  tokens_add->add_option("--value", value, "Use this value instead of a random one");
  tokens_add->add_option("--format", g.format, "text, json or yaml");
  tokens_add->callback([&] { rc = cmd_tokens_add(g, type, ttl, labels, value); });
  auto* tokens_ls = tokens->add_subcommand("ls", "List join tokens");
  tokens_ls->add_option("--format", g.format, "text, json or yaml");
  tokens_ls->callback([&] { rc = cmd_tokens_ls(g); });
  auto* tokens_rm = tokens->add_subcommand("rm", "Delete a join token");
  tokens_rm->add_option("token", name, "Token")->required();
  tokens_rm->callback([&] { rc = cmd_tokens_rm(g, name); });

  std::string file;
  bool force = false;
  auto* create = app.add_subcommand("create", "Create or update resources from a YAML file");
  create->add_option("-f,--filename,file", file, "YAML file ('-' for stdin)")->required();
  create->add_flag("--force", force, "Overwrite an existing resource");
  create->callback([&] { rc = cmd_create(g, file, force); });
  std::string ref;
  auto* get = app.add_subcommand("get", "Print resources: roles, users, tokens, db, db_servers (KIND[/NAME])");
  get->add_option("resource", ref, "KIND or KIND/NAME")->required();
  get->add_option("--format", g.format, "text, json or yaml");
  get->callback([&] { rc = cmd_get(g, ref); });
  auto* rm = app.add_subcommand("rm", "Delete a resource (KIND/NAME)");
  rm->add_option("resource", ref, "KIND/NAME, e.g. role/db-reader")->required();
  rm->callback([&] { rc = cmd_rm(g, ref); });

  auto* audit = app.add_subcommand("audit", "Audit log")->require_subcommand(1);
  std::string ev_type, ev_user, since;
  int limit = 500;
  auto* events = audit->add_subcommand("events", "List audit events");
  events->add_option("--type", ev_type, "Only this event type, e.g. db.session.start");
  events->add_option("--user", ev_user, "Only this user's events");
  events->add_option("--since", since, "Only events from the last DURATION (e.g. 1h)");
  events->add_option("--limit", limit, "At most this many (newest)");
  events->add_option("--format", g.format, "text, json (one event per line) or yaml");
  events->callback([&] { rc = cmd_events(g, ev_type, ev_user, since, limit); });

  auto* auth = app.add_subcommand("auth", "Certificate operations")->require_subcommand(1);
  std::string sign_format = "db", hosts, out, sign_ttl = "2160h";
  auto* sign = auth->add_subcommand("sign", "Sign a certificate for a self-hosted database server");
  sign->add_option("--format", sign_format, "db");
  sign->add_option("--host", hosts, "Database server host names/IPs, comma-separated")->required();
  sign->add_option("-o,--out", out, "Output file prefix")->required();
  sign->add_option("--ttl", sign_ttl, "Validity (default 2160h)");
  sign->callback([&] { rc = cmd_auth_sign(g, sign_format, hosts, out, sign_ttl); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
