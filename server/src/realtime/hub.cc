#include "realtime/hub.h"

#include <algorithm>
#include <limits>
#include <mutex>

#include <spdlog/spdlog.h>

#include "core/logging.h"

#include "realtime/json_text.h"

namespace heavylift::realtime {
namespace {

std::string user_key(const std::string& name_space, const std::string& user_id) {
  return name_space + '\n' + user_id;
}

}  // namespace

Hub::Hub(Encoder encoder, Metrics& metrics, HubOptions options)
    : encoder_(std::move(encoder)),
      options_(options),
      client_events_(options.subscriber_queue_capacity, metrics),
      messages_out_(metrics.counter("heavylift_realtime_messages_total",
                                    "Socket.IO packets received from clients (in) or queued to them (out).",
                                    {{"direction", "out"}})) {
  if (options_.recovery.enabled) recovery_ = std::make_unique<RecoveryLog>(options_.node_id, options_.recovery, metrics);
  metrics.gauge_callback("heavylift_realtime_sockets", "Sockets (client attachments to a namespace) connected.",
                         [this] { return static_cast<double>(socket_count()); });
  metrics.gauge_callback("heavylift_realtime_rooms", "Rooms with at least one member, over all namespaces.",
                         [this] { return static_cast<double>(room_count()); });
}

void Hub::add_socket(const SocketInfo& socket, std::shared_ptr<Connection> connection,
                     const std::string& session_id) {
  {
    std::unique_lock lock(mutex_);
    auto entry = std::make_unique<SocketEntry>();
    entry->info = socket;
    entry->connection = std::move(connection);
    entry->session_id = session_id;
    if (recovery_) entry->start_offset = recovery_->current_offset();
    SocketEntry& stored = *entry;
    sockets_[socket.socket_id] = std::move(entry);
    users_[user_key(socket.name_space, socket.user_id)].insert(&stored);
    join_locked(stored, socket.socket_id);
  }
  publish_connect(socket);
}

void Hub::publish_connect(const SocketInfo& socket) {
  ClientEvent event;
  event.type = ClientEvent::Type::kConnect;
  event.name_space = socket.name_space;
  event.socket_id = socket.socket_id;
  event.user_id = socket.user_id;
  client_events_.publish(event);
}

void Hub::remove_socket(const std::string& socket_id, const std::string& reason, bool keep_session) {
  std::vector<std::string> left_rooms;
  SocketInfo info;
  std::optional<Session> session;
  {
    std::unique_lock lock(mutex_);
    auto found = sockets_.find(socket_id);
    if (found == sockets_.end()) return;
    SocketEntry& entry = *found->second;
    info = entry.info;
    if (entry.replay_filter.active()) filtered_sockets_.fetch_sub(1, std::memory_order_relaxed);
    if (keep_session && recovery_ && !entry.session_id.empty()) {
      session.emplace();
      session->session_id = entry.session_id;
      session->socket_id = socket_id;
      session->name_space = info.name_space;
      session->user_id = info.user_id;
      session->rooms.assign(entry.rooms.begin(), entry.rooms.end());
      std::sort(session->rooms.begin(), session->rooms.end());
      session->start_offset = entry.start_offset;
      session->disconnected_ms = RecoveryLog::now_ms();
    }
    const std::vector<std::string> rooms(entry.rooms.begin(), entry.rooms.end());
    for (const std::string& room : rooms) {
      leave_locked(entry, room);
      if (room != socket_id) left_rooms.push_back(room);
    }
    const std::string key = user_key(info.name_space, info.user_id);
    auto user = users_.find(key);
    if (user != users_.end()) {
      user->second.erase(&entry);
      if (user->second.empty()) users_.erase(user);
    }
    sockets_.erase(found);
  }
  if (session) recovery_->save_session(std::move(*session));
  for (const std::string& room : left_rooms) announce_presence(info, room, false);
  ClientEvent event;
  event.type = ClientEvent::Type::kDisconnect;
  event.name_space = info.name_space;
  event.socket_id = info.socket_id;
  event.user_id = info.user_id;
  event.reason = reason;
  client_events_.publish(event);
}

bool Hub::join_locked(SocketEntry& entry, const std::string& room) {
  if (std::find(entry.rooms.begin(), entry.rooms.end(), room) != entry.rooms.end()) return false;
  entry.rooms.push_back(room);
  auto& members = namespaces_[entry.info.name_space][room];
  if (members.empty()) ++room_count_;
  members.insert(&entry);
  return true;
}

bool Hub::leave_locked(SocketEntry& entry, const std::string& room) {
  auto joined = std::find(entry.rooms.begin(), entry.rooms.end(), room);
  if (joined == entry.rooms.end()) return false;
  entry.rooms.erase(joined);
  auto space = namespaces_.find(entry.info.name_space);
  if (space == namespaces_.end()) return true;
  auto members = space->second.find(room);
  if (members == space->second.end()) return true;
  members->second.erase(&entry);
  if (members->second.empty()) {
    space->second.erase(members);
    --room_count_;
    if (space->second.empty()) namespaces_.erase(space);
  }
  return true;
}

Status Hub::join(const std::string& socket_id, const std::string& room) {
  SocketInfo info;
  {
    std::unique_lock lock(mutex_);
    auto found = sockets_.find(socket_id);
    if (found == sockets_.end()) {
      return Error{Code::kNotFound, "socket " + quote_value(socket_id) + " is not connected", "socket_id"};
    }
    if (!join_locked(*found->second, room)) return Status::Ok();
    info = found->second->info;
  }
  announce_presence(info, room, true);
  return Status::Ok();
}

Status Hub::leave(const std::string& socket_id, const std::string& room) {
  SocketInfo info;
  {
    std::unique_lock lock(mutex_);
    auto found = sockets_.find(socket_id);
    if (found == sockets_.end()) {
      return Error{Code::kNotFound, "socket " + quote_value(socket_id) + " is not connected", "socket_id"};
    }
    if (!leave_locked(*found->second, room)) return Status::Ok();
    info = found->second->info;
  }
  announce_presence(info, room, false);
  return Status::Ok();
}

std::vector<Hub::SocketEntry*> Hub::select_locked(const SocketSelector& selector) {
  std::vector<SocketEntry*> selected;
  if (!selector.socket_id.empty()) {
    auto found = sockets_.find(selector.socket_id);
    if (found != sockets_.end() && found->second->info.name_space == selector.name_space) {
      selected.push_back(found->second.get());
    }
    return selected;
  }
  auto user = users_.find(user_key(selector.name_space, selector.user_id));
  if (user != users_.end()) selected.assign(user->second.begin(), user->second.end());
  return selected;
}

size_t Hub::join_selected(const SocketSelector& selector, const std::string& room) {
  return apply_and_forward(SelectorChange{SelectorChange::Type::kJoin, selector, room, false});
}

size_t Hub::leave_selected(const SocketSelector& selector, const std::string& room) {
  return apply_and_forward(SelectorChange{SelectorChange::Type::kLeave, selector, room, false});
}

size_t Hub::apply_and_forward(const SelectorChange& change) {
  const size_t selected = apply_selector_change(change);
  if (selector_forwarder_) selector_forwarder_(change);
  return selected;
}

size_t Hub::apply_selector_change(const SelectorChange& change) {
  switch (change.type) {
    case SelectorChange::Type::kJoin: return change_selected(change.selector, change.room, true);
    case SelectorChange::Type::kLeave: return change_selected(change.selector, change.room, false);
    case SelectorChange::Type::kDisconnect:
      return disconnect_selected(change.selector, change.whole_connection, "server disconnect");
  }
  return 0;
}

size_t Hub::change_selected(const SocketSelector& selector, const std::string& room, bool join) {
  std::vector<SocketInfo> changed;
  size_t selected_count = 0;
  {
    std::unique_lock lock(mutex_);
    const auto selected = select_locked(selector);
    selected_count = selected.size();
    for (SocketEntry* entry : selected) {
      if (join ? join_locked(*entry, room) : leave_locked(*entry, room)) changed.push_back(entry->info);
    }
  }
  for (const SocketInfo& info : changed) announce_presence(info, room, join);
  return selected_count;
}

std::vector<const Hub::SocketEntry*> Hub::match_locked(const std::string& name_space,
                                                       const std::vector<std::string>& rooms,
                                                       const std::vector<std::string>& except_rooms) const {
  std::vector<const SocketEntry*> matched;
  auto space = namespaces_.find(name_space);
  if (space == namespaces_.end()) return matched;
  const RoomMap& room_map = space->second;

  std::unordered_set<const SocketEntry*> excluded;
  for (const std::string& room : except_rooms) {
    auto members = room_map.find(room);
    if (members != room_map.end()) excluded.insert(members->second.begin(), members->second.end());
  }
  auto add = [&](const SocketEntry* entry) {
    if (excluded.empty() || excluded.count(entry) == 0) matched.push_back(entry);
  };

  if (rooms.empty()) {
    for (const auto& [id, entry] : sockets_) {
      if (entry->info.name_space == name_space) add(entry.get());
    }
  } else if (rooms.size() == 1) {
    auto members = room_map.find(rooms.front());
    if (members != room_map.end()) {
      matched.reserve(members->second.size());
      for (const SocketEntry* entry : members->second) add(entry);
    }
  } else {
    // A socket in several of the rooms is matched once.
    std::unordered_set<const SocketEntry*> seen;
    for (const std::string& room : rooms) {
      auto members = room_map.find(room);
      if (members == room_map.end()) continue;
      for (const SocketEntry* entry : members->second) {
        if (seen.insert(entry).second) add(entry);
      }
    }
  }
  return matched;
}

size_t Hub::emit(const Broadcast& broadcast) {
  uint64_t seq = 0;
  const size_t delivered = deliver_locally(broadcast, nullptr, &seq);
  if (forwarder_) forwarder_(broadcast, seq);
  return delivered;
}

size_t Hub::deliver(const Broadcast& broadcast, const std::optional<Offset>& origin) {
  uint64_t seq = 0;
  return deliver_locally(broadcast, origin ? &*origin : nullptr, &seq);
}

size_t Hub::deliver_locally(const Broadcast& broadcast, const Offset* origin, uint64_t* seq) {
  // Events without an ack are numbered and logged for recovery, as Socket.IO
  // does. The order lock keeps a recovering socket's replay before them.
  const bool logged = recovery_ && broadcast.message.kind == Message::Kind::kEvent && !broadcast.message.ack_id;
  std::unique_lock<std::mutex> order;
  std::optional<Message> numbered;
  if (logged) {
    order = std::unique_lock(order_mutex_);
    numbered = broadcast.message;
    const Offset offset =
        recovery_->append(broadcast.message.name_space, broadcast.rooms, broadcast.except_rooms, broadcast.message,
                          origin);
    *seq = offset.seq;
    numbered->offset = format_offset(offset);
  }
  // Restored sockets skip copies of events they were replayed. The filter
  // is written under order_mutex_, which a logged broadcast holds here.
  const bool filtered = logged && origin != nullptr && filtered_sockets_.load(std::memory_order_relaxed) > 0;
  std::vector<std::shared_ptr<Connection>> targets;
  {
    std::shared_lock lock(mutex_);
    const auto matched = match_locked(broadcast.message.name_space, broadcast.rooms, broadcast.except_rooms);
    targets.reserve(matched.size());
    for (const SocketEntry* entry : matched) {
      if (filtered && entry->replay_filter.active()) {
        const bool admitted = entry->replay_filter.admit(*origin);
        if (!entry->replay_filter.active()) filtered_sockets_.fetch_sub(1, std::memory_order_relaxed);
        if (!admitted) continue;
      }
      targets.push_back(entry->connection);
    }
  }
  if (targets.empty()) return 0;

  const EncodedMessage frames = encoder_(numbered ? *numbered : broadcast.message);
  const size_t count = targets.size();
  if (fan_out_) {
    fan_out_(std::move(targets), frames);
  } else {
    for (const auto& connection : targets) connection->send(frames);
  }
  messages_out_.inc(static_cast<double>(count));
  return count;
}

std::optional<std::vector<LoggedEvent>> Hub::read_remote_events(
    const Session& session, const Offset& offset, bool node_alive,
    std::unordered_map<std::string, int64_t>* continue_after, uint64_t* last_seq,
    std::optional<uint64_t>* last_own_seq) {
  std::vector<std::string> searched = session.rooms;
  searched.push_back("");
  Result<std::vector<std::vector<LoggedEvent>>> logs =
      recovery_->mirror()->read_events(offset.node, session.name_space, searched);
  if (!logs.ok()) {
    spdlog::warn("event=realtime.recovery_failed socket_id={} error={}", session.socket_id,
                 log_value(logs.error().message));
    return std::nullopt;
  }
  for (size_t i = 0; i < searched.size(); ++i) {
    // Events this hub logged after the other hub's last one in the room are
    // the continuation, when the other hub is gone.
    int64_t last = session.disconnected_ms;
    for (const LoggedEvent& event : logs.value()[i]) {
      last = std::max(last, event.time_ms);
      *last_seq = std::max(*last_seq, event.seq);
      if (event.origin && event.origin->node == recovery_->node_id()) {
        *last_own_seq = std::max(last_own_seq->value_or(0), event.origin->seq);
      }
    }
    (*continue_after)[searched[i]] = node_alive ? std::numeric_limits<int64_t>::max() : last;
  }
  return merge_events(std::move(logs).value(), session.rooms, offset.seq);
}

std::optional<RecoveredSocket> Hub::recover_socket(const RecoveryRequest& request,
                                                   std::shared_ptr<Connection> connection) {
  if (!recovery_) return std::nullopt;
  // This hub's memory has the session when the socket went away here, and
  // Redis when it went away on any hub. The later one wins, because a
  // session recovered elsewhere leaves an older copy in this memory.
  std::optional<Session> session = recovery_->take_session(request.session_id);
  RecoveryMirror* mirror = recovery_->mirror();
  if (mirror != nullptr) {
    Result<std::optional<Session>> stored = mirror->take_session(request.session_id);
    if (!stored.ok()) {
      spdlog::warn("event=realtime.recovery_failed error={}", log_value(stored.error().message));
    } else if (stored.value() && (!session || stored.value()->disconnected_ms > session->disconnected_ms)) {
      session = std::move(stored).value();
    }
    // The copy this hub queued for Redis may not be written yet.
    if (session) mirror->delete_session(request.session_id);
  }
  if (!session) return std::nullopt;
  if (session->name_space != request.name_space || session->user_id != request.user_id) {
    spdlog::info("event=realtime.recovery_rejected socket_id={} reason=identity_mismatch", session->socket_id);
    return std::nullopt;
  }
  // A client that received no logged event sends no offset: it missed
  // everything since it connected.
  const std::optional<Offset> offset = parse_offset(request.offset.empty() ? session->start_offset : request.offset);
  if (!offset) return std::nullopt;

  const bool from_other_hub = offset->node != recovery_->node_id();
  bool other_hub_alive = false;
  if (from_other_hub) {
    if (mirror == nullptr) return std::nullopt;
    Result<bool> alive = mirror->node_alive(offset->node);
    if (!alive.ok()) {
      spdlog::warn("event=realtime.recovery_failed socket_id={} error={}", session->socket_id,
                   log_value(alive.error().message));
      return std::nullopt;
    }
    other_hub_alive = alive.value();
  }

  RecoveredSocket recovered;
  recovered.socket_id = session->socket_id;
  const SocketInfo info{session->socket_id, session->name_space, session->user_id};
  std::vector<std::string> joined;
  {
    // The other hub's log is read, and the socket joins its rooms, under the
    // order lock that every logged delivery takes. A live copy of the other
    // hub's event that arrives meanwhile waits for the join, so none is
    // lost, and the socket's replay filter drops it when the log read
    // included it, so none arrives twice.
    std::lock_guard order(order_mutex_);
    std::vector<LoggedEvent> remote;
    std::unordered_map<std::string, int64_t> continue_after;
    uint64_t own_after_seq = offset->seq;
    uint64_t remote_last_seq = offset->seq;
    std::optional<uint64_t> last_own_seq;
    if (from_other_hub) {
      // NOTE: the other hub's log contains the events of emitters and third
      // hubs only as far as they had reached it. Such an event can arrive
      // twice or not at all, because the hubs share no sequence number for
      // it.
      std::optional<std::vector<LoggedEvent>> read = read_remote_events(
          *session, *offset, other_hub_alive, &continue_after, &remote_last_seq, &last_own_seq);
      if (!read) return std::nullopt;
      remote = std::move(*read);
      own_after_seq = 0;
    }
    std::vector<LoggedEvent> missed = recovery_->events_for(
        session->name_space, session->rooms, own_after_seq, [&](const std::string& room) {
          if (offset->node == recovery_->node_id()) return std::numeric_limits<int64_t>::min();
          auto found = continue_after.find(room);
          return found == continue_after.end() ? std::numeric_limits<int64_t>::max() : found->second;
        });
    if (from_other_hub && other_hub_alive) {
      // The other hub's log contains this hub's own events only as far as
      // they had reached it. The rest follow from this hub's log: those
      // numbered after the last one the other hub had, or, when it had none,
      // those logged after the socket went away there.
      const int64_t own_after_ms = last_own_seq ? std::numeric_limits<int64_t>::min() : session->disconnected_ms;
      std::vector<LoggedEvent> own =
          recovery_->events_for(session->name_space, session->rooms, last_own_seq.value_or(0),
                                [own_after_ms](const std::string&) { return own_after_ms; });
      for (LoggedEvent& event : own) {
        if (!event.origin) missed.push_back(std::move(event));
      }
    }
    {
      std::unique_lock lock(mutex_);
      if (sockets_.count(session->socket_id) != 0) return std::nullopt;
      auto entry = std::make_unique<SocketEntry>();
      entry->info = info;
      entry->connection = connection;
      entry->session_id = session->session_id;
      entry->start_offset = recovery_->current_offset();
      if (from_other_hub && other_hub_alive) {
        entry->replay_filter = ReplayFilter{offset->node, remote_last_seq};
        filtered_sockets_.fetch_add(1, std::memory_order_relaxed);
      }
      SocketEntry& stored = *entry;
      sockets_[info.socket_id] = std::move(entry);
      users_[user_key(info.name_space, info.user_id)].insert(&stored);
      join_locked(stored, info.socket_id);
      for (const std::string& room : session->rooms) {
        if (join_locked(stored, room) && room != info.socket_id) joined.push_back(room);
      }
    }
    const auto replay = [&](const LoggedEvent& event, const std::string& node) {
      Message message;
      message.name_space = session->name_space;
      message.event = event.event;
      message.args_json = event.args_json;
      message.attachments = event.attachments;
      message.offset = format_offset(Offset{node, event.seq});
      connection->send(encoder_(message));
    };
    for (const LoggedEvent& event : remote) replay(event, offset->node);
    for (const LoggedEvent& event : missed) replay(event, recovery_->node_id());
    recovered.replayed = remote.size() + missed.size();
  }
  messages_out_.inc(static_cast<double>(recovered.replayed));
  publish_connect(info);
  for (const std::string& room : joined) announce_presence(info, room, true);
  return recovered;
}

size_t Hub::join_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                          const std::vector<std::string>& except_rooms, const std::vector<std::string>& targets) {
  return change_matching(name_space, rooms, except_rooms, targets, true);
}

