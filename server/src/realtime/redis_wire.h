// The Redis message formats the hub reads and writes, apart from any Redis
// connection:
//
//  - Broadcasts from @socket.io/redis-emitter (v5) on channel
//    "<key>#<namespace>#" or "<key>#<namespace>#<room>#": a MessagePack array
//    [uid, {type: 2, data: [event, ...args], nsp}, {rooms, except, flags}]
//    in which Buffers are MessagePack bin values.
//  - Requests from the emitter on channel "<key>-request#<namespace>#": JSON
//    {type: 2 (join) | 3 (leave) | 4 (disconnect), opts: {rooms, except},
//    rooms, close}.
//  - heavylift's own selector changes on the same channel, with a type
//    number outside the emitter's request types (0 to 6 in
//    @socket.io/redis-emitter 5.1): JSON {type: 100, uid, op: "join" |
//    "leave" | "disconnect", socketId or userId, room, close}.
//
// Hubs forward their own broadcasts to each other in the emitter's broadcast
// format, with their node id as uid so that each hub skips its own. A
// broadcast the hub logged for recovery carries a fourth array element, the
// sequence number of its offset: [uid, packet, opts, seq]. Emitter messages
// lack it, and @socket.io/redis-adapter (lib/index.ts, onmessage) reads only
// the first three elements.
//
// Thread-safety: the functions keep no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "realtime/hub.h"

namespace heavylift::realtime {

// Bounds applied while decoding messages read from Redis.
struct RedisWireLimits {
  size_t max_attachments = 10;
  size_t max_depth = 32;
};

// A broadcast read from Redis, the uid of its publisher, and the sequence
// number the publishing hub logged it under (0 when absent, as in emitter
// messages).
struct RemoteBroadcast {
  std::string uid;
  Broadcast broadcast;
  uint64_t seq = 0;
};

// Decodes an emitter broadcast. Binary values become attachments behind
// placeholders. Errors are INVALID_ARGUMENT with reason MALFORMED_MESSAGE.
Result<RemoteBroadcast> decode_emitter_broadcast(std::string_view bytes, const RedisWireLimits& limits);

// Encodes `broadcast` in the emitter's broadcast format with `uid`, and with
// `seq` as fourth element unless it is 0. The arguments must be a JSON
// array; placeholders become MessagePack bin values.
Result<std::string> encode_emitter_broadcast(const std::string& uid, const Broadcast& broadcast, uint64_t seq = 0);

// The channel the emitter publishes `broadcast` on under `key`.
std::string emitter_channel(const std::string& key, const Broadcast& broadcast);

struct RemoteRequest {
  enum class Type { kJoin = 2, kLeave = 3, kDisconnect = 4 };
  Type type = Type::kJoin;
  std::vector<std::string> rooms;         // opts.rooms: the sockets selected
  std::vector<std::string> except_rooms;  // opts.except
  std::vector<std::string> target_rooms;  // rooms to join or leave
  bool close = false;                     // disconnect: close the connection
};

// Request type number of a selector change.
inline constexpr int kSelectorChangeType = 100;

// A selector change read from Redis, and the hub that published it.
struct RemoteSelectorChange {
  std::string uid;
  SelectorChange change;
};

// Encodes `change` as a selector change request from hub `uid`.
std::string encode_selector_change(const std::string& uid, const SelectorChange& change);
// Decodes a request on the request channel of `name_space`: nullopt when it
// is not a selector change (an emitter request), INVALID_ARGUMENT when it is
// one but malformed.
Result<std::optional<RemoteSelectorChange>> decode_selector_change(std::string_view json,
                                                                   const std::string& name_space);

// Decodes an emitter request. Request types other than join, leave and
// disconnect are UNIMPLEMENTED; malformed JSON is INVALID_ARGUMENT.
Result<RemoteRequest> decode_emitter_request(std::string_view json);

}  // namespace heavylift::realtime
