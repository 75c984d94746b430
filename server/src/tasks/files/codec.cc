#include "tasks/files/codec.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <vector>

namespace heavylift {
namespace {

Error corrupt(const char* format, const std::string& detail) {
  return Error::invalid("input", "CORRUPT_INPUT", fmt::format("the {} stream is corrupt: {}", format, detail));
}

// Hands `bytes` to `sink`, first checking them against the decoder's bound.
class BoundedOutput {
 public:
  BoundedOutput(uint64_t max_bytes, std::string bound_setting)
      : max_bytes_(max_bytes), bound_setting_(std::move(bound_setting)) {}

  Status emit(std::string_view bytes, uint64_t* total, const ByteSink& sink) const {
    if (bytes.empty()) return Status::Ok();
    if (*total + bytes.size() > max_bytes_) {
      Error error = Error::invalid(
          bound_setting_, "DECOMPRESSED_TOO_LARGE",
          fmt::format("the decompressed output exceeds {} = {} bytes; the input expands to more, so it was stopped "
                      "(raise {} if the data is legitimate)",
                      bound_setting_, max_bytes_, bound_setting_),
          fmt::format("<= {} bytes", max_bytes_), fmt::format("> {} bytes", max_bytes_));
      return error;
    }
    *total += bytes.size();
    return sink(bytes);
  }

 private:
  uint64_t max_bytes_;
  std::string bound_setting_;
};

Status emit_unbounded(std::string_view bytes, uint64_t* total, const ByteSink& sink) {
  if (bytes.empty()) return Status::Ok();
  *total += bytes.size();
  return sink(bytes);
}

// --- zstd ---------------------------------------------------------------------

class ZstdEncoder final : public StreamCodec {
 public:
  explicit ZstdEncoder(int level) : stream_(ZSTD_createCCtx()), buffer_(kCodecOutputChunk) {
    ZSTD_CCtx_setParameter(stream_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(stream_, ZSTD_c_checksumFlag, 1);
  }
  ~ZstdEncoder() override { ZSTD_freeCCtx(stream_); }

  Status write(std::string_view input, const ByteSink& sink) override {
    return run(input, ZSTD_e_continue, sink);
  }
  Status finish(const ByteSink& sink) override { return run({}, ZSTD_e_end, sink); }

 private:
  Status run(std::string_view input, ZSTD_EndDirective mode, const ByteSink& sink) {
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    while (true) {
      ZSTD_outBuffer out{buffer_.data(), buffer_.size(), 0};
      const size_t remaining = ZSTD_compressStream2(stream_, &out, &in, mode);
      if (ZSTD_isError(remaining)) return Error::internal(fmt::format("zstd failed: {}", ZSTD_getErrorName(remaining)));
      if (Status s = emit_unbounded({buffer_.data(), out.pos}, &output_bytes_, sink); !s.ok()) return s;
      const bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size && out.pos < out.size;
      if (done) return Status::Ok();
    }
  }

  ZSTD_CCtx* stream_;
  std::vector<char> buffer_;
};

class ZstdDecoder final : public StreamCodec {
 public:
  explicit ZstdDecoder(BoundedOutput bound)
      : stream_(ZSTD_createDCtx()), buffer_(kCodecOutputChunk), bound_(std::move(bound)) {
    // Bounds the window a frame may ask for (2^27 = 128 MiB, the zstd default
    // for decoders), so a forged header cannot make the decoder allocate more.
    ZSTD_DCtx_setParameter(stream_, ZSTD_d_windowLogMax, 27);
  }
  ~ZstdDecoder() override { ZSTD_freeDCtx(stream_); }

  Status write(std::string_view input, const ByteSink& sink) override { return write_in_steps(input, sink); }