size_t Hub::leave_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                           const std::vector<std::string>& except_rooms, const std::vector<std::string>& targets) {
  return change_matching(name_space, rooms, except_rooms, targets, false);
}

size_t Hub::change_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                            const std::vector<std::string>& except_rooms, const std::vector<std::string>& targets,
                            bool join) {
  std::vector<std::pair<SocketInfo, std::string>> changed;
  size_t matched_count = 0;
  {
    std::unique_lock lock(mutex_);
    const auto matched = match_locked(name_space, rooms, except_rooms);
    matched_count = matched.size();
    for (const SocketEntry* found : matched) {
      // match_locked hands out const pointers; the lock is held for writing.
      SocketEntry& entry = *const_cast<SocketEntry*>(found);
      for (const std::string& room : targets) {
        const bool done = join ? join_locked(entry, room) : room != entry.info.socket_id && leave_locked(entry, room);
        if (done) changed.emplace_back(entry.info, room);
      }
    }
  }
  for (const auto& [info, room] : changed) announce_presence(info, room, join);
  return matched_count;
}

size_t Hub::disconnect_matching(const std::string& name_space, const std::vector<std::string>& rooms,
                                const std::vector<std::string>& except_rooms, bool whole_connection) {
  std::vector<std::pair<std::string, std::shared_ptr<Connection>>> targets;
  {
    std::shared_lock lock(mutex_);
    for (const SocketEntry* entry : match_locked(name_space, rooms, except_rooms)) {
      targets.emplace_back(entry->info.socket_id, entry->connection);
    }
  }
  for (const auto& [socket_id, connection] : targets) {
    if (whole_connection) {
      connection->close("server disconnect");
    } else {
      connection->close_socket(socket_id, "server disconnect");
    }
  }
  return targets.size();
}

