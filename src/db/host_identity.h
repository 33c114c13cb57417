// The agent's host identity: its key, the host certificate the cluster issued
// when it joined, and the CAs it trusts. Stored under <data_dir>/db/ so a
// restart reuses it instead of spending another join token (DESIGN section 3).
//
//   <data_dir>/host_uuid          the agent's stable id (created on first start)
//   <data_dir>/db/key.pem         private key (0600)
//   <data_dir>/db/cert.pem        host certificate (role Db)
//   <data_dir>/db/host_cas.pem    verify the proxy
//   <data_dir>/db/user_cas.pem    verify users' database certificates
//   <data_dir>/db/db_ca.pem       the db CA (self-hosted databases trusting it)
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/rng.h"

namespace tp::db {

struct HostIdentity {
  std::string host_id;
  std::string key_pem;
  std::string cert_pem;
  std::vector<std::string> host_ca_pems;
  std::vector<std::string> user_ca_pems;
  std::string db_ca_pem;
  TimePoint not_before{};
  TimePoint expires{};
};

// "<data_dir>/db"
std::string identity_dir(const std::string& data_dir);

// The id in <data_dir>/host_uuid, or a new random UUID (v4) written there.
Result<std::string> load_or_create_host_id(const std::string& data_dir, Rng& rng);
// A random RFC 4122 version 4 UUID, e.g. "0b2c8f8e-4c1a-4d55-9a5e-3f1f0c0d2a11".
std::string new_uuid(Rng& rng);

// kNotFound when the agent never joined (no cert.pem); other errors mean a damaged store.
Result<HostIdentity> load_host_identity(const std::string& data_dir, const std::string& host_id);
Status save_host_identity(const std::string& data_dir, const HostIdentity& identity);

// Fills cert, CAs and validity from the join/renew answer ({cert, host_cas, user_cas, db_ca, ...}).
Status apply_issued_certs(HostIdentity& identity, const nlohmann::json& answer);

// The certificates of a PEM bundle, in order.
std::vector<std::string> split_pem_bundle(const std::string& text);

// Renew once two thirds of the certificate's lifetime have passed.
TimePoint renewal_time(const HostIdentity& identity);

// Checks that one of the host CAs matches one of the pins ("sha256:<hex>"). No
// pins: ok (the caller warns that the cluster was not authenticated).
Status check_ca_pins(const std::vector<std::string>& host_ca_pems, const std::vector<std::string>& pins);

}  // namespace tp::db
