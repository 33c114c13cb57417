#include "cli/common/admin_client.h"

#include <cstdlib>

#include "common/files.h"

namespace tp {

Result<net::HttpsClient> connect_admin_client(const AdminClientOptions& options) {
  std::string path = options.config_path;
  if (path.empty()) {
    const char* env = std::getenv("TELEPORT_CONFIG_FILE");
    path = env && *env ? env : kDefaultConfigPath;
  }
  auto config = load_config(path);
  if (!config.ok()) return config.error();
  if (!config->auth.enabled)
    return invalid_argument("tctl runs on the auth host: " + path + " has no auth_service (pass -c with the auth "
                            "server's config)");
  std::string dir = config->data_dir + "/admin";
  auto cert = read_file(dir + "/cert.pem");
  auto key = read_file(dir + "/key.pem");
  auto ca = read_file(dir + "/ca.pem");
  if (!cert.ok() || !key.ok() || !ca.ok())
    return unauthenticated("cannot read the admin identity in " + dir +
                           "; start the Auth Service once ('teleport start -c " + path +
                           "') and run tctl as the same user");
  std::string addr_text = options.auth_server.empty() ? config->auth.listen_addr : options.auth_server;
  TP_TRY(auto addr, parse_host_port(addr_text, 3025));
  if (addr.host == "0.0.0.0" || addr.host == "::") addr.host = "127.0.0.1";
  net::TlsClientConfig tls;
  tls.cert_pem = *cert;
  tls.key_pem = *key;
  tls.ca_pems = {*ca};
  return net::HttpsClient(addr, tls);
}

}  // namespace tp
