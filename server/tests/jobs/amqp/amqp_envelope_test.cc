#include "jobs/amqp/amqp_envelope.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace heavylift {
namespace {

amqp_bytes_t bytes(const std::string& text) { return amqp_bytes_t{text.size(), const_cast<char*>(text.data())}; }

// Properties with a header table built from owned entries.
struct Message {
  amqp_basic_properties_t properties{};
  std::vector<amqp_table_entry_t> entries;
  std::deque<std::string> keep;  // stable addresses for the bytes above

  Message& content_type(const std::string& value) {
    properties._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    properties.content_type = bytes(keep.emplace_back(value));
    return *this;
  }
  Message& string_header(const std::string& key, const std::string& value) {
    amqp_table_entry_t entry{};
    entry.key = bytes(keep.emplace_back(key));
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = bytes(keep.emplace_back(value));
    return add(entry);
  }
  Message& integer_header(const std::string& key, int64_t value) {
    amqp_table_entry_t entry{};
    entry.key = bytes(keep.emplace_back(key));
    entry.value.kind = AMQP_FIELD_KIND_I64;
    entry.value.value.i64 = value;
    return add(entry);
  }
  Message& double_header(const std::string& key, double value) {
    amqp_table_entry_t entry{};
    entry.key = bytes(keep.emplace_back(key));
    entry.value.kind = AMQP_FIELD_KIND_F64;
    entry.value.value.f64 = value;
    return add(entry);
  }
  Message& boolean_header(const std::string& key, bool value) {
    amqp_table_entry_t entry{};
    entry.key = bytes(keep.emplace_back(key));
    entry.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    entry.value.value.boolean = value ? 1 : 0;
    return add(entry);
  }
  Message& add(const amqp_table_entry_t& entry) {
    entries.push_back(entry);
    properties._flags |= AMQP_BASIC_HEADERS_FLAG;
    properties.headers = amqp_table_t{static_cast<int>(entries.size()), entries.data()};
    return *this;
  }
};

TEST(AmqpEnvelope, ReadsTaskFormatAttemptAndIds) {
  Message message;
  message.content_type("application/x-protobuf").string_header(kTaskHeader, "image.thumbnail").integer_header(kAttemptHeader, 2);
  std::string reply_to = "amq.gen-reply", correlation_id = "c-1", message_id = "m-1";
  message.properties._flags |= AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
  message.properties.reply_to = bytes(reply_to);
  message.properties.correlation_id = bytes(correlation_id);
  message.properties.message_id = bytes(message_id);

  auto envelope = parse_job_envelope(message.properties);
  ASSERT_TRUE(envelope.ok()) << envelope.error().message;
  EXPECT_EQ(envelope.value().task, "image.thumbnail");
  EXPECT_EQ(envelope.value().format, PayloadFormat::kProtobuf);
  EXPECT_EQ(envelope.value().attempt, 2u);
  EXPECT_EQ(envelope.value().reply_to, "amq.gen-reply");
  EXPECT_EQ(envelope.value().correlation_id, "c-1");
  EXPECT_EQ(envelope.value().message_id, "m-1");
}

TEST(AmqpEnvelope, ReadsTraceIdOfAValidTraceparent) {
  Message message;
  message.string_header(kTaskHeader, "testing.echo")
      .string_header(kTraceparentHeader, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_TRUE(envelope.ok()) << envelope.error().message;
  EXPECT_EQ(envelope.value().trace_id, "0af7651916cd43dd8448eb211c80319c");
}

TEST(AmqpEnvelope, IgnoresATraceparentThatDoesNotParse) {
  Message message;
  message.string_header(kTaskHeader, "testing.echo").string_header(kTraceparentHeader, "00-not-a-trace-01");
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_TRUE(envelope.ok()) << envelope.error().message;
  EXPECT_EQ(envelope.value().trace_id, "");
}

TEST(AmqpEnvelope, ReadsTheRedeliveredHeaderOfAnInterruptedCopy) {
  Message copy;
  copy.string_header(kTaskHeader, "testing.echo").boolean_header(kRedeliveredHeader, true);
  auto envelope = parse_job_envelope(copy.properties);
  ASSERT_TRUE(envelope.ok()) << envelope.error().message;
  EXPECT_TRUE(envelope.value().redelivered_before);

  Message fresh;
  fresh.string_header(kTaskHeader, "testing.echo");
  auto first = parse_job_envelope(fresh.properties);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first.value().redelivered_before);
}

TEST(AmqpEnvelope, DefaultsToJsonAndAttemptOne) {
  Message message;
  message.string_header(kTaskHeader, "testing.echo");
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope.value().format, PayloadFormat::kJson);
  EXPECT_EQ(envelope.value().attempt, 1u);
  EXPECT_EQ(envelope.value().reply_to, "");
}