  Status step(std::string_view* input, const ByteSink& sink, bool* more_output) override {
    *more_output = false;
    // Called again without input after a frame ended, zstd would wait for
    // the next frame and the stream would look truncated.
    if (input->empty() && !frame_open_) return Status::Ok();
    ZSTD_inBuffer in{input->data(), input->size(), 0};
    ZSTD_outBuffer out{buffer_.data(), buffer_.size(), 0};
    const size_t hint = ZSTD_decompressStream(stream_, &out, &in);
    if (ZSTD_isError(hint)) return corrupt("zstd", ZSTD_getErrorName(hint));
    frame_open_ = hint != 0;
    input->remove_prefix(in.pos);
    // Zero means the frame is decoded and fully flushed.
    *more_output = out.pos == out.size && hint != 0;
    return bound_.emit({buffer_.data(), out.pos}, &output_bytes_, sink);
  }

  Status finish(const ByteSink&) override {
    if (frame_open_) return corrupt("zstd", "the input ends inside a frame (truncated)");
    return Status::Ok();
  }

 private:
  ZSTD_DCtx* stream_;
  std::vector<char> buffer_;
  BoundedOutput bound_;
  bool frame_open_ = false;
};

// --- gzip ---------------------------------------------------------------------

class GzipEncoder final : public StreamCodec {
 public:
  explicit GzipEncoder(int level) : buffer_(kCodecOutputChunk) {
    // Window bits 15 + 16 selects the gzip wrapper.
    ready_ = deflateInit2(&stream_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~GzipEncoder() override { deflateEnd(&stream_); }

  Status write(std::string_view input, const ByteSink& sink) override { return run(input, Z_NO_FLUSH, sink); }
  Status finish(const ByteSink& sink) override { return run({}, Z_FINISH, sink); }

 private:
  Status run(std::string_view input, int flush, const ByteSink& sink) {
    if (!ready_) return Error::internal("zlib deflateInit2 failed");
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream_.avail_in = static_cast<uInt>(input.size());
    while (true) {
      stream_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
      stream_.avail_out = static_cast<uInt>(buffer_.size());
      const int result = deflate(&stream_, flush);
      if (result == Z_STREAM_ERROR) return Error::internal("zlib deflate failed");
      const size_t produced = buffer_.size() - stream_.avail_out;
      if (Status s = emit_unbounded({buffer_.data(), produced}, &output_bytes_, sink); !s.ok()) return s;
      if (flush == Z_FINISH ? result == Z_STREAM_END : stream_.avail_in == 0 && stream_.avail_out != 0) {
        return Status::Ok();
      }
    }
  }

  z_stream stream_{};
  std::vector<char> buffer_;
  bool ready_ = false;
};

class GzipDecoder final : public StreamCodec {
 public:
  explicit GzipDecoder(BoundedOutput bound) : buffer_(kCodecOutputChunk), bound_(std::move(bound)) {
    ready_ = inflateInit2(&stream_, 15 + 16) == Z_OK;
  }
  ~GzipDecoder() override { inflateEnd(&stream_); }

  Status write(std::string_view input, const ByteSink& sink) override { return write_in_steps(input, sink); }

  Status step(std::string_view* input, const ByteSink& sink, bool* more_output) override {
    *more_output = false;
    if (!ready_) return Error::internal("zlib inflateInit2 failed");
    if (input->empty() && !in_member_) return Status::Ok();
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input->data()));
    stream_.avail_in = static_cast<uInt>(input->size());
    stream_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
    stream_.avail_out = static_cast<uInt>(buffer_.size());
    const int result = inflate(&stream_, Z_NO_FLUSH);
    if (result == Z_DATA_ERROR || result == Z_NEED_DICT || result == Z_STREAM_ERROR || result == Z_MEM_ERROR) {
      return corrupt("gzip", stream_.msg != nullptr ? stream_.msg : "inflate failed");
    }
    input->remove_prefix(input->size() - stream_.avail_in);
    const size_t produced = buffer_.size() - stream_.avail_out;
    in_member_ = result != Z_STREAM_END;
    if (result == Z_STREAM_END) {
      // Concatenated members (as `cat a.gz b.gz` makes) decode in sequence.
      inflateReset(&stream_);
    } else {
      // Z_BUF_ERROR: no progress is possible without more input.
      *more_output = result != Z_BUF_ERROR && stream_.avail_out == 0;
    }
    return bound_.emit({buffer_.data(), produced}, &output_bytes_, sink);
  }

  Status finish(const ByteSink&) override {
    if (in_member_) return corrupt("gzip", "the input ends inside a member (truncated)");
    return Status::Ok();
  }

