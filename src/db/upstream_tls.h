// TLS to the real database, per db_service.databases[].tls (DESIGN section 2,
// step 6): verify-full checks the chain against ca_cert_file (or the system
// roots) and the server name (tls.server_name, else the uri's host, which may
// be an IP address); verify-ca checks only the chain; insecure checks nothing.
// Asio-heavy: include from .cc files only.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <map>
#include <memory>
#include <string>

#include "auth/types.h"
#include "common/result.h"

namespace tp::db {

class UpstreamTls {
 public:
  // Reads the CA bundle once; errors name the database and the file.
  static Result<std::unique_ptr<UpstreamTls>> for_database(const Database& db);

  boost::asio::ssl::context& context() { return context_; }
  // Sets SNI and the name to verify on a new connection's SSL object.
  Status prepare(SSL* ssl) const;
  // Why the handshake failed, from the SSL object's verify result.
  std::string describe_failure(SSL* ssl, const std::string& fallback) const;

 private:
  explicit UpstreamTls(boost::asio::ssl::context ctx) : context_(std::move(ctx)) {}

  boost::asio::ssl::context context_;
  std::string db_name_;
  std::string mode_;
  std::string server_name_;  // sent as SNI (unless an IP address); checked in verify-full
};

// One per configured database, built at start.
using UpstreamTlsMap = std::map<std::string, std::unique_ptr<UpstreamTls>>;

}  // namespace tp::db
