#include "realtime/socketio_packet.h"

#include <gtest/gtest.h>

#include "realtime/engineio_packet.h"
#include "realtime/json_text.h"

namespace heavylift::realtime {
namespace {

const SocketPacketLimits kLimits{3, 32};

SocketPacket parse_ok(std::string_view text) {
  Result<SocketPacket> parsed = parse_socket_packet(text, kLimits);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? parsed.value() : SocketPacket{};
}

Error parse_error(std::string_view text) {
  Result<SocketPacket> parsed = parse_socket_packet(text, kLimits);
  EXPECT_FALSE(parsed.ok()) << text;
  return parsed.ok() ? Error{} : parsed.error();
}

TEST(EngineFrame, ParsesTypeAndData) {
  Result<EnginePacket> message = parse_engine_frame("42[\"a\"]", false);
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(message.value().type, EnginePacketType::kMessage);
  EXPECT_EQ(message.value().data, "2[\"a\"]");
  Result<EnginePacket> pong = parse_engine_frame("3", false);
  ASSERT_TRUE(pong.ok());
  EXPECT_EQ(pong.value().type, EnginePacketType::kPong);
}

TEST(EngineFrame, BinaryFrameIsMessage) {
  Result<EnginePacket> packet = parse_engine_frame(std::string_view("\x00\x01", 2), true);
  ASSERT_TRUE(packet.ok());
  EXPECT_EQ(packet.value().type, EnginePacketType::kMessage);
  EXPECT_TRUE(packet.value().binary);
  EXPECT_EQ(packet.value().data.size(), 2u);
}

TEST(EngineFrame, RejectsEmptyAndUnknownType) {
  EXPECT_EQ(parse_engine_frame("", false).error().reason, "MALFORMED_PACKET");
  EXPECT_EQ(parse_engine_frame("9", false).error().reason, "MALFORMED_PACKET");
}

TEST(EngineFrame, OpenPacketCarriesSettings) {
  EXPECT_EQ(encode_open_packet({"abc", 1000, 2000, 3000}),
            R"(0{"sid":"abc","upgrades":[],"pingInterval":1000,"pingTimeout":2000,"maxPayload":3000})");
}

TEST(SocketPacket, ConnectWithAuthInNamespace) {
  const SocketPacket packet = parse_ok(R"(0/admin,{"token":"t"})");
  EXPECT_EQ(packet.type, SocketPacketType::kConnect);
  EXPECT_EQ(packet.name_space, "/admin");
  EXPECT_EQ(packet.payload, R"({"token":"t"})");
}

TEST(SocketPacket, ConnectToMainWithoutAuth) {
  const SocketPacket packet = parse_ok("0");
  EXPECT_EQ(packet.name_space, "/");
  EXPECT_TRUE(packet.payload.empty());
}

TEST(SocketPacket, EventWithAckId) {
  const SocketPacket packet = parse_ok(R"(212["hello",1,{"a":[2]}])");
  EXPECT_EQ(packet.type, SocketPacketType::kEvent);
  ASSERT_TRUE(packet.ack_id.has_value());
  EXPECT_EQ(*packet.ack_id, 12u);
  Result<EventPayload> payload = split_event_payload(packet.payload);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(payload.value().name, "hello");
  EXPECT_EQ(payload.value().args_json, R"([1,{"a":[2]}])");
}

TEST(SocketPacket, AckInNamespace) {
  const SocketPacket packet = parse_ok(R"(3/chat,7["ok"])");
  EXPECT_EQ(packet.type, SocketPacketType::kAck);
  EXPECT_EQ(packet.name_space, "/chat");
  EXPECT_EQ(*packet.ack_id, 7u);
}

TEST(SocketPacket, BinaryEventWithPlaceholders) {
  const SocketPacket packet = parse_ok(R"(52-/chat,4["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(packet.type, SocketPacketType::kBinaryEvent);
  EXPECT_EQ(packet.attachments, 2u);
  EXPECT_EQ(packet.name_space, "/chat");
  EXPECT_EQ(*packet.ack_id, 4u);
}

TEST(SocketPacket, TooManyAttachmentsNamesBound) {
  const Error error = parse_error(R"(54-["up",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(error.reason, "TOO_MANY_ATTACHMENTS");
  EXPECT_EQ(error.bound, "<= 3");
  EXPECT_EQ(error.value, "4");
}

TEST(SocketPacket, PlaceholderOutOfRange) {
  EXPECT_EQ(parse_error(R"(51-["up",{"_placeholder":true,"num":1}])").reason, "INVALID_PLACEHOLDER");
}

TEST(SocketPacket, RejectsMalformedPackets) {
  for (const char* text : {"", "x", "7", "4{\"message\":\"x\"}", "2", "2{}", "2[1]", "2[\"a\"", "3[\"a\"]",
                           "1[1]", "0[]", "5[\"a\"]", "5-[\"a\"]", "50-[\"a\"]", "21234567890123456[\"a\"]"}) {
    const Error error = parse_error(text);
    EXPECT_EQ(error.code, Code::kInvalidArgument) << text;
    EXPECT_FALSE(error.reason.empty()) << text;
  }
}

TEST(SocketPacket, LongNamespaceRejected) {
  EXPECT_EQ(parse_error("0/" + std::string(40, 'n') + ",").reason, "NAMESPACE_TOO_LONG");
}

TEST(SocketPacket, EncodeRoundTrips) {
  for (const char* text : {"0", R"(0/admin,{"token":"t"})", R"(2/a,3["x",1])", R"(3/a,3[])", "1/a,",
                           R"(51-/a,2["x",{"_placeholder":true,"num":0}])"}) {
    EXPECT_EQ(encode_socket_packet(parse_ok(text)), text);
  }
}

TEST(JsonText, QuoteEscapesControlCharacters) {
  EXPECT_EQ(json_quote("a\"b\\\n\x01"), R"("a\"b\\\n\u0001")");
}

TEST(JsonText, SplitArrayMinifiesElements) {
  Result<JsonArray> array = split_json_array(R"([ 1 , {"a" : "b"} , "x" ])", "args");
  ASSERT_TRUE(array.ok());
  ASSERT_EQ(array.value().elements.size(), 3u);
  EXPECT_EQ(array.value().elements[1], R"({"a":"b"})");
  EXPECT_EQ(join_json_array(array.value().elements), R"([1,{"a":"b"},"x"])");
}

TEST(JsonText, SplitArrayRejectsObject) {
  Result<JsonArray> array = split_json_array("{}", "args");
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.error().reason, "NOT_AN_ARRAY");
  EXPECT_EQ(array.error().field, "args");
}

TEST(JsonText, DeepNestingRejected) {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  EXPECT_EQ(split_json_array(deep, "args").error().reason, "MALFORMED_JSON");
}

}  // namespace
}  // namespace heavylift::realtime