 private:
  z_stream stream_{};
  std::vector<char> buffer_;
  BoundedOutput bound_;
  bool ready_ = false;
  bool in_member_ = false;
};

// --- brotli -------------------------------------------------------------------

class BrotliEncoder final : public StreamCodec {
 public:
  explicit BrotliEncoder(int quality) : state_(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr)) {
    BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(quality));
  }
  ~BrotliEncoder() override { BrotliEncoderDestroyInstance(state_); }

  Status write(std::string_view input, const ByteSink& sink) override {
    return run(input, BROTLI_OPERATION_PROCESS, sink);
  }
  Status finish(const ByteSink& sink) override { return run({}, BROTLI_OPERATION_FINISH, sink); }

 private:
  Status run(std::string_view input, BrotliEncoderOperation operation, const ByteSink& sink) {
    size_t available_in = input.size();
    const auto* next_in = reinterpret_cast<const uint8_t*>(input.data());
    while (true) {
      size_t available_out = 0;
      if (!BrotliEncoderCompressStream(state_, operation, &available_in, &next_in, &available_out, nullptr,
                                       nullptr)) {
        return Error::internal("brotli compression failed");
      }
      // Takes the encoder's own output buffer without copying it.
      size_t size = kCodecOutputChunk;
      while (BrotliEncoderHasMoreOutput(state_)) {
        size = kCodecOutputChunk;
        const uint8_t* output = BrotliEncoderTakeOutput(state_, &size);
        if (Status s = emit_unbounded({reinterpret_cast<const char*>(output), size}, &output_bytes_, sink);
            !s.ok()) {
          return s;
        }
      }
      if (operation == BROTLI_OPERATION_FINISH ? BrotliEncoderIsFinished(state_) : available_in == 0) {
        return Status::Ok();
      }
    }
  }

  BrotliEncoderState* state_;
};

class BrotliDecoder final : public StreamCodec {
 public:
  explicit BrotliDecoder(BoundedOutput bound)
      : state_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)), bound_(std::move(bound)) {}
  ~BrotliDecoder() override { BrotliDecoderDestroyInstance(state_); }

  Status write(std::string_view input, const ByteSink& sink) override { return write_in_steps(input, sink); }

  Status step(std::string_view* input, const ByteSink& sink, bool* more_output) override {
    *more_output = false;
    if (!BrotliDecoderHasMoreOutput(state_)) {
      if (input->empty() && !needs_output_) return Status::Ok();
      size_t available_in = input->size();
      const auto* next_in = reinterpret_cast<const uint8_t*>(input->data());
      size_t available_out = 0;
      const BrotliDecoderResult result =
          BrotliDecoderDecompressStream(state_, &available_in, &next_in, &available_out, nullptr, nullptr);
      if (result == BROTLI_DECODER_RESULT_ERROR) {
        return corrupt("brotli", BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state_)));
      }
      input->remove_prefix(input->size() - available_in);
      needs_output_ = result == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
      if (result == BROTLI_DECODER_RESULT_SUCCESS) {
        finished_ = true;
        if (!input->empty()) return corrupt("brotli", "bytes follow the end of the stream");
      }
    }
    if (BrotliDecoderHasMoreOutput(state_)) {
      size_t size = kCodecOutputChunk;
      const uint8_t* output = BrotliDecoderTakeOutput(state_, &size);
      if (Status s = bound_.emit({reinterpret_cast<const char*>(output), size}, &output_bytes_, sink); !s.ok()) {
        return s;
      }
    }
    *more_output = needs_output_ || BrotliDecoderHasMoreOutput(state_);
    return Status::Ok();
  }

  Status finish(const ByteSink&) override {
    if (!finished_) return corrupt("brotli", "the input ends inside the stream (truncated)");
    return Status::Ok();
  }

 private:
  BrotliDecoderState* state_;
  BoundedOutput bound_;
  bool finished_ = false;
  // The last DecompressStream call stopped to hand out output.
  bool needs_output_ = false;
};

Error invalid_level(std::string_view field, const char* bound, int32_t level) {
  return Error::out_of_range(std::string(field), bound, std::to_string(level));
}

}  // namespace

