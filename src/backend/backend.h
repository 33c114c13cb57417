// The key-value store under the Auth Service (DESIGN section 5). Services
// above it never see SQL. Keys are '/'-separated paths, e.g. "/users/alice".
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace tp {

struct Item {
  std::string key;
  std::string value;
  std::optional<TimePoint> expires;  // none: never expires
  int64_t revision = 0;              // set by the backend; grows on every write
};

enum class EventType { kPut, kDelete };

struct Event {
  EventType type = EventType::kPut;
  Item item;  // for kDelete only item.key is meaningful
};

// One audit event as the backend keeps it: the event's JSON text, and the fields searches
// filter on, which the caller takes from that text.
struct AuditRecord {
  int64_t id = 0;    // set by the backend: grows with every append (arrival order)
  TimePoint time;    // the event's own time, to the second
  std::string type;  // its "event" field
  std::string user;  // its "user" field; empty when it has none
  std::string text;  // one JSON object
};

struct AuditQuery {
  std::string type;                   // exact; empty: any
  std::string user;                   // exact; empty: any
  std::optional<TimePoint> from, to;  // inclusive bounds on AuditRecord::time
  size_t limit = 0;                   // the newest `limit` matches; 0: all of them
};

// Events for keys under one prefix, in commit order.
class Watcher {
 public:
  virtual ~Watcher() = default;
  // Waits up to `timeout` for the next event.
  virtual std::optional<Event> next(std::chrono::milliseconds timeout) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Expired items are never returned (they read as not found).
  virtual Result<Item> get(const std::string& key) = 0;
  // Creates or replaces.
  virtual Result<Item> put(Item item) = 0;
  // Fails with kAlreadyExists when the key is present (and not expired).
  virtual Result<Item> create(Item item) = 0;
  // Replaces only if the current value equals expected_value; else kCompareFailed
  // (or kNotFound when the key is absent).
  virtual Result<Item> compare_and_swap(const std::string& expected_value, Item replacement) = 0;
  // kNotFound when absent.
  virtual Status remove(const std::string& key) = 0;
  // Items whose key starts with prefix, ordered by key; limit 0 means no limit.
  virtual Result<std::vector<Item>> range(const std::string& prefix, size_t limit = 0) = 0;
  virtual Status remove_range(const std::string& prefix) = 0;
  // Delivers every later write made through this Backend object whose key
  // starts with prefix. A watcher that falls 10 000 events behind loses its
  // oldest events (a warning is logged); it may outlive the backend.
  virtual std::unique_ptr<Watcher> watch(const std::string& prefix) = 0;
  // Deletes expired items now (also done periodically by implementations).
  virtual Status purge_expired() = 0;

  // The audit log, kept apart from the items: append-only, no keys, revisions, expiry or
  // watches, so that storing the event of every query stays cheap and a search reads only
  // what it returns. Appends all records in one transaction, or none; ids follow the order given.
  virtual Status append_audit_events(const std::vector<AuditRecord>& records) = 0;
  // The matching records in arrival (id) order.
  virtual Result<std::vector<AuditRecord>> search_audit_events(const AuditQuery& query) = 0;
};

// SQLite in WAL mode at <data_dir>/backend.db; data_dir is created (0700) when
// missing. The clock decides expiry and must outlive the backend. Safe to use
// from several threads; expired items are purged every 10 s in the background.
Result<std::unique_ptr<Backend>> open_sqlite_backend(const std::string& data_dir, const Clock& clock);
// An in-memory SQLite database, for tests.
Result<std::unique_ptr<Backend>> open_memory_backend(const Clock& clock);

}  // namespace tp
