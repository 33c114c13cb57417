// A bounded map that forgets its least recently used entry when full, for the
// caches that spare a connection the same expensive work (parsing and verifying
// certificates, salting passwords). Safe to share between threads.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace tp {

template <class Key, class Value, class Hash = std::hash<Key>>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // A copy of the entry for `key`, which becomes the most recently used.
  std::optional<Value> find(const Key& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(std::cref(key));
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  // Adds or replaces the entry for `key`; when that makes one too many, the
  // least recently used entry goes.
  void put(Key key, Value value) {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(std::cref(key)); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(std::move(key), std::move(value));
    index_.emplace(std::cref(order_.front().first), order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(std::cref(order_.back().first));
      order_.pop_back();
    }
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return order_.size();
  }

 private:
  using Entry = std::pair<Key, Value>;
  // The index refers to the keys kept in the list (list nodes never move), so
  // each key is stored once.
  struct RefHash {
    size_t operator()(std::reference_wrapper<const Key> k) const { return Hash{}(k.get()); }
  };
  struct RefEqual {
    bool operator()(std::reference_wrapper<const Key> a, std::reference_wrapper<const Key> b) const {
      return a.get() == b.get();
    }
  };

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::reference_wrapper<const Key>, typename std::list<Entry>::iterator, RefHash,
                     RefEqual>
      index_;
};

}  // namespace tp