void Hub::set_selector_forwarder(std::function<void(const SelectorChange&)> forwarder) {
  selector_forwarder_ = std::move(forwarder);
}

void Hub::set_fan_out(FanOut fan_out) { fan_out_ = std::move(fan_out); }

void Hub::set_forwarder(std::function<void(const Broadcast&, uint64_t)> forwarder) {
  forwarder_ = std::move(forwarder);
}

void Hub::set_membership_observer(
    std::function<void(const SocketInfo&, const std::string& room, bool joined)> observer) {
  membership_observer_ = std::move(observer);
}

Status Hub::emit_with_ack(const std::string& socket_id, Message message, std::chrono::milliseconds timeout,
                         AckCallback done) {
  std::shared_ptr<Connection> connection;
  {
    std::shared_lock lock(mutex_);
    auto found = sockets_.find(socket_id);
    if (found == sockets_.end()) {
      return Error{Code::kNotFound, "socket " + quote_value(socket_id) + " is not connected", "socket_id"};
    }
    connection = found->second->connection;
    message.name_space = found->second->info.name_space;
  }
  connection->send_with_ack(socket_id, std::move(message), timeout, std::move(done));
  messages_out_.inc();
  return Status::Ok();
}

Status Hub::send_to(const std::string& socket_id, const Message& message) {
  std::shared_ptr<Connection> connection;
  {
    std::shared_lock lock(mutex_);
    auto found = sockets_.find(socket_id);
    if (found == sockets_.end() || found->second->info.name_space != message.name_space) {
      return Error{Code::kNotFound,
                   "socket " + quote_value(socket_id) + " is not connected to namespace " +
                       quote_value(message.name_space),
                   "socket_id"};
    }
    connection = found->second->connection;
  }
  connection->send(encoder_(message));
  messages_out_.inc();
  return Status::Ok();
}

