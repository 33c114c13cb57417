// The transport's https path against a loopback OpenSSL server with a throwaway self-signed
// certificate: success with the certificate as CA file, failure on a name mismatch or an
// untrusted issuer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "aws/http_transport.h"
#include "common/strings.h"

namespace tp::aws {
namespace {

using namespace std::chrono_literals;

struct SelfSigned {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~SelfSigned() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

// A P-256 certificate for CN=127.0.0.1 with subjectAltName IP:127.0.0.1, valid for an hour.
void make_self_signed(SelfSigned& out) {
  out.key = EVP_EC_gen("P-256");
  ASSERT_NE(out.key, nullptr);
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 3600);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"),
                             -1, -1, 0);
  X509_set_issuer_name(out.cert, name);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, out.cert, out.cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(out.cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  ASSERT_GT(X509_sign(out.cert, out.key, EVP_sha256()), 0);
}

class TlsServer {
 public:
  explicit TlsServer(const SelfSigned& id) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, id.cert);
    SSL_CTX_use_PrivateKey(ctx_, id.key);
    // Records the SNI the client sent, even when the handshake later fails.
    SSL_CTX_set_tlsext_servername_callback(
        ctx_, +[](SSL* ssl, int*, void* arg) {
          if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
            *static_cast<std::string*>(arg) = name;
          }
          return SSL_TLSEXT_ERR_OK;
        });
    SSL_CTX_set_tlsext_servername_arg(ctx_, &sni);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve_one(); });
  }
  ~TlsServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  std::string sni;

 private:
  void serve_one() {
    int conn = ::accept(fd_, nullptr, nullptr);
    if (conn < 0) return;
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, conn);
    if (SSL_accept(ssl) == 1) {
      char buf[4096];
      SSL_read(ssl, buf, sizeof buf);
      std::string res = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure";
      SSL_write(ssl, res.data(), static_cast<int>(res.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ::close(conn);
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make_self_signed(id_);
    char tmpl[] = "/tmp/tp-aws-ca-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ca_file_ = tmpl;
    FILE* f = fdopen(fd, "w");
    PEM_write_X509(f, id_.cert);
    fclose(f);
  }
  void TearDown() override { std::filesystem::remove(ca_file_); }

  SelfSigned id_;
  std::string ca_file_;
};

TEST_F(TlsTransportTest, VerifiesAgainstTheGivenCaFile) {
  TlsServer server(id_);
  auto res = make_http_transport({ca_file_})
                 ->send({"GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/", {}, ""}, 3000ms);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "secure");
  EXPECT_EQ(server.sni, "") << "no SNI for an IP address (RFC 6066 section 3)";
}

TEST_F(TlsTransportTest, RejectsANameTheCertificateDoesNotCover) {
  TlsServer server(id_);
  auto res = make_http_transport({ca_file_})
                 ->send({"GET", "https://localhost:" + std::to_string(server.port()) + "/", {}, ""}, 3000ms);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("TLS"), std::string::npos) << res.error().message;
  EXPECT_EQ(server.sni, "localhost");
}

TEST_F(TlsTransportTest, RejectsAnUntrustedIssuer) {
  TlsServer server(id_);
  auto res = make_http_transport()->send(  // system CAs only
      {"GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/", {}, ""}, 3000ms);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("TLS handshake"), std::string::npos) << res.error().message;
}

}  // namespace
}  // namespace tp::aws
