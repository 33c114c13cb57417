#include "common/read_buffer.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

TEST(ReadBuffer, StaysSmallForSmallReadsGrowsWhenFilledAndShrinksWhenQuiet) {
  ReadBuffer b(2048, 65536);
  EXPECT_EQ(b.size(), 2048u);
  b.used(200);  // a query's answer
  EXPECT_EQ(b.size(), 2048u);
  b.used(2048);  // filled: a bulk transfer starts
  EXPECT_EQ(b.size(), 65536u);
  b.used(16384);  // TLS records of a result set keep it large
  b.used(1500);   // a short record in the middle of it does too
  EXPECT_EQ(b.size(), 65536u);
  b.used(100);  // quiet again
  EXPECT_EQ(b.size(), 2048u);
  b.used(0);  // end of stream
  EXPECT_EQ(b.size(), 2048u);
}

TEST(ReadBuffer, IsQuietOnlyAtTheSmallSizeAndComesBackAfterARelease) {
  ReadBuffer b(2048, 65536);
  EXPECT_TRUE(b.quiet());
  b.data()[0] = 'q';
  b.release();  // a quiet relay waits for data without a buffer
  EXPECT_TRUE(b.quiet());
  EXPECT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), 2048u);
  b.used(2048);
  EXPECT_FALSE(b.quiet()) << "a bulk transfer reads at once, without waiting first";
  b.data()[65535] = 'x';  // the large buffer is there
  b.used(10);
  EXPECT_TRUE(b.quiet());
}

TEST(ReadSizer, SizesTheRoomAtTheEndOfAPendingMessageAndGivesMemoryBack) {
  ReadSizer s(2048, 16384);
  std::string pending = "partial";
  s.make_room(pending);
  EXPECT_EQ(pending.size(), 7u + 2048u);
  pending.resize(7 + 2048);  // the read filled it
  s.used(2048);
  EXPECT_EQ(s.next(), 16384u);
  s.make_room(pending);
  EXPECT_EQ(pending.size(), 7u + 2048u + 16384u);

  pending.clear();  // the message went upstream; the session goes quiet
  s.used(10);
  EXPECT_EQ(s.next(), 2048u);
  s.make_room(pending);
  EXPECT_EQ(pending.size(), 2048u);
  EXPECT_LT(pending.capacity(), 8192u) << "the large message's memory was given back";
  EXPECT_TRUE(s.quiet());
}

TEST(ReadSizer, ReleasesOnlyAnEmptyPendingMessage) {
  std::string pending(16384, 'x');  // the start-up read's room
  pending.clear();
  ReadSizer::release(pending);
  EXPECT_LT(pending.capacity(), 64u);
  pending = std::string(100, 'p');  // half a message stays
  ReadSizer::release(pending);
  EXPECT_EQ(pending, std::string(100, 'p'));
}

}  // namespace
}  // namespace tp
