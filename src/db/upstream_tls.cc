#include "db/upstream_tls.h"

#include <openssl/x509v3.h>

#include "common/strings.h"
#include "net/tls.h"

namespace tp::db {

namespace ssl = boost::asio::ssl;

namespace {
// Remembers, per connection, that the database's own certificate has no
// subjectAltName: after a failed handshake the peer certificate is gone.
int legacy_cn_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int note_legacy_cn(int preverify_ok, X509_STORE_CTX* store) {
  if (!preverify_ok && X509_STORE_CTX_get_error_depth(store) == 0) {
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (cert && ssl && X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) < 0)
      SSL_set_ex_data(ssl, legacy_cn_index(), reinterpret_cast<void*>(1));
  }
  return preverify_ok;
}
}  // namespace

Result<std::unique_ptr<UpstreamTls>> UpstreamTls::for_database(const Database& db) {
  TP_TRY(auto hp, parse_host_port(db.uri));
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  net::release_idle_buffers(ctx);
  const std::string& mode = db.tls.mode.empty() ? std::string("verify-full") : db.tls.mode;
  if (mode == "insecure") {
    ctx.set_verify_mode(ssl::verify_none);
  } else {
    boost::system::error_code ec;
    if (!db.tls.ca_cert_file.empty()) {
      ctx.load_verify_file(db.tls.ca_cert_file, ec);
      if (ec)
        return invalid_argument("database \"" + db.name + "\": cannot load tls.ca_cert_file " +
                                db.tls.ca_cert_file + ": " + ec.message());
    } else {
      ctx.set_default_verify_paths(ec);
    }
    ctx.set_verify_mode(ssl::verify_peer);
  }
  std::unique_ptr<UpstreamTls> out(new UpstreamTls(std::move(ctx)));
  out->db_name_ = db.name;
  out->mode_ = mode;
  out->server_name_ = db.tls.server_name.empty() ? hp.host : db.tls.server_name;
  return out;
}

Status UpstreamTls::prepare(SSL* ssl) const {
  if (mode_ != "insecure") SSL_set_verify(ssl, SSL_VERIFY_PEER, note_legacy_cn);
  return net::expect_server_name(ssl, server_name_, mode_ == "verify-full");
}

std::string UpstreamTls::describe_failure(SSL* ssl, const std::string& fallback) const {
  long verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_OK || mode_ == "insecure") return fallback;
  std::string why = X509_verify_cert_error_string(verify);
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    // RDS databases created before 28 July 2020 present certificates with a Common Name only.
    if (SSL_get_ex_data(ssl, legacy_cn_index()) != nullptr)
      return "x509: certificate relies on legacy Common Name field, use SANs instead: database \"" + db_name_ +
             "\" presents a certificate without subjectAltName, as RDS databases created before July 28, 2020 "
             "do; rotate the database's SSL/TLS certificate (AWS documents how) or set tls.mode: verify-ca";
  }
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
    return "the database's certificate is not valid for \"" + server_name_ + "\" (" + why +
           "); set tls.server_name for database \"" + db_name_ + "\" to a name in the certificate";
  return "the database's certificate did not verify (" + why + "); check tls.ca_cert_file for database \"" +
         db_name_ + "\"";
}

}  // namespace tp::db
