// Socket.IO protocol 5 packets, the text carried in Engine.IO message
// packets: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`.
// Binary attachments travel as separate binary Engine.IO messages that follow
// a BINARY_EVENT or BINARY_ACK packet; the payload refers to them with
// `{"_placeholder":true,"num":N}` objects.
//
// Parsing checks the packet's shape against its type, so the hub only sees
// well-formed packets. These functions are safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift::realtime {

enum class SocketPacketType : int {
  kConnect = 0,
  kDisconnect = 1,
  kEvent = 2,
  kAck = 3,
  kConnectError = 4,
  kBinaryEvent = 5,
  kBinaryAck = 6,
};

struct SocketPacket {
  SocketPacketType type = SocketPacketType::kEvent;
  std::string name_space = "/";
  uint32_t attachments = 0;
  std::optional<uint64_t> ack_id;
  // Raw JSON text: an object for CONNECT and CONNECT_ERROR, an array for the
  // event and ack types, empty for DISCONNECT and a CONNECT without auth.
  std::string payload;
};

// Bounds applied while parsing a packet sent by a client.
struct SocketPacketLimits {
  uint32_t max_attachments = 10;
  size_t max_namespace_bytes = 128;
};

// Parses a packet sent by a client. Errors are INVALID_ARGUMENT with reason
// MALFORMED_PACKET (bad syntax, a payload that does not fit the type, or a
// type a client may not send such as CONNECT_ERROR) or TOO_MANY_ATTACHMENTS
// (bound: limits.max_attachments).
Result<SocketPacket> parse_socket_packet(std::string_view text, const SocketPacketLimits& limits);

// Encodes `packet` in the wire form. Does not check the payload.
std::string encode_socket_packet(const SocketPacket& packet);

// An EVENT payload split into the event name and the JSON array of its
// arguments.
struct EventPayload {
  std::string name;
  std::string args_json;
};

// Splits the payload of an EVENT or BINARY_EVENT whose first element must be
// a string (the event name).
Result<EventPayload> split_event_payload(std::string_view payload);

}  // namespace heavylift::realtime
