// tsh: the user's client. Commands follow the reference's spelling (tsh login, tsh db connect, ...).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/tsh/commands.h"
#include "common/fast_copies.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace tp::tsh;
  tp::log::init(tp::log::Level::kWarn);
  CLI::App app{"tsh: log in to a Teleport cluster and connect to its databases"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand: tsh db ls --insecure
  GlobalOptions g;
  app.add_option("--proxy", g.proxy, "Teleport proxy address, host:port");
  app.add_option("--user", g.user, "Teleport user name (default: the profile's, else $USER)");
  app.add_flag("--insecure", g.insecure, "Do not verify the proxy's certificate (test setups only)");
  app.add_option("--ca-file", g.ca_file, "Trust this CA certificate file for the proxy (tsh login)");
  app.add_option("--ca-pin", g.ca_pin, "Accept the proxy's CA only if its pin matches (sha256:..., from tctl status)");
  int rc = 0;

  LoginOptions login;
  auto* login_cmd = app.add_subcommand("login", "Log in to a cluster and get a user certificate");
  login_cmd->add_option("--ttl", login.ttl, "Certificate lifetime, e.g. 8h (capped by your roles)");
  login_cmd->callback([&] { rc = cmd_login(g, login); });
  app.add_subcommand("status", "Show the logged-in user, roles and certificate validity")->callback([&] {
    rc = cmd_status(g);
  });
  app.add_subcommand("logout", "Delete the stored keys and certificates")->callback([&] { rc = cmd_logout(g); });
  app.add_subcommand("version", "Print the version")->callback([] { std::cout << "Teleport v" TP_VERSION "\n"; });

  std::string invite;
  auto* users = app.add_subcommand("users", "Account commands")->require_subcommand(1);
  auto* set_password = users->add_subcommand("set-password", "Set your password from an invite (tctl users add)");
  set_password->add_option("--invite", invite, "The token from the invite link")->required();
  set_password->callback([&] { rc = cmd_set_password(g, invite); });

  DbOptions db;
  auto* dbc = app.add_subcommand("db", "Database access")->require_subcommand(1);
  auto* ls = dbc->add_subcommand("ls", "List the databases you can access");
  ls->add_option("--format", g.format, "text or json");
  ls->callback([&] { rc = cmd_db_ls(g); });
  auto* dlogin = dbc->add_subcommand("login", "Get a certificate for a database");
  dlogin->add_option("name", db.name, "Database name (tsh db ls)")->required();
  dlogin->add_option("--db-user", db.db_user, "Database user to connect as");
  // expected(0, 1): "--db-name=" is an explicit "no database", not a missing value.
  auto* dlogin_name = dlogin->add_option("--db-name", db.db_name, "Logical database (schema) to connect to")
                          ->expected(0, 1);
  dlogin->callback([&] {
    db.db_name_given = dlogin_name->count() > 0;
    rc = cmd_db_login(g, db);
  });
  auto* dlogout = dbc->add_subcommand("logout", "Delete a database's certificate (all without a name)");
  dlogout->add_option("name", db.name, "Database name");
  dlogout->callback([&] { rc = cmd_db_logout(g, db); });
  auto* config = dbc->add_subcommand("config", "Show how to connect to a logged-in database");
  config->add_option("name", db.name, "Database name");
  config->add_option("--format", g.format, "text or cmd (just the client command)");
  config->callback([&] { rc = cmd_db_config(g, db); });
  auto* env = dbc->add_subcommand("env", "Print PG* environment variables for a logged-in database");
  env->add_option("name", db.name, "Database name");
  env->add_option("--db", db.name, "Database name");
  env->callback([&] { rc = cmd_db_env(g, db); });
  auto* connect = dbc->add_subcommand("connect", "Connect with psql or mariadb/mysql");
  connect->add_option("name", db.name, "Database name");
  connect->add_option("--db-user", db.db_user, "Database user to connect as");
  auto* connect_name = connect->add_option("--db-name", db.db_name, "Logical database to connect to")->expected(0, 1);
  connect->callback([&] {
    db.db_name_given = connect_name->count() > 0;
    rc = cmd_db_connect(g, db);
  });

  ProxyDbOptions pdb;
  auto* proxy = app.add_subcommand("proxy", "Local proxies")->require_subcommand(1);
  auto* proxy_db = proxy->add_subcommand("db", "Start a local proxy for a logged-in database");
  proxy_db->add_option("name", pdb.db.name, "Database name")->required();
  proxy_db->add_option("--port", pdb.port, "Local port (default: any free port)");
  proxy_db->add_flag("--tunnel", pdb.tunnel, "Present the certificate for the client, which connects without TLS");
  proxy_db->add_option("--db-user", pdb.db.db_user, "Database user (logs in to the database first)");
  auto* proxy_db_name =
      proxy_db->add_option("--db-name", pdb.db.db_name, "Logical database (logs in to the database first)")->expected(0, 1);
  proxy_db->callback([&] {
    tp::restart_for_fast_copies(argv);  // a long-running relay: see common/fast_copies.h
    pdb.db.db_name_given = proxy_db_name->count() > 0;
    rc = cmd_proxy_db(g, pdb);
  });

  CLI11_PARSE(app, argc, argv);
  return rc;
}
