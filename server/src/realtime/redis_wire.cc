#include "realtime/redis_wire.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <msgpack.hpp>

#include <cmath>

#include "realtime/json_text.h"

namespace heavylift::realtime {
namespace {

// Socket.IO's EVENT packet type, as the emitter writes it.
constexpr int kEventPacketType = 2;

Error malformed(const std::string& message) {
  return Error::invalid("message", "MALFORMED_MESSAGE", "invalid Redis emitter message: " + message);
}

const msgpack::object* map_value(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (uint32_t i = 0; i < map.via.map.size; ++i) {
    const msgpack::object_kv& pair = map.via.map.ptr[i];
    if (pair.key.type == msgpack::type::STR &&
        std::string_view(pair.key.via.str.ptr, pair.key.via.str.size) == key) {
      return &pair.val;
    }
  }
  return nullptr;
}

Status read_strings(const msgpack::object* array, std::vector<std::string>* out) {
  if (array == nullptr || array->type == msgpack::type::NIL) return Status::Ok();
  if (array->type != msgpack::type::ARRAY) return malformed("rooms must be an array of strings");
  for (uint32_t i = 0; i < array->via.array.size; ++i) {
    const msgpack::object& item = array->via.array.ptr[i];
    if (item.type != msgpack::type::STR) return malformed("rooms must be an array of strings");
    out->emplace_back(item.via.str.ptr, item.via.str.size);
  }
  return Status::Ok();
}

// Appends `value` as JSON to `out`, moving bin values to `attachments`.
Status to_json(const msgpack::object& value, const RedisWireLimits& limits, size_t depth, std::string* out,
               std::vector<std::string>* attachments) {
  if (depth > limits.max_depth) return malformed(fmt::format("nesting deeper than {}", limits.max_depth));
  switch (value.type) {
    case msgpack::type::NIL: *out += "null"; return Status::Ok();
    case msgpack::type::BOOLEAN: *out += value.via.boolean ? "true" : "false"; return Status::Ok();
    case msgpack::type::POSITIVE_INTEGER: *out += std::to_string(value.via.u64); return Status::Ok();
    case msgpack::type::NEGATIVE_INTEGER: *out += std::to_string(value.via.i64); return Status::Ok();
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      if (!std::isfinite(value.via.f64)) {
        *out += "null";
      } else {
        *out += fmt::format("{}", value.via.f64);
      }
      return Status::Ok();
    case msgpack::type::STR:
      // Text frames must be UTF-8, so invalid strings are refused here.
      if (!simdjson::validate_utf8(value.via.str.ptr, value.via.str.size)) return malformed("strings must be UTF-8");
      *out += json_quote(std::string_view(value.via.str.ptr, value.via.str.size));
      return Status::Ok();
    case msgpack::type::BIN:
      if (attachments->size() >= limits.max_attachments) {
        return malformed(fmt::format("more than {} binary values", limits.max_attachments));
      }
      *out += fmt::format(R"({{"_placeholder":true,"num":{}}})", attachments->size());
      attachments->emplace_back(value.via.bin.ptr, value.via.bin.size);
      return Status::Ok();
    case msgpack::type::ARRAY:
      out->push_back('[');
      for (uint32_t i = 0; i < value.via.array.size; ++i) {
        if (i > 0) out->push_back(',');
        if (Status s = to_json(value.via.array.ptr[i], limits, depth + 1, out, attachments); !s.ok()) return s;
      }
      out->push_back(']');
      return Status::Ok();
    case msgpack::type::MAP:
      out->push_back('{');
      for (uint32_t i = 0; i < value.via.map.size; ++i) {
        const msgpack::object_kv& pair = value.via.map.ptr[i];
        if (pair.key.type != msgpack::type::STR || !simdjson::validate_utf8(pair.key.via.str.ptr, pair.key.via.str.size)) {
          return malformed("map keys must be UTF-8 strings");
        }
        if (i > 0) out->push_back(',');
        *out += json_quote(std::string_view(pair.key.via.str.ptr, pair.key.via.str.size));
        out->push_back(':');
        if (Status s = to_json(pair.val, limits, depth + 1, out, attachments); !s.ok()) return s;
      }
      out->push_back('}');
      return Status::Ok();
    default:
      return malformed("MessagePack extension types are not supported");
  }
}

// Packs a parsed JSON value, turning placeholders into bin values.
void pack_json(msgpack::packer<msgpack::sbuffer>& packer, simdjson::dom::element value,
               const std::vector<std::string>& attachments) {
  switch (value.type()) {
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array array = value.get_array();
      packer.pack_array(static_cast<uint32_t>(array.size()));
      for (simdjson::dom::element item : array) pack_json(packer, item, attachments);
      return;
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object object = value.get_object();
      bool placeholder = false;
      uint64_t number = 0;
      if (object["_placeholder"].get(placeholder) == simdjson::SUCCESS && placeholder &&
          object["num"].get(number) == simdjson::SUCCESS && number < attachments.size()) {
        packer.pack_bin(static_cast<uint32_t>(attachments[number].size()));
        packer.pack_bin_body(attachments[number].data(), static_cast<uint32_t>(attachments[number].size()));
        return;
      }
      packer.pack_map(static_cast<uint32_t>(object.size()));
      for (auto member : object) {
        packer.pack(std::string(member.key));
        pack_json(packer, member.value, attachments);
      }
      return;
    }
    case simdjson::dom::element_type::INT64: packer.pack(int64_t(value)); return;
    case simdjson::dom::element_type::UINT64: packer.pack(uint64_t(value)); return;
    case simdjson::dom::element_type::DOUBLE: packer.pack(double(value)); return;
    case simdjson::dom::element_type::STRING: packer.pack(std::string(std::string_view(value))); return;
    case simdjson::dom::element_type::BOOL: packer.pack(bool(value)); return;
    case simdjson::dom::element_type::NULL_VALUE: packer.pack_nil(); return;
  }
}

void pack_strings(msgpack::packer<msgpack::sbuffer>& packer, const std::vector<std::string>& items) {
  packer.pack_array(static_cast<uint32_t>(items.size()));
  for (const std::string& item : items) packer.pack(item);
}

}  // namespace

