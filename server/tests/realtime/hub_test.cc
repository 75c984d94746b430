#include "realtime/hub.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "realtime/socketio_server.h"
#include "recording_connection.h"
#include "realtime/token_claims.h"

namespace heavylift::realtime {
namespace {

class HubTest : public ::testing::Test {
 protected:
  std::shared_ptr<RecordingConnection> connect(const std::string& id, const std::string& user,
                                               const std::string& name_space = "/") {
    auto connection = std::make_shared<RecordingConnection>();
    hub.add_socket(SocketInfo{id, name_space, user}, connection);
    return connection;
  }

  Metrics metrics;
  Hub hub{encode_socketio_message, metrics, HubOptions{}};
};

Broadcast event_to(std::vector<std::string> rooms, std::vector<std::string> except = {}) {
  Broadcast broadcast;
  broadcast.rooms = std::move(rooms);
  broadcast.except_rooms = std::move(except);
  broadcast.message.event = "news";
  broadcast.message.args_json = R"([1,"a"])";
  return broadcast;
}

TEST_F(HubTest, EmitReachesRoomMembersOnce) {
  auto a = connect("a", "u1");
  auto b = connect("b", "u2");
  auto c = connect("c", "u3");
  ASSERT_TRUE(hub.join("a", "r1").ok());
  ASSERT_TRUE(hub.join("a", "r2").ok());
  ASSERT_TRUE(hub.join("b", "r2").ok());
  EXPECT_EQ(hub.emit(event_to({"r1", "r2"})), 2u);
  ASSERT_EQ(a->sent.size(), 1u);
  EXPECT_EQ(a->sent[0], R"(42["news",1,"a"])");
  EXPECT_EQ(b->sent.size(), 1u);
  EXPECT_TRUE(c->sent.empty());
}

TEST_F(HubTest, ExceptRoomsAreSkipped) {
  auto a = connect("a", "u1");
  auto b = connect("b", "u2");
  ASSERT_TRUE(hub.join("a", "r").ok());
  ASSERT_TRUE(hub.join("b", "r").ok());
  ASSERT_TRUE(hub.join("b", "muted").ok());
  EXPECT_EQ(hub.emit(event_to({"r"}, {"muted"})), 1u);
  EXPECT_EQ(a->sent.size(), 1u);
  EXPECT_TRUE(b->sent.empty());
}

TEST_F(HubTest, FanOutReceivesEveryMemberOnce) {
  auto a = connect("a", "u1");
  auto b = connect("b", "u2");
  auto c = connect("c", "u3");
  ASSERT_TRUE(hub.join("a", "r").ok());
  ASSERT_TRUE(hub.join("b", "r").ok());
  std::vector<std::shared_ptr<Connection>> received;
  int calls = 0;
  hub.set_fan_out([&](std::vector<std::shared_ptr<Connection>> targets, const EncodedMessage& frames) {
    ++calls;
    EXPECT_EQ(frames->front().data, R"(42["news",1,"a"])");
    received = std::move(targets);
  });
  EXPECT_EQ(hub.emit(event_to({"r"})), 2u);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_TRUE(std::find(received.begin(), received.end(), a) != received.end());
  EXPECT_TRUE(std::find(received.begin(), received.end(), b) != received.end());
  EXPECT_TRUE(std::find(received.begin(), received.end(), c) == received.end());
  // The hook replaces send(): nothing reaches the connections by itself.
  EXPECT_TRUE(a->sent.empty());
  EXPECT_EQ(hub.emit(event_to({"nobody"})), 0u);
  EXPECT_EQ(calls, 1);
}

TEST_F(HubTest, EmptyRoomListReachesWholeNamespace) {
  auto a = connect("a", "u1");
  auto other = connect("z", "u9", "/admin");
  EXPECT_EQ(hub.emit(event_to({})), 1u);
  EXPECT_EQ(a->sent.size(), 1u);
  EXPECT_TRUE(other->sent.empty());
}

TEST_F(HubTest, SocketIsInItsOwnRoom) {
  auto a = connect("a", "u1");
  EXPECT_EQ(hub.emit(event_to({"a"})), 1u);
  EXPECT_EQ(hub.rooms_of("a"), std::vector<std::string>{"a"});
}

TEST_F(HubTest, JoinByUserReachesEverySocketOfUser) {
  connect("a", "alice");
  connect("b", "alice");
  connect("c", "bob");
  EXPECT_EQ(hub.join_selected(SocketSelector{"/", "", "alice"}, "team"), 2u);
  const auto members = hub.members("/", "team");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].socket_id, "a");
  EXPECT_EQ(members[1].user_id, "alice");
  EXPECT_EQ(hub.leave_selected(SocketSelector{"/", "b", ""}, "team"), 1u);
  EXPECT_EQ(hub.members("/", "team").size(), 1u);
}

