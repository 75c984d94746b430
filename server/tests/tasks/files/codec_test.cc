#include "tasks/files/codec.h"

#include <gtest/gtest.h>

#include <string>

namespace heavylift {
namespace {

const v1::CompressionFormat kFormats[] = {v1::COMPRESSION_FORMAT_ZSTD, v1::COMPRESSION_FORMAT_GZIP,
                                          v1::COMPRESSION_FORMAT_BROTLI};

std::string sample_text(size_t size) {
  std::string text;
  uint32_t state = 7;
  while (text.size() < size) {
    state = state * 1103515245u + 12345u;
    text += "row " + std::to_string(state % 1000) + ", value " + std::to_string(state % 97) + "\n";
  }
  text.resize(size);
  return text;
}

Result<std::string> run_codec(StreamCodec& codec, std::string_view input, size_t chunk) {
  std::string output;
  const ByteSink sink = [&output](std::string_view bytes) {
    output.append(bytes);
    return Status::Ok();
  };
  for (size_t offset = 0; offset < input.size(); offset += chunk) {
    if (Status s = codec.write(input.substr(offset, chunk), sink); !s.ok()) return s.error();
  }
  if (Status s = codec.finish(sink); !s.ok()) return s.error();
  return output;
}

std::string compress(v1::CompressionFormat format, int level, std::string_view input) {
  auto encoder = make_encoder(format, level, "format", "level").value();
  return run_codec(*encoder, input, 65536).value();
}

TEST(StreamCodec, RoundTripsEveryFormatInOddChunks) {
  const std::string input = sample_text(700'000);
  for (const v1::CompressionFormat format : kFormats) {
    for (size_t chunk : {size_t{1} << 20, size_t{4093}}) {
      auto encoder = make_encoder(format, 0, "format", "level").value();
      const std::string compressed = run_codec(*encoder, input, chunk).value();
      EXPECT_LT(compressed.size(), input.size() / 2) << compression_format_name(format);
      auto decoder = make_decoder(format, input.size(), "max").value();
      Result<std::string> output = run_codec(*decoder, compressed, 777);
      ASSERT_TRUE(output.ok()) << compression_format_name(format) << ": " << output.error().message;
      EXPECT_EQ(output.value(), input) << compression_format_name(format);
    }
  }
}

TEST(StreamCodec, RejectsLevelsOutsideEachRange) {
  EXPECT_EQ(make_encoder(v1::COMPRESSION_FORMAT_ZSTD, 20, "format", "level").error().field, "level");
  EXPECT_EQ(make_encoder(v1::COMPRESSION_FORMAT_GZIP, 10, "format", "level").error().bound, "in 1..9 for gzip");
  EXPECT_FALSE(make_encoder(v1::COMPRESSION_FORMAT_BROTLI, 12, "format", "level").ok());
  EXPECT_FALSE(make_encoder(v1::COMPRESSION_FORMAT_UNSPECIFIED, 0, "format", "level").ok());
  EXPECT_TRUE(make_encoder(v1::COMPRESSION_FORMAT_ZSTD, 19, "format", "level").ok());
}

TEST(StreamCodec, StopsBombAtOutputBound) {
  const std::string zeros(8 << 20, '\0');
  for (const v1::CompressionFormat format : kFormats) {
    const std::string bomb = compress(format, 0, zeros);
    auto decoder = make_decoder(format, 1 << 20, "files.max_decompressed_bytes").value();
    uint64_t seen = 0;
    const ByteSink sink = [&seen](std::string_view bytes) {
      seen += bytes.size();
      return Status::Ok();
    };
    Status status = decoder->write(bomb, sink);
    ASSERT_FALSE(status.ok()) << compression_format_name(format);
    EXPECT_EQ(status.error().reason, "DECOMPRESSED_TOO_LARGE");
    EXPECT_EQ(status.error().field, "files.max_decompressed_bytes");
    EXPECT_EQ(status.error().bound, "<= 1048576 bytes");
    EXPECT_NE(status.error().message.find("1048576"), std::string::npos);
    EXPECT_LE(seen, 1u << 20);
  }
}

// step() hands out at most one output chunk per call, however much the
// input expands, and the steps together decode what write() decodes.
TEST(StreamCodec, StepsEmitAtMostOneOutputChunk) {
  const std::string zeros(8 << 20, '\0');
  for (const v1::CompressionFormat format : kFormats) {
    const std::string compressed = compress(format, 0, zeros);
    auto decoder = make_decoder(format, zeros.size(), "max").value();
    uint64_t total = 0;
    size_t largest = 0;
    const ByteSink sink = [&](std::string_view bytes) {
      EXPECT_EQ(bytes.find_first_not_of('\0'), std::string_view::npos);
      total += bytes.size();
      return Status::Ok();
    };
    std::string_view input = compressed;
    bool more_output = false;
    int steps = 0;
    do {
      const uint64_t before = total;
      ASSERT_TRUE(decoder->step(&input, sink, &more_output).ok()) << compression_format_name(format);
      largest = std::max<size_t>(largest, total - before);
      steps += 1;
    } while (!input.empty() || more_output);
    ASSERT_TRUE(decoder->finish(sink).ok()) << compression_format_name(format);
    EXPECT_EQ(total, zeros.size()) << compression_format_name(format);
    EXPECT_LE(largest, kCodecOutputChunk) << compression_format_name(format);
    EXPECT_GE(steps, static_cast<int>(zeros.size() / kCodecOutputChunk)) << compression_format_name(format);
  }
}

TEST(StreamCodec, DecodesConcatenatedMembersAndFrames) {
  for (const v1::CompressionFormat format : {v1::COMPRESSION_FORMAT_ZSTD, v1::COMPRESSION_FORMAT_GZIP}) {
    const std::string joined = compress(format, 0, "first ") + compress(format, 0, "second");
    auto decoder = make_decoder(format, 1000, "max").value();
    EXPECT_EQ(run_codec(*decoder, joined, 3).value(), "first second") << compression_format_name(format);
  }
}

TEST(StreamCodec, ReportsTruncatedAndCorruptInput) {
  const std::string input = sample_text(100'000);
  for (const v1::CompressionFormat format : kFormats) {
    const std::string compressed = compress(format, 0, input);
    auto decoder = make_decoder(format, input.size(), "max").value();
    Result<std::string> truncated = run_codec(*decoder, std::string_view(compressed).substr(0, compressed.size() / 2), 1000);
    ASSERT_FALSE(truncated.ok()) << compression_format_name(format);
    EXPECT_EQ(truncated.error().reason, "CORRUPT_INPUT");

    std::string garbage = compressed;
    for (size_t i = 10; i < garbage.size(); i += 13) garbage[i] = static_cast<char>(garbage[i] ^ 0x5a);
    auto second = make_decoder(format, input.size() * 2, "max").value();
    EXPECT_FALSE(run_codec(*second, garbage, 4096).ok()) << compression_format_name(format);
  }
}

TEST(SniffCompressionFormat, ReadsMagicBytes) {
  EXPECT_EQ(sniff_compression_format(compress(v1::COMPRESSION_FORMAT_ZSTD, 0, "x")), v1::COMPRESSION_FORMAT_ZSTD);
  EXPECT_EQ(sniff_compression_format(compress(v1::COMPRESSION_FORMAT_GZIP, 0, "x")), v1::COMPRESSION_FORMAT_GZIP);
  EXPECT_EQ(sniff_compression_format("plain"), v1::COMPRESSION_FORMAT_UNSPECIFIED);
}

}  // namespace
}  // namespace heavylift
