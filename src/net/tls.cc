#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

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

void free_alpn_wire(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(ptr); }

int alpn_ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_alpn_wire);
  return index;
}

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

}  // namespace

void no_resumption(ssl::context& ctx) {
  // Resumption would skip client-certificate checks, and none of our clients resume: a TLS 1.3
  // server would otherwise encrypt and send two session tickets on every connection for nothing.
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
    // The wire list must live as long as the context: it is kept in the context's ex_data, whose
    // free callback deletes it when OpenSSL frees the context.
    auto* wire = new std::string(encode_alpn(config.alpn));
    SSL_CTX_set_ex_data(ctx.native_handle(), alpn_ex_index(), wire);
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
