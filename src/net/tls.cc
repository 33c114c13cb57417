#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>

#include "crypto/certs.h"

namespace tp::net {
namespace {

Status add_cas(ssl::context& ctx, const std::vector<std::string>& pems) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.native_handle());
  for (const auto& pem : pems) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, x);
      X509_free(x);
    }
    ERR_clear_error();
    BIO_free(bio);
  }
  return {};
}

std::string encode_alpn(const std::vector<std::string>& protos) {
  std::string wire;
  for (const auto& p : protos) {
    wire.push_back(static_cast<char>(p.size()));
    wire.append(p);
  }
  return wire;
}

// A T that a context owns, in its ex_data: OpenSSL deletes it with the context.
template <class T>
struct ContextData {
  static int index() {
    static const int i = SSL_CTX_get_ex_new_index(
        0, nullptr, nullptr, nullptr,
        [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<T*>(ptr); });
    return i;
  }
  static T* get(SSL_CTX* ctx) { return static_cast<T*>(SSL_CTX_get_ex_data(ctx, index())); }
  // Replaces (and deletes) what the context held before.
  static T* attach(SSL_CTX* ctx, std::unique_ptr<T> value) {
    delete get(ctx);
    SSL_CTX_set_ex_data(ctx, index(), value.get());
    return value.release();
  }
};

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  // Server preference order: our list first.
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire->data()),
                            static_cast<unsigned>(wire->size()), in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no overlap: carry on without ALPN
}

Status use_key_pair(ssl::context& ctx, const std::string& cert_pem, const std::string& key_pem) {
  boost::system::error_code ec;
  ctx.use_certificate_chain(boost::asio::buffer(cert_pem), ec);
  if (ec) return invalid_argument("TLS certificate: " + ec.message());
  ctx.use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return invalid_argument("TLS private key: " + ec.message());
  return {};
}

// A server context's resumable sessions. Tickets are stateful: a ticket is only a session id, and
// the session, its peer certificate already decoded, waits here, so a resumed handshake decodes no
// certificate at all (a stateless ticket would carry the certificate to decode again).
struct SessionStore {
  std::string alpn_wire;  // the one ALPN protocol that may resume; empty: every connection
  size_t capacity = 0;
  std::mutex mu;
  std::map<std::string, SSL_SESSION*> sessions;  // by session id

  ~SessionStore() {
    for (auto& entry : sessions) SSL_SESSION_free(entry.second);
  }
};

SessionStore* session_store(SSL* ssl) {
  return ContextData<SessionStore>::get(SSL_get_SSL_CTX(ssl));
}

// Marks a connection as one that may resume and get a ticket (set by the ClientHello callback).
int resumable_ex_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool may_resume(SSL* ssl) {
  return SSL_get_ex_data(ssl, resumable_ex_index()) != nullptr;
}

// Runs before OpenSSL reads the ClientHello's extensions, so what it allows here decides both
// whether the session a ticket names is looked up and whether the connection gets a ticket.
int allow_tickets_for_alpn(SSL* ssl, int*, void*) {
  const SessionStore* store = session_store(ssl);
  if (!store) return SSL_CLIENT_HELLO_SUCCESS;
  if (!store->alpn_wire.empty()) {
    // The extension: a two-byte list length, then the list in wire form.
    const unsigned char* ext = nullptr;
    size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext, &len) != 1)
      return SSL_CLIENT_HELLO_SUCCESS;
    const std::string& wire = store->alpn_wire;
    if (len != 2 + wire.size() || std::memcmp(ext + 2, wire.data(), wire.size()) != 0)
      return SSL_CLIENT_HELLO_SUCCESS;
  }
  SSL_set_ex_data(ssl, resumable_ex_index(), reinterpret_cast<void*>(1));
  SSL_set_num_tickets(ssl, 1);
  return SSL_CLIENT_HELLO_SUCCESS;
}

std::string session_key(const unsigned char* id, size_t len) {
  return std::string(reinterpret_cast<const char*>(id), len);
}

bool expired(SSL_SESSION* session, time_t now) {
  return SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session) <= now;
}

