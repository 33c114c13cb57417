#include "db/audit_log.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/files.h"
#include "common/log.h"

namespace tp::db {

using nlohmann::json;

AuditLog::AuditLog(AuditLogOptions options, EventUploader upload, const Clock& clock, Rng& rng)
    : options_(std::move(options)), upload_(std::move(upload)), clock_(clock), rng_(rng) {}

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
  thread_ = std::thread([this] { run(); });
}

void AuditLog::emit(json event) {
  if (!event.contains("time")) event["time"] = format_rfc3339(clock_.now());
  if (!event.contains("uid")) event["uid"] = rng_.hex(16);
  std::vector<json> overflow;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(event));
    if (queue_.size() >= options_.max_queued) {
      // The Auth Service is slow or away: keep memory bounded, the disk holds the rest.
      overflow.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
  }
  if (!overflow.empty()) {
    if (auto s = spool(overflow); !s.ok())
      log::error("db", "audit events lost: cannot write the spool", {{"error", s.error().message}});
  }
  wake_.notify_one();
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
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) out.push_back(name);
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

Status AuditLog::spool(const std::vector<json>& events) {
  TP_CHECK(make_dirs(options_.spool_dir, 0700));
  uint64_t seq;
  {
    std::lock_guard lock(mu_);
    seq = spool_seq_++;
  }
  // <unix nanos>-<seq>-<random>.json: sorts by time; unique across restarts.
  char name[96];
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now().time_since_epoch()).count();
  std::snprintf(name, sizeof name, "%020lld-%06llu-%s.json", static_cast<long long>(ns),
                static_cast<unsigned long long>(seq % 1000000), rng_.hex(4).c_str());
  return write_file_atomic(options_.spool_dir + "/" + name, json(events).dump(), 0600);
}

size_t AuditLog::upload_pending() {
  std::lock_guard pass(upload_mu_);
  size_t uploaded = 0;
  // Spooled batches first, so events reach the Auth Service in order.
  for (const auto& name : spool_files()) {
    std::string path = options_.spool_dir + "/" + name;
    auto text = read_file(path);
    auto batch = text.ok() ? json::parse(*text, nullptr, false) : json();
    if (!batch.is_array()) {
      log::warn("db", "skipping an unreadable audit spool file", {{"file", path}});
      ::unlink(path.c_str());
      continue;
    }
    std::vector<json> events(batch.begin(), batch.end());
    if (auto s = upload_(events); !s.ok()) {
      last_failed_ = true;
      return uploaded;
    }
    last_failed_ = false;
    ::unlink(path.c_str());
    uploaded += events.size();
    log::info("db", "replayed spooled audit events", {{"count", std::to_string(events.size())}});
  }
  while (true) {
    std::vector<json> batch;
    {
      std::lock_guard lock(mu_);
      while (!queue_.empty() && batch.size() < options_.batch_size) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (batch.empty()) return uploaded;
    if (auto s = upload_(batch); !s.ok()) {
      last_failed_ = true;
      log::warn("db", "cannot upload audit events; spooling them to disk",
                {{"error", s.error().message}, {"count", std::to_string(batch.size())}});
      if (auto w = spool(batch); !w.ok())
        log::error("db", "audit events lost: cannot write the spool", {{"error", w.error().message}});
      return uploaded;
    }
    last_failed_ = false;
    uploaded += batch.size();
  }
}

void AuditLog::run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      bool spool_waiting = !spool_files().empty();
      auto wait = spool_waiting ? options_.retry_interval : std::chrono::milliseconds(60'000);
      wake_.wait_for(lock, wait, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
    }
    size_t before = spooled_files();
    upload_pending();
    // A failed pass spooled its batch: wait before hammering an unreachable Auth Service.
    if (spooled_files() > 0 && spooled_files() >= before) {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, options_.retry_interval, [&] { return stopping_; });
      if (stopping_) return;
    }
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
  std::vector<json> rest;
  {
    std::lock_guard lock(mu_);
    rest.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  if (!rest.empty()) (void)spool(rest);
}

}  // namespace tp::db