size_t Hub::disconnect(const SocketSelector& selector, bool whole_connection, const std::string& reason) {
  const size_t selected = disconnect_selected(selector, whole_connection, reason);
  if (selector_forwarder_) {
    selector_forwarder_(SelectorChange{SelectorChange::Type::kDisconnect, selector, "", whole_connection});
  }
  return selected;
}

size_t Hub::disconnect_selected(const SocketSelector& selector, bool whole_connection, const std::string& reason) {
  std::vector<std::pair<std::string, std::shared_ptr<Connection>>> targets;
  {
    std::shared_lock lock(mutex_);
    for (SocketEntry* entry : select_locked(selector)) targets.emplace_back(entry->info.socket_id, entry->connection);
  }
  for (const auto& [socket_id, connection] : targets) {
    if (whole_connection) {
      connection->close(reason);
    } else {
      connection->close_socket(socket_id, reason);
    }
  }
  return targets.size();
}

std::vector<SocketInfo> Hub::members(const std::string& name_space, const std::string& room) const {
  std::vector<SocketInfo> out;
  {
    std::shared_lock lock(mutex_);
    auto space = namespaces_.find(name_space);
    if (space == namespaces_.end()) return out;
    auto members = space->second.find(room);
    if (members == space->second.end()) return out;
    for (const SocketEntry* entry : members->second) out.push_back(entry->info);
  }
  std::sort(out.begin(), out.end(), [](const SocketInfo& a, const SocketInfo& b) { return a.socket_id < b.socket_id; });
  return out;
}

