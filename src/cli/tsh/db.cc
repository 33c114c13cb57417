// tsh db ls / login / logout / config / env / connect.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/common/table.h"
#include "cli/tsh/client.h"
#include "cli/tsh/commands.h"
#include "cli/tsh/local_tunnel.h"
#include "common/strings.h"

namespace tp::tsh {

namespace {

struct Session {
  ProfileStore store;
  Profile profile;
};

Result<Session> open_session() {
  auto store = ProfileStore::from_environment();
  TP_TRY(auto profile, store.current());
  return Session{store, profile};
}

// The database a command is about: the name given, or the only one logged in.
Result<std::string> pick_database(const Session& s, const std::string& name) {
  if (!name.empty()) return name;
  auto logins = s.store.db_logins(s.profile);
  if (logins.size() == 1) return logins[0];
  if (logins.empty()) return invalid_argument("not logged in to any database; run 'tsh db login <database>'");
  return invalid_argument("logged in to several databases (" + join(logins, ", ") + "); name one");
}

std::string protocol_title(const std::string& protocol) {
  return protocol == "postgres" ? "PostgreSQL" : protocol == "mysql" ? "MySQL" : protocol;
}

// Where and how a client reaches a logged-in database.
struct ConnectionInfo {
  std::string name, protocol, db_user, db_name;
  std::string ca_path, cert_path, key_path;
  std::string host;
  uint16_t port = 0;
  bool native = false;  // the proxy has a native listener for the protocol
  bool expired = false;
};

Result<ConnectionInfo> connection_info(const Session& s, const std::string& name) {
  TP_TRY(auto cert, load_db_certificate(s.store, s.profile, name));
  if (!cert.identity.route) return invalid_argument(cert.path + " is not a database certificate; run 'tsh db login'");
  ConnectionInfo info;
  info.name = name;
  info.protocol = cert.identity.route->protocol;
  info.db_user = cert.identity.route->username;
  info.db_name = cert.identity.route->database;
  info.ca_path = s.store.ca_path(s.profile);
  info.cert_path = cert.path;
  info.key_path = s.store.key_path(s.profile);
  info.expired = cert.identity.expires <= system_clock().now();
  std::string native = info.protocol == "postgres" ? s.profile.postgres_proxy_addr
                       : info.protocol == "mysql"  ? s.profile.mysql_proxy_addr
                                                   : "";
  if (!native.empty()) {
    TP_TRY(auto hp, parse_host_port(native));
    info.host = hp.host;
    info.port = hp.port;
    info.native = true;
  }
  return info;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string psql_conninfo(const ConnectionInfo& i) {
  std::string out = "host=" + i.host + " port=" + std::to_string(i.port) + " sslmode=verify-full sslrootcert=" +
                    i.ca_path + " sslcert=" + i.cert_path + " sslkey=" + i.key_path + " user=" + i.db_user;
  if (!i.db_name.empty()) out += " dbname=" + i.db_name;
  return out;
}

std::string mysql_command(const ConnectionInfo& i) {
  std::string out = "mysql --host=" + i.host + " --port=" + std::to_string(i.port) + " --user=" + i.db_user +
                    " --ssl-ca=" + i.ca_path + " --ssl-cert=" + i.cert_path + " --ssl-key=" + i.key_path;
  if (!i.db_name.empty()) out += " --database=" + i.db_name;
  return out;
}

std::string native_command(const ConnectionInfo& i) {
  return i.protocol == "postgres" ? "psql " + quoted(psql_conninfo(i)) : mysql_command(i);
}

// A trait with exactly one literal value is the obvious default for --db-user / --db-name.
std::string default_from_trait(const Session& s, const std::string& trait) {
  auto creds = load_credentials(s.store, s.profile, false);
  if (!creds.ok()) return "";
  auto it = creds->identity.traits.find(trait);
  if (it == creds->identity.traits.end() || it->second.size() != 1) return "";
  const std::string& v = it->second[0];
  return v.find_first_of("*{^$") == std::string::npos ? v : "";
}

// db_name_given: use db_name as it is, even empty; otherwise a single db_names trait is the default.
Result<std::string> db_login(const GlobalOptions& g, const Session& s, const std::string& name, std::string db_user,
                             std::string db_name, bool db_name_given) {
  if (db_user.empty()) db_user = default_from_trait(s, "db_users");
  if (db_user.empty())
    return invalid_argument("--db-user: name the database user to connect as (your roles allow the users 'tsh "
                            "status' lists)");
  if (!db_name_given) db_name = default_from_trait(s, "db_names");
  return issue_db_certificate(s.store, s.profile, g.insecure, name, db_user, db_name);
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : split(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs the database client in the foreground. Ctrl+C belongs to the client (psql cancels the query
// with it), so tsh ignores it while waiting.
int run_client(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto old_int = std::signal(SIGINT, SIG_IGN);
  auto old_quit = std::signal(SIGQUIT, SIG_IGN);
  pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGQUIT, SIG_DFL);
    execv(argv[0], argv.data());
    std::perror(("tsh: cannot run " + args[0]).c_str());
    _exit(127);
  }
  int status = 0;
  if (pid > 0)
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  std::signal(SIGINT, old_int);
  std::signal(SIGQUIT, old_quit);
  if (pid < 0) return fail(internal_error("cannot start " + args[0]));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct ClientCommand {
  std::vector<std::string> args;
};

Result<ClientCommand> client_command(const ConnectionInfo& i, const std::string& host, uint16_t port, bool plain) {
  if (i.protocol == "postgres") {
    std::string psql = find_in_path("psql");
    if (psql.empty()) return not_found("psql not found in PATH; install the PostgreSQL client (postgresql-client)");
    std::string conninfo;
    if (plain) {
      conninfo = "host=" + host + " port=" + std::to_string(port) + " sslmode=disable user=" + i.db_user;
      if (!i.db_name.empty()) conninfo += " dbname=" + i.db_name;
    } else {
      conninfo = psql_conninfo(i);
    }
    return ClientCommand{{psql, conninfo}};
  }
  if (i.protocol == "mysql") {
    std::string bin = find_in_path("mariadb");
    bool mariadb = !bin.empty();
    if (bin.empty()) bin = find_in_path("mysql");
    if (bin.empty()) return not_found("neither mariadb nor mysql found in PATH; install a MySQL client");
    std::vector<std::string> args = {bin, "--host=" + host, "--port=" + std::to_string(port), "--protocol=TCP",
                                     "--user=" + i.db_user};
    if (!i.db_name.empty()) args.push_back("--database=" + i.db_name);
    if (plain) {
      args.push_back(mariadb ? "--skip-ssl" : "--ssl-mode=DISABLED");
    } else {
      for (auto a : {"--ssl-ca=" + i.ca_path, "--ssl-cert=" + i.cert_path, "--ssl-key=" + i.key_path})
        args.push_back(a);
      if (mariadb) args.push_back("--ssl-verify-server-cert");
    }
    return ClientCommand{args};
  }
  return invalid_argument("unsupported database protocol \"" + i.protocol + "\"");
}

}  // namespace

int cmd_db_ls(const GlobalOptions& g) {
  auto s = open_session();
  if (!s.ok()) return fail(s.error());
  auto creds = load_credentials(s->store, s->profile, true);
  if (!creds.ok()) return fail(creds.error());
  auto client = web_client(s->store, s->profile, g.insecure, &*creds);
  if (!client.ok()) return fail(client.error());
  auto dbs = client->call("GET", "/v1/webapi/databases");
  if (!dbs.ok()) return fail(dbs.error());
  if (g.format == "json") {
    std::cout << dbs->dump(2) << "\n";
    return 0;
  }
  auto logins = s->store.db_logins(s->profile);
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : *dbs) {
    std::string name = d.value("name", "");
    bool active = std::find(logins.begin(), logins.end(), name) != logins.end();
    std::map<std::string, std::string> labels;
    if (d.contains("labels") && d["labels"].is_object())
      for (auto it = d["labels"].begin(); it != d["labels"].end(); ++it)
        labels[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    rows.push_back({(active ? "> " : "") + name, d.value("description", ""), d.value("protocol", ""),
                    format_labels(labels)});
  }
  std::cout << render_table({"Name", "Description", "Protocol", "Labels"}, rows);
  return 0;
}

int cmd_db_login(const GlobalOptions& g, const DbOptions& o) {
  auto s = open_session();
  if (!s.ok()) return fail(s.error());
  auto protocol = db_login(g, *s, o.name, o.db_user, o.db_name, o.db_name_given);
  if (!protocol.ok()) return fail(protocol.error());
  std::cout << "Connection information for database \"" << o.name << "\" has been saved.\n\n"
            << "You can now connect to it using:\n\n  $ tsh db connect " << o.name << "\n\n"
            << "To view connection information, run:\n\n  $ tsh db config " << o.name << "\n";
  return 0;
}

int cmd_db_logout(const GlobalOptions&, const DbOptions& o) {
  auto s = open_session();
  if (!s.ok()) return fail(s.error());
  auto names = o.name.empty() ? s->store.db_logins(s->profile) : std::vector<std::string>{o.name};
  if (names.empty()) {
    std::cout << "Not logged in to any database.\n";
    return 0;
  }
  for (const auto& name : names) {
    std::error_code ec;
    if (!std::filesystem::remove(s->store.db_cert_path(s->profile, name), ec))
      return fail(not_found("not logged in to database \"" + name + "\""));
    std::cout << "Logged out of database " << name << "\n";
  }
  return 0;
}

int cmd_db_config(const GlobalOptions& g, const DbOptions& o) {
  auto s = open_session();
  if (!s.ok()) return fail(s.error());
  auto name = pick_database(*s, o.name);
  if (!name.ok()) return fail(name.error());
  auto info = connection_info(*s, *name);
  if (!info.ok()) return fail(info.error());
  if (g.format == "cmd") {
    if (!info->native)
      return fail(invalid_argument("the proxy reaches \"" + *name + "\" only through TLS routing; run 'tsh proxy db " +
                                   *name + " --tunnel' and connect to the local address it prints"));
    std::cout << native_command(*info) << "\n";
    return 0;
  }
  std::cout << "Name:      " << info->name << "\n";
  if (info->native) {
    std::cout << "Host:      " << info->host << "\nPort:      " << info->port << "\n";
  } else {
    std::cout << "Proxy:     " << s->profile.web_proxy_addr << " (TLS routing, ALPN teleport-" << info->protocol
              << ")\n";
  }
  std::cout << "User:      " << info->db_user << "\nDatabase:  " << info->db_name << "\nCA:        " << info->ca_path
            << "\nCert:      " << info->cert_path << "\nKey:       " << info->key_path << "\n";
  if (info->expired) std::cout << "\nThe certificate has expired; run 'tsh db login " << info->name << "'.\n";
  if (info->native) {
    std::cout << "\nConnect with:\n  " << native_command(*info) << "\n";
  } else {
    std::cout << "\nThis proxy has no native " << protocol_title(info->protocol)
              << " listener. Start a local proxy and connect to the address it prints:\n  tsh proxy db " << info->name
              << " --tunnel\nor run: tsh db connect " << info->name << "\n";
  }
  return 0;
}

int cmd_db_env(const GlobalOptions&, const DbOptions& o) {
  auto s = open_session();
  if (!s.ok()) return fail(s.error());
  auto name = pick_database(*s, o.name);
  if (!name.ok()) return fail(name.error());
  auto info = connection_info(*s, *name);
  if (!info.ok()) return fail(info.error());
  if (info->protocol != "postgres")
    return fail(invalid_argument("tsh db env sets PostgreSQL's PG* variables; \"" + *name + "\" is " + info->protocol));
  if (!info->native)
    return fail(invalid_argument("the proxy has no native PostgreSQL listener; run 'tsh proxy db " + *name +
                                 " --tunnel' and connect to the local address it prints"));
  std::cout << "export PGHOST=" << info->host << "\nexport PGPORT=" << info->port
            << "\nexport PGSSLMODE=verify-full\nexport PGSSLROOTCERT=" << info->ca_path
            << "\nexport PGSSLCERT=" << info->cert_path << "\nexport PGSSLKEY=" << info->key_path
            << "\nexport PGUSER=" << info->db_user << "\n";
  if (!info->db_name.empty()) std::cout << "export PGDATABASE=" << info->db_name << "\n";
  return 0;
}

Status ensure_db_certificate(const GlobalOptions& g, const DbOptions& o) {
  auto s = open_session();
  if (!s.ok()) return s.error();
  auto name = pick_database(*s, o.name);
  if (!name.ok()) return name.error();
  // Log in to the database first when there is no certificate, it expired, or the route differs.
  auto cert = load_db_certificate(s->store, s->profile, *name);
  bool relogin = !cert.ok() || !cert->identity.route || cert->identity.expires <= system_clock().now() ||
                 (!o.db_user.empty() && o.db_user != cert->identity.route->username) ||
                 (o.db_name_given && o.db_name != cert->identity.route->database);
  if (!relogin) return {};
  std::string user = o.db_user, db = o.db_name;
  bool db_given = o.db_name_given;
  if (cert.ok() && cert->identity.route) {
    if (user.empty()) user = cert->identity.route->username;
    if (!db_given) {
      db = cert->identity.route->database;
      db_given = true;
    }
  }
  if (auto r = db_login(g, *s, *name, user, db, db_given); !r.ok()) return r.error();
  return {};
}

int cmd_db_connect(const GlobalOptions& g, const DbOptions& o) {
  if (auto ensured = ensure_db_certificate(g, o); !ensured.ok()) return fail(ensured.error());
  auto s = open_session();
  if (!s.ok()) return fail(s.error());
  auto name = pick_database(*s, o.name);
  if (!name.ok()) return fail(name.error());
  auto info = connection_info(*s, *name);
  if (!info.ok()) return fail(info.error());
  if (info->native) {
    auto command = client_command(*info, info->host, info->port, false);
    if (!command.ok()) return fail(command.error());
    return run_client(command->args);
  }
  // TLS routing only: a local tunnel for the client's lifetime.
  boost::asio::io_context io;
  auto local = start_db_local_proxy(io, g, s->store, s->profile, *name, info->protocol, true, 0);
  if (!local.ok()) return fail(local.error());
  auto command = client_command(*info, "127.0.0.1", (*local)->port(), true);
  if (!command.ok()) return fail(command.error());
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  int rc = run_client(command->args);
  (*local)->stop();
  work.reset();
  io.stop();
  io_thread.join();
  return rc;
}

}  // namespace tp::tsh
