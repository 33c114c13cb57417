// A relay's read buffer that is small while its connection is quiet and large
// while data keeps coming. A proxy holds thousands of idle sessions, each with
// a read pending in both directions, so the buffer a pending read holds is most
// of what an idle session costs; a bulk transfer (a large result set) wants
// large reads. A read that fills the buffer switches to `large`; one that uses
// less than an eighth of a large buffer switches back to `small`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tp {

class ReadBuffer {
 public:
  ReadBuffer(size_t small, size_t large) : small_(small), large_(large), data_(small) {}

  char* data() { return data_.data(); }
  size_t size() const { return data_.size(); }

  // After a read of n bytes has been used: sizes the buffer for the next read.
  void used(size_t n) {
    if (n >= data_.size() && data_.size() < large_) {
      data_ = std::vector<char>(large_);
    } else if (n < large_ / 8 && data_.size() > small_) {
      data_ = std::vector<char>(small_);  // frees the large one
    }
  }

 private:
  size_t small_;
  size_t large_;
  std::vector<char> data_;
};

// The same policy for a relay that reads into the tail of a string holding a
// partial message: how much room to add for the next read.
class ReadSizer {
 public:
  ReadSizer(size_t small, size_t large) : small_(small), large_(large), next_(small) {}

  size_t next() const { return next_; }
  void used(size_t n) {
    if (n >= next_) next_ = large_;
    else if (n < large_ / 8) next_ = small_;
  }
  // Makes `pending` ready for a read of next() bytes at its end, and gives
  // back the memory a large message left behind once the session is quiet.
  void make_room(std::string& pending) const {
    const size_t old = pending.size();
    pending.resize(old + next_);
    if (pending.capacity() > 2 * (old + next_) && pending.capacity() > large_) pending.shrink_to_fit();
  }

 private:
  size_t small_;
  size_t large_;
  size_t next_;
};

}  // namespace tp
