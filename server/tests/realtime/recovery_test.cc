#include "realtime/recovery.h"

#include <gtest/gtest.h>

#include <mutex>

#include "realtime/hub.h"
#include "realtime/socketio_server.h"
#include "recording_connection.h"

namespace heavylift::realtime {
namespace {

HubOptions recovery_options(size_t max_events = 1000) {
  HubOptions options;
  options.node_id = "node1";
  options.recovery.enabled = true;
  options.recovery.max_events_per_room = max_events;
  return options;
}

Broadcast news(std::vector<std::string> rooms, const std::string& args_json,
               std::vector<std::string> except = {}) {
  Broadcast broadcast;
  broadcast.rooms = std::move(rooms);
  broadcast.except_rooms = std::move(except);
  broadcast.message.event = "news";
  broadcast.message.args_json = args_json;
  return broadcast;
}

TEST(RecoveryOffset, RoundTrips) {
  const auto parsed = parse_offset(format_offset(Offset{"ab-c_d", 42}));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->node, "ab-c_d");
  EXPECT_EQ(parsed->seq, 42u);
}

TEST(RecoveryOffset, RejectsMalformed) {
  EXPECT_FALSE(parse_offset("").has_value());
  EXPECT_FALSE(parse_offset("node").has_value());
  EXPECT_FALSE(parse_offset(".5").has_value());
  EXPECT_FALSE(parse_offset("node.").has_value());
  EXPECT_FALSE(parse_offset("node.5x").has_value());
  EXPECT_FALSE(parse_offset("node.-1").has_value());
}

TEST(RecoverySession, JsonRoundTrips) {
  Session session{"pid\"1", "sid", "/admin", "user\n2", {"a", "chat:\"x\""}, "node.3", 1700000000123};
  Result<Session> decoded = decode_session(encode_session(session));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value().session_id, session.session_id);
  EXPECT_EQ(decoded.value().socket_id, "sid");
  EXPECT_EQ(decoded.value().name_space, "/admin");
  EXPECT_EQ(decoded.value().user_id, session.user_id);
  EXPECT_EQ(decoded.value().rooms, session.rooms);
  EXPECT_EQ(decoded.value().start_offset, "node.3");
  EXPECT_EQ(decoded.value().disconnected_ms, 1700000000123);
}

TEST(RecoverySession, RejectsMissingField) {
  EXPECT_FALSE(decode_session(R"({"pid":"p"})").ok());
  EXPECT_FALSE(decode_session("not json").ok());
}

TEST(RecoveryLoggedEvent, RoundTripsWithAttachments) {
  LoggedEvent event;
  event.seq = 9;
  event.time_ms = 1234;
  event.event = "file";
  event.args_json = R"([{"_placeholder":true,"num":0},"x"])";
  event.attachments = {std::string("\x00\x01", 2)};
  event.except_rooms = {"muted"};
  Result<std::string> encoded = encode_logged_event(event, "/");
  ASSERT_TRUE(encoded.ok());
  Result<LoggedEvent> decoded = decode_logged_event(encoded.value(), 10);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value().seq, 9u);
  EXPECT_EQ(decoded.value().time_ms, 1234);
  EXPECT_EQ(decoded.value().event, "file");
  EXPECT_EQ(decoded.value().args_json, event.args_json);
  EXPECT_EQ(decoded.value().attachments, event.attachments);
  EXPECT_EQ(decoded.value().except_rooms, event.except_rooms);
}

TEST(RecoveryMerge, OrdersDedupesAndSkipsExcept) {
  LoggedEvent first{1, 0, "e", "[1]", {}, {}};
  LoggedEvent second{2, 0, "e", "[2]", {}, {"muted"}};
  LoggedEvent third{3, 0, "e", "[3]", {}, {}};
  const auto merged = merge_events({{first, third}, {first, second}}, {"room", "muted"}, 0);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].seq, 1u);
  EXPECT_EQ(merged[1].seq, 3u);
  EXPECT_EQ(merge_events({{first, third}}, {"room"}, 1).size(), 1u);
}

TEST(RecoveryHub, EventsCarryOffset) {
  Metrics metrics;
  Hub hub(encode_socketio_message, metrics, recovery_options());
  auto connection = std::make_shared<RecordingConnection>();
  hub.add_socket(SocketInfo{"s1", "/", "u1"}, connection, "pid1");
  ASSERT_TRUE(hub.join("s1", "room").ok());
  hub.emit(news({"room"}, "[1]"));
  ASSERT_EQ(connection->sent.size(), 1u);
  EXPECT_EQ(connection->sent[0], R"(42["news",1,"node1.1"])");
}

