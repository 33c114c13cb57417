// tsh's commands, one function each; main.cc maps the command line onto them. Every function
// returns the process exit code and prints errors as "ERROR: ..." on stderr.
#pragma once

#include <string>

#include "cli/tsh/profile.h"
#include "common/result.h"

namespace tp::tsh {

struct GlobalOptions {
  std::string proxy;    // --proxy host:port
  std::string user;     // --user
  bool insecure = false;
  std::string ca_file;  // --ca-file: trust this CA for the proxy (tsh login, users set-password)
  std::string ca_pin;   // --ca-pin sha256:...: fetch the CA unverified, accept it only if it matches
  std::string format = "text";
};

int fail(const Error& error);

// login.cc
struct LoginOptions {
  std::string ttl;  // e.g. "8h"; empty: the cluster default
};
int cmd_login(const GlobalOptions& g, const LoginOptions& o);
int cmd_status(const GlobalOptions& g);
int cmd_logout(const GlobalOptions& g);
int cmd_set_password(const GlobalOptions& g, const std::string& invite_token);

// db.cc
struct DbOptions {
  std::string name;
  std::string db_user;
  std::string db_name;
  bool db_name_given = false;  // --db-name was on the command line, maybe empty ("no database")
};
int cmd_db_ls(const GlobalOptions& g);
int cmd_db_login(const GlobalOptions& g, const DbOptions& o);
int cmd_db_logout(const GlobalOptions& g, const DbOptions& o);
int cmd_db_config(const GlobalOptions& g, const DbOptions& o);
int cmd_db_env(const GlobalOptions& g, const DbOptions& o);
int cmd_db_connect(const GlobalOptions& g, const DbOptions& o);

// proxy_db.cc
struct ProxyDbOptions {
  DbOptions db;
  int port = 0;
  bool tunnel = false;
};
int cmd_proxy_db(const GlobalOptions& g, const ProxyDbOptions& o);
// Logs in to the database when there is no valid certificate for it or the
// requested db user / db name differ from the certificate's route.
Status ensure_db_certificate(const GlobalOptions& g, const DbOptions& o);

}  // namespace tp::tsh
