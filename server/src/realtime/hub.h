// The hub's model of real-time clients, free of any wire format: sockets
// (one client's attachment to one namespace, with a user id from its token),
// the rooms they are in, and broadcasts to rooms. A wire protocol (Socket.IO
// in socketio_server.h) implements Connection and supplies an Encoder, so a
// broadcast is encoded once and the same frames are queued to every member.
//
// Thread-safety: every Hub method may be called from any thread. The hub
// never calls a Connection while holding its lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "realtime/client_events.h"
#include "realtime/recovery.h"

namespace heavylift::realtime {

// A message for clients, before any wire encoding.
struct Message {
  enum class Kind { kEvent, kAck };
  Kind kind = Kind::kEvent;
  std::string name_space = "/";
  std::string event;             // kEvent only
  std::string args_json = "[]";  // JSON array of arguments
  std::vector<std::string> attachments;
  std::optional<uint64_t> ack_id;  // kAck: the id of the acknowledged event
  // Position in the recovery log, set on logged broadcasts when recovery is
  // on. A wire protocol sends it so the client can return it on reconnect.
  std::optional<std::string> offset;
};

// One WebSocket frame, and a message encoded as the frames all of its
// recipients share.
struct Frame {
  std::string data;
  bool binary = false;
};
using EncodedMessage = std::shared_ptr<const std::vector<Frame>>;
using Encoder = std::function<EncodedMessage(const Message&)>;

// Called once with the acknowledgement's arguments (a JSON array), or with
// an error when the socket closes or the hub stops first.
using AckCallback = std::function<void(Result<std::string>)>;

// The hub's handle on one client connection. Implementations must not block
// and must not call back into the Hub from these methods.
class Connection {
 public:
  virtual ~Connection() = default;
  // Queues `frames` for sending, or drops them and closes the connection when
  // its send queue is full.
  virtual void send(EncodedMessage frames) = 0;
  // Sends `message` (an event) to the socket with an ack id and calls `done`
  // with the client's acknowledgement, or DEADLINE_EXCEEDED after `timeout`.
  virtual void send_with_ack(const std::string& socket_id, Message message, std::chrono::milliseconds timeout,
                             AckCallback done) = 0;
  // Ends one socket with a DISCONNECT, keeping the connection.
  virtual void close_socket(const std::string& socket_id, const std::string& reason) = 0;
  // Ends the whole connection.
  virtual void close(const std::string& reason) = 0;
};

// Queues one encoded message to every connection of `targets`, as send()
// on each would. A wire protocol sets one on the hub when it can do this
// with less work than one send() per connection.
using FanOut = std::function<void(std::vector<std::shared_ptr<Connection>> targets, const EncodedMessage& frames)>;

// A socket as the hub stores it.
struct SocketInfo {
  std::string socket_id;
  std::string name_space;
  std::string user_id;
};

// A broadcast: `message` to every socket of `message.name_space` that is in
// any of `rooms` (every socket of the namespace when empty) and in none of
// `except_rooms`. A socket in several of the rooms receives it once.
struct Broadcast {
  std::vector<std::string> rooms;
  std::vector<std::string> except_rooms;
  Message message;
};

struct HubOptions {
  // Sends a `heavylift:presence` event to a room's members when a socket
  // joins or leaves it.
  bool presence_events = false;
  // Events each client-event subscription may hold before drops.
  size_t subscriber_queue_capacity = 4096;
  // Connection state recovery; node_id names this hub in offsets and must be
  // unique among hubs sharing Redis.
  RecoveryOptions recovery;
  std::string node_id;
};

// A client's request to recover its socket: the session id it was given at
// CONNECT, the last offset it received (may be empty), and the identity from
// its new token, which the caller has verified.
struct RecoveryRequest {
  std::string session_id;
  std::string offset;
  std::string name_space;
  std::string user_id;
};

// A recovered socket: its former id and how many missed events were queued.
struct RecoveredSocket {
  std::string socket_id;
  size_t replayed = 0;
};

// The sockets a server-side join, leave or disconnect applies to.
struct SocketSelector {
  std::string name_space = "/";
  std::string socket_id;  // when set, only this socket
  std::string user_id;    // otherwise every socket of this user
};

// A server-side join, leave or disconnect by selector, as one hub passes it
// to the others so that it reaches the user's sockets on every hub.
struct SelectorChange {
  enum class Type { kJoin, kLeave, kDisconnect };
  Type type = Type::kJoin;
  SocketSelector selector;
  std::string room;               // kJoin and kLeave
  bool whole_connection = false;  // kDisconnect
};

// Event name of the presence messages sent to rooms.
inline constexpr char kPresenceEvent[] = "heavylift:presence";

class Hub {
 public:
  Hub(Encoder encoder, Metrics& metrics, HubOptions options);

