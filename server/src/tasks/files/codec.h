// Streaming compression and decompression with zstd (libzstd), gzip (zlib)
// and brotli (libbrotlienc/libbrotlidec). A codec takes input in chunks of
// any size and hands its output to a sink in chunks of at most
// kCodecOutputChunk bytes, so memory stays bounded whatever the sizes.
//
// Decoders stop at an output bound: the first byte beyond `max_output_bytes`
// fails the stream with INVALID_ARGUMENT, reason DECOMPRESSED_TOO_LARGE,
// before that byte reaches the sink. This is what stops decompression bombs.
//
// Thread-safety: a codec is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "heavylift/v1/files.pb.h"

namespace heavylift {

// Output chunk size of every codec.
inline constexpr size_t kCodecOutputChunk = 128 * 1024;

// Receives output bytes. A non-OK status stops the codec and is returned by
// the write() or finish() call that produced the output.
using ByteSink = std::function<Status(std::string_view bytes)>;

class StreamCodec {
 public:
  virtual ~StreamCodec() = default;
  // Feeds the next input bytes.
  virtual Status write(std::string_view input, const ByteSink& sink) = 0;
  // Does a bounded part of write(): consumes a prefix of `*input` (advancing
  // it) and hands at most kCodecOutputChunk bytes to the sink per call on a
  // decoder. Sets *more_output when the codec may have output pending
  // without further input. A caller that must not buffer (a decoder whose
  // output goes to a slow reader) calls step() while `*input` is not empty
  // or *more_output is set, one output chunk at a time. Encoders consume all
  // of `*input` in one call.
  virtual Status step(std::string_view* input, const ByteSink& sink, bool* more_output);
  // Flushes the rest. A decoder whose input ended inside a frame fails with
  // INVALID_ARGUMENT, reason CORRUPT_INPUT ("truncated").
  virtual Status finish(const ByteSink& sink) = 0;
  // Bytes handed to the sink so far.
  uint64_t output_bytes() const { return output_bytes_; }

 protected:
  // write() as a loop over step().
  Status write_in_steps(std::string_view input, const ByteSink& sink);

  uint64_t output_bytes_ = 0;
};

// Returns "zstd", "gzip" or "brotli".
const char* compression_format_name(v1::CompressionFormat format);

// Returns the file extension of `format` with its dot: ".zst", ".gz", ".br".
const char* compression_extension(v1::CompressionFormat format);

// Creates an encoder. `level` 0 takes the format's default (zstd 3, gzip 6,
// brotli 5). Other levels must be in zstd 1..19, gzip 1..9 or brotli 1..11,
// else the result is INVALID_ARGUMENT naming `level_field`. An unspecified
// format is INVALID_ARGUMENT naming `format_field`.
Result<std::unique_ptr<StreamCodec>> make_encoder(v1::CompressionFormat format, int32_t level,
                                                  std::string_view format_field, std::string_view level_field);

// Creates a decoder that fails once its output would exceed
// `max_output_bytes`. The error message names `bound_setting`, the setting
// or field the bound came from.
Result<std::unique_ptr<StreamCodec>> make_decoder(v1::CompressionFormat format, uint64_t max_output_bytes,
                                                  std::string bound_setting);

// Returns the format whose magic bytes start `head` (zstd or gzip), or
// COMPRESSION_FORMAT_UNSPECIFIED. Brotli streams have no magic bytes.
v1::CompressionFormat sniff_compression_format(std::string_view head);

}  // namespace heavylift
