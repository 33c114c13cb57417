#include "db/postgres/frame_tracker.h"

#include <gtest/gtest.h>

#include "unit/protocol_postgres/wire_bytes.h"

namespace tp::db {
namespace {

using pg::test::msg;

TEST(FrameTracker, FollowsBoundariesAcrossArbitraryChunks) {
  std::string stream =
      msg('T', "rowdesc") + msg('D', std::string(1000, 'x')) + msg('C', "SELECT 1") + msg('Z', "I");
  // Every split point: the tracker agrees with the message layout.
  std::vector<size_t> boundaries = {0};
  for (size_t pos = 0; pos < stream.size();) {
    uint32_t len = (uint8_t(stream[pos + 1]) << 24) | (uint8_t(stream[pos + 2]) << 16) |
                   (uint8_t(stream[pos + 3]) << 8) | uint8_t(stream[pos + 4]);
    pos += 1 + len;
    boundaries.push_back(pos);
  }
  for (size_t chunk : {1u, 3u, 5u, 7u, 64u, 4096u}) {
    FrameTracker t;
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
      size_t n = std::min(chunk, stream.size() - pos);
      t.feed(std::string_view(stream).substr(pos, n));
      bool expected = std::find(boundaries.begin(), boundaries.end(), pos + n) != boundaries.end();
      EXPECT_EQ(t.at_boundary(), expected) << "chunk " << chunk << " at " << pos + n;
    }
    EXPECT_FALSE(t.corrupt());
  }
}

TEST(FrameTracker, BytesToBoundaryNeverOvershoots) {
  std::string stream = msg('D', std::string(100, 'x')) + msg('Z', "I");
  FrameTracker t;
  EXPECT_EQ(t.bytes_to_boundary(), 0u);
  t.feed(stream.substr(0, 2));  // type + 1 length byte
  EXPECT_EQ(t.bytes_to_boundary(), 3u) << "rest of the header";
  t.feed(stream.substr(2, 3));
  EXPECT_EQ(t.bytes_to_boundary(), 100u) << "the payload";
  t.feed(stream.substr(5, 60));
  EXPECT_EQ(t.bytes_to_boundary(), 40u);
  t.feed(stream.substr(65, 40));
  EXPECT_TRUE(t.at_boundary());
}

TEST(FrameTracker, ALengthBelowFourIsCorrupt) {
  FrameTracker t;
  t.feed(std::string("D\0\0\0\x02", 5));
  EXPECT_TRUE(t.corrupt());
}

}  // namespace
}  // namespace tp::db
