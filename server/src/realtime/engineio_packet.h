// Engine.IO protocol 4 packets as carried over WebSocket: one packet per
// frame. A text frame is a one-digit packet type followed by its data, and a
// binary frame is a message packet whose data is the frame's bytes.
//
// These functions only translate between frames and packets. They allocate
// nothing for parsing and are safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace heavylift::realtime {

enum class EnginePacketType : char {
  kOpen = '0',
  kClose = '1',
  kPing = '2',
  kPong = '3',
  kMessage = '4',
  kUpgrade = '5',
  kNoop = '6',
};

// One Engine.IO packet. `data` points into the frame it was parsed from.
struct EnginePacket {
  EnginePacketType type = EnginePacketType::kNoop;
  std::string_view data;
  bool binary = false;
};

// Parses one WebSocket frame. Binary frames are message packets. Text frames
// must start with a type digit 0..6. Returns INVALID_ARGUMENT with reason
// MALFORMED_PACKET for an empty text frame or an unknown type.
Result<EnginePacket> parse_engine_frame(std::string_view frame, bool binary);

// Settings announced to the client in the open packet.
struct OpenSettings {
  std::string sid;
  uint32_t ping_interval_ms = 25000;
  uint32_t ping_timeout_ms = 20000;
  uint64_t max_payload_bytes = 1000000;
};

// Encodes the open packet sent right after the WebSocket handshake, for
// example `0{"sid":"x","upgrades":[],"pingInterval":25000,...}`. The list
// of upgrades is empty because the connection is already a WebSocket.
std::string encode_open_packet(const OpenSettings& settings);

}  // namespace heavylift::realtime