TEST_F(HubTest, RemoveSocketLeavesRoomsAndCountsDrop) {
  connect("a", "u1");
  ASSERT_TRUE(hub.join("a", "r").ok());
  EXPECT_EQ(hub.room_count(), 2u);
  hub.remove_socket("a", "test");
  EXPECT_EQ(hub.room_count(), 0u);
  EXPECT_EQ(hub.socket_count(), 0u);
  EXPECT_TRUE(hub.members("/", "r").empty());
}

TEST_F(HubTest, UnknownSocketIsNotFound) {
  EXPECT_EQ(hub.join("missing", "r").error().code, Code::kNotFound);
}

TEST_F(HubTest, ClientEventsReachSubscriberGroupsInTurn) {
  auto first = hub.client_events().subscribe("app", {});
  auto second = hub.client_events().subscribe("app", {});
  auto audit = hub.client_events().subscribe("", {"/"});
  connect("a", "u1");
  connect("b", "u2");
  const auto wait = std::chrono::milliseconds(10);
  EXPECT_TRUE(first->next(wait).has_value());
  EXPECT_TRUE(second->next(wait).has_value());
  EXPECT_FALSE(first->next(wait).has_value());
  EXPECT_EQ(audit->next(wait)->socket_id, "a");
  EXPECT_EQ(audit->next(wait)->type, ClientEvent::Type::kConnect);
}

TEST_F(HubTest, ClientEventBatchTakesQueuedEventsInOrderWithinBounds) {
  auto subscription = hub.client_events().subscribe("", {});
  connect("a", "u1");
  connect("b", "u2");
  connect("c", "u3");
  const auto wait = std::chrono::milliseconds(10);
  std::vector<ClientEvent> batch = subscription->next_batch(wait, 2, 1 << 20);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].socket_id, "a");
  EXPECT_EQ(batch[1].socket_id, "b");
  // A byte bound smaller than one event still takes that event, alone.
  connect("d", "u4");
  batch = subscription->next_batch(wait, 10, 1);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].socket_id, "c");
  batch = subscription->next_batch(wait, 10, 1 << 20);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].socket_id, "d");
  EXPECT_TRUE(subscription->next_batch(wait, 10, 1 << 20).empty());
}

TEST_F(HubTest, DisconnectByUserClosesSockets) {
  auto a = connect("a", "alice");
  EXPECT_EQ(hub.disconnect(SocketSelector{"/", "", "alice"}, false, "kicked"), 1u);
  EXPECT_EQ(a->closed_sockets, std::vector<std::string>{"a"});
}

TEST_F(HubTest, EmitWithAckReturnsClientArguments) {
  auto a = connect("a", "u1");
  Message message;
  message.event = "ping";
  std::string answer;
  ASSERT_TRUE(hub.emit_with_ack("a", message, std::chrono::seconds(1), [&](Result<std::string> result) { answer = result.value(); }).ok());
  EXPECT_EQ(answer, "[\"pong\"]");
  EXPECT_EQ(a->sent[0], R"(421["ping"])");
}

TEST_F(HubTest, PresenceEventsGoToRoom) {
  Hub presence_hub{encode_socketio_message, metrics, HubOptions{true}};
  auto a = std::make_shared<RecordingConnection>();
  auto b = std::make_shared<RecordingConnection>();
  presence_hub.add_socket(SocketInfo{"a", "/", "alice"}, a);
  presence_hub.add_socket(SocketInfo{"b", "/", "bob"}, b);
  ASSERT_TRUE(presence_hub.join("a", "r").ok());
  ASSERT_TRUE(presence_hub.join("b", "r").ok());
  ASSERT_EQ(a->sent.size(), 2u);
  EXPECT_EQ(a->sent[1], R"(42["heavylift:presence",{"type":"join","room":"r","socketId":"b","userId":"bob"}])");
}

TEST(RoomAllowed, ExactAndPrefixPatterns) {
  Claims claims;
  claims.rooms = {"lobby", "chat:*"};
  EXPECT_TRUE(room_allowed(claims, "lobby"));
  EXPECT_TRUE(room_allowed(claims, "chat:42"));
  EXPECT_FALSE(room_allowed(claims, "lobby2"));
  EXPECT_FALSE(room_allowed(claims, "admin"));
  claims.rooms = {"*"};
  EXPECT_TRUE(room_allowed(claims, "anything"));
}

TEST(EncodeMessage, BinaryEventHasAttachmentFrames) {
  Message message;
  message.name_space = "/files";
  message.event = "blob";
  message.args_json = R"([{"_placeholder":true,"num":0}])";
  message.attachments = {std::string("\x01\x02", 2)};
  const EncodedMessage frames = encode_socketio_message(message);
  ASSERT_EQ(frames->size(), 2u);
  EXPECT_EQ((*frames)[0].data, R"(451-/files,["blob",{"_placeholder":true,"num":0}])");
  EXPECT_TRUE((*frames)[1].binary);
}

}  // namespace
}  // namespace heavylift::realtime
