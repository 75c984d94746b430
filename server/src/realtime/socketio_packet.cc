#include "realtime/socketio_packet.h"

#include <fmt/format.h>

#include <charconv>

#include "realtime/json_text.h"

namespace heavylift::realtime {
namespace {

// Digits of the largest ack id accepted (the client counts from 0 upward).
constexpr size_t kMaxAckIdDigits = 15;
// Digits of the attachment count.
constexpr size_t kMaxAttachmentDigits = 6;

Error malformed(std::string message, std::string_view text) {
  return Error::invalid("packet", "MALFORMED_PACKET", std::move(message), "",
                        std::string(text.substr(0, 64)));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads a run of digits at `*pos`. Returns false when there is none or when
// it has more than `max_digits` digits.
bool read_number(std::string_view text, size_t* pos, size_t max_digits, uint64_t* out) {
  const size_t start = *pos;
  while (*pos < text.size() && is_digit(text[*pos])) ++*pos;
  const size_t length = *pos - start;
  if (length == 0 || length > max_digits) return false;
  std::from_chars(text.data() + start, text.data() + *pos, *out);
  return true;
}

// Checks that the payload's JSON kind fits the packet type.
Status check_payload(const SocketPacket& packet, std::string_view text) {
  const bool event = packet.type == SocketPacketType::kEvent || packet.type == SocketPacketType::kBinaryEvent;
  const bool ack = packet.type == SocketPacketType::kAck || packet.type == SocketPacketType::kBinaryAck;
  if (packet.type == SocketPacketType::kConnect) {
    if (packet.payload.empty()) return Status::Ok();
    Result<std::string> checked = json_object_string(packet.payload, "token", "auth");
    if (!checked.ok()) return checked.error();
    return Status::Ok();
  }
  if (packet.type == SocketPacketType::kDisconnect) {
    if (!packet.payload.empty()) return malformed("DISCONNECT packet must carry no payload", text);
    return Status::Ok();
  }
  if (ack && !packet.ack_id) return malformed("ACK packet must carry an ack id", text);
  if (event) {
    Result<EventPayload> split = split_event_payload(packet.payload);
    if (!split.ok()) return split.error();
  } else {
    Result<JsonArray> split = split_json_array(packet.payload, "payload");
    if (!split.ok()) return split.error();
  }
  const bool binary = packet.type == SocketPacketType::kBinaryEvent || packet.type == SocketPacketType::kBinaryAck;
  if (binary) return check_placeholders(packet.payload, packet.attachments, "payload");
  return Status::Ok();
}

}  // namespace

Result<SocketPacket> parse_socket_packet(std::string_view text, const SocketPacketLimits& limits) {
  if (text.empty() || text[0] < '0' || text[0] > '6') {
    return malformed("Socket.IO packet must start with a type digit 0..6", text);
  }
  SocketPacket packet;
  packet.type = static_cast<SocketPacketType>(text[0] - '0');
  if (packet.type == SocketPacketType::kConnectError) {
    return malformed("CONNECT_ERROR packets are sent by servers only", text);
  }
  size_t pos = 1;

  // Attachment count, only for the binary types: "<digits>-".
  const bool binary = packet.type == SocketPacketType::kBinaryEvent || packet.type == SocketPacketType::kBinaryAck;
  if (binary) {
    uint64_t count = 0;
    if (!read_number(text, &pos, kMaxAttachmentDigits, &count) || pos >= text.size() || text[pos] != '-') {
      return malformed("binary packet must give its attachment count as <digits>-", text);
    }
    ++pos;
    if (count > limits.max_attachments) {
      return Error::invalid("attachments", "TOO_MANY_ATTACHMENTS",
                            fmt::format("packet has {} binary attachments, more than the limit of {}", count,
                                        limits.max_attachments),
                            fmt::format("<= {}", limits.max_attachments), std::to_string(count));
    }
    if (count == 0) return malformed("binary packet must have at least one attachment", text);
    packet.attachments = static_cast<uint32_t>(count);
  }

  // Namespace: "/name," when the packet does not belong to the main namespace.
  if (pos < text.size() && text[pos] == '/') {
    const size_t comma = text.find(',', pos);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    if (end - pos > limits.max_namespace_bytes) {
      return Error::invalid("namespace", "NAMESPACE_TOO_LONG",
                            fmt::format("namespace is {} bytes, more than the limit of {}", end - pos,
                                        limits.max_namespace_bytes),
                            fmt::format("<= {}", limits.max_namespace_bytes), std::string(text.substr(pos, 64)));
    }
    packet.name_space = std::string(text.substr(pos, end - pos));
    pos = comma == std::string_view::npos ? text.size() : comma + 1;
  }

  // Ack id: the digits right before the payload.
  if (pos < text.size() && is_digit(text[pos])) {
    uint64_t id = 0;
    if (!read_number(text, &pos, kMaxAckIdDigits, &id)) return malformed("ack id is too long", text);
    packet.ack_id = id;
  }
  if (packet.ack_id && packet.type != SocketPacketType::kEvent && packet.type != SocketPacketType::kAck &&
      !binary) {
    return malformed("only event and ack packets may carry an ack id", text);
  }

  packet.payload = std::string(text.substr(pos));
  if (Status s = check_payload(packet, text); !s.ok()) return s.error();
  return packet;
}

std::string encode_socket_packet(const SocketPacket& packet) {
  std::string out;
  out.reserve(packet.payload.size() + packet.name_space.size() + 24);
  out.push_back(static_cast<char>('0' + static_cast<int>(packet.type)));
  if (packet.type == SocketPacketType::kBinaryEvent || packet.type == SocketPacketType::kBinaryAck) {
    out += std::to_string(packet.attachments);
    out.push_back('-');
  }
  if (packet.name_space != "/") {
    out += packet.name_space;
    out.push_back(',');
  }
  if (packet.ack_id) out += std::to_string(*packet.ack_id);
  out += packet.payload;
  return out;
}

Result<EventPayload> split_event_payload(std::string_view payload) {
  Result<JsonArray> array = split_json_array(payload, "payload");
  if (!array.ok()) return array.error();
  const std::vector<std::string>& elements = array.value().elements;
  if (elements.empty()) return malformed("event payload must start with the event name", payload);
  Result<std::string> name = json_string_value(elements[0], "event");
  if (!name.ok()) return malformed("event name must be a string", payload);
  return EventPayload{std::move(name).value(), join_json_array(elements, 1)};
}

}  // namespace heavylift::realtime
