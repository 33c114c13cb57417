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
}

}  // namespace
}  // namespace tp