// OpenSSL adds a session when it sends a ticket (TLS 1.3) or ends a full handshake (TLS 1.2). Only
// full TLS 1.3 handshakes of connections that may resume are kept: a resumed connection's ticket
// would name a session no client uses (the agent keeps the ticket of its last full handshake).
// The store keeps copies, and hands out copies: OpenSSL marks a connection's session as spent
// when the connection ends without a close_notify, as tunnel connections often do.
int store_session(SSL* ssl, SSL_SESSION* session) {
  SessionStore* store = session_store(ssl);
  if (!store || !may_resume(ssl) || SSL_version(ssl) != TLS1_3_VERSION || SSL_session_reused(ssl)) return 0;
  unsigned int len = 0;
  const unsigned char* id = SSL_SESSION_get_id(session, &len);
  const time_t now = time(nullptr);
  std::lock_guard lock(store->mu);
  for (auto it = store->sessions.begin(); it != store->sessions.end();) {
    if (!expired(it->second, now)) {
      ++it;
      continue;
    }
    SSL_SESSION_free(it->second);
    it = store->sessions.erase(it);
  }
  if (store->sessions.size() >= store->capacity) return 0;  // those clients make full handshakes
  SSL_SESSION* copy = SSL_SESSION_dup(session);
  if (!copy) return 0;
  if (!store->sessions.emplace(session_key(id, len), copy).second) SSL_SESSION_free(copy);
  return 0;  // OpenSSL keeps its reference
}

SSL_SESSION* find_session(SSL* ssl, const unsigned char* id, int len, int* copy) {
  *copy = 0;  // the copy returned is OpenSSL's
  SessionStore* store = session_store(ssl);
  if (!store || !may_resume(ssl) || len <= 0) return nullptr;
  std::lock_guard lock(store->mu);
  auto it = store->sessions.find(session_key(id, static_cast<size_t>(len)));
  // OpenSSL checks the session's age, version and context id.
  return it == store->sessions.end() ? nullptr : SSL_SESSION_dup(it->second);
}

struct RememberedSession {
  std::chrono::seconds lifetime{0};
  std::mutex mu;
  SSL_SESSION* session = nullptr;
  std::chrono::steady_clock::time_point received{};

  ~RememberedSession() { SSL_SESSION_free(session); }
};

RememberedSession* remembered(SSL_CTX* ctx) {
  return ContextData<RememberedSession>::get(ctx);
}

// OpenSSL's callback for each ticket a client receives. It keeps a copy: the session handed over
// stays the connection's, and OpenSSL marks a connection's session as not resumable when the
// connection ends without a close_notify, as tunnel connections often do.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  RememberedSession* memory = remembered(SSL_get_SSL_CTX(ssl));
  if (!memory || SSL_session_reused(ssl) || !SSL_SESSION_is_resumable(session)) return 0;
  SSL_SESSION* copy = SSL_SESSION_dup(session);
  if (!copy) return 0;
  std::lock_guard lock(memory->mu);
  SSL_SESSION_free(memory->session);
  memory->session = copy;
  memory->received = std::chrono::steady_clock::now();
  return 0;
}

// A resumed connection gets no ticket. Both ends would ignore it, after making and parsing it on
// every new session: the store keeps only full handshakes' sessions, and the client goes on offering
// the ticket of its last full handshake. Decided when the client's Finished has been read, just before
// OpenSSL chooses between sending tickets and ending the handshake: whether the connection resumed is settled
// by then, so a resumption that fell back to a full handshake still gets its ticket.
void no_ticket_when_resumed(const SSL* ssl, int where, int) {
  if ((where & SSL_CB_ACCEPT_LOOP) && SSL_get_state(ssl) == TLS_ST_SR_FINISHED &&
      SSL_session_reused(ssl) == 1)
    SSL_set_num_tickets(const_cast<SSL*>(ssl), 0);
}

}  // namespace

void resume_sessions_for(ssl::context& ctx, const std::string& alpn, std::chrono::seconds lifetime) {
  SSL_CTX* native = ctx.native_handle();
  auto* store = ContextData<SessionStore>::attach(native, std::make_unique<SessionStore>());
  store->alpn_wire = alpn.empty() ? std::string() : encode_alpn({alpn});
  store->capacity = 1024;
  // The context id marks sessions as this context's (OpenSSL refuses to resume a session, when it
  // asks for client certificates, without one).
  static const unsigned char kContextId[] = "tp-resume";
  SSL_CTX_set_session_id_context(native, kContextId, sizeof kContextId - 1);
  SSL_CTX_set_timeout(native, static_cast<long>(lifetime.count()));
  // SSL_OP_NO_TICKET stays set: with it, TLS 1.3 tickets are stateful (a session id).
  SSL_CTX_set_session_cache_mode(
      native, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL | SSL_SESS_CACHE_NO_AUTO_CLEAR);
  SSL_CTX_sess_set_new_cb(native, store_session);
  SSL_CTX_sess_set_get_cb(native, find_session);
  SSL_CTX_set_client_hello_cb(native, allow_tickets_for_alpn, nullptr);
  SSL_CTX_set_info_callback(native, no_ticket_when_resumed);
}

void remember_sessions(ssl::context& ctx, std::chrono::seconds lifetime) {
  SSL_CTX* native = ctx.native_handle();
  ContextData<RememberedSession>::attach(native, std::make_unique<RememberedSession>())->lifetime = lifetime;
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(native, on_new_session);
}

