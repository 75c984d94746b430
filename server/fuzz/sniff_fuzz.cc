// libFuzzer target for the content-type sniffer, the CSV delimiter detector,
// the UTF-8 check and the three decoders, which run on untrusted uploads.
// Decoders get a 1 MiB output bound, so a bomb ends with an error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tasks/files/codec.h"
#include "tasks/files/sniff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string type = heavylift::sniff_content_type(input, true);
  if (type.empty()) std::abort();
  (void)heavylift::sniff_content_type(input, false);
  (void)heavylift::detect_csv_delimiter(input, true);
  (void)heavylift::is_utf8(input, false);

  for (const auto format : {heavylift::v1::COMPRESSION_FORMAT_ZSTD, heavylift::v1::COMPRESSION_FORMAT_GZIP,
                            heavylift::v1::COMPRESSION_FORMAT_BROTLI}) {
    auto decoder = heavylift::make_decoder(format, 1 << 20, "max").value();
    uint64_t seen = 0;
    const heavylift::ByteSink sink = [&seen](std::string_view bytes) {
      seen += bytes.size();
      return heavylift::Status::Ok();
    };
    if (decoder->write(input, sink).ok()) (void)decoder->finish(sink);
    if (seen > (1u << 20)) std::abort();
  }
  return 0;
}
