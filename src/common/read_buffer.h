// A relay's read buffer that is small while its connection is quiet and large
// while data keeps coming. A proxy holds thousands of idle sessions, each with
// a read pending in both directions; a bulk transfer (a large result set) wants
// large reads. A read that fills the buffer switches to `large`; one that would
// have fit in half the small buffer (a quiet moment, not a stream of records)
// switches back to `small`. While quiet, a relay releases the buffer and waits
// for its connection to become readable before it reads (net/tls_stream.h
// async_wait_readable), so an idle session holds no read buffers at all.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace tp {

// The size of a relay's reads while its session is quiet (the first read after a wait).
inline constexpr size_t kIdleReadSize = 2 * 1024;

class ReadBuffer {
 public:
  ReadBuffer(size_t small, size_t large) : small_(small), large_(large), size_(small) {}

  // Allocated on first use after construction or release().
  char* data() {
    if (!data_) data_.reset(new char[size_]);  // not zero-filled: reads overwrite it
    return data_.get();
  }
  size_t size() const { return size_; }
  // The last reads were small: the connection is in a quiet moment, not a stream of records.
  bool quiet() const { return size_ == small_; }
  // Gives the memory back; data() allocates again.
  void release() { data_.reset(); }

  // After a read of n bytes has been used: sizes the buffer for the next read.
  void used(size_t n) {
    if (n >= size_ && size_ < large_) resize(large_);
    else if (n <= small_ / 2 && size_ > small_) resize(small_);  // frees the large one
  }

 private:
  void resize(size_t n) {
    data_.reset();  // the next data() allocates the new size
    size_ = n;
  }

  size_t small_;
  size_t large_;
  std::unique_ptr<char[]> data_;
  size_t size_;
};

// The same policy for a relay that reads into the tail of a string holding a
// partial message: how much room to add for the next read.
class ReadSizer {
 public:
  ReadSizer(size_t small, size_t large) : small_(small), large_(large), next_(small) {}

  size_t next() const { return next_; }
  bool quiet() const { return next_ == small_; }
  void used(size_t n) {
    if (n >= next_) next_ = large_;
    else if (n <= small_ / 2) next_ = small_;
  }
  // Makes `pending` ready for a read of next() bytes at its end, and gives
  // back the memory a large message left behind once the session is quiet.
  void make_room(std::string& pending) const {
    const size_t old = pending.size();
    pending.resize(old + next_);
    if (pending.capacity() > 2 * (old + next_) && pending.capacity() > large_) pending.shrink_to_fit();
  }
  // Frees an empty `pending` (whatever an earlier message or the start-up left it holding) before
  // a quiet connection waits for its next message.
  static void release(std::string& pending) {
    if (pending.empty()) std::string().swap(pending);
  }

 private:
  size_t small_;
  size_t large_;
  size_t next_;
};

}  // namespace tp