std::vector<std::string> Hub::rooms_of(const std::string& socket_id) const {
  std::vector<std::string> out;
  {
    std::shared_lock lock(mutex_);
    auto found = sockets_.find(socket_id);
    if (found == sockets_.end()) return out;
    out.assign(found->second->rooms.begin(), found->second->rooms.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<SocketInfo> Hub::find(const std::string& socket_id) const {
  std::shared_lock lock(mutex_);
  auto found = sockets_.find(socket_id);
  if (found == sockets_.end()) return std::nullopt;
  return found->second->info;
}

size_t Hub::socket_count() const {
  std::shared_lock lock(mutex_);
  return sockets_.size();
}

size_t Hub::room_count() const {
  std::shared_lock lock(mutex_);
  return room_count_;
}

void Hub::announce_presence(const SocketInfo& socket, const std::string& room, bool joined) {
  ClientEvent event;
  event.type = joined ? ClientEvent::Type::kJoin : ClientEvent::Type::kLeave;
  event.name_space = socket.name_space;
  event.socket_id = socket.socket_id;
  event.user_id = socket.user_id;
  event.room = room;
  client_events_.publish(event);
  if (membership_observer_) membership_observer_(socket, room, joined);
  if (!options_.presence_events) return;

  Broadcast broadcast;
  broadcast.rooms = {room};
  broadcast.message.name_space = socket.name_space;
  broadcast.message.event = kPresenceEvent;
  broadcast.message.args_json = "[{\"type\":" + json_quote(joined ? "join" : "leave") +
                                ",\"room\":" + json_quote(room) + ",\"socketId\":" + json_quote(socket.socket_id) +
                                ",\"userId\":" + json_quote(socket.user_id) + "}]";
  emit(broadcast);
}

}  // namespace heavylift::realtime
