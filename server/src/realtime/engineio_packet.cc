#include "realtime/engineio_packet.h"

#include <fmt/format.h>

#include "realtime/json_text.h"

namespace heavylift::realtime {

Result<EnginePacket> parse_engine_frame(std::string_view frame, bool binary) {
  if (binary) return EnginePacket{EnginePacketType::kMessage, frame, true};
  if (frame.empty()) {
    return Error::invalid("frame", "MALFORMED_PACKET", "Engine.IO packet is empty");
  }
  const char type = frame.front();
  if (type < '0' || type > '6') {
    return Error::invalid("frame", "MALFORMED_PACKET",
                          fmt::format("unknown Engine.IO packet type {}", quote_value(frame.substr(0, 1))),
                          "a digit 0..6", std::string(frame.substr(0, 1)));
  }
  return EnginePacket{static_cast<EnginePacketType>(type), frame.substr(1), false};
}

std::string encode_open_packet(const OpenSettings& settings) {
  return fmt::format(R"(0{{"sid":{},"upgrades":[],"pingInterval":{},"pingTimeout":{},"maxPayload":{}}})",
                     json_quote(settings.sid), settings.ping_interval_ms, settings.ping_timeout_ms,
                     settings.max_payload_bytes);
}

}  // namespace heavylift::realtime