Result<RemoteBroadcast> decode_emitter_broadcast(std::string_view bytes, const RedisWireLimits& limits) {
  msgpack::object_handle handle;
  try {
    const msgpack::unpack_limit unpack_limits(0xffff, 0xffff, 1 << 24, 1 << 24, 0, limits.max_depth);
    handle = msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, unpack_limits);
  } catch (const std::exception& error) {
    return malformed(std::string("not MessagePack: ") + error.what());
  }
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size < 2) {
    return malformed("expected [uid, packet, opts]");
  }
  const msgpack::object& uid = root.via.array.ptr[0];
  const msgpack::object& packet = root.via.array.ptr[1];
  if (uid.type != msgpack::type::STR) return malformed("uid must be a string");
  RemoteBroadcast out;
  out.uid.assign(uid.via.str.ptr, uid.via.str.size);

  const msgpack::object* type = map_value(packet, "type");
  const msgpack::object* data = map_value(packet, "data");
  const msgpack::object* nsp = map_value(packet, "nsp");
  if (type == nullptr || type->type != msgpack::type::POSITIVE_INTEGER || type->via.u64 != kEventPacketType) {
    return malformed("packet.type must be 2 (EVENT)");
  }
  if (data == nullptr || data->type != msgpack::type::ARRAY || data->via.array.size == 0 ||
      data->via.array.ptr[0].type != msgpack::type::STR) {
    return malformed("packet.data must be [event, ...args]");
  }
  const msgpack::object& event = data->via.array.ptr[0];
  if (!simdjson::validate_utf8(event.via.str.ptr, event.via.str.size)) return malformed("event must be UTF-8");
  Message& message = out.broadcast.message;
  if (nsp != nullptr && nsp->type == msgpack::type::STR) message.name_space.assign(nsp->via.str.ptr, nsp->via.str.size);
  message.event.assign(data->via.array.ptr[0].via.str.ptr, data->via.array.ptr[0].via.str.size);
  message.args_json = "[";
  for (uint32_t i = 1; i < data->via.array.size; ++i) {
    if (i > 1) message.args_json.push_back(',');
    if (Status s = to_json(data->via.array.ptr[i], limits, 1, &message.args_json, &message.attachments); !s.ok()) {
      return s.error();
    }
  }
  message.args_json.push_back(']');

  if (root.via.array.size >= 3) {
    const msgpack::object& opts = root.via.array.ptr[2];
    if (Status s = read_strings(map_value(opts, "rooms"), &out.broadcast.rooms); !s.ok()) return s.error();
    if (Status s = read_strings(map_value(opts, "except"), &out.broadcast.except_rooms); !s.ok()) return s.error();
  }
  if (root.via.array.size >= 4) {
    const msgpack::object& seq = root.via.array.ptr[3];
    if (seq.type != msgpack::type::POSITIVE_INTEGER || seq.via.u64 == 0) {
      const std::string got = seq.type == msgpack::type::POSITIVE_INTEGER ? "0" : "a value of another type";
      return malformed("element 4 (the hub's sequence number) must be an integer of at least 1, got " + got);
    }
    out.seq = seq.via.u64;
  }
  return out;
}

Result<std::string> encode_emitter_broadcast(const std::string& uid, const Broadcast& broadcast, uint64_t seq) {
  simdjson::dom::parser parser;
  simdjson::dom::array args;
  if (parser.parse(broadcast.message.args_json).get(args) != simdjson::SUCCESS) {
    return Error::invalid("args_json", "NOT_AN_ARRAY", "args_json must be a JSON array");
  }
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(seq == 0 ? 3 : 4);
  packer.pack(uid);
  packer.pack_map(3);
  packer.pack(std::string("type"));
  packer.pack(kEventPacketType);
  packer.pack(std::string("data"));
  packer.pack_array(static_cast<uint32_t>(args.size() + 1));
  packer.pack(broadcast.message.event);
  for (simdjson::dom::element arg : args) pack_json(packer, arg, broadcast.message.attachments);
  packer.pack(std::string("nsp"));
  packer.pack(broadcast.message.name_space);
  packer.pack_map(3);
  packer.pack(std::string("rooms"));
  pack_strings(packer, broadcast.rooms);
  packer.pack(std::string("except"));
  pack_strings(packer, broadcast.except_rooms);
  packer.pack(std::string("flags"));
  packer.pack_map(0);
  if (seq != 0) packer.pack(seq);
  return std::string(buffer.data(), buffer.size());
}

