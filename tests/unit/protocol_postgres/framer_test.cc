#include "protocol/postgres/framer.h"

#include <gtest/gtest.h>

#include "wire_bytes.h"

namespace tp::pg {
namespace {

using test::be32;
using test::cstr;
using test::msg;

TEST(FrameMessage, NeedsMoreDataAtEverySplitPoint) {
  const std::string m = msg('Q', cstr("SELECT 1"));
  for (size_t n = 0; n < m.size(); ++n) {
    auto f = frame_message(std::string_view(m).substr(0, n));
    ASSERT_TRUE(f.ok()) << n;
    EXPECT_FALSE(f->has_value()) << n;
  }
  auto f = frame_message(m);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->has_value());
  EXPECT_EQ((*f)->type, 'Q');
  EXPECT_EQ((*f)->payload, cstr("SELECT 1"));
  EXPECT_EQ((*f)->total_size(), m.size());
}

TEST(FrameMessage, PayloadIsAViewIntoTheBufferNotACopy) {
  const std::string buffer = msg('D', std::string(100, 'r')) + msg('Z', "I");
  auto f = frame_message(buffer);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->payload.data(), buffer.data() + kMessageHeaderSize);
  EXPECT_EQ((*f)->payload.size(), 100u);
  auto second = frame_message(std::string_view(buffer).substr((*f)->total_size()));
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->type, 'Z');
}

TEST(FrameMessage, EmptyPayload) {
  auto f = frame_message(std::string("S\x00\x00\x00\x04", 5));
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_TRUE((*f)->payload.empty());
}

TEST(FrameMessage, LengthBelowFourIsAnError) {
  auto f = frame_message("Q" + be32(3));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("invalid length 3"), std::string::npos) << f.error().message;
}

TEST(FrameMessage, OversizedLengthIsAnErrorBeforeAnyPayloadArrives) {
  auto f = frame_message("D" + be32(kDefaultMaxMessageLength + 1));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("exceeds the limit"), std::string::npos) << f.error().message;
  // At the cap: fine, just incomplete.
  auto at_cap = frame_message("D" + be32(kDefaultMaxMessageLength));
  ASSERT_TRUE(at_cap.ok());
  EXPECT_FALSE(at_cap->has_value());
  // A configured cap.
  EXPECT_FALSE(frame_message(msg('Q', std::string(100, 'x')), 64).ok());
  EXPECT_TRUE(frame_message(msg('Q', std::string(59, 'x')), 64).ok());
}

TEST(ReadMessageHeader, ReportsSizes) {
  auto h = read_message_header("T" + be32(1000));
  ASSERT_TRUE(h.ok() && h->has_value());
  EXPECT_EQ((*h)->type, 'T');
  EXPECT_EQ((*h)->payload_size(), 996u);
  EXPECT_EQ((*h)->total_size(), 1001u);
}

}  // namespace
}  // namespace tp::pg
