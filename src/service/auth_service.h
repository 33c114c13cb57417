// Runs the Auth Service: opens the backend, the AuthServer and serves its API
// over mutual TLS on auth_service.listen_addr.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <boost/asio/io_context.hpp>
#include <memory>

#include "auth/api_server.h"
#include "auth/auth_server.h"
#include "service/config.h"

namespace tp {

class AuthService {
 public:
  static Result<std::unique_ptr<AuthService>> start(boost::asio::io_context& io, const TeleportConfig& config);
  AuthServer& server() { return *server_; }
  AuthApi& api() { return *api_; }
  // The auth host's own host identity (cert + key), also used by the in-process proxy.
  const std::string& host_cert_pem() const { return host_cert_pem_; }
  const std::string& host_key_pem() const { return host_key_pem_; }
  void stop();
  // Where API and web handlers run (password hashing, SQLite writes), off the io threads.
  boost::asio::thread_pool& workers() { return *workers_; }

 private:
  std::unique_ptr<AuthServer> server_;
  std::unique_ptr<AuthApi> api_;
  std::string host_cert_pem_, host_key_pem_;
  std::shared_ptr<void> listener_;  // keeps the acceptor alive
  // Declared last: destroyed (joined) first, while the server its handlers use still exists.
  static constexpr size_t kWorkers = 2;
  std::unique_ptr<boost::asio::thread_pool> workers_ = std::make_unique<boost::asio::thread_pool>(kWorkers);
};

}  // namespace tp
