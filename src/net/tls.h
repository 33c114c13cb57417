// TLS contexts for every hop (all mutual TLS, DESIGN section 3) and the peer
// identity a verified client certificate carries.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
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
// No session cache and no session tickets (set by make_server_context; resume_sessions_for below
// makes the exception).
void no_resumption(ssl::context& ctx);
// TLS 1.3 resumption (RFC 8446 section 2.2) for connections one client makes again and again to
// the same server, the agents' reverse tunnel connections: a resumed handshake skips parsing,
// verifying and signing certificates (in OpenSSL 3.0 parsing a certificate alone costs about as
// much as verifying it) but keeps a fresh ECDHE exchange (psk_dhe_ke), so forward secrecy stays.
// The session, and so the peer certificate, comes from the ticket: the server side must still
// check that certificate on every connection, as the proxy's verify_peer does.
//
// Server side: a TLS 1.3 connection whose ClientHello offers `alpn` as its only ALPN protocol
// (every connection, when `alpn` is empty) may resume with a session ticket, and gets one, valid
// for `lifetime`, when it made a full handshake; any other connection gets no ticket and cannot
// resume. Tickets are stateful: only a session id travels, and the sessions of full handshakes (at
// most 1024) stay in the context, their peer certificates decoded once.
void resume_sessions_for(ssl::context& ctx, const std::string& alpn, std::chrono::seconds lifetime);
// Client side: keeps the session of the last full handshake made with `ctx` (the server's ticket
// arrives after the handshake, on the connection's first read) for up to `lifetime`. Tickets from
// resumed handshakes are not kept, so a full handshake, with the server's certificate verified
// again, happens at least once per `lifetime`.
void remember_sessions(ssl::context& ctx, std::chrono::seconds lifetime);
// Offers the session remember_sessions kept, if any, on a connection about to handshake.
void offer_remembered_session(SSL* ssl);
// Whether the handshake resumed a session.
bool resumed(SSL* ssl);

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
