// Connection state recovery in the hub's model, free of any wire format.
//
// Each hub numbers the broadcasts it delivers: an offset is the hub's node
// id and a sequence number ("<node>.<seq>"), sent to clients with every
// logged event. The hub logs each broadcast under each of its rooms ("" for
// a broadcast to a whole namespace), bounded per room by count and bytes and
// by the recovery window. A socket that goes away for a reason that allows
// recovery leaves a session (socket id, rooms, user id) under a private
// session id. A client that comes back within the window with that session
// id and the last offset it received gets its socket id and rooms back, and
// the logged events of its rooms after that offset.
//
// With Redis (RecoveryMirror), the log and the sessions are also kept there,
// so another hub, or this hub after a restart, can recover them.
//
// Thread-safety: every RecoveryLog method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"

namespace heavylift::realtime {

struct Message;
struct Broadcast;

struct RecoveryOptions {
  bool enabled = false;
  // How long a disconnected socket's session and the logged events are kept.
  std::chrono::milliseconds window{120000};
  // Bounds of one room's log; beyond them the oldest events are dropped.
  size_t max_events_per_room = 1000;
  size_t max_bytes_per_room = 1 << 20;
};

// A broadcast's position in the sequence of the hub that delivered it.
struct Offset {
  std::string node;
  uint64_t seq = 0;
};
std::string format_offset(const Offset& offset);
// Returns nullopt unless `text` is "<node>.<seq>" with a non-empty node.
std::optional<Offset> parse_offset(std::string_view text);

// The live copies of another hub's events that a socket restored on this hub
// must skip: the events hub `node` logged up to `last_seq`, which the socket
// received in its replay or before it went away. Hubs carry the sequence
// number in their hub-to-hub broadcasts, and one hub's broadcasts reach a
// subscriber in the order it published them, so the first copy from `node`
// numbered after `last_seq` ends the filter.
struct ReplayFilter {
  std::string node;  // empty: no filter
  uint64_t last_seq = 0;

  bool active() const { return !node.empty(); }
  // Returns false for a copy to drop. A copy from `node` numbered after
  // `last_seq` ends the filter. Copies from other hubs pass unchanged.
  bool admit(const Offset& origin);
};

// One logged broadcast: its event (with the offset set), the except rooms it
// was sent with, the system clock time it was logged at, and, for a broadcast
// another hub emitted, the offset under which that hub logged it.
struct LoggedEvent {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::optional<Offset> origin;
  std::string event;
  std::string args_json = "[]";
  std::vector<std::string> attachments;
  std::vector<std::string> except_rooms;
};

// The state of a socket that went away, kept for recovery.
struct Session {
  std::string session_id;  // private; only the client that owned the socket has it
  std::string socket_id;
  std::string name_space;
  std::string user_id;
  std::vector<std::string> rooms;  // includes the socket's own room
  // The hub's offset when the socket connected, for a client that received
  // no offset before it went away.
  std::string start_offset;
  int64_t disconnected_ms = 0;
};

// Serializations used in Redis: a session as JSON, a logged event as an
// emitter broadcast (MessagePack) whose uid is "<seq>:<time_ms>", followed by
// ":<origin seq>:<origin node>" when the event has an origin.
std::string encode_session(const Session& session);
Result<Session> decode_session(std::string_view json);
Result<std::string> encode_logged_event(const LoggedEvent& event, const std::string& name_space);
Result<LoggedEvent> decode_logged_event(std::string_view bytes, size_t max_attachments);

// Shared storage of logs and sessions (Redis), written in the background.
class RecoveryMirror {
 public:
  virtual ~RecoveryMirror() = default;
  // Appends `entry` (encode_logged_event) to the log of this hub for `room`,
  // then keeps only the last `retained` entries.
  virtual void append_event(const std::string& name_space, const std::string& room, const std::string& entry,
                            size_t retained) = 0;
  virtual void save_session(const Session& session) = 0;
  virtual void delete_session(const std::string& session_id) = 0;
  // Removes and returns a session; nullopt when absent or expired.
  virtual Result<std::optional<Session>> take_session(const std::string& session_id) = 0;
  // The logs of hub `node` for each of `rooms`, each oldest first, read in
  // one transaction, so that together they show the logs at one moment.
  virtual Result<std::vector<std::vector<LoggedEvent>>> read_events(const std::string& node,
                                                                    const std::string& name_space,
                                                                    const std::vector<std::string>& rooms) = 0;
  virtual Result<bool> node_alive(const std::string& node) = 0;
};

// This hub's log and sessions in memory.
class RecoveryLog {
 public:
  RecoveryLog(std::string node_id, RecoveryOptions options, Metrics& metrics);

  const RecoveryOptions& options() const { return options_; }
  const std::string& node_id() const { return node_id_; }
  void set_mirror(RecoveryMirror* mirror) { mirror_ = mirror; }
  RecoveryMirror* mirror() const { return mirror_; }

  // Numbers and logs one broadcast of an event to `rooms` of `name_space`,
  // with the offset `origin` under which the hub that emitted it logged it
  // (nullptr when this hub emitted it or none was sent). Returns its offset.
  // The caller orders appends with recoveries.
  Offset append(const std::string& name_space, const std::vector<std::string>& rooms,
                const std::vector<std::string>& except_rooms, const Message& message, const Offset* origin);
  // The offset the next append() follows.
  std::string current_offset() const;

  // Logged events for a socket in `rooms` of `name_space`, in order, each
  // once, without those sent with an except room the socket is in. Only
  // events after `after_seq` and, per room, after the time `after_ms(room)`
  // returns are kept.
  std::vector<LoggedEvent> events_for(const std::string& name_space, const std::vector<std::string>& rooms,
                                      uint64_t after_seq,
                                      const std::function<int64_t(const std::string& room)>& after_ms) const;

  void save_session(Session session);
  std::optional<Session> take_session(const std::string& session_id);

  static int64_t now_ms();

 private:
  struct RoomLog {
    std::deque<std::shared_ptr<const LoggedEvent>> events;
    size_t bytes = 0;
  };
  // Drops events older than the window and expired sessions. append() calls
  // it, and it runs at most once per tenth of the window. Expects mutex_ held.
  void sweep_locked(int64_t now);

  const std::string node_id_;
  const RecoveryOptions options_;
  RecoveryMirror* mirror_ = nullptr;
  Counter& dropped_;

  mutable std::mutex mutex_;
  uint64_t next_seq_ = 1;
  int64_t last_sweep_ms_ = 0;
  // Keyed by namespace + '\n' + room.
  std::unordered_map<std::string, RoomLog> rooms_;
  std::unordered_map<std::string, Session> sessions_;
};

// Merges logs (each ordered by seq) into one ordered list without repeats,
// keeping events after `after_seq` whose except rooms miss `rooms`.
std::vector<LoggedEvent> merge_events(std::vector<std::vector<LoggedEvent>> logs,
                                      const std::vector<std::string>& rooms, uint64_t after_seq);

}  // namespace heavylift::realtime
