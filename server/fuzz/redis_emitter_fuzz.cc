// Feeds arbitrary bytes to the decoders of @socket.io/redis-emitter
// broadcasts (MessagePack) and requests (JSON), and checks that a decoded
// broadcast encodes and decodes again to the same message and hub sequence
// number.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "realtime/redis_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace heavylift::realtime;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)decode_emitter_request(bytes);

  const RedisWireLimits limits;
  auto decoded = decode_emitter_broadcast(bytes, limits);
  if (!decoded.ok()) return 0;
  auto encoded = encode_emitter_broadcast(decoded.value().uid, decoded.value().broadcast, decoded.value().seq);
  if (!encoded.ok()) std::abort();
  auto again = decode_emitter_broadcast(encoded.value(), limits);
  if (!again.ok() || again.value().broadcast.message.event != decoded.value().broadcast.message.event ||
      again.value().broadcast.message.attachments != decoded.value().broadcast.message.attachments ||
      again.value().broadcast.rooms != decoded.value().broadcast.rooms || again.value().seq != decoded.value().seq) {
    std::abort();
  }
  return 0;
}