void offer_remembered_session(SSL* ssl) {
  RememberedSession* memory = remembered(SSL_get_SSL_CTX(ssl));
  if (!memory) return;
  std::lock_guard lock(memory->mu);
  if (!memory->session) return;
  if (std::chrono::steady_clock::now() - memory->received >= memory->lifetime) {
    SSL_SESSION_free(memory->session);
    memory->session = nullptr;
    return;
  }
  // Each connection gets a copy, which OpenSSL may mark as spent when that connection ends badly.
  if (SSL_SESSION* copy = SSL_SESSION_dup(memory->session)) {
    SSL_set_session(ssl, copy);  // takes its own reference
    SSL_SESSION_free(copy);
  }
}

bool resumed(SSL* ssl) {
  return SSL_session_reused(ssl) == 1;
}

void no_resumption(ssl::context& ctx) {
  // Resumption skips OpenSSL's client-certificate checks, and only agents' tunnel connections resume
  // (resume_sessions_for turns it on for them): a TLS 1.3 server would otherwise encrypt and send
  // two session tickets on every connection for nothing.
  SSL_CTX_set_session_cache_mode(ctx.native_handle(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx.native_handle(), 0);
}

void release_idle_buffers(ssl::context& ctx) {
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
}

void send_chain_as_given(ssl::context& ctx) {
  // Without this OpenSSL rebuilds our own chain from the context's trust store in every handshake,
  // verifying our own certificate's signature each time. Certificates here are issued by the
  // cluster's CAs, which every peer already has; a chain in the PEM is still sent.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_NO_AUTO_CHAIN);
}

void prefer_aes128(ssl::context& ctx, bool server) {
  // AES-128-GCM first, as Go's TLS stack (and so Teleport) orders TLS 1.3 suites: it encrypts about a
  // third faster than OpenSSL's default first choice, AES-256-GCM, and every byte of a session is
  // encrypted and decrypted at two or four of our endpoints. A server picks by its own order, so
  // libpq's and mariadb's AES-256-first offers get AES-128 too.
  SSL_CTX_set_ciphersuites(ctx.native_handle(),
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  if (server) SSL_CTX_set_options(ctx.native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
}

Result<ssl::context> make_server_context(const TlsServerConfig& config) {
  ssl::context ctx(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  release_idle_buffers(ctx);
  send_chain_as_given(ctx);
  prefer_aes128(ctx, true);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::single_dh_use);
  TP_CHECK(use_key_pair(ctx, config.cert_pem, config.key_pem));
  if (!config.client_ca_pems.empty()) {
    TP_CHECK(add_cas(ctx, config.client_ca_pems));
    int mode = SSL_VERIFY_PEER;
    if (config.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx.native_handle(), mode, nullptr);
  }
  no_resumption(ctx);
  if (!config.alpn.empty()) {
    // The wire list must live as long as the context, which owns it.
    auto* wire = ContextData<std::string>::attach(ctx.native_handle(),
                                                  std::make_unique<std::string>(encode_alpn(config.alpn)));
    SSL_CTX_set_alpn_select_cb(ctx.native_handle(), select_alpn, wire);
  }
  return ctx;
}

Result<ssl::context> make_client_context(const TlsClientConfig& config) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  release_idle_buffers(ctx);
  send_chain_as_given(ctx);
  prefer_aes128(ctx, false);
  if (!config.cert_pem.empty()) TP_CHECK(use_key_pair(ctx, config.cert_pem, config.key_pem));
  if (config.insecure_skip_verify) {
    ctx.set_verify_mode(ssl::verify_none);
  } else {
    if (config.ca_pems.empty()) {
      ctx.set_default_verify_paths();
    } else {
      TP_CHECK(add_cas(ctx, config.ca_pems));
    }
    ctx.set_verify_mode(ssl::verify_peer);
  }
  if (!config.alpn.empty()) {
    std::string wire = encode_alpn(config.alpn);
    SSL_CTX_set_alpn_protos(ctx.native_handle(), reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
  }
  return ctx;
}

Status expect_server_name(SSL* ssl, const std::string& name, bool verify) {
  if (name.empty()) return {};
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  const bool ip = !ec;
  if (!ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return internal_error("setting TLS server name " + name);
  if (!verify) return {};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
  if (ok != 1) return internal_error("setting the TLS name to verify: " + name);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return {};
}

std::string negotiated_alpn(SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string(reinterpret_cast<const char*>(data), len) : std::string();
}

std::string peer_cert_pem(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

Result<Identity> peer_identity(SSL* ssl) {
  if (SSL_get_verify_result(ssl) != X509_V_OK)
    return unauthenticated("client certificate did not verify");
  std::string pem = peer_cert_pem(ssl);
  if (pem.empty()) return unauthenticated("no client certificate; run 'tsh login' first");
  return identity_from_cert_pem(pem);
}

}  // namespace tp::net
