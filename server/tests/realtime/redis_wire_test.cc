#include "realtime/redis_wire.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>

namespace heavylift::realtime {
namespace {

// Packs what @socket.io/redis-emitter publishes for
// emitter.to("r").except("x").emit("news", "hi", 3, <bin 01 02>).
std::string emitter_message() {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3);
  packer.pack(std::string("emitter"));
  packer.pack_map(3);
  packer.pack(std::string("type"));
  packer.pack(2);
  packer.pack(std::string("data"));
  packer.pack_array(4);
  packer.pack(std::string("news"));
  packer.pack(std::string("hi"));
  packer.pack(3);
  packer.pack_bin(2);
  packer.pack_bin_body("\x01\x02", 2);
  packer.pack(std::string("nsp"));
  packer.pack(std::string("/chat"));
  packer.pack_map(3);
  packer.pack(std::string("rooms"));
  packer.pack_array(1);
  packer.pack(std::string("r"));
  packer.pack(std::string("flags"));
  packer.pack_map(0);
  packer.pack(std::string("except"));
  packer.pack_array(1);
  packer.pack(std::string("x"));
  return std::string(buffer.data(), buffer.size());
}

TEST(RedisWire, DecodesEmitterBroadcast) {
  Result<RemoteBroadcast> decoded = decode_emitter_broadcast(emitter_message(), RedisWireLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  const RemoteBroadcast& remote = decoded.value();
  EXPECT_EQ(remote.uid, "emitter");
  EXPECT_EQ(remote.broadcast.message.name_space, "/chat");
  EXPECT_EQ(remote.broadcast.message.event, "news");
  EXPECT_EQ(remote.broadcast.message.args_json, R"(["hi",3,{"_placeholder":true,"num":0}])");
  ASSERT_EQ(remote.broadcast.message.attachments.size(), 1u);
  EXPECT_EQ(remote.broadcast.message.attachments[0], std::string("\x01\x02", 2));
  EXPECT_EQ(remote.broadcast.rooms, std::vector<std::string>{"r"});
  EXPECT_EQ(remote.broadcast.except_rooms, std::vector<std::string>{"x"});
}

TEST(RedisWire, EncodeDecodeRoundTrip) {
  Broadcast broadcast;
  broadcast.rooms = {"a", "b"};
  broadcast.message.name_space = "/";
  broadcast.message.event = "e";
  broadcast.message.args_json = R"([{"k":[1,-2,2.5,null,true]},{"_placeholder":true,"num":0}])";
  broadcast.message.attachments = {"bytes"};
  Result<std::string> encoded = encode_emitter_broadcast("node-1", broadcast);
  ASSERT_TRUE(encoded.ok());
  Result<RemoteBroadcast> decoded = decode_emitter_broadcast(encoded.value(), RedisWireLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value().uid, "node-1");
  EXPECT_EQ(decoded.value().broadcast.message.args_json, broadcast.message.args_json);
  EXPECT_EQ(decoded.value().broadcast.message.attachments, broadcast.message.attachments);
  EXPECT_EQ(decoded.value().broadcast.rooms, broadcast.rooms);
}

TEST(RedisWire, HubSequenceNumberRoundTrips) {
  Broadcast broadcast;
  broadcast.rooms = {"a"};
  broadcast.message.event = "e";
  Result<std::string> encoded = encode_emitter_broadcast("node-1", broadcast, 42);
  ASSERT_TRUE(encoded.ok());
  Result<RemoteBroadcast> decoded = decode_emitter_broadcast(encoded.value(), RedisWireLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value().uid, "node-1");
  EXPECT_EQ(decoded.value().seq, 42u);
  EXPECT_EQ(decoded.value().broadcast.rooms, broadcast.rooms);
}

TEST(RedisWire, EmitterBroadcastHasNoSequenceNumber) {
  Result<RemoteBroadcast> decoded = decode_emitter_broadcast(emitter_message(), RedisWireLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value().seq, 0u);

  Broadcast broadcast;
  broadcast.message.event = "e";
  Result<std::string> encoded = encode_emitter_broadcast("node-1", broadcast);
  ASSERT_TRUE(encoded.ok());
  msgpack::object_handle handle = msgpack::unpack(encoded.value().data(), encoded.value().size());
  EXPECT_EQ(handle.get().via.array.size, 3u);
}

TEST(RedisWire, RejectsMalformedSequenceNumber) {
  const auto with_fourth = [](auto pack_fourth) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(4);
    packer.pack(std::string("node-1"));
    packer.pack_map(2);
    packer.pack(std::string("type"));
    packer.pack(2);
    packer.pack(std::string("data"));
    packer.pack_array(1);
    packer.pack(std::string("e"));
    packer.pack_map(0);
    pack_fourth(packer);
    return std::string(buffer.data(), buffer.size());
  };
  const std::string zero = with_fourth([](auto& packer) { packer.pack(0); });
  const std::string negative = with_fourth([](auto& packer) { packer.pack(-5); });
  const std::string text = with_fourth([](auto& packer) { packer.pack(std::string("7")); });
  for (const std::string& bytes : {zero, negative, text}) {
    Result<RemoteBroadcast> decoded = decode_emitter_broadcast(bytes, RedisWireLimits{});
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().reason, "MALFORMED_MESSAGE");
    EXPECT_NE(decoded.error().message.find("sequence number"), std::string::npos) << decoded.error().message;
  }
}

