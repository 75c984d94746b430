// Feeds arbitrary bytes to the Engine.IO frame parser and the Socket.IO
// packet parser, and checks that every packet the parser accepts encodes
// back to text that parses to the same packet.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "realtime/engineio_packet.h"
#include "realtime/socketio_packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace heavylift::realtime;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto frame = parse_engine_frame(text, false);
  if (!frame.ok() || frame.value().type != EnginePacketType::kMessage) return 0;

  const SocketPacketLimits limits{10, 128};
  auto packet = parse_socket_packet(frame.value().data, limits);
  if (!packet.ok()) return 0;
  if (packet.value().type == SocketPacketType::kEvent || packet.value().type == SocketPacketType::kBinaryEvent) {
    if (!split_event_payload(packet.value().payload).ok()) std::abort();
  }
  const std::string encoded = encode_socket_packet(packet.value());
  auto again = parse_socket_packet(encoded, limits);
  if (!again.ok() || again.value().type != packet.value().type ||
      again.value().name_space != packet.value().name_space || again.value().ack_id != packet.value().ack_id ||
      again.value().payload != packet.value().payload || again.value().attachments != packet.value().attachments) {
    std::abort();
  }
  return 0;
}