  // Adds a socket, which joins the room named by its socket id as in
  // Socket.IO. Publishes a CONNECT client event. `session_id` is the private
  // id under which the socket's state is kept for recovery when it goes away
  // (empty when recovery is off).
  void add_socket(const SocketInfo& socket, std::shared_ptr<Connection> connection,
                  const std::string& session_id = "");
  // Removes a socket from every room. Publishes a DISCONNECT client event.
  // With `keep_session` and recovery on, keeps the socket's id and rooms for
  // the recovery window. Does nothing for an unknown id.
  void remove_socket(const std::string& socket_id, const std::string& reason, bool keep_session = false);
  // Restores the socket a session was kept for: the same socket id, its
  // rooms, then the logged events of those rooms after the offset, queued to
  // `connection` before any later broadcast. Returns nullopt (and the caller
  // adds a new socket) when recovery is off, the session is unknown,
  // expired, of another namespace or user, or the offset is invalid.
  std::optional<RecoveredSocket> recover_socket(const RecoveryRequest& request,
                                                std::shared_ptr<Connection> connection);
  // The recovery log, or nullptr when recovery is off.
  RecoveryLog* recovery() { return recovery_.get(); }

  // Adds or removes one socket in `room`. Returns NOT_FOUND for an unknown
  // socket. Joining a room twice, or leaving one it is not in, is no error.
  Status join(const std::string& socket_id, const std::string& room);
  Status leave(const std::string& socket_id, const std::string& room);
  // The same for every socket `selector` names, here and, through the
  // selector forwarder, on the other hubs. Returns how many sockets it named
  // on this hub.
  size_t join_selected(const SocketSelector& selector, const std::string& room);
  size_t leave_selected(const SocketSelector& selector, const std::string& room);
  // Applies a change that another hub forwarded to this hub's sockets only.
  // Returns how many sockets it named.
  size_t apply_selector_change(const SelectorChange& change);

  // Delivers a broadcast to this hub's sockets, passes it to the forwarder
  // (other hubs) when one is set, and returns how many local sockets it was
  // queued to.
  size_t emit(const Broadcast& broadcast);
  // Delivers a broadcast to this hub's sockets only, as for one that came
  // from another hub. `origin` is the offset under which that hub logged it,
  // when it sent one. A socket recovered from that hub's log skips the
  // copies of events it was already sent (see ReplayFilter).
  size_t deliver(const Broadcast& broadcast, const std::optional<Offset>& origin = std::nullopt);

