// TLS contexts for every hop (all mutual TLS, DESIGN section 3) and the peer
// identity a verified client certificate carries.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/identity.h"

namespace tp::net {

namespace ssl = boost::asio::ssl;

struct TlsServerConfig {
  std::string cert_pem;                   // leaf (+ chain)
  std::string key_pem;
  std::vector<std::string> client_ca_pems;  // empty: no client certs asked for
  bool require_client_cert = false;        // with CAs: false means "verify if presented"
  std::vector<std::string> alpn;           // protocols we accept, in preference order
};

struct TlsClientConfig {
  std::string cert_pem;  // empty: no client certificate
  std::string key_pem;
  std::vector<std::string> ca_pems;  // trust anchors; empty means system roots
  bool insecure_skip_verify = false;
  std::string server_name;           // SNI and hostname check; empty: no hostname check
  std::vector<std::string> alpn;
};

Result<ssl::context> make_server_context(const TlsServerConfig& config);
// Connections from these contexts free OpenSSL's record buffers (~34 KiB)
// while idle: a proxy holds thousands of mostly idle sessions. Set by the two
// make_*_context functions; for contexts built elsewhere.
void release_idle_buffers(ssl::context& ctx);
Result<ssl::context> make_client_context(const TlsClientConfig& config);
// Sends the certificate chain as configured instead of rebuilding it in every handshake (set by
// both make_*_context functions).
void send_chain_as_given(ssl::context& ctx);
// No session cache and no session tickets (set by make_server_context).
void no_resumption(ssl::context& ctx);
// TLS 1.3 suites in the order AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; a server also picks by
// its own order, not the client's (set by both make_*_context functions).
void prefer_aes128(ssl::context& ctx, bool server);

// Sends `name` as SNI (unless it is an IP address) and, with `verify`, makes the handshake fail
// unless the server's certificate is valid for it (DNS name or IP address).
Status expect_server_name(SSL* ssl, const std::string& name, bool verify);

// The ALPN protocol the handshake settled on ("" when none).
std::string negotiated_alpn(SSL* ssl);

// The identity of the verified peer certificate, if the peer sent one.
Result<Identity> peer_identity(SSL* ssl);
// The peer certificate as PEM ("" when none).
std::string peer_cert_pem(SSL* ssl);

}  // namespace tp::net
