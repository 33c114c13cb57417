#include "db/host_identity.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/strings.h"
#include "crypto/certs.h"

namespace tp::db {
namespace {

constexpr const char* kEndCert = "-----END CERTIFICATE-----";

}  // namespace

// A bundle file holds several PEM certificates back to back.
std::vector<std::string> split_pem_bundle(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t begin = text.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos) break;
    size_t end = text.find(kEndCert, begin);
    if (end == std::string::npos) break;
    end += std::string(kEndCert).size();
    out.push_back(text.substr(begin, end - begin) + "\n");
    pos = end;
  }
  return out;
}

namespace {

std::string join_pems(const std::vector<std::string>& pems) {
  std::string out;
  for (const auto& p : pems) out += ends_with(p, "\n") ? p : p + "\n";
  return out;
}

Result<TimePoint> cert_not_before(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return invalid_argument("host certificate: not a PEM certificate");
  std::tm tm{};
  int ok = ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm);
  X509_free(cert);
  if (!ok) return invalid_argument("host certificate: unreadable notBefore");
  return from_unix_seconds(timegm(&tm));
}

Result<std::vector<std::string>> string_list(const nlohmann::json& answer, const char* key) {
  if (!answer.contains(key) || !answer[key].is_array())
    return invalid_argument(std::string("join answer: missing \"") + key + "\"");
  std::vector<std::string> out;
  for (const auto& v : answer[key])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

}  // namespace

std::string identity_dir(const std::string& data_dir) {
  return data_dir + "/db";
}

std::string new_uuid(Rng& rng) {
  auto b = rng.bytes(16);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex = to_hex(b.data(), b.size());
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

Result<std::string> load_or_create_host_id(const std::string& data_dir, Rng& rng) {
  std::string path = data_dir + "/host_uuid";
  if (file_exists(path)) {
    TP_TRY(auto text, read_file(path));
    std::string id = trim(text);
    if (!id.empty()) return id;
  }
  TP_CHECK(make_dirs(data_dir, 0700));
  std::string id = new_uuid(rng);
  TP_CHECK(write_file_atomic(path, id + "\n", 0600));
  return id;
}

Result<HostIdentity> load_host_identity(const std::string& data_dir, const std::string& host_id) {
  std::string dir = identity_dir(data_dir);
  if (!file_exists(dir + "/cert.pem")) return not_found("no stored host identity in " + dir);
  HostIdentity id;
  id.host_id = host_id;
  auto read = [&](const char* name) -> Result<std::string> {
    auto text = read_file(dir + "/" + name);
    if (!text.ok())
      return text.error().wrap("the stored host identity in " + dir +
                               " is incomplete; remove that folder and join again with a new token");
    return text;
  };
  TP_TRY(id.cert_pem, read("cert.pem"));
  TP_TRY(id.key_pem, read("key.pem"));
  TP_TRY(auto host_cas, read("host_cas.pem"));
  TP_TRY(auto user_cas, read("user_cas.pem"));
  id.host_ca_pems = split_pem_bundle(host_cas);
  id.user_ca_pems = split_pem_bundle(user_cas);
  if (file_exists(dir + "/db_ca.pem")) {
    TP_TRY(id.db_ca_pem, read("db_ca.pem"));
  }
  TP_TRY(auto identity, identity_from_cert_pem(id.cert_pem));
  if (identity.username != host_id)
    return invalid_argument("the stored host certificate in " + dir + " is for host " + identity.username +
                            ", not " + host_id + "; remove that folder and join again");
  TP_TRY(id.expires, cert_expiry(id.cert_pem));
  TP_TRY(id.not_before, cert_not_before(id.cert_pem));
  return id;
}

Status save_host_identity(const std::string& data_dir, const HostIdentity& id) {
  std::string dir = identity_dir(data_dir);
  TP_CHECK(make_dirs(dir, 0700));
  // The certificate goes last: its presence marks a complete identity.
  TP_CHECK(write_file_atomic(dir + "/key.pem", id.key_pem, 0600));
  TP_CHECK(write_file_atomic(dir + "/host_cas.pem", join_pems(id.host_ca_pems), 0644));
  TP_CHECK(write_file_atomic(dir + "/user_cas.pem", join_pems(id.user_ca_pems), 0644));
  if (!id.db_ca_pem.empty()) TP_CHECK(write_file_atomic(dir + "/db_ca.pem", id.db_ca_pem, 0644));
  TP_CHECK(write_file_atomic(dir + "/cert.pem", id.cert_pem, 0644));
  return {};
}

Status apply_issued_certs(HostIdentity& id, const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.contains("cert") || !answer["cert"].is_string())
    return invalid_argument("join answer: missing \"cert\"");
  std::string cert = answer["cert"].get<std::string>();
  TP_TRY(auto host_cas, string_list(answer, "host_cas"));
  TP_TRY(auto user_cas, string_list(answer, "user_cas"));
  if (host_cas.empty() || user_cas.empty())
    return invalid_argument("join answer: no certificate authorities");
  TP_TRY(auto identity, identity_from_cert_pem(cert));
  if (identity.kind != IdentityKind::kHost || identity.username != id.host_id)
    return invalid_argument("join answer: the certificate is not for this host (" + identity.username + ")");
  TP_TRY(auto expires, cert_expiry(cert));
  TP_TRY(auto not_before, cert_not_before(cert));
  id.cert_pem = std::move(cert);
  id.host_ca_pems = std::move(host_cas);
  id.user_ca_pems = std::move(user_cas);
  id.db_ca_pem = answer.value("db_ca", "");
  id.expires = expires;
  id.not_before = not_before;
  return {};
}

TimePoint renewal_time(const HostIdentity& id) {
  return id.not_before + (id.expires - id.not_before) * 2 / 3;
}

Status check_ca_pins(const std::vector<std::string>& host_ca_pems, const std::vector<std::string>& pins) {
  if (pins.empty()) return {};
  std::vector<std::string> seen;
  for (const auto& ca : host_ca_pems) {
    TP_TRY(auto pin, ca_pin(ca));
    for (const auto& want : pins)
      if (constant_time_equal(to_lower(trim(want)), pin)) return {};
    seen.push_back(pin);
  }
  return unauthenticated(
      "the cluster's host CA (" + join(seen, ", ") +
      ") matches none of teleport.ca_pin; check the pin with 'tctl status' on the auth host");
}

}  // namespace tp::db
