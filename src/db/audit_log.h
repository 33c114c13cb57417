// The agent's audit trail (DESIGN section 8): sessions hand events to emit(),
// which never blocks on the network or the disk; an uploader thread sends them
// to the Auth Service in batches (it wakes once per batch, not per event, and
// waits up to `linger` for a batch to fill). Events travel as JSON text, one
// object per line, from the moment they are built: no document per query.
// When the Auth Service cannot be reached, batches go to an on-disk spool
// (<data_dir>/db/spool/*.jsonl, JSON Lines, named so they sort in order) and
// are replayed, oldest first, once it answers again. A batch the Auth Service refuses as invalid
// is kept in <spool>/rejected/ and not retried, so it cannot block the rest.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/json_writer.h"
#include "common/result.h"
#include "common/rng.h"

namespace tp::db {

// Uploads one batch, each event one JSON object's text; an error keeps the batch for later.
using EventUploader = std::function<Status(const std::vector<std::string>&)>;

struct AuditLogOptions {
  std::string spool_dir;
  size_t batch_size = 1000;
  // A batch also stops at about this many bytes of JSON (one event always goes):
  // the Auth Service takes request bodies up to 16 MiB.
  size_t max_batch_bytes = 4 * 1024 * 1024;
  // How long the uploader waits for a batch to fill before sending a partial one.
  std::chrono::milliseconds linger{50};
  // Events held in memory while the Auth Service is away; beyond this the
  // uploader moves them to the spool. Only if the uploader itself is stuck and
  // the queue reaches twice this does emit() write the spool on its caller's thread.
  size_t max_queued = 5000;
  std::chrono::milliseconds retry_interval{3000};
};

class AuditLog {
 public:
  AuditLog(AuditLogOptions options, EventUploader upload, const Clock& clock, Rng& rng);
  ~AuditLog();  // stops the uploader (without the final flush; call stop() for that)

  // Starts the uploader thread.
  void start();
  // Queues an event that has its "time" (the session events do); adds its "uid",
  // so a replayed event keeps both.
  void emit(JsonObjectWriter event);
  // Uploads what it can within `deadline`, spools the rest, stops the thread.
  void stop(std::chrono::milliseconds deadline);

  // One pass of the uploader, for tests and the thread: replays the spool, then
  // the queue. Returns how many events were uploaded.
  size_t upload_pending();
  size_t queued() const;
  size_t spooled_files() const;

 private:
  void run();
  std::string next_uid();
  // How many events from `begin` make one upload (batch_size and max_batch_bytes).
  template <class It>
  size_t batch_length(It begin, It end) const;
  // Writes events as JSON Lines into a new file in `dir` (the spool or its
  // rejected/ folder), named so files sort in the order they were written.
  Result<std::string> write_batch_file(const std::string& dir, const std::vector<std::string>& events);
  // Keeps events the Auth Service refused as invalid in <spool>/rejected/.
  void quarantine(const std::vector<std::string>& events, const Error& why);
  void note_failure();  // backs off before the next attempt
  // The two halves of upload_pending(), called with upload_mu_ held. replay_spool
  // says how many it uploaded and whether the spool is now empty.
  std::pair<size_t, bool> replay_spool();
  size_t upload_queue();
  // Moves the whole queue to the spool; called and returns with `lock` held.
  void spool_queue(std::unique_lock<std::mutex>& lock);
  Status spool(const std::vector<std::string>& events);
  std::vector<std::string> spool_files() const;

  AuditLogOptions options_;
  EventUploader upload_;
  const Clock& clock_;
  Rng& rng_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  bool idle_ = false;       // the uploader waits for a first event
  bool lingering_ = false;  // the uploader waits for a batch to fill
  std::chrono::steady_clock::time_point retry_at_{};  // after a failed upload
  uint64_t spool_seq_ = 0;
  std::atomic<bool> spool_pending_{true};  // the spool may hold files (unknown until first read)
  std::mutex upload_mu_;  // one uploader pass at a time
  std::atomic<bool> last_failed_{false};
  const std::string uid_prefix_;
  std::atomic<uint64_t> uid_counter_{0};
  std::thread thread_;
};

}  // namespace tp::db