Status StreamCodec::step(std::string_view* input, const ByteSink& sink, bool* more_output) {
  *more_output = false;
  const std::string_view all = *input;
  *input = {};
  return write(all, sink);
}

Status StreamCodec::write_in_steps(std::string_view input, const ByteSink& sink) {
  bool more_output = false;
  do {
    if (Status s = step(&input, sink, &more_output); !s.ok()) return s;
  } while (!input.empty() || more_output);
  return Status::Ok();
}

const char* compression_format_name(v1::CompressionFormat format) {
  switch (format) {
    case v1::COMPRESSION_FORMAT_ZSTD: return "zstd";
    case v1::COMPRESSION_FORMAT_GZIP: return "gzip";
    case v1::COMPRESSION_FORMAT_BROTLI: return "brotli";
    default: return "unspecified";
  }
}

const char* compression_extension(v1::CompressionFormat format) {
  switch (format) {
    case v1::COMPRESSION_FORMAT_ZSTD: return ".zst";
    case v1::COMPRESSION_FORMAT_GZIP: return ".gz";
    case v1::COMPRESSION_FORMAT_BROTLI: return ".br";
    default: return "";
  }
}

Result<std::unique_ptr<StreamCodec>> make_encoder(v1::CompressionFormat format, int32_t level,
                                                  std::string_view format_field, std::string_view level_field) {
  switch (format) {
    case v1::COMPRESSION_FORMAT_ZSTD:
      if (level == 0) level = 3;
      if (level < 1 || level > 19) return invalid_level(level_field, "in 1..19 for zstd", level);
      return std::unique_ptr<StreamCodec>(new ZstdEncoder(level));
    case v1::COMPRESSION_FORMAT_GZIP:
      if (level == 0) level = 6;
      if (level < 1 || level > 9) return invalid_level(level_field, "in 1..9 for gzip", level);
      return std::unique_ptr<StreamCodec>(new GzipEncoder(level));
    case v1::COMPRESSION_FORMAT_BROTLI:
      if (level == 0) level = 5;
      if (level < 1 || level > 11) return invalid_level(level_field, "in 1..11 for brotli", level);
      return std::unique_ptr<StreamCodec>(new BrotliEncoder(level));
    default:
      return Error::invalid(std::string(format_field), "MISSING",
                            fmt::format("{} must be COMPRESSION_FORMAT_ZSTD, _GZIP or _BROTLI, got {}", format_field,
                                        static_cast<int>(format)),
                            "one of ZSTD, GZIP, BROTLI", std::to_string(static_cast<int>(format)));
  }
}

Result<std::unique_ptr<StreamCodec>> make_decoder(v1::CompressionFormat format, uint64_t max_output_bytes,
                                                  std::string bound_setting) {
  BoundedOutput bound(max_output_bytes, std::move(bound_setting));
  switch (format) {
    case v1::COMPRESSION_FORMAT_ZSTD: return std::unique_ptr<StreamCodec>(new ZstdDecoder(std::move(bound)));
    case v1::COMPRESSION_FORMAT_GZIP: return std::unique_ptr<StreamCodec>(new GzipDecoder(std::move(bound)));
    case v1::COMPRESSION_FORMAT_BROTLI: return std::unique_ptr<StreamCodec>(new BrotliDecoder(std::move(bound)));
    default:
      return Error::invalid("format", "UNSUPPORTED_FORMAT",
                            "the compression format is unspecified and the input starts with neither the zstd nor "
                            "the gzip magic bytes; set format (brotli has no magic bytes)");
  }
}

v1::CompressionFormat sniff_compression_format(std::string_view head) {
  if (head.size() >= 4 && head.substr(0, 4) == std::string_view("\x28\xB5\x2F\xFD", 4)) {
    return v1::COMPRESSION_FORMAT_ZSTD;
  }
  if (head.size() >= 2 && head.substr(0, 2) == std::string_view("\x1F\x8B", 2)) return v1::COMPRESSION_FORMAT_GZIP;
  return v1::COMPRESSION_FORMAT_UNSPECIFIED;
}

}  // namespace heavylift