TEST(RecoveryHub, RecoversSocketWithMissedEvents) {
  Metrics metrics;
  Hub hub(encode_socketio_message, metrics, recovery_options());
  auto first = std::make_shared<RecordingConnection>();
  hub.add_socket(SocketInfo{"s1", "/", "u1"}, first, "pid1");
  ASSERT_TRUE(hub.join("s1", "room").ok());
  hub.emit(news({"room"}, "[1]"));
  hub.remove_socket("s1", "transport close", true);
  hub.emit(news({"room"}, "[2]"));
  hub.emit(news({"other"}, "[3]"));
  hub.emit(news({}, "[4]"));

  auto second = std::make_shared<RecordingConnection>();
  auto recovered = hub.recover_socket(RecoveryRequest{"pid1", "node1.1", "/", "u1"}, second);
  ASSERT_TRUE(recovered.has_value());
  EXPECT_EQ(recovered->socket_id, "s1");
  EXPECT_EQ(recovered->replayed, 2u);
  ASSERT_EQ(second->sent.size(), 2u);
  EXPECT_EQ(second->sent[0], R"(42["news",2,"node1.2"])");
  EXPECT_EQ(second->sent[1], R"(42["news",4,"node1.4"])");
  EXPECT_EQ(hub.rooms_of("s1"), (std::vector<std::string>{"room", "s1"}));
  // A session is used once.
  hub.remove_socket("s1", "client disconnect");
  EXPECT_FALSE(hub.recover_socket(RecoveryRequest{"pid1", "node1.1", "/", "u1"}, second).has_value());
}

TEST(RecoveryHub, RejectsOtherUserAndNamespace) {
  Metrics metrics;
  Hub hub(encode_socketio_message, metrics, recovery_options());
  auto connection = std::make_shared<RecordingConnection>();
  hub.add_socket(SocketInfo{"s1", "/", "u1"}, connection, "pid1");
  hub.remove_socket("s1", "transport close", true);
  EXPECT_FALSE(hub.recover_socket(RecoveryRequest{"pid1", "", "/", "u2"}, connection).has_value());

  hub.add_socket(SocketInfo{"s2", "/", "u1"}, connection, "pid2");
  hub.remove_socket("s2", "transport close", true);
  EXPECT_FALSE(hub.recover_socket(RecoveryRequest{"pid2", "", "/admin", "u1"}, connection).has_value());
}

TEST(RecoveryHub, DeliberateDisconnectKeepsNoSession) {
  Metrics metrics;
  Hub hub(encode_socketio_message, metrics, recovery_options());
  auto connection = std::make_shared<RecordingConnection>();
  hub.add_socket(SocketInfo{"s1", "/", "u1"}, connection, "pid1");
  hub.remove_socket("s1", "client namespace disconnect", false);
  EXPECT_FALSE(hub.recover_socket(RecoveryRequest{"pid1", "", "/", "u1"}, connection).has_value());
}

TEST(RecoveryHub, RoomBoundDropsOldest) {
  Metrics metrics;
  Hub hub(encode_socketio_message, metrics, recovery_options(2));
  auto connection = std::make_shared<RecordingConnection>();
  hub.add_socket(SocketInfo{"s1", "/", "u1"}, connection, "pid1");
  ASSERT_TRUE(hub.join("s1", "room").ok());
  hub.remove_socket("s1", "transport close", true);
  for (int i = 1; i <= 4; ++i) hub.emit(news({"room"}, "[" + std::to_string(i) + "]"));

  auto second = std::make_shared<RecordingConnection>();
  auto recovered = hub.recover_socket(RecoveryRequest{"pid1", "", "/", "u1"}, second);
  ASSERT_TRUE(recovered.has_value());
  ASSERT_EQ(second->sent.size(), 2u);
  EXPECT_EQ(second->sent[0], R"(42["news",3,"node1.3"])");
  EXPECT_EQ(second->sent[1], R"(42["news",4,"node1.4"])");
  EXPECT_NE(metrics.render().find(R"(heavylift_realtime_drops_total{reason="recovery_log_full"} 2)"),
            std::string::npos)
      << metrics.render();
}

}  // namespace
}  // namespace heavylift::realtime
