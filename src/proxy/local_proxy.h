// The client side of TLS routing: a listener on the user's machine that carries each local
// connection to the proxy's web port inside TLS with ALPN teleport-postgres / teleport-mysql,
// presenting the user's database certificate (`tsh proxy db`, and `tsh db connect` when the proxy has
// no native listener). The local client then needs no certificates of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/strings.h"

namespace boost::asio {
class io_context;
}

namespace tp::proxy {

struct LocalProxyCredentials {
  std::string cert_pem;  // "" to present none (the local client brings its own TLS layer)
  std::string key_pem;
};

struct LocalProxyConfig {
  HostPort listen{"127.0.0.1", 0};  // port 0: pick a free one
  HostPort proxy_addr;              // the proxy's web port
  std::string protocol;             // "postgres" or "mysql": the ALPN to ask for and the error format
  std::vector<std::string> ca_pems;  // to verify the proxy; empty: system roots
  bool insecure = false;
  std::string server_name;  // expected in the proxy's certificate; "" means proxy_addr.host
  // Called for every new local connection, on the proxy's io thread; may renew an expired
  // certificate (a blocking call is fine: this is a single user's local proxy). An error is sent to
  // the local client in its protocol.
  std::function<Result<LocalProxyCredentials>()> credentials;
};

class LocalProxy {
 public:
  virtual ~LocalProxy() = default;
  virtual uint16_t port() const = 0;
  virtual void stop() = 0;
};

// Listens at once (so a client can connect as soon as this returns) and serves on `io`, which one
// thread must run (its connections share it without strands).
Result<std::shared_ptr<LocalProxy>> start_local_proxy(boost::asio::io_context& io, LocalProxyConfig config);

}  // namespace tp::proxy
