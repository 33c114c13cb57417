#include "service/auth_service.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/files.h"
#include "common/log.h"
#include "net/io_pool.h"
#include "net/server.h"
#include "net/tls.h"

namespace tp {

namespace asio = boost::asio;

namespace {

struct Listener {
  net::tcp::acceptor acceptor;
  asio::ssl::context ctx;
};

asio::awaitable<void> serve_api_connection(net::tcp::socket socket, std::shared_ptr<Listener> l, AuthApi* api,
                                           asio::thread_pool* workers) {
  std::string peer_addr = net::endpoint_text(socket);
  net::TlsStream stream(std::move(socket), l->ctx);
  if (!co_await net::tls_handshake(stream, asio::ssl::stream_base::server, std::chrono::seconds(10))) co_return;
  std::optional<Identity> peer;
  if (auto id = net::peer_identity(stream.native_handle()); id.ok()) peer = *id;
  // Named, not a temporary in the co_await: GCC 12 destroys such temporaries twice.
  net::HttpHandler handler = [api](net::HttpRequest& r) { return api->handle(r); };
  co_await net::serve_http(stream, handler, peer, peer_addr, std::chrono::seconds(60), workers);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Listener> l, AuthApi* api, asio::thread_pool* workers) {
  while (true) {
    boost::system::error_code ec;
    auto socket = co_await l->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) co_return;
      continue;
    }
    asio::co_spawn(l->acceptor.get_executor(), serve_api_connection(std::move(socket), l, api, workers), asio::detached);
  }
}

}  // namespace

Result<std::unique_ptr<AuthService>> AuthService::start(asio::io_context& io, const TeleportConfig& config) {
  auto service = std::make_unique<AuthService>();
  net::name_pool_threads(*service->workers_, kWorkers, "tp-auth");
  TP_CHECK(make_dirs(config.data_dir, 0700));
  TP_TRY(auto backend, open_sqlite_backend(config.data_dir, system_clock()));
  AuthConfig ac;
  ac.cluster_name = config.auth.cluster_name;
  ac.data_dir = config.data_dir;
  ac.public_proxy_addr = config.proxy.public_addr;
  if (ac.public_proxy_addr.empty()) {
    // Without a public_addr, point invites at this host's web port.
    auto web = parse_host_port(config.proxy.web_listen_addr, 3080);
    std::string host = config.nodename.empty() ? "localhost" : config.nodename;
    ac.public_proxy_addr = host + ":" + std::to_string(web.ok() ? web->port : 3080);
  }
  TP_TRY(service->server_, AuthServer::open(ac, std::move(backend), system_clock(), crypto_rng()));
  service->api_ = std::make_unique<AuthApi>(*service->server_);

  // The auth host's identity: a host certificate for role Auth, refreshed at every start.
  TP_TRY(auto key, PrivateKey::generate());
  TP_TRY(auto listen, parse_host_port(config.auth.listen_addr));
  std::vector<std::string> names = {"localhost", "127.0.0.1", config.nodename};
  if (listen.host != "0.0.0.0" && listen.host != "::") names.push_back(listen.host);
  if (!config.proxy.public_addr.empty()) names.push_back(parse_host_port(config.proxy.public_addr, 3080)->host);
  TP_TRY(auto certs, service->server_->issue_host_certs(config.nodename.empty() ? "auth" : config.nodename,
                                                      kHostRoleAuth, key.public_key_pem(), names));
  service->host_cert_pem_ = certs.cert_pem;
  service->host_key_pem_ = key.to_pem();

  std::vector<std::string> client_cas = certs.host_ca_pems;
  client_cas.insert(client_cas.end(), certs.user_ca_pems.begin(), certs.user_ca_pems.end());
  TP_TRY(auto ctx, net::make_server_context({certs.cert_pem, service->host_key_pem_, client_cas, true, {}}));
  TP_TRY(auto acceptor, net::listen_tcp(io, listen));
  auto l = std::make_shared<Listener>(Listener{std::move(acceptor), std::move(ctx)});
  service->listener_ = l;
  asio::co_spawn(io, accept_loop(l, service->api_.get(), service->workers_.get()), asio::detached);
  log::info("auth", "Auth Service is listening", {{"addr", config.auth.listen_addr},
                                                  {"cluster", service->server_->config().cluster_name}});
  return service;
}

void AuthService::stop() {
  if (auto l = std::static_pointer_cast<Listener>(listener_)) {
    boost::system::error_code ec;
    l->acceptor.close(ec);
  }
}

}  // namespace tp