TEST(RedisWire, ChannelNamesSingleRoom) {
  Broadcast broadcast;
  broadcast.message.name_space = "/";
  EXPECT_EQ(emitter_channel("socket.io", broadcast), "socket.io#/#");
  broadcast.rooms = {"r"};
  EXPECT_EQ(emitter_channel("socket.io", broadcast), "socket.io#/#r#");
}

TEST(RedisWire, RejectsGarbageAndTooManyBinaries) {
  EXPECT_EQ(decode_emitter_broadcast("\xc1", RedisWireLimits{}).error().reason, "MALFORMED_MESSAGE");
  EXPECT_EQ(decode_emitter_broadcast("", RedisWireLimits{}).error().reason, "MALFORMED_MESSAGE");
  RedisWireLimits strict;
  strict.max_attachments = 0;
  EXPECT_EQ(decode_emitter_broadcast(emitter_message(), strict).error().reason, "MALFORMED_MESSAGE");
}

TEST(RedisWire, DecodesJoinRequest) {
  Result<RemoteRequest> request =
      decode_emitter_request(R"({"type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["c","d"]})");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request.value().type, RemoteRequest::Type::kJoin);
  EXPECT_EQ(request.value().rooms, std::vector<std::string>{"a"});
  EXPECT_EQ(request.value().except_rooms, std::vector<std::string>{"b"});
  EXPECT_EQ(request.value().target_rooms, (std::vector<std::string>{"c", "d"}));
}

TEST(RedisWire, UnsupportedRequestType) {
  EXPECT_EQ(decode_emitter_request(R"({"type":6})").error().code, Code::kUnimplemented);
  EXPECT_EQ(decode_emitter_request("[").error().reason, "MALFORMED_MESSAGE");
}

}  // namespace
}  // namespace heavylift::realtime

namespace heavylift::realtime {
namespace {

TEST(RedisWire, SelectorChangeRoundTrips) {
  SelectorChange change;
  change.type = SelectorChange::Type::kLeave;
  change.selector.user_id = "user \"1\"";
  change.room = "chat:1";
  Result<std::optional<RemoteSelectorChange>> decoded =
      decode_selector_change(encode_selector_change("node1", change), "/admin");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_TRUE(decoded.value().has_value());
  const RemoteSelectorChange& remote = *decoded.value();
  EXPECT_EQ(remote.uid, "node1");
  EXPECT_EQ(remote.change.type, SelectorChange::Type::kLeave);
  EXPECT_EQ(remote.change.selector.name_space, "/admin");
  EXPECT_EQ(remote.change.selector.user_id, "user \"1\"");
  EXPECT_TRUE(remote.change.selector.socket_id.empty());
  EXPECT_EQ(remote.change.room, "chat:1");
}

TEST(RedisWire, SelectorChangeDisconnectBySocket) {
  SelectorChange change;
  change.type = SelectorChange::Type::kDisconnect;
  change.selector.socket_id = "s1";
  change.whole_connection = true;
  auto decoded = decode_selector_change(encode_selector_change("node1", change), "/");
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE(decoded.value().has_value());
  EXPECT_EQ(decoded.value()->change.type, SelectorChange::Type::kDisconnect);
  EXPECT_EQ(decoded.value()->change.selector.socket_id, "s1");
  EXPECT_TRUE(decoded.value()->change.whole_connection);
}

TEST(RedisWire, SelectorChangeIgnoresEmitterRequest) {
  auto decoded = decode_selector_change(R"({"type":2,"opts":{"rooms":["a"]},"rooms":["b"]})", "/");
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded.value().has_value());
}

TEST(RedisWire, SelectorChangeRejectsMissingRoom) {
  auto decoded = decode_selector_change(R"({"type":100,"uid":"n","op":"join","userId":"u"})", "/");
  EXPECT_FALSE(decoded.ok());
  auto no_target = decode_selector_change(R"({"type":100,"uid":"n","op":"join","room":"r"})", "/");
  EXPECT_FALSE(no_target.ok());
}

}  // namespace
}  // namespace heavylift::realtime
