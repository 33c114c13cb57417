#include "aws/rds_auth_token.h"

#include <algorithm>

#include "aws/endpoint.h"

namespace tp::aws {

std::string generate_rds_auth_token(const std::string& host, uint16_t port, const std::string& region,
                                    const std::string& db_user, const Credentials& creds, TimePoint now) {
  // botocore builds "https://host:port", signs the Host header it derives from that URL
  // (lowercase, port dropped when it is 443) and strips "https://" from the presigned URL.
  std::string host_port = host + ":" + std::to_string(port);
  Url url{"https", host, port, "/"};
  SigningRequest req;
  req.method = "GET";
  req.path = "/";
  req.query = {{"Action", "connect"}, {"DBUser", db_user}};
  req.headers = {{"host", url.host_header()}};
  SigningOptions options;
  options.expires = kRdsTokenLifetime;
  SignedRequest signed_req = presign_request(req, creds, {region, "rds-db"}, now, options);
  return host_port + "/?" + encode_query_string(signed_req.request.query);
}

std::string RdsTokenCache::get(const RdsTokenRequest& req, const Credentials& creds) {
  TimePoint now = clock_.now();
  Key key{req.host, req.port, req.region, req.db_user, creds.access_key_id};
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (it->second.valid_until - now >= kRdsTokenMinRemaining) return it->second.token;
  }
  // Drop what can no longer be served so the map stays as small as the set of live routes.
  std::erase_if(entries_, [&](const auto& e) { return e.second.valid_until - now < kRdsTokenMinRemaining; });
  // Sign with a whole-second clock: the token's X-Amz-Date has second precision.
  TimePoint signed_at = std::chrono::time_point_cast<std::chrono::seconds>(now);
  TimePoint valid_until = signed_at + kRdsTokenLifetime;
  if (creds.expiration) valid_until = std::min(valid_until, *creds.expiration);
  std::string token = generate_rds_auth_token(req, creds, signed_at);
  entries_[key] = Entry{token, valid_until};
  return token;
}

size_t RdsTokenCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace tp::aws
