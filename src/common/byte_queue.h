// Bytes that arrived and wait for their reader, first in first out, in blocks. A string that
// grows copies what it holds on every reallocation, and taking from its front either leaves the
// taken bytes in place or moves the rest down; here appending copies each byte once, taking copies
// it out once, and nothing else moves. A drained queue holds no memory (an idle session keeps
// none). The tunnel's streams use it for what the peer sent before their reader asked.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace tp {

class ByteQueue {
 public:
  // A new block holds as much as is queued already, at least kMinBlock and at most kMaxBlock: a
  // small message takes a small block, a long transfer few large ones.
  static constexpr size_t kMinBlock = 4 * 1024;
  static constexpr size_t kMaxBlock = 64 * 1024;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void append(std::string_view bytes) {
    while (!bytes.empty()) {
      if (blocks_.empty() || blocks_.back().end == blocks_.back().capacity) {
        const size_t capacity = std::max(std::clamp(size_, kMinBlock, kMaxBlock), std::min(bytes.size(), kMaxBlock));
        blocks_.push_back(Block{std::unique_ptr<char[]>(new char[capacity]), capacity, 0, 0});
      }
      Block& b = blocks_.back();
      const size_t n = std::min(bytes.size(), b.capacity - b.end);
      std::memcpy(b.data.get() + b.end, bytes.data(), n);
      b.end += n;
      size_ += n;
      bytes.remove_prefix(n);
    }
  }

  // Moves up to `max` bytes from the front into `out`; returns how many.
  size_t take(char* out, size_t max) {
    size_t done = 0;
    while (done < max && head_ < blocks_.size()) {
      Block& b = blocks_[head_];
      const size_t n = std::min(max - done, b.end - b.begin);
      std::memcpy(out + done, b.data.get() + b.begin, n);
      b.begin += n;
      done += n;
      if (b.begin == b.end) {
        b.data.reset();
        ++head_;
      }
    }
    size_ -= done;
    if (head_ == blocks_.size()) {
      std::vector<Block>().swap(blocks_);
      head_ = 0;
    } else if (head_ > 16 && head_ * 2 > blocks_.size()) {
      blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return done;
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t capacity = 0;
    size_t begin = 0;  // taken up to here
    size_t end = 0;    // filled up to here
  };
  std::vector<Block> blocks_;  // blocks before head_ are drained (and freed)
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace tp
