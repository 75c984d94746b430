#include "tasks/files/sniff.h"

#include <array>
#include <cstring>
#include <vector>

namespace heavylift {
namespace {

bool starts_with(std::string_view bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

bool at(std::string_view bytes, size_t offset, std::string_view expected) {
  return bytes.size() >= offset + expected.size() &&
         std::memcmp(bytes.data() + offset, expected.data(), expected.size()) == 0;
}

// Formats recognised by a fixed signature at a fixed offset.
struct Signature {
  size_t offset;
  std::string_view magic;
  const char* type;
};

constexpr std::string_view operator""_bytes(const char* text, size_t size) { return {text, size}; }

const std::array<Signature, 14> kSignatures = {{
    {0, "\xFF\xD8\xFF"_bytes, "image/jpeg"},
    {0, "\x89PNG\r\n\x1A\n"_bytes, "image/png"},
    {0, "GIF87a"_bytes, "image/gif"},
    {0, "GIF89a"_bytes, "image/gif"},
    {0, "II*\0"_bytes, "image/tiff"},
    {0, "MM\0*"_bytes, "image/tiff"},
    {0, "BM"_bytes, "image/bmp"},
    {0, "%PDF-"_bytes, "application/pdf"},
    {0, "PK\x03\x04"_bytes, "application/zip"},
    {0, "PK\x05\x06"_bytes, "application/zip"},
    {0, "\x1F\x8B"_bytes, "application/gzip"},
    {0, "\x28\xB5\x2F\xFD"_bytes, "application/zstd"},
    {0, "BZh"_bytes, "application/x-bzip2"},
    {0, "\xFD" "7zXZ\0"_bytes, "application/x-xz"},
}};

// Splits `head` into its first lines, without the line ends, dropping a last
// line that may be cut short unless the head is complete.
std::vector<std::string_view> first_lines(std::string_view head, bool complete, size_t max_lines) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < head.size() && lines.size() < max_lines) {
    size_t end = head.find('\n', start);
    if (end == std::string_view::npos) {
      if (complete) lines.push_back(head.substr(start));
      break;
    }
    std::string_view line = head.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// Counts delimiters outside double quotes in each record of `head`; a quoted
// newline continues the record. Returns the count per record.
std::vector<size_t> fields_per_record(std::string_view head, char delimiter, bool complete) {
  std::vector<size_t> counts;
  size_t fields = 1;
  bool quoted = false;
  for (size_t i = 0; i < head.size() && counts.size() < 16; ++i) {
    const char c = head[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == delimiter) {
      ++fields;
    } else if (!quoted && c == '\n') {
      counts.push_back(fields);
      fields = 1;
    }
  }
  if (complete && !quoted && !head.empty() && head.back() != '\n') counts.push_back(fields);
  return counts;
}

}  // namespace

bool is_utf8(std::string_view bytes, bool complete) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      min = 0x10000;
    } else {
      return false;
    }
    if (i + length > n) {
      // A sequence cut by the end of the head is fine when more follows.
      if (complete) return false;
      for (size_t k = i + 1; k < n; ++k) {
        if ((p[k] & 0xC0) != 0x80) return false;
      }
      return true;
    }
    uint32_t code_point = c & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (p[i + k] & 0x3F);
    }
    if (code_point < min || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

char detect_csv_delimiter(std::string_view head, bool complete) {
  // The delimiter that splits the first record into the most fields wins,
  // among those for which more than half of the records (all of them when
  // there are only two) have that same count,
  // so a few ragged rows do not hide the dialect.
  char best = '\0';
  size_t best_fields = 1;
  for (char delimiter : {',', ';', '\t', '|'}) {
    const std::vector<size_t> counts = fields_per_record(head, delimiter, complete);
    if (counts.empty() || counts.front() < 2) continue;
    size_t agreeing = 0;
    for (size_t count : counts) agreeing += count == counts.front() ? 1 : 0;
    if ((agreeing * 2 > counts.size() || agreeing == counts.size()) && counts.front() > best_fields) {
      best = delimiter;
      best_fields = counts.front();
    }
  }
  return best;
}

std::string sniff_content_type(std::string_view head, bool complete) {
  if (head.size() > kSniffBytes) {
    head = head.substr(0, kSniffBytes);
    complete = false;
  }
  if (head.empty()) return "application/octet-stream";
  for (const Signature& signature : kSignatures) {
    if (at(head, signature.offset, signature.magic)) return signature.type;
  }
  if (starts_with(head, "RIFF") && at(head, 8, "WEBP")) return "image/webp";
  if (at(head, 4, "ftyp")) {
    if (at(head, 8, "avif") || at(head, 8, "avis")) return "image/avif";
    if (at(head, 8, "heic") || at(head, 8, "heix") || at(head, 8, "mif1")) return "image/heic";
  }

  if (std::memchr(head.data(), '\0', head.size()) != nullptr || !is_utf8(head, complete)) {
    return "application/octet-stream";
  }
  std::string_view text = head;
  if (starts_with(text, "\xEF\xBB\xBF")) text.remove_prefix(3);

  const std::vector<std::string_view> lines = first_lines(text, complete, 16);
  size_t json_lines = 0;
  for (std::string_view line : lines) {
    if (!line.empty() && line.front() == '{' && line.back() == '}') ++json_lines;
  }
  if (lines.size() >= 2 && json_lines == lines.size()) return "application/x-ndjson";
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) return "application/json";
  if (lines.size() >= 2 && detect_csv_delimiter(text, complete) != '\0') return "text/csv";
  return "text/plain";
}

}  // namespace heavylift
