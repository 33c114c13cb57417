#include "db/postgres/cancel_registry.h"

namespace tp::db {

CancelKey CancelRegistry::issue(CancelTarget target) {
  std::lock_guard lock(mu_);
  while (true) {
    CancelKey key;
    // Positive like a real backend pid: some clients print or parse it.
    key.process_id = static_cast<int32_t>(rng_.u32() & 0x7fffffff);
    key.secret_key = static_cast<int32_t>(rng_.u32());
    if (key.process_id == 0 || targets_.count(key)) continue;
    targets_.emplace(key, std::move(target));
    return key;
  }
}

void CancelRegistry::release(const CancelKey& client_key) {
  std::lock_guard lock(mu_);
  targets_.erase(client_key);
}

std::optional<CancelTarget> CancelRegistry::find(const CancelKey& client_key) const {
  std::lock_guard lock(mu_);
  auto it = targets_.find(client_key);
  if (it == targets_.end()) return std::nullopt;
  return it->second;
}

size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return targets_.size();
}

}  // namespace tp::db
