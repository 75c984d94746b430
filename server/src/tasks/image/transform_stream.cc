#include "tasks/image/transform_stream.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "tasks/image/transform.h"

namespace heavylift {

// The source is the concatenation of every message's `data`, so the
// transform's errors name that field.
constexpr char kSourceField[] = "data";

Status TransformUpload::add(v1::TransformUploadChunk& message, TaskContext& context) {
  if (!request_) {
    if (Status s = open(message, context); !s.ok()) return s;
  } else if (message.has_request()) {
    return Error::invalid("request", "UNEXPECTED",
                          "request is set on a later message of the stream: set it on the first message only",
                          "unset after the first message", "set");
  }
  if (Status s = call_->check(); !s.ok()) return s;

  if (message.data().size() > limits_.max_stream_chunk_bytes) {
    Error error = Error::out_of_range(
        kSourceField, fmt::format("<= {} bytes per message (image.max_stream_chunk_bytes)", limits_.max_stream_chunk_bytes),
        fmt::format("{} bytes", message.data().size()));
    error.reason = "TOO_LARGE";
    return error;
  }
  source_.append(message.data());
  return probe_header();
}

Status TransformUpload::open(v1::TransformUploadChunk& message, TaskContext& context) {
  if (!message.has_request()) {
    return Error::invalid("request", "MISSING", "the first message of the stream must carry the transform request",
                          "set on the first message", "unset");
  }
  if (message.request().input().has_data() || message.request().input().has_path()) {
    return Error::invalid("request.input", "UNEXPECTED",
                          "request.input is set: a streamed source is the messages' data, so leave input unset",
                          "unset", message.request().input().has_path() ? "a path" : "inline data");
  }
  if (Status s = check_transform_request(message.request(), limits_); !s.ok()) return s;
  request_.emplace(std::move(*message.mutable_request()));
  call_.emplace(context, limits_.max_call_ms);
  return Status::Ok();
}

// Reads the header from the bytes received so far. Only a pixel or frame
// bound fails here: any other error (too few bytes to sniff, a header cut
// off) waits for more bytes, and the transform reports it at the end.
Status TransformUpload::probe_header() {
  if (header_checked_ || source_.empty()) return Status::Ok();
  auto opened = open_source(source_, kSourceField, limits_, /*all_pages=*/false);
  if (opened.ok()) {
    header_checked_ = true;
    return Status::Ok();
  }
  const std::string& reason = opened.error().reason;
  if (reason == "TOO_MANY_PIXELS" || reason == "TOO_MANY_FRAMES") return opened.error();
  if (source_.size() >= kHeaderProbeBytes) header_checked_ = true;
  return Status::Ok();
}

Status TransformUpload::finish(v1::TransformResponse* response, TaskContext&) {
  if (!request_) {
    return Error::invalid("request", "MISSING", "the stream ended without a message: send the request first",
                          "set on the first message", "no messages");
  }
  if (source_.empty()) {
    return Error::invalid(kSourceField, "EMPTY", "the stream carried no source bytes", "at least 1 byte", "0 bytes");
  }
  Status status = transform_source(*request_, source_, kSourceField, response, *call_, limits_, blobs_);
  std::string().swap(source_);
  return status;
}

Status TransformOutputStream::next(v1::TransformStreamChunk* message, bool* last, TaskContext& context) {
  if (!transformed_) {
    if (Status s = transform(request_, &response_, context, limits_, blobs_); !s.ok()) return s;
    transformed_ = true;
    *message->mutable_source() = std::move(*response_.mutable_source());
    for (std::string& warning : *response_.mutable_warnings()) message->add_warnings(std::move(warning));
  }

  v1::EncodedImage& output = *response_.mutable_outputs(output_);
  message->set_output_index(static_cast<uint32_t>(output_));
  if (offset_ == 0) {
    v1::EncodedImage& image = *message->mutable_image();
    image.set_width(output.width());
    image.set_height(output.height());
    image.set_format(output.format());
    image.set_pages(output.pages());
  }
  const size_t piece = std::min<size_t>(limits_.max_stream_chunk_bytes, output.data().size() - offset_);
  message->set_data(output.data().substr(offset_, piece));
  offset_ += piece;
  if (offset_ < output.data().size()) {
    *last = false;
    return Status::Ok();
  }

  message->set_output_end(true);
  std::string().swap(*output.mutable_data());
  offset_ = 0;
  ++output_;
  *last = output_ == response_.outputs_size();
  return Status::Ok();
}

}  // namespace heavylift
