#include "realtime/recovery.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "realtime/hub.h"
#include "realtime/json_text.h"
#include "realtime/redis_wire.h"

namespace heavylift::realtime {
namespace {

std::string room_key(const std::string& name_space, const std::string& room) { return name_space + '\n' + room; }

size_t event_bytes(const LoggedEvent& event) {
  size_t bytes = sizeof(LoggedEvent) + event.event.size() + event.args_json.size();
  for (const std::string& attachment : event.attachments) bytes += attachment.size();
  for (const std::string& room : event.except_rooms) bytes += room.size();
  return bytes;
}

bool parse_u64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string format_offset(const Offset& offset) { return offset.node + "." + std::to_string(offset.seq); }

std::optional<Offset> parse_offset(std::string_view text) {
  const size_t dot = text.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  Offset offset;
  offset.node = std::string(text.substr(0, dot));
  if (!parse_u64(text.substr(dot + 1), &offset.seq)) return std::nullopt;
  return offset;
}

bool ReplayFilter::admit(const Offset& origin) {
  if (!active() || origin.node != node) return true;
  if (origin.seq <= last_seq) return false;
  node.clear();
  last_seq = 0;
  return true;
}

std::string encode_session(const Session& session) {
  std::string rooms = "[";
  for (size_t i = 0; i < session.rooms.size(); ++i) {
    if (i > 0) rooms += ",";
    rooms += json_quote(session.rooms[i]);
  }
  rooms += "]";
  return fmt::format(R"({{"pid":{},"sid":{},"nsp":{},"user":{},"rooms":{},"start":{},"at":{}}})",
                     json_quote(session.session_id), json_quote(session.socket_id), json_quote(session.name_space),
                     json_quote(session.user_id), rooms, json_quote(session.start_offset), session.disconnected_ms);
}

Result<Session> decode_session(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return Error::invalid("session", "MALFORMED_SESSION", "stored session is not a JSON object");
  }
  Session session;
  std::string_view text;
  const auto read = [&](const char* key, std::string* out) {
    if (root[key].get(text) != simdjson::SUCCESS) return false;
    out->assign(text);
    return true;
  };
  simdjson::dom::array rooms;
  int64_t at = 0;
  if (!read("pid", &session.session_id) || !read("sid", &session.socket_id) || !read("nsp", &session.name_space) ||
      !read("user", &session.user_id) || !read("start", &session.start_offset) ||
      root["rooms"].get(rooms) != simdjson::SUCCESS || root["at"].get(at) != simdjson::SUCCESS) {
    return Error::invalid("session", "MALFORMED_SESSION", "stored session misses a field");
  }
  session.disconnected_ms = at;
  for (simdjson::dom::element room : rooms) {
    if (room.get(text) != simdjson::SUCCESS) {
      return Error::invalid("session", "MALFORMED_SESSION", "stored session rooms must be strings");
    }
    session.rooms.emplace_back(text);
  }
  return session;
}

Result<std::string> encode_logged_event(const LoggedEvent& event, const std::string& name_space) {
  Broadcast broadcast;
  broadcast.except_rooms = event.except_rooms;
  broadcast.message.name_space = name_space;
  broadcast.message.event = event.event;
  broadcast.message.args_json = event.args_json;
  broadcast.message.attachments = event.attachments;
  std::string uid = fmt::format("{}:{}", event.seq, event.time_ms);
  if (event.origin) uid += fmt::format(":{}:{}", event.origin->seq, event.origin->node);
  return encode_emitter_broadcast(uid, broadcast);
}

Result<LoggedEvent> decode_logged_event(std::string_view bytes, size_t max_attachments) {
  RedisWireLimits limits;
  limits.max_attachments = max_attachments;
  Result<RemoteBroadcast> decoded = decode_emitter_broadcast(bytes, limits);
  if (!decoded.ok()) return decoded.error();
  RemoteBroadcast& remote = decoded.value();
  // "<seq>:<time_ms>" or "<seq>:<time_ms>:<origin seq>:<origin node>".
  const std::string_view uid = remote.uid;
  const size_t colon = uid.find(':');
  const size_t time_end = colon == std::string_view::npos ? colon : uid.find(':', colon + 1);
  LoggedEvent event;
  uint64_t time_ms = 0;
  if (colon == std::string_view::npos || !parse_u64(uid.substr(0, colon), &event.seq) ||
      !parse_u64(uid.substr(colon + 1, time_end == std::string_view::npos ? time_end : time_end - colon - 1),
                 &time_ms)) {
    return Error::invalid("event", "MALFORMED_EVENT",
                          "logged event uid must be <seq>:<time_ms>[:<origin seq>:<origin node>], got " +
                              quote_value(remote.uid));
  }
  if (time_end != std::string_view::npos) {
    const size_t seq_end = uid.find(':', time_end + 1);
    Offset origin;
    if (seq_end == std::string_view::npos || seq_end + 1 == uid.size() ||
        !parse_u64(uid.substr(time_end + 1, seq_end - time_end - 1), &origin.seq)) {
      return Error::invalid("event", "MALFORMED_EVENT",
                            "logged event uid must be <seq>:<time_ms>[:<origin seq>:<origin node>], got " +
                                quote_value(remote.uid));
    }
    origin.node = std::string(uid.substr(seq_end + 1));
    event.origin = std::move(origin);
  }
  event.time_ms = static_cast<int64_t>(time_ms);
  event.event = std::move(remote.broadcast.message.event);
  event.args_json = std::move(remote.broadcast.message.args_json);
  event.attachments = std::move(remote.broadcast.message.attachments);
  event.except_rooms = std::move(remote.broadcast.except_rooms);
  return event;
}

std::vector<LoggedEvent> merge_events(std::vector<std::vector<LoggedEvent>> logs,
                                      const std::vector<std::string>& rooms, uint64_t after_seq) {
  std::vector<LoggedEvent> merged;
  for (auto& log : logs) {
    for (LoggedEvent& event : log) {
      if (event.seq <= after_seq) continue;
      const bool excluded = std::any_of(event.except_rooms.begin(), event.except_rooms.end(), [&](const auto& room) {
        return std::find(rooms.begin(), rooms.end(), room) != rooms.end();
      });
      if (!excluded) merged.push_back(std::move(event));
    }
  }
  std::stable_sort(merged.begin(), merged.end(),
                   [](const LoggedEvent& a, const LoggedEvent& b) { return a.seq < b.seq; });
  merged.erase(std::unique(merged.begin(), merged.end(),
                           [](const LoggedEvent& a, const LoggedEvent& b) { return a.seq == b.seq; }),
               merged.end());
  return merged;
}

RecoveryLog::RecoveryLog(std::string node_id, RecoveryOptions options, Metrics& metrics)
    : node_id_(std::move(node_id)),
      options_(options),
      dropped_(metrics.counter("heavylift_realtime_drops_total", "Messages the real-time hub dropped, by reason.",
                               {{"reason", "recovery_log_full"}})) {}

int64_t RecoveryLog::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Offset RecoveryLog::append(const std::string& name_space, const std::vector<std::string>& rooms,
                           const std::vector<std::string>& except_rooms, const Message& message,
                           const Offset* origin) {
  auto event = std::make_shared<LoggedEvent>();
  event->time_ms = now_ms();
  if (origin != nullptr) event->origin = *origin;
  event->event = message.event;
  event->args_json = message.args_json;
  event->attachments = message.attachments;
  event->except_rooms = except_rooms;
  const size_t bytes = event_bytes(*event);

  // A broadcast to a whole namespace is logged under the room "".
  static const std::vector<std::string> kWholeNamespace{""};
  const std::vector<std::string>& logged_rooms = rooms.empty() ? kWholeNamespace : rooms;
  std::vector<std::pair<const std::string*, size_t>> retained;
  retained.reserve(logged_rooms.size());
  {
    std::lock_guard lock(mutex_);
    event->seq = next_seq_++;
    sweep_locked(event->time_ms);
    for (const std::string& room : logged_rooms) {
      RoomLog& log = rooms_[room_key(name_space, room)];
      log.events.push_back(event);
      log.bytes += bytes;
      while (log.events.size() > 1 &&
             (log.events.size() > options_.max_events_per_room || log.bytes > options_.max_bytes_per_room)) {
        log.bytes -= event_bytes(*log.events.front());
        log.events.pop_front();
        dropped_.inc();
      }
      retained.emplace_back(&room, log.events.size());
    }
  }
  if (mirror_ != nullptr) {
    Result<std::string> entry = encode_logged_event(*event, name_space);
    if (entry.ok()) {
      for (const auto& [room, count] : retained) mirror_->append_event(name_space, *room, entry.value(), count);
    }
  }
  return Offset{node_id_, event->seq};
}

std::string RecoveryLog::current_offset() const {
  std::lock_guard lock(mutex_);
  return format_offset(Offset{node_id_, next_seq_ - 1});
}

std::vector<LoggedEvent> RecoveryLog::events_for(const std::string& name_space, const std::vector<std::string>& rooms,
                                                 uint64_t after_seq,
                                                 const std::function<int64_t(const std::string&)>& after_ms) const {
  std::vector<std::vector<LoggedEvent>> logs;
  {
    std::lock_guard lock(mutex_);
    std::vector<std::string> searched = rooms;
    searched.push_back("");
    for (const std::string& room : searched) {
      auto found = rooms_.find(room_key(name_space, room));
      if (found == rooms_.end()) continue;
      const int64_t threshold = after_ms(room);
      std::vector<LoggedEvent> log;
      for (const auto& event : found->second.events) {
        if (event->seq > after_seq && event->time_ms > threshold) log.push_back(*event);
      }
      logs.push_back(std::move(log));
    }
  }
  return merge_events(std::move(logs), rooms, after_seq);
}

void RecoveryLog::save_session(Session session) {
  if (mirror_ != nullptr) mirror_->save_session(session);
  std::lock_guard lock(mutex_);
  sessions_[session.session_id] = std::move(session);
}

std::optional<Session> RecoveryLog::take_session(const std::string& session_id) {
  std::lock_guard lock(mutex_);
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) return std::nullopt;
  Session session = std::move(found->second);
  sessions_.erase(found);
  if (session.disconnected_ms + options_.window.count() < now_ms()) return std::nullopt;
  return session;
}

void RecoveryLog::sweep_locked(int64_t now) {
  const int64_t window = options_.window.count();
  if (now - last_sweep_ms_ < std::max<int64_t>(window / 10, 1)) return;
  last_sweep_ms_ = now;
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    RoomLog& log = it->second;
    while (!log.events.empty() && log.events.front()->time_ms + window < now) {
      log.bytes -= event_bytes(*log.events.front());
      log.events.pop_front();
    }
    it = log.events.empty() ? rooms_.erase(it) : std::next(it);
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.disconnected_ms + window < now ? sessions_.erase(it) : std::next(it);
  }
}

}  // namespace heavylift::realtime
