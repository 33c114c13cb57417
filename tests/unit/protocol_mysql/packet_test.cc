#include "protocol/mysql/packet.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace tp::mysql {
namespace {

using testing::bytes;
using testing::frame;

TEST(MysqlPacket, EncodesHeader) {
  EXPECT_EQ(encode_packet("\x03SELECT 1", 0), bytes({0x09, 0x00, 0x00, 0x00}) + "\x03SELECT 1");
  EXPECT_EQ(encode_packet("", 7), bytes({0x00, 0x00, 0x00, 0x07}));
  std::string out;
  EXPECT_EQ(append_packet(out, "ab", 255), 0);  // sequence ids wrap
  EXPECT_EQ(out, bytes({0x02, 0x00, 0x00, 0xff, 'a', 'b'}));
}

TEST(MysqlPacket, FramerHandsOutUnsplitPacketWithoutCopy) {
  const std::string stream = frame("\x0e", 0) + frame("\x03SELECT 1", 0);
  PacketFramer framer;
  auto step = framer.next(stream);
  ASSERT_TRUE(step.ok());
  ASSERT_TRUE(step->packet.has_value());
  EXPECT_EQ(step->consumed, 5u);
  EXPECT_EQ(step->packet->payload, "\x0e");
  EXPECT_EQ(step->packet->payload.data(), stream.data() + 4);  // a view into the input
  auto second = framer.next(std::string_view(stream).substr(step->consumed));
  ASSERT_TRUE(second.ok() && second->packet);
  EXPECT_EQ(second->packet->payload, "\x03SELECT 1");
}

TEST(MysqlPacket, FramerWaitsAtEverySplitPoint) {
  const std::string wire = frame("\x03SELECT 1", 3);
  for (size_t n = 0; n < wire.size(); ++n) {
    PacketFramer framer;
    auto step = framer.next(std::string_view(wire).substr(0, n));
    ASSERT_TRUE(step.ok());
    EXPECT_FALSE(step->packet.has_value()) << n;
    EXPECT_EQ(step->consumed, 0u);
  }
  PacketFramer framer;
  auto step = framer.next(wire);
  ASSERT_TRUE(step.ok() && step->packet);
  EXPECT_EQ(step->packet->sequence_id, 3);
  EXPECT_EQ(step->packet->last_sequence_id, 3);
}

TEST(MysqlPacket, EmptyPacket) {
  PacketFramer framer;
  auto step = framer.next(bytes({0, 0, 0, 4}));
  ASSERT_TRUE(step.ok() && step->packet);
  EXPECT_TRUE(step->packet->payload.empty());
  EXPECT_EQ(step->consumed, 4u);
}

TEST(MysqlPacket, CapOnUnsplitPacketIsCheckedBeforeTheBodyArrives) {
  PacketFramer framer(100);
  auto step = framer.next(bytes({101, 0, 0, 0}));
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(step.error().message.find("100-byte limit"), std::string::npos) << step.error().message;
  PacketFramer exact(100);
  EXPECT_TRUE(exact.next(bytes({100, 0, 0, 0})).ok());
}

// A >16 MiB payload: encoder splits at 0xFFFFFF with consecutive sequence ids, the framer
// reassembles it, including when the stream arrives in pieces.
TEST(MysqlPacket, SplitPacketRoundTrip) {
  std::string payload(kMaxPacketChunk + 1000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  const std::string wire = encode_packet(payload, 5);
  ASSERT_EQ(wire.size(), payload.size() + 8);
  EXPECT_EQ(wire.substr(0, 4), bytes({0xff, 0xff, 0xff, 5}));
  EXPECT_EQ(wire.substr(4 + kMaxPacketChunk, 4), bytes({0xe8, 0x03, 0x00, 6}));

  // Feed the first fragment minus one byte, then the rest, dropping consumed bytes like a caller.
  PacketFramer framer;
  std::string buffer = wire.substr(0, kMaxPacketChunk + 3);
  auto step = framer.next(buffer);
  ASSERT_TRUE(step.ok());
  EXPECT_FALSE(step->packet);
  EXPECT_EQ(step->consumed, 0u);
  buffer.append(wire, kMaxPacketChunk + 3, 10);
  step = framer.next(buffer);
  ASSERT_TRUE(step.ok());
  EXPECT_FALSE(step->packet);
  EXPECT_EQ(step->consumed, kMaxPacketChunk + 4);
  EXPECT_TRUE(framer.mid_packet());
  buffer.erase(0, step->consumed);
  buffer.append(wire, kMaxPacketChunk + 13, std::string::npos);
  step = framer.next(buffer);
  ASSERT_TRUE(step.ok());
  ASSERT_TRUE(step->packet);
  EXPECT_EQ(step->consumed, buffer.size());
  EXPECT_EQ(step->packet->sequence_id, 5);
  EXPECT_EQ(step->packet->last_sequence_id, 6);
  EXPECT_TRUE(step->packet->payload == payload);
  EXPECT_FALSE(framer.mid_packet());
}

TEST(MysqlPacket, ExactMultipleOfChunkEndsWithEmptyPacket) {
  const std::string payload(kMaxPacketChunk, 'q');
  const std::string wire = encode_packet(payload, 0);
  ASSERT_EQ(wire.size(), kMaxPacketChunk + 8);
  EXPECT_EQ(wire.substr(wire.size() - 4), bytes({0, 0, 0, 1}));
  PacketFramer framer;
  auto step = framer.next(wire);
  ASSERT_TRUE(step.ok() && step->packet);
  EXPECT_EQ(step->packet->payload.size(), kMaxPacketChunk);
  EXPECT_EQ(step->packet->last_sequence_id, 1);
  EXPECT_EQ(step->consumed, wire.size());
}

TEST(MysqlPacket, SplitPacketOverCapFailsClearly) {
  PacketFramer framer(kMaxPacketChunk + 10);
  std::string wire = bytes({0xff, 0xff, 0xff, 0}) + std::string(kMaxPacketChunk, 'a') + bytes({11, 0, 0, 1});
  auto step = framer.next(wire);
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().code, ErrorCode::kLimitExceeded);
}

TEST(MysqlPacket, ContinuationOutOfOrderIsAnError) {
  PacketFramer framer;
  std::string wire =
      bytes({0xff, 0xff, 0xff, 0}) + std::string(kMaxPacketChunk, 'a') + bytes({1, 0, 0, 5, 'b'});
  auto step = framer.next(wire);
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.error().message.find("expected 1"), std::string::npos) << step.error().message;
}

}  // namespace
}  // namespace tp::mysql
