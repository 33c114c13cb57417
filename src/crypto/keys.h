// ECDSA P-256 keys (the only key type the cluster issues).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace tp {

class PrivateKey {
 public:
  static Result<PrivateKey> generate();  // ECDSA P-256
  static Result<PrivateKey> from_pem(const std::string& pem);

  std::string to_pem() const;             // PKCS#8 PEM
  std::string public_key_pem() const;     // SubjectPublicKeyInfo PEM
  EVP_PKEY* get() const { return key_.get(); }

 private:
  struct Free { void operator()(EVP_PKEY* k) const; };
  std::shared_ptr<EVP_PKEY> key_;
};

// Signs data with ECDSA-SHA256 / verifies it; used for tokens where a cert is too much.
Result<std::string> sign_sha256(const PrivateKey& key, const std::string& data);
Status verify_sha256(const std::string& public_key_pem, const std::string& data, const std::string& signature);

}  // namespace tp
