// tsh proxy db: a local listener that carries database connections to the proxy's web port over
// TLS routing, and the same local proxy for tsh db connect.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "cli/tsh/client.h"
#include "cli/tsh/commands.h"
#include "cli/tsh/local_tunnel.h"
#include "common/files.h"

namespace tp::tsh {

namespace {

// Renew a little before expiry so a connection does not start with a certificate about to lapse.
constexpr auto kRenewBefore = std::chrono::seconds(30);

// The database certificate and key for one new local connection, renewed when it has (nearly)
// expired; the renewal needs a valid user certificate, else the error says to run tsh login.
Result<proxy::LocalProxyCredentials> tunnel_credentials(const GlobalOptions& g, const ProfileStore& store,
                                                        const Profile& profile, const std::string& db_name) {
  TP_TRY(auto cert, load_db_certificate(store, profile, db_name));
  if (!cert.identity.route) return invalid_argument(cert.path + " is not a database certificate");
  if (cert.identity.expires - system_clock().now() < kRenewBefore) {
    auto renewed = issue_db_certificate(store, profile, g.insecure, db_name, cert.identity.route->username,
                                        cert.identity.route->database);
    if (!renewed.ok()) return renewed.error().wrap("renewing the certificate for database \"" + db_name + "\"");
    TP_TRY(cert, load_db_certificate(store, profile, db_name));
    std::cerr << "tsh: renewed the database certificate for \"" << db_name << "\" (valid until "
              << format_rfc3339(cert.identity.expires) << ")" << std::endl;
  }
  TP_TRY(auto key, read_file(store.key_path(profile)));
  return proxy::LocalProxyCredentials{cert.cert_pem, key};
}

}  // namespace

Result<std::shared_ptr<proxy::LocalProxy>> start_db_local_proxy(boost::asio::io_context& io, const GlobalOptions& g,
                                                                const ProfileStore& store, const Profile& profile,
                                                                const std::string& db_name,
                                                                const std::string& protocol, bool tunnel,
                                                                uint16_t port) {
  TP_TRY(auto addr, parse_host_port(profile.web_proxy_addr, 3080));
  TP_TRY(auto tls, proxy_tls(store, profile, g.insecure));
  proxy::LocalProxyConfig config;
  config.listen = HostPort{"127.0.0.1", port};
  config.proxy_addr = addr;
  config.protocol = protocol;
  config.ca_pems = tls.ca_pems;
  config.insecure = tls.insecure_skip_verify;
  config.server_name = tls.server_name;
  if (tunnel) {
    config.credentials = [g, store, profile, db_name] { return tunnel_credentials(g, store, profile, db_name); };
  }
  return proxy::start_local_proxy(io, std::move(config));
}

int cmd_proxy_db(const GlobalOptions& g, const ProxyDbOptions& o) {
  auto store = ProfileStore::from_environment();
  auto profile = store.current();
  if (!profile.ok()) return fail(profile.error());
  if (o.port < 0 || o.port > 65535) return fail(invalid_argument("--port: 0-65535"));
  if (!o.db.db_user.empty() || o.db.db_name_given) {
    if (auto ensured = ensure_db_certificate(g, o.db); !ensured.ok()) return fail(ensured.error());
  }
  auto cert = load_db_certificate(store, *profile, o.db.name);
  if (!cert.ok()) return fail(cert.error());
  if (!cert->identity.route) return fail(invalid_argument(cert->path + " is not a database certificate"));
  const DatabaseRoute route = *cert->identity.route;
  bool tunnel = o.tunnel;
  if (route.protocol == "mysql" && !tunnel) {
    std::cerr << "NOTE: MySQL clients cannot add the certificate themselves through this local proxy; starting it "
                 "in --tunnel mode.\n";
    tunnel = true;
  }
  if (tunnel) {
    // Fail now, not at the first connection, when the certificate cannot be renewed.
    if (auto c = tunnel_credentials(g, store, *profile, o.db.name); !c.ok()) return fail(c.error());
  }
  boost::asio::io_context io;
  auto local = start_db_local_proxy(io, g, store, *profile, o.db.name, route.protocol, tunnel,
                                    static_cast<uint16_t>(o.port));
  if (!local.ok()) return fail(local.error());
  const std::string addr = "127.0.0.1:" + std::to_string((*local)->port());
  const std::string title = route.protocol == "postgres" ? "PostgreSQL" : "MySQL";
  if (tunnel) {
    std::cout << "Started authenticated tunnel for the " << title << " database \"" << o.db.name << "\" in cluster \""
              << profile->cluster << "\" on " << addr << ".\n\n"
              << "Use the following command to connect to the database or to the address above using other "
                 "database GUI/CLI clients:\n  $ ";
    if (route.protocol == "postgres") {
      std::cout << "psql \"host=127.0.0.1 port=" << (*local)->port() << " sslmode=disable user=" << route.username
                << (route.database.empty() ? "" : " dbname=" + route.database) << "\"\n";
    } else {
      std::cout << "mysql --host=127.0.0.1 --port=" << (*local)->port() << " --protocol=TCP --user=" << route.username
                << (route.database.empty() ? "" : " --database=" + route.database) << "\n";
    }
  } else {
    std::cout << "Started DB proxy on " << addr << "\n\nUse following credentials to connect to the " << o.db.name
              << " proxy:\n  ca_file=" << store.ca_path(*profile) << "\n  cert_file=" << cert->path
              << "\n  key_file=" << store.key_path(*profile) << "\n\n  $ psql \"host=localhost port="
              << (*local)->port() << " sslmode=verify-full sslrootcert=" << store.ca_path(*profile)
              << " sslcert=" << cert->path << " sslkey=" << store.key_path(*profile) << " user=" << route.username
              << (route.database.empty() ? "" : " dbname=" + route.database) << "\"\n";
  }
  std::cout << std::flush;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) {
    (*local)->stop();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace tp::tsh
