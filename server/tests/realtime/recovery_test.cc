#include "realtime/recovery.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

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

TEST(RecoveryLoggedEvent, RoundTripsOrigin) {
  LoggedEvent event;
  event.seq = 9;
  event.time_ms = 1700000000000;
  event.event = "news";
  event.origin = Offset{"node:with.colon", 4};
  Result<std::string> encoded = encode_logged_event(event, "/");
  ASSERT_TRUE(encoded.ok());
  Result<LoggedEvent> decoded = decode_logged_event(encoded.value(), 10);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value().seq, 9u);
  EXPECT_EQ(decoded.value().time_ms, 1700000000000);
  ASSERT_TRUE(decoded.value().origin.has_value());
  EXPECT_EQ(decoded.value().origin->node, "node:with.colon");
  EXPECT_EQ(decoded.value().origin->seq, 4u);

  event.origin.reset();
  encoded = encode_logged_event(event, "/");
  ASSERT_TRUE(encoded.ok());
  decoded = decode_logged_event(encoded.value(), 10);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_FALSE(decoded.value().origin.has_value());
}

TEST(RecoveryMerge, OrdersDedupesAndSkipsExcept) {
  LoggedEvent first{1, 0, std::nullopt, "e", "[1]", {}, {}};
  LoggedEvent second{2, 0, std::nullopt, "e", "[2]", {}, {"muted"}};
  LoggedEvent third{3, 0, std::nullopt, "e", "[3]", {}, {}};
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

TEST(ReplayFilter, DropsReplayedCopiesUntilLaterOne) {
  ReplayFilter filter{"a", 5};
  EXPECT_TRUE(filter.admit(Offset{"b", 3}));
  EXPECT_FALSE(filter.admit(Offset{"a", 4}));
  EXPECT_FALSE(filter.admit(Offset{"a", 5}));
  EXPECT_TRUE(filter.active());
  EXPECT_TRUE(filter.admit(Offset{"a", 6}));
  EXPECT_FALSE(filter.active());
  // Ended, it admits everything.
  EXPECT_TRUE(filter.admit(Offset{"a", 2}));
}

TEST(ReplayFilter, InactiveAdmitsEverything) {
  ReplayFilter filter;
  EXPECT_FALSE(filter.active());
  EXPECT_TRUE(filter.admit(Offset{"a", 1}));
}

// The recovery storage of Redis, in memory and written at once.
class MemoryMirror : public RecoveryMirror {
 public:
  void append_event(const std::string& name_space, const std::string& room, const std::string& entry,
                    size_t retained) override {
    Result<LoggedEvent> event = decode_logged_event(entry, 10);
    ASSERT_TRUE(event.ok());
    std::vector<LoggedEvent>& log = logs_[writer + '\n' + name_space + '\n' + room];
    log.push_back(std::move(event).value());
    if (log.size() > retained) log.erase(log.begin(), log.end() - static_cast<ptrdiff_t>(retained));
  }
  void save_session(const Session& session) override { sessions_[session.session_id] = session; }
  void delete_session(const std::string& session_id) override { sessions_.erase(session_id); }
  Result<std::optional<Session>> take_session(const std::string& session_id) override {
    auto found = sessions_.find(session_id);
    if (found == sessions_.end()) return std::optional<Session>();
    Session session = found->second;
    sessions_.erase(found);
    return std::optional<Session>(std::move(session));
  }
  Result<std::vector<std::vector<LoggedEvent>>> read_events(const std::string& node, const std::string& name_space,
                                                            const std::vector<std::string>& rooms) override {
    std::vector<std::vector<LoggedEvent>> out;
    for (const std::string& room : rooms) out.push_back(logs_[node + '\n' + name_space + '\n' + room]);
    return out;
  }
  Result<bool> node_alive(const std::string&) override { return true; }

  // The node id under which append_event() files entries; each hub of a
  // test calls it in turn from one thread.
  std::string writer;

 private:
  std::map<std::string, std::vector<LoggedEvent>> logs_;
  std::map<std::string, Session> sessions_;
};

// Two hubs, "a" and "b", sharing a MemoryMirror. Hub a's broadcasts to
// other hubs wait in `published` until the test hands them to hub b, as
// pub/sub copies that arrive late.
class TwoHubRecovery : public ::testing::Test {
 protected:
  static HubOptions options_for(const std::string& node) {
    HubOptions options = recovery_options();
    options.node_id = node;
    return options;
  }

  void SetUp() override {
    hub_a.recovery()->set_mirror(&mirror);
    hub_b.recovery()->set_mirror(&mirror);
    hub_a.set_forwarder([this](const Broadcast& broadcast, uint64_t seq) { published.emplace_back(broadcast, seq); });
  }

  void emit_on_a(int number) {
    mirror.writer = "a";
    hub_a.emit(news({"room"}, "[" + std::to_string(number) + "]"));
  }

  // Connects socket s1 to hub a, joins it to "room", sends it event 1 and
  // drops its connection, keeping the session.
  void connect_and_drop_on_a() {
    auto first = std::make_shared<RecordingConnection>();
    hub_a.add_socket(SocketInfo{"s1", "/", "u1"}, first, "pid1");
    ASSERT_TRUE(hub_a.join("s1", "room").ok());
    emit_on_a(1);
    ASSERT_EQ(first->sent.size(), 1u);
    EXPECT_EQ(first->sent[0], R"(42["news",1,"a.1"])");
    mirror.writer = "a";
    hub_a.remove_socket("s1", "transport close", true);
  }

  // Recovers s1 on hub b onto `connection`, with offset a.1.
  std::optional<RecoveredSocket> recover_on_b(const std::shared_ptr<RecordingConnection>& connection) {
    mirror.writer = "b";
    return hub_b.recover_socket(RecoveryRequest{"pid1", "a.1", "/", "u1"}, connection);
  }

  // Hands hub a's oldest unsent broadcast to hub b.
  void pass_one_to_b() {
    ASSERT_FALSE(published.empty());
    auto [broadcast, seq] = std::move(published.front());
    published.pop_front();
    mirror.writer = "b";
    hub_b.deliver(broadcast, Offset{"a", seq});
  }

  Metrics metrics_a;
  Metrics metrics_b;
  MemoryMirror mirror;
  Hub hub_a{encode_socketio_message, metrics_a, options_for("a")};
  Hub hub_b{encode_socketio_message, metrics_b, options_for("b")};
  std::deque<std::pair<Broadcast, uint64_t>> published;
};

TEST_F(TwoHubRecovery, LateCopiesOfReplayedEventsAreDropped) {
  connect_and_drop_on_a();
  emit_on_a(2);
  emit_on_a(3);
  ASSERT_EQ(published.size(), 3u);

  // The client comes back on hub b before any copy from hub a arrived there.
  auto second = std::make_shared<RecordingConnection>();
  auto recovered = recover_on_b(second);
  ASSERT_TRUE(recovered.has_value());
  EXPECT_EQ(recovered->replayed, 2u);
  ASSERT_EQ(second->sent.size(), 2u);
  EXPECT_EQ(second->sent[0], R"(42["news",2,"a.2"])");
  EXPECT_EQ(second->sent[1], R"(42["news",3,"a.3"])");

  // Copies of 1 (received before the move), 2 and 3 (replayed) arrive late.
  pass_one_to_b();
  pass_one_to_b();
  pass_one_to_b();
  EXPECT_EQ(second->sent.size(), 2u);

  // Later events pass, and so do broadcasts without a hub sequence number.
  emit_on_a(4);
  pass_one_to_b();
  ASSERT_EQ(second->sent.size(), 3u);
  EXPECT_EQ(second->sent[2], R"(42["news",4,"b.4"])");
  mirror.writer = "b";
  hub_b.deliver(news({"room"}, "[5]"));
  ASSERT_EQ(second->sent.size(), 4u);
  EXPECT_EQ(second->sent[3], R"(42["news",5,"b.5"])");
}

TEST_F(TwoHubRecovery, MovingBackReplaysOwnEventsNotRelayed) {
  connect_and_drop_on_a();
  auto second = std::make_shared<RecordingConnection>();
  ASSERT_TRUE(recover_on_b(second).has_value());
  pass_one_to_b();
  emit_on_a(2);
  pass_one_to_b();
  ASSERT_EQ(second->sent.size(), 1u);
  EXPECT_EQ(second->sent[0], R"(42["news",2,"b.2"])");

  // Hub a emits 3 and 4, which have not reached hub b when the client
  // comes back to hub a with the offset of 2 on hub b.
  emit_on_a(3);
  emit_on_a(4);
  mirror.writer = "b";
  hub_b.remove_socket("s1", "transport close", true);
  auto third = std::make_shared<RecordingConnection>();
  mirror.writer = "a";
  auto recovered = hub_a.recover_socket(RecoveryRequest{"pid1", "b.2", "/", "u1"}, third);
  ASSERT_TRUE(recovered.has_value());
  ASSERT_EQ(third->sent.size(), 2u);
  EXPECT_EQ(third->sent[0], R"(42["news",3,"a.3"])");
  EXPECT_EQ(third->sent[1], R"(42["news",4,"a.4"])");
}

TEST_F(TwoHubRecovery, MovingBackWithoutRelayedEventsUsesTime) {
  auto first = std::make_shared<RecordingConnection>();
  hub_b.add_socket(SocketInfo{"s1", "/", "u1"}, first, "pid1");
  ASSERT_TRUE(hub_b.join("s1", "room").ok());
  mirror.writer = "b";
  hub_b.remove_socket("s1", "transport close", true);

  // Hub a's events are logged after the socket went away on hub b, and
  // none has reached hub b: hub b's log has no event of hub a.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  emit_on_a(1);
  emit_on_a(2);
  auto second = std::make_shared<RecordingConnection>();
  mirror.writer = "a";
  auto recovered = hub_a.recover_socket(RecoveryRequest{"pid1", "", "/", "u1"}, second);
  ASSERT_TRUE(recovered.has_value());
  ASSERT_EQ(second->sent.size(), 2u);
  EXPECT_EQ(second->sent[0], R"(42["news",1,"a.1"])");
  EXPECT_EQ(second->sent[1], R"(42["news",2,"a.2"])");
}

TEST_F(TwoHubRecovery, FilterLetsOtherHubsThrough) {
  connect_and_drop_on_a();
  auto second = std::make_shared<RecordingConnection>();
  ASSERT_TRUE(recover_on_b(second).has_value());
  EXPECT_TRUE(second->sent.empty());

  // A third hub's broadcast with a sequence number below hub a's passes.
  hub_b.deliver(news({"room"}, "[7]"), Offset{"c", 1});
  ASSERT_EQ(second->sent.size(), 1u);
  // The late copy of hub a's event 1 does not.
  pass_one_to_b();
  EXPECT_EQ(second->sent.size(), 1u);
}

TEST_F(TwoHubRecovery, UnrestoredSocketGetsEveryCopy) {
  connect_and_drop_on_a();
  auto second = std::make_shared<RecordingConnection>();
  ASSERT_TRUE(recover_on_b(second).has_value());
  hub_b.remove_socket("s1", "client namespace disconnect");

  // A socket that connected to hub b directly gets every copy.
  auto other = std::make_shared<RecordingConnection>();
  hub_b.add_socket(SocketInfo{"s2", "/", "u2"}, other, "pid2");
  ASSERT_TRUE(hub_b.join("s2", "room").ok());
  pass_one_to_b();
  EXPECT_EQ(other->sent.size(), 1u);
}

}  // namespace
}  // namespace heavylift::realtime
