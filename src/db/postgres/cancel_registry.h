// PostgreSQL cancel keys (PostgreSQL "Message Flow" -> "Canceling Requests in
// Progress"). A client never sees the upstream server's BackendKeyData: the
// agent gives it a random key of its own and keeps the mapping here, agent-wide,
// so a CancelRequest arriving on any later connection reaches the right backend.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/rng.h"
#include "common/strings.h"

namespace tp::db {

struct CancelKey {
  int32_t process_id = 0;
  int32_t secret_key = 0;
  auto operator<=>(const CancelKey&) const = default;
};

struct CancelTarget {
  HostPort upstream;  // the database server to send the real CancelRequest to
  CancelKey upstream_key;
  std::string db_name;
  std::string user;  // the Teleport user whose session it is
  std::string sid;
};

class CancelRegistry {
 public:
  explicit CancelRegistry(Rng& rng) : rng_(rng) {}

  // Registers a session's upstream key and returns the key its client sees:
  // random, positive process id, never one already in use.
  CancelKey issue(CancelTarget target);
  void release(const CancelKey& client_key);
  std::optional<CancelTarget> find(const CancelKey& client_key) const;
  size_t size() const;

 private:
  Rng& rng_;
  mutable std::mutex mu_;
  std::map<CancelKey, CancelTarget> targets_;
};

}  // namespace tp::db
