// Content type sniffing from magic bytes. Only the first bytes of a file are
// looked at, so a stream can be sniffed before most of it has arrived.
//
// Thread-safety: the functions are pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace heavylift {

// Bytes of the head that sniff_content_type() reads; more are ignored.
inline constexpr size_t kSniffBytes = 4096;

// Returns the MIME type of a file that starts with `head`:
//   image/jpeg, image/png, image/gif, image/webp, image/tiff, image/avif,
//   image/heic, image/bmp, application/pdf, application/zip, application/gzip,
//   application/zstd, application/x-brotli is never returned (brotli has no
//   magic number), application/x-bzip2, application/x-xz,
//   text/csv (UTF-8 text whose first lines have the same number of ',', ';',
//   tab or '|' separators, at least one per line), application/x-ndjson (lines
//   that each start with '{'), application/json, text/plain (other UTF-8 text
//   without NUL bytes) and application/octet-stream for anything else,
//   including an empty head. `complete` is true when `head` is the whole
//   file, which decides whether a truncated last line counts.
std::string sniff_content_type(std::string_view head, bool complete);

// Returns the CSV delimiter among ',', ';', '\t' and '|' that splits the
// first record of `head` into the most fields (at least 2) while more than
// half of the first 16 records (all, when there are two) have that many, or '\0' when none does.
// Quoted sections are skipped.
char detect_csv_delimiter(std::string_view head, bool complete);

// Returns true when `bytes` is valid UTF-8, allowing a truncated sequence at
// the end when `complete` is false.
bool is_utf8(std::string_view bytes, bool complete);

}  // namespace heavylift
