// How tctl reaches the Auth Service: on the auth host, with the admin identity
// the Auth Service wrote into its data directory.
#pragma once

#include <string>

#include "net/http_client.h"
#include "service/config.h"

namespace tp {

struct AdminClientOptions {
  std::string config_path;   // -c; default /etc/teleport.yaml or $TELEPORT_CONFIG_FILE
  std::string auth_server;   // --auth-server overrides the config's listen_addr
};

Result<net::HttpsClient> connect_admin_client(const AdminClientOptions& options);

}  // namespace tp
