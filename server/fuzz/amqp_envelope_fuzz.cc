// libFuzzer target for the AMQP job envelope reader. The input is split into
// the content_type, content_encoding and type properties (each a one-byte
// length and its bytes, presence chosen by the first byte) and a header
// table in AMQP wire format, decoded by librabbitmq-c as the worker's
// connection would. Whatever the input, reading must not crash, and an
// accepted envelope must hold a task name within its bound and an attempt
// in 1..kMaxAttemptNumber.
#include <amqp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "jobs/amqp/amqp_envelope.h"

namespace {

// Takes a one-byte length and that many bytes from the input, or fewer at its end.
amqp_bytes_t take_string(const uint8_t*& data, size_t& size) {
  if (size == 0) return amqp_empty_bytes;
  size_t length = data[0];
  ++data;
  --size;
  if (length > size) length = size;
  amqp_bytes_t bytes{length, const_cast<uint8_t*>(data)};
  data += length;
  size -= length;
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  ++data;
  --size;

  amqp_basic_properties_t properties{};
  const amqp_bytes_t content_type = take_string(data, size);
  const amqp_bytes_t content_encoding = take_string(data, size);
  const amqp_bytes_t type = take_string(data, size);
  if (selector & 1) {
    properties._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    properties.content_type = content_type;
  }
  if (selector & 2) {
    properties._flags |= AMQP_BASIC_CONTENT_ENCODING_FLAG;
    properties.content_encoding = content_encoding;
  }
  if (selector & 4) {
    properties._flags |= AMQP_BASIC_TYPE_FLAG;
    properties.type = type;
  }

  amqp_pool_t pool;
  init_amqp_pool(&pool, 4096);
  if (selector & 8) {
    size_t offset = 0;
    amqp_table_t headers{};
    const amqp_bytes_t encoded{size, const_cast<uint8_t*>(data)};
    if (amqp_decode_table(encoded, &pool, &headers, &offset) == AMQP_STATUS_OK) {
      properties._flags |= AMQP_BASIC_HEADERS_FLAG;
      properties.headers = headers;
    }
  }

  auto envelope = heavylift::parse_job_envelope(properties);
  if (envelope.ok()) {
    const auto& value = envelope.value();
    if (value.task.empty() || value.task.size() > heavylift::kMaxTaskNameBytes) std::abort();
    if (value.attempt < 1 || value.attempt > heavylift::kMaxAttemptNumber) std::abort();
  } else if (envelope.error().code != heavylift::Code::kInvalidArgument || envelope.error().field.empty()) {
    std::abort();
  }
  empty_amqp_pool(&pool);
  return 0;
}
