#include "crypto/internal/identity_codec.h"

#include <nlohmann/json.hpp>

#include "crypto/internal/openssl.h"

namespace tp::crypto_internal {

using nlohmann::json;

namespace {

constexpr const char* kNoIdentity = "certificate carries no teleport identity";

const char* kind_name(IdentityKind k) { return k == IdentityKind::kHost ? "host" : "user"; }

// Field readers for identity_from_json: each names the key that is wrong.
Result<std::string> read_string(const json& obj, const char* key, bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return invalid_argument(std::string("identity: missing \"") + key + "\"");
    return std::string();
  }
  if (!it->is_string()) return invalid_argument(std::string("identity: \"") + key + "\" must be a string");
  return it->get<std::string>();
}

Result<std::vector<std::string>> read_string_list(const json& v, const std::string& what) {
  if (!v.is_array()) return invalid_argument("identity: " + what + " must be a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) return invalid_argument("identity: " + what + " must be a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

Result<std::string> identity_to_json(const Identity& id) {
  json j = json::object();
  j["kind"] = kind_name(id.kind);
  j["username"] = id.username;
  j["roles"] = id.roles;
  json traits = json::object();
  for (const auto& [name, values] : id.traits) traits[name] = values;
  j["traits"] = std::move(traits);
  if (id.route) {
    j["route"] = json{{"service_name", id.route->service_name},
                      {"protocol", id.route->protocol},
                      {"username", id.route->username},
                      {"database", id.route->database}};
  }
  j["cluster_name"] = id.cluster_name;
  try {
    return j.dump();  // strict: throws on invalid UTF-8 rather than altering a name
  } catch (const json::exception&) {
    return invalid_argument("identity contains text that is not valid UTF-8");
  }
}

Result<Identity> identity_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("identity: not a JSON object");

  Identity id;
  TP_TRY(std::string kind, read_string(j, "kind", true));
  if (kind == "user") {
    id.kind = IdentityKind::kUser;
  } else if (kind == "host") {
    id.kind = IdentityKind::kHost;
  } else {
    return invalid_argument("identity: unknown kind \"" + kind + "\" (want \"user\" or \"host\")");
  }
  TP_TRY(id.username, read_string(j, "username", true));
  TP_TRY(id.cluster_name, read_string(j, "cluster_name", true));
  if (auto it = j.find("roles"); it != j.end()) {
    TP_TRY(id.roles, read_string_list(*it, "\"roles\""));
  }
  if (auto it = j.find("traits"); it != j.end()) {
    if (!it->is_object()) return invalid_argument("identity: \"traits\" must be an object");
    for (const auto& [name, values] : it->items()) {
      TP_TRY(id.traits[name], read_string_list(values, "trait \"" + name + "\""));
    }
  }
  if (auto it = j.find("route"); it != j.end()) {
    if (!it->is_object()) return invalid_argument("identity: \"route\" must be an object");
    DatabaseRoute r;
    TP_TRY(r.service_name, read_string(*it, "service_name", true));
    TP_TRY(r.protocol, read_string(*it, "protocol", true));
    TP_TRY(r.username, read_string(*it, "username", false));
    TP_TRY(r.database, read_string(*it, "database", false));
    id.route = std::move(r);
  }
  return id;
}

Status add_identity_extension(X509* cert, const Identity& id) {
  TP_TRY(std::string text, identity_to_json(id));

  // extnValue = DER(UTF8String(json)).
  Asn1StringPtr utf8(ASN1_UTF8STRING_new());
  if (!utf8 || ASN1_STRING_set(utf8.get(), text.data(), static_cast<int>(text.size())) != 1) {
    return openssl_error(ErrorCode::kInternal, "encoding identity");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ASN1_UTF8STRING(utf8.get(), &der);
  if (der_len <= 0) return openssl_error(ErrorCode::kInternal, "encoding identity");
  Asn1StringPtr octets(ASN1_OCTET_STRING_new());
  int set_ok = octets ? ASN1_OCTET_STRING_set(octets.get(), der, der_len) : 0;
  OPENSSL_free(der);
  if (set_ok != 1) return openssl_error(ErrorCode::kInternal, "encoding identity");

  Asn1ObjectPtr oid(OBJ_txt2obj(kIdentityExtensionOid, /*no_name=*/1));
  if (!oid) return openssl_error(ErrorCode::kInternal, "parsing the identity extension OID");
  X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), /*crit=*/0, octets.get()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_error(ErrorCode::kInternal, "adding the identity extension");
  }
  return {};
}

Result<Identity> read_identity_extension(const X509* cert) {
  Asn1ObjectPtr oid(OBJ_txt2obj(kIdentityExtensionOid, /*no_name=*/1));
  if (!oid) return openssl_error(ErrorCode::kInternal, "parsing the identity extension OID");
  int idx = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  if (idx < 0) return invalid_argument(kNoIdentity);
  if (X509_get_ext_by_OBJ(cert, oid.get(), idx) >= 0) {
    return invalid_argument("certificate carries more than one teleport identity");
  }
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
  const unsigned char* p = ASN1_STRING_get0_data(value);
  const unsigned char* end = p + ASN1_STRING_length(value);
  Asn1StringPtr utf8(d2i_ASN1_UTF8STRING(nullptr, &p, ASN1_STRING_length(value)));
  if (!utf8 || p != end) {
    return openssl_error(ErrorCode::kInvalidArgument, "certificate's teleport identity is not a UTF8String");
  }
  std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(utf8.get())),
                        static_cast<size_t>(ASN1_STRING_length(utf8.get())));
  auto id = identity_from_json(text);
  if (!id.ok()) return id.error().wrap("certificate's teleport identity is malformed");
  TP_TRY(id->expires, asn1_time_to_timepoint(X509_get0_notAfter(cert)));
  return id;
}

}  // namespace tp::crypto_internal