std::string emitter_channel(const std::string& key, const Broadcast& broadcast) {
  std::string channel = key + "#" + broadcast.message.name_space + "#";
  if (broadcast.rooms.size() == 1) channel += broadcast.rooms.front() + "#";
  return channel;
}

Result<RemoteRequest> decode_emitter_request(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return malformed("request is not a JSON object");
  }
  int64_t type = 0;
  if (root["type"].get(type) != simdjson::SUCCESS) return malformed("request has no numeric type");
  RemoteRequest request;
  if (type < 2 || type > 4) {
    return Error{Code::kUnimplemented, fmt::format("emitter request type {} is not supported", type), "type"};
  }
  request.type = static_cast<RemoteRequest::Type>(type);
  auto read = [](simdjson::dom::element element, std::vector<std::string>* out) -> Status {
    simdjson::dom::array array;
    if (element.get(array) != simdjson::SUCCESS) return malformed("rooms must be an array of strings");
    for (simdjson::dom::element item : array) {
      std::string_view text;
      if (item.get(text) != simdjson::SUCCESS) return malformed("rooms must be an array of strings");
      out->emplace_back(text);
    }
    return Status::Ok();
  };
  simdjson::dom::object opts;
  if (root["opts"].get(opts) == simdjson::SUCCESS) {
    simdjson::dom::element rooms;
    if (opts["rooms"].get(rooms) == simdjson::SUCCESS) {
      if (Status s = read(rooms, &request.rooms); !s.ok()) return s.error();
    }
    simdjson::dom::element except;
    if (opts["except"].get(except) == simdjson::SUCCESS) {
      if (Status s = read(except, &request.except_rooms); !s.ok()) return s.error();
    }
  }
  simdjson::dom::element targets;
  if (root["rooms"].get(targets) == simdjson::SUCCESS) {
    if (Status s = read(targets, &request.target_rooms); !s.ok()) return s.error();
  }
  bool close = false;
  if (root["close"].get(close) == simdjson::SUCCESS) request.close = close;
  return request;
}

std::string encode_selector_change(const std::string& uid, const SelectorChange& change) {
  const char* op = change.type == SelectorChange::Type::kJoin    ? "join"
                   : change.type == SelectorChange::Type::kLeave ? "leave"
                                                                 : "disconnect";
  const bool by_socket = !change.selector.socket_id.empty();
  return fmt::format(R"({{"type":{},"uid":{},"op":"{}","{}":{},"room":{},"close":{}}})", kSelectorChangeType,
                     json_quote(uid), op, by_socket ? "socketId" : "userId",
                     json_quote(by_socket ? change.selector.socket_id : change.selector.user_id),
                     json_quote(change.room), change.whole_connection ? "true" : "false");
}

Result<std::optional<RemoteSelectorChange>> decode_selector_change(std::string_view json,
                                                                   const std::string& name_space) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  int64_t type = 0;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root["type"].get(type) != simdjson::SUCCESS || type != kSelectorChangeType) {
    return std::optional<RemoteSelectorChange>();
  }
  RemoteSelectorChange out;
  out.change.selector.name_space = name_space;
  std::string_view uid;
  std::string_view op;
  std::string_view id;
  std::string_view room;
  if (root["uid"].get(uid) != simdjson::SUCCESS || root["op"].get(op) != simdjson::SUCCESS) {
    return malformed("selector change needs uid and op");
  }
  out.uid = std::string(uid);
  if (op == "join") {
    out.change.type = SelectorChange::Type::kJoin;
  } else if (op == "leave") {
    out.change.type = SelectorChange::Type::kLeave;
  } else if (op == "disconnect") {
    out.change.type = SelectorChange::Type::kDisconnect;
  } else {
    return malformed("selector change op must be join, leave or disconnect");
  }
  if (root["socketId"].get(id) == simdjson::SUCCESS) {
    out.change.selector.socket_id = std::string(id);
  } else if (root["userId"].get(id) == simdjson::SUCCESS) {
    out.change.selector.user_id = std::string(id);
  } else {
    return malformed("selector change needs socketId or userId");
  }
  if (root["room"].get(room) == simdjson::SUCCESS) out.change.room = std::string(room);
  if (out.change.type != SelectorChange::Type::kDisconnect && out.change.room.empty()) {
    return malformed("selector change join or leave needs a room");
  }
  bool close = false;
  if (root["close"].get(close) == simdjson::SUCCESS) out.change.whole_connection = close;
  return std::optional<RemoteSelectorChange>(std::move(out));
}

}  // namespace heavylift::realtime
