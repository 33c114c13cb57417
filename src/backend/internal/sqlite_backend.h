// Knobs of the SQLite backend that production leaves at their defaults and
// tests turn (a small watch queue, no background purge thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/internal/event_fanout.h"

namespace tp::backend_internal {

struct SqliteBackendOptions {
  // How often a background thread deletes expired items; zero disables it.
  std::chrono::milliseconds purge_interval{std::chrono::seconds(10)};
  size_t watch_queue_capacity = kDefaultWatchQueueCapacity;
};

// db_path is the database file itself (its folder must exist) or ":memory:".
Result<std::unique_ptr<Backend>> open_sqlite_database(const std::string& db_path, const Clock& clock,
                                                      const SqliteBackendOptions& options);

// The schema version this binary writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 2;

}  // namespace tp::backend_internal
