#include "db/audit_log.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/thread_name.h"

namespace tp::db {

using nlohmann::json;

AuditLog::AuditLog(AuditLogOptions options, EventUploader upload, const Clock& clock, Rng& rng)
    : options_(std::move(options)), upload_(std::move(upload)), clock_(clock), rng_(rng), uid_prefix_(rng.hex(8)) {}

std::string AuditLog::next_uid() {
  // A random prefix per process and a counter: unique like 16 random bytes,
  // without asking the CSPRNG for every query.
  const uint64_t counter = uid_counter_.fetch_add(1);
  uint8_t big_endian[8];
  for (size_t i = 0; i < 8; ++i) big_endian[i] = static_cast<uint8_t>(counter >> (56 - 8 * i));
  std::string uid;
  uid.reserve(uid_prefix_.size() + 2 * sizeof big_endian);
  uid += uid_prefix_;
  append_hex(uid, big_endian, sizeof big_endian);
  return uid;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AuditLog::start() {
  (void)make_dirs(options_.spool_dir, 0700);
  thread_ = std::thread([this] {
    set_thread_name("tp-audit-upload");
    run();
  });
}

void AuditLog::emit(JsonObjectWriter event) {
  event.add("uid", next_uid());
  std::vector<std::string> overflow;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(event).finish());
    const size_t n = queue_.size();
    if (n >= 2 * options_.max_queued) {
      // The uploader is stuck (a call hanging until its timeout): keep memory bounded.
      overflow.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    // Wake the uploader once per batch, not per event: a futex wake-up per
    // query costs more than building the event.
    wake = (idle_ && n == 1) || (lingering_ && n == options_.batch_size) || n == options_.max_queued;
    if (wake) idle_ = false;
  }
  if (!overflow.empty()) {
    if (auto s = spool(overflow); !s.ok())
      log::error("db", "audit events lost: cannot write the spool", {{"error", s.error().message}});
  }
  if (wake) wake_.notify_one();
}

size_t AuditLog::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t AuditLog::spooled_files() const {
  return spool_files().size();
}

std::vector<std::string> AuditLog::spool_files() const {
  std::vector<std::string> out;
  DIR* dir = opendir(options_.spool_dir.c_str());
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    // .jsonl: JSON Lines; .json: a JSON array, as spools were written before.
    if (ends_with(name, ".jsonl") || ends_with(name, ".json")) out.push_back(name);
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> AuditLog::write_batch_file(const std::string& dir,
                                               const std::vector<std::string>& events) {
  TP_CHECK(make_dirs(dir, 0700));
  uint64_t seq;
  {
    std::lock_guard lock(mu_);
    seq = spool_seq_++;
  }
  // <unix nanos>-<seq>-<random>.jsonl: sorts by time; unique across restarts.
  char name[96];
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now().time_since_epoch()).count();
  std::snprintf(name, sizeof name, "%020lld-%06llu-%s.jsonl", static_cast<long long>(ns),
                static_cast<unsigned long long>(seq % 1000000), rng_.hex(4).c_str());
  std::string path = dir + "/" + name;
  TP_CHECK(write_file_atomic(path, json_lines(events.begin(), events.end()), 0600));
  return path;
}

Status AuditLog::spool(const std::vector<std::string>& events) {
  TP_TRY(auto path, write_batch_file(options_.spool_dir, events));
  (void)path;
  spool_pending_ = true;  // after the file exists: a pass that lists the folder first sees it next time
  return {};
}

void AuditLog::spool_queue(std::unique_lock<std::mutex>& lock) {
  std::vector<std::string> events(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.end()));
  queue_.clear();
  lock.unlock();
  if (auto s = spool(events); !s.ok())
    log::error("db", "audit events lost: cannot write the spool", {{"error", s.error().message}});
  lock.lock();
}

namespace {

// Reads a spool file: JSON Lines, or a JSON array as spools were written before.
Result<std::vector<std::string>> read_spool_file(const std::string& path) {
  TP_TRY(auto text, read_file(path));
  std::vector<std::string> events;
  if (!text.empty() && text.front() == '[') {
    auto batch = json::parse(text, nullptr, false);
    if (!batch.is_array()) return invalid_argument("not a JSON array");
    for (const auto& e : batch) events.push_back(e.dump(-1, ' ', false, json::error_handler_t::replace));
    return events;
  }
  for (auto& line : split(text, '\n')) {
    if (!json::accept(line)) return invalid_argument("a line is not JSON");
    events.push_back(std::move(line));
  }
  return events;
}

// The Auth Service said the batch itself is wrong: sending it again cannot help.
bool rejected(const Status& s) { return !s.ok() && s.error().code == ErrorCode::kInvalidArgument; }

}  // namespace

template <class It>
size_t AuditLog::batch_length(It begin, It end) const {
  size_t n = 0, bytes = 0;
  for (It it = begin; it != end && n < options_.batch_size; ++it) {
    bytes += it->size() + 1;
    if (n > 0 && bytes > options_.max_batch_bytes) break;  // one event always goes
    ++n;
  }
  return n;
}