TEST(AmqpEnvelope, AcceptsJsonWithParametersInAnyCase) {
  Message message;
  message.content_type(" Application/JSON; charset=utf-8").string_header(kTaskHeader, "testing.echo");
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_TRUE(envelope.ok()) << envelope.error().message;
  EXPECT_EQ(envelope.value().format, PayloadFormat::kJson);
}

TEST(AmqpEnvelope, FallsBackToTheTypeProperty) {
  std::string type = "crypto.argon2id.hash";
  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_TYPE_FLAG;
  properties.type = bytes(type);
  auto envelope = parse_job_envelope(properties);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope.value().task, "crypto.argon2id.hash");
}

TEST(AmqpEnvelope, AcceptsAnIntegralDoubleAttempt) {
  Message message;
  message.string_header(kTaskHeader, "testing.echo").double_header(kAttemptHeader, 3.0);
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope.value().attempt, 3u);
}

TEST(AmqpEnvelope, RejectsOtherContentTypesNamingTheProperty) {
  Message message;
  message.content_type("text/csv").string_header(kTaskHeader, "testing.echo");
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_FALSE(envelope.ok());
  EXPECT_EQ(envelope.error().code, Code::kInvalidArgument);
  EXPECT_EQ(envelope.error().field, "content_type");
  EXPECT_EQ(envelope.error().reason, "UNSUPPORTED_CONTENT_TYPE");
  EXPECT_EQ(envelope.error().bound, "application/json or application/x-protobuf");
  EXPECT_NE(envelope.error().message.find("text/csv"), std::string::npos);
}

TEST(AmqpEnvelope, RejectsCompressedBodies) {
  Message message;
  message.string_header(kTaskHeader, "testing.echo");
  std::string gzip = "gzip";
  message.properties._flags |= AMQP_BASIC_CONTENT_ENCODING_FLAG;
  message.properties.content_encoding = bytes(gzip);
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_FALSE(envelope.ok());
  EXPECT_EQ(envelope.error().reason, "UNSUPPORTED_CONTENT_ENCODING");
}

TEST(AmqpEnvelope, RequiresATaskName) {
  amqp_basic_properties_t properties{};
  auto envelope = parse_job_envelope(properties);
  ASSERT_FALSE(envelope.ok());
  EXPECT_EQ(envelope.error().field, "headers.x-heavylift-task");
  EXPECT_EQ(envelope.error().reason, "MISSING_TASK_NAME");
}

TEST(AmqpEnvelope, RejectsATaskNameOverTheBound) {
  Message message;
  message.string_header(kTaskHeader, std::string(kMaxTaskNameBytes + 1, 'a'));
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_FALSE(envelope.ok());
  EXPECT_EQ(envelope.error().reason, "OUT_OF_RANGE");
  EXPECT_EQ(envelope.error().bound, "at most 256 bytes");
  EXPECT_EQ(envelope.error().value, "257 bytes");
}

TEST(AmqpEnvelope, RejectsAttemptsOfTheWrongTypeOrRange) {
  for (int64_t attempt : {int64_t{0}, int64_t{-1}, int64_t{kMaxAttemptNumber} + 1}) {
    Message message;
    message.string_header(kTaskHeader, "testing.echo").integer_header(kAttemptHeader, attempt);
    auto envelope = parse_job_envelope(message.properties);
    ASSERT_FALSE(envelope.ok()) << attempt;
    EXPECT_EQ(envelope.error().field, "headers.x-heavylift-attempt");
    EXPECT_EQ(envelope.error().reason, "OUT_OF_RANGE");
    EXPECT_EQ(envelope.error().value, std::to_string(attempt));
  }
  Message text;
  text.string_header(kTaskHeader, "testing.echo").string_header(kAttemptHeader, "2");
  auto envelope = parse_job_envelope(text.properties);
  ASSERT_FALSE(envelope.ok());
  EXPECT_EQ(envelope.error().reason, "WRONG_TYPE");

  Message fraction;
  fraction.string_header(kTaskHeader, "testing.echo").double_header(kAttemptHeader, 1.5);
  EXPECT_FALSE(parse_job_envelope(fraction.properties).ok());
}

TEST(AmqpEnvelope, FindHeaderTakesTheFirstOfRepeatedKeys) {
  Message message;
  message.string_header(kTaskHeader, "first").string_header(kTaskHeader, "second");
  auto envelope = parse_job_envelope(message.properties);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope.value().task, "first");
  EXPECT_EQ(find_header(message.properties.headers, "absent"), nullptr);
}

}  // namespace
}  // namespace heavylift
