// The agent's audit trail (DESIGN section 8): sessions hand events to emit(),
// which never blocks on the network; an uploader thread sends them to the Auth
// Service in batches. When the Auth Service cannot be reached, batches go to an
// on-disk spool (<data_dir>/db/spool/*.json, one JSON array per file, named so
// they sort in order) and are replayed, oldest first, once it answers again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/rng.h"

namespace tp::db {

// Uploads one batch; an error keeps the batch for later.
using EventUploader = std::function<Status(const std::vector<nlohmann::json>&)>;

struct AuditLogOptions {
  std::string spool_dir;
  size_t batch_size = 200;
  // Events held in memory before they go to the spool without waiting for the uploader.
  size_t max_queued = 5000;
  std::chrono::milliseconds retry_interval{3000};
};

class AuditLog {
 public:
  AuditLog(AuditLogOptions options, EventUploader upload, const Clock& clock, Rng& rng);
  ~AuditLog();  // stops the uploader (without the final flush; call stop() for that)

  // Starts the uploader thread.
  void start();
  // Queues an event; adds "time" and "uid" when missing so a replayed event keeps them.
  void emit(nlohmann::json event);
  // Uploads what it can within `deadline`, spools the rest, stops the thread.
  void stop(std::chrono::milliseconds deadline);

  // One pass of the uploader, for tests and the thread: replays the spool, then
  // the queue. Returns how many events were uploaded.
  size_t upload_pending();
  size_t queued() const;
  size_t spooled_files() const;

 private:
  void run();
  Status spool(const std::vector<nlohmann::json>& events);
  std::vector<std::string> spool_files() const;

  AuditLogOptions options_;
  EventUploader upload_;
  const Clock& clock_;
  Rng& rng_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<nlohmann::json> queue_;
  bool stopping_ = false;
  uint64_t spool_seq_ = 0;
  std::mutex upload_mu_;  // one uploader pass at a time
  std::atomic<bool> last_failed_{false};
  std::thread thread_;
};

}  // namespace tp::db