void AuditLog::quarantine(const std::vector<std::string>& events, const Error& why) {
  // Kept, not lost: a person can read them, fix what the Auth Service refused and replay them.
  auto path = write_batch_file(options_.spool_dir + "/rejected", events);
  if (!path.ok()) {
    log::error("db", "audit events lost: the Auth Service rejected them and they cannot be kept",
               {{"error", why.message}, {"write_error", path.error().message}});
    return;
  }
  log::error("db", "the Auth Service rejected a batch of audit events; kept aside, not retried",
             {{"error", why.message}, {"file", *path}, {"count", std::to_string(events.size())}});
}

void AuditLog::note_failure() {
  last_failed_ = true;
  std::lock_guard lock(mu_);
  retry_at_ = std::chrono::steady_clock::now() + options_.retry_interval;
}

size_t AuditLog::upload_pending() {
  std::lock_guard pass(upload_mu_);
  // Spooled batches first, so events reach the Auth Service in order.
  auto [uploaded, replayed_all] = replay_spool();
  if (!replayed_all) return uploaded;
  return uploaded + upload_queue();
}

std::pair<size_t, bool> AuditLog::replay_spool() {
  size_t uploaded = 0;
  const bool look = spool_pending_.exchange(false);
  for (const auto& name : look ? spool_files() : std::vector<std::string>()) {
    std::string path = options_.spool_dir + "/" + name;
    auto read = read_spool_file(path);
    if (!read.ok()) {
      log::warn("db", "skipping an unreadable audit spool file",
                {{"file", path}, {"error", read.error().message}});
      ::unlink(path.c_str());
      continue;
    }
    std::vector<std::string> events = std::move(*read);
    // A file holds up to a whole backlog: it goes up in batches like the queue does.
    for (size_t done = 0; done < events.size();) {
      const size_t end = done + batch_length(events.begin() + static_cast<long>(done), events.end());
      std::vector<std::string> part(events.begin() + static_cast<long>(done),
                                    events.begin() + static_cast<long>(end));
      if (Status s = upload_(part); rejected(s)) {
        quarantine(part, s.error());
      } else if (!s.ok()) {
        // Keep only what is left, so what went up is not sent twice.
        if (done > 0) {
          if (auto w = write_file_atomic(
                  path, json_lines(events.begin() + static_cast<long>(done), events.end()), 0600);
              !w.ok())
            log::warn("db", "cannot shorten an audit spool file; some events may be sent twice",
                      {{"file", path}, {"error", w.error().message}});
        }
        spool_pending_ = true;
        note_failure();
        return {uploaded, false};
      } else {
        uploaded += part.size();
      }
      done = end;
    }
    last_failed_ = false;
    ::unlink(path.c_str());
    log::info("db", "replayed spooled audit events", {{"count", std::to_string(events.size())}});
  }
  return {uploaded, true};
}

size_t AuditLog::upload_queue() {
  size_t uploaded = 0;
  while (true) {
    std::vector<std::string> batch;
    {
      std::lock_guard lock(mu_);
      const auto n = static_cast<long>(batch_length(queue_.begin(), queue_.end()));
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    if (batch.empty()) return uploaded;
    Status s = upload_(batch);
    if (rejected(s)) {
      quarantine(batch, s.error());
      continue;
    }
    if (!s.ok()) {
      log::warn("db", "cannot upload audit events; spooling them to disk",
                {{"error", s.error().message}, {"count", std::to_string(batch.size())}});
      if (auto w = spool(batch); !w.ok())
        log::error("db", "audit events lost: cannot write the spool", {{"error", w.error().message}});
      note_failure();
      return uploaded;
    }
    last_failed_ = false;
    uploaded += batch.size();
  }
}

void AuditLog::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (std::chrono::steady_clock::now() < retry_at_) {
      // The Auth Service just failed: do not hammer it, but keep memory bounded.
      if (queue_.size() >= options_.max_queued) {
        spool_queue(lock);
        continue;
      }
      wake_.wait_until(lock, retry_at_, [&] { return stopping_ || queue_.size() >= options_.max_queued; });
      continue;
    }
    if (queue_.empty() && !spool_pending_) {
      idle_ = true;
      wake_.wait_for(lock, std::chrono::seconds(60), [&] { return stopping_ || !queue_.empty(); });
      idle_ = false;
      continue;
    }
    if (!queue_.empty() && queue_.size() < options_.batch_size) {
      lingering_ = true;
      wake_.wait_for(lock, options_.linger, [&] { return stopping_ || queue_.size() >= options_.batch_size; });
      lingering_ = false;
      if (stopping_) break;
    }
    const bool only_spool = queue_.empty();  // a spool left from before: no batch to wait for
    lock.unlock();
    if (only_spool) {
      std::lock_guard pass(upload_mu_);
      (void)replay_spool();
    } else {
      upload_pending();
    }
    lock.lock();
  }
}

void AuditLog::stop(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // One last pass, unless the Auth Service was just unreachable (no point
  // waiting on it); whatever is left is spooled for the next start.
  auto start = std::chrono::steady_clock::now();
  if (!last_failed_) upload_pending();
  if (std::chrono::steady_clock::now() - start > deadline)
    log::warn("db", "audit upload at shutdown took longer than the grace period");
  std::vector<std::string> rest;
  {
    std::lock_guard lock(mu_);
    rest.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  if (!rest.empty()) (void)spool(rest);
}

}  // namespace tp::db