  // Sockets of `name_space` in any of `rooms` (all when empty) and in none of
  // `except_rooms` join or leave every room of `targets`, or disconnect.
  // Each returns how many sockets matched.
  size_t join_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                       const std::vector<std::string>& except_rooms, const std::vector<std::string>& targets);
  size_t leave_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                        const std::vector<std::string>& except_rooms, const std::vector<std::string>& targets);
  size_t disconnect_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                             const std::vector<std::string>& except_rooms, bool whole_connection);

  // Hooks for scale-out, set once before the hub carries traffic: the
  // forwarder receives every emit() broadcast with the sequence number this
  // hub logged it under (0 when not logged), the membership observer every
  // join (true) and leave (false) of a room other than a socket's own.
  void set_forwarder(std::function<void(const Broadcast&, uint64_t seq)> forwarder);
  void set_membership_observer(std::function<void(const SocketInfo&, const std::string& room, bool joined)> observer);
  // Receives every join_selected, leave_selected and disconnect, for the
  // other hubs. Set once before the hub carries traffic.
  void set_selector_forwarder(std::function<void(const SelectorChange&)> forwarder);
  // Replaces the send() per member of a broadcast. Set once before the hub
  // carries traffic.
  void set_fan_out(FanOut fan_out);
  // Sends an event to one socket and calls `done` with its acknowledgement,
  // or DEADLINE_EXCEEDED after `timeout`. Returns NOT_FOUND, without calling
  // `done`, for an unknown socket.
  Status emit_with_ack(const std::string& socket_id, Message message, std::chrono::milliseconds timeout,
                       AckCallback done);
  // Sends `message` (usually the ACK of a client's event) to one socket.
  Status send_to(const std::string& socket_id, const Message& message);
  // Disconnects the sockets `selector` names, or their whole connections
  // when `whole_connection`, here and through the selector forwarder on the
  // other hubs. Returns how many sockets it named on this hub.
  size_t disconnect(const SocketSelector& selector, bool whole_connection, const std::string& reason);

  // The sockets in `room` of `name_space`, sorted by socket id.
  std::vector<SocketInfo> members(const std::string& name_space, const std::string& room) const;
  // The rooms `socket_id` is in, sorted; empty for an unknown socket.
  std::vector<std::string> rooms_of(const std::string& socket_id) const;
  std::optional<SocketInfo> find(const std::string& socket_id) const;

  size_t socket_count() const;
  size_t room_count() const;

  ClientEventBroker& client_events() { return client_events_; }

 private:
  struct SocketEntry {
    SocketInfo info;
    std::shared_ptr<Connection> connection;
    // A vector, because a socket is usually in few rooms (a client's own
    // joins are bounded by realtime.max_rooms_per_socket), and a hash set
    // costs a node per room and a bucket array per socket.
    std::vector<std::string> rooms;
    std::string session_id;
    std::string start_offset;  // the recovery log's offset when the socket connected
    // Set when the socket was restored from another hub's log. Written with
    // order_mutex_ and mutex_ (at least shared) held, so deliver() may end
    // it while it holds both.
    mutable ReplayFilter replay_filter;
  };
  // Rooms of one namespace: room name to member entries.
  using RoomMap = std::unordered_map<std::string, std::unordered_set<SocketEntry*>>;

  // Both expect mutex_ held for writing. Return true when membership changed.
  bool join_locked(SocketEntry& entry, const std::string& room);
  bool leave_locked(SocketEntry& entry, const std::string& room);
  std::vector<SocketEntry*> select_locked(const SocketSelector& selector);
  // Local parts of join_selected (join true), leave_selected and disconnect.
  size_t change_selected(const SocketSelector& selector, const std::string& room, bool join);
  size_t disconnect_selected(const SocketSelector& selector, bool whole_connection, const std::string& reason);
  size_t apply_and_forward(const SelectorChange& change);
  // Sockets of `name_space` in any of `rooms` (all when empty), in none of
  // `except_rooms`, each once. Expects mutex_ held.
  std::vector<const SocketEntry*> match_locked(const std::string& name_space, const std::vector<std::string>& rooms,
                                               const std::vector<std::string>& except_rooms) const;
  void announce_presence(const SocketInfo& socket, const std::string& room, bool joined);
  void publish_connect(const SocketInfo& socket);
  // Delivers a broadcast to this hub's sockets. Sets `*seq` to the sequence
  // number it was logged under, or 0.
  size_t deliver_locally(const Broadcast& broadcast, const Offset* origin, uint64_t* seq);
  // The events a recovering session missed that are in another hub's log in
  // Redis, and, when that hub is gone, per room the time after which this
  // hub's own log continues it. Sets `*last_seq` to the highest sequence
  // number in the logs read, and `*last_own_seq` to the highest one this hub
  // gave an event the other hub relayed, if any. Expects order_mutex_ held.
  std::optional<std::vector<LoggedEvent>> read_remote_events(const Session& session, const Offset& offset,
                                                             bool node_alive,
                                                             std::unordered_map<std::string, int64_t>* continue_after,
                                                             uint64_t* last_seq, std::optional<uint64_t>* last_own_seq);
  // join_matching (join true) or leave_matching.
  size_t change_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                         const std::vector<std::string>& except_rooms, const std::vector<std::string>& targets,
                         bool join);

  const Encoder encoder_;
  const HubOptions options_;
  std::unique_ptr<RecoveryLog> recovery_;
  // Held while a broadcast is numbered and queued, and while a recovered
  // socket is restored, so that its replay comes before later broadcasts.
  std::mutex order_mutex_;
  // Sockets whose replay_filter is active; deliver() reads it to skip the
  // filter check for every target while it is 0.
  std::atomic<size_t> filtered_sockets_{0};
  std::function<void(const Broadcast&, uint64_t)> forwarder_;
  std::function<void(const SocketInfo&, const std::string&, bool)> membership_observer_;
  std::function<void(const SelectorChange&)> selector_forwarder_;
  FanOut fan_out_;
  ClientEventBroker client_events_;
  Counter& messages_out_;

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<SocketEntry>> sockets_;
  std::unordered_map<std::string, RoomMap> namespaces_;
  // (namespace, user id) keyed as namespace + '\n' + user id.
  std::unordered_map<std::string, std::unordered_set<SocketEntry*>> users_;
  size_t room_count_ = 0;
};

}  // namespace heavylift::realtime
