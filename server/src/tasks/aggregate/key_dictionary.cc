#include "tasks/aggregate/key_dictionary.h"

// XXH_INLINE_ALL compiles xxHash into this file, so no library is linked.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace heavylift {
namespace {

// Estimated bytes of bookkeeping per dictionary entry.
constexpr uint64_t kEntryOverheadBytes = 48;

// Texts of up to this many bytes are compared and hashed as one integer.
constexpr uint32_t kPackedTextBytes = 8;

uint64_t packed_hash(uint64_t packed, uint32_t length) { return mix_bits(packed + length); }

uint64_t text_hash(std::string_view text, uint64_t packed) {
  if (text.size() <= kPackedTextBytes) return packed_hash(packed, static_cast<uint32_t>(text.size()));
  return XXH3_64bits(text.data(), text.size());
}

// Packs a text of up to 8 bytes into an integer, zero-padded. `readable` is
// how many bytes from `data` may be read, at least `length`.
uint64_t pack_text(const char* data, uint32_t length, size_t readable) {
  uint64_t packed = 0;
  if (readable < sizeof(packed)) {
    std::memcpy(&packed, data, length);
    return packed;
  }
  // One unaligned load, then the bytes past the text are cleared without a
  // branch on the length (1..8 bytes keep 8..64 bits; 0 keeps none).
  std::memcpy(&packed, data, sizeof(packed));
  const unsigned dropped = 64 - 8 * length;
  if constexpr (std::endian::native == std::endian::little) {
    return length == 0 ? 0 : packed & (~uint64_t{0} >> dropped);
  } else {
    return length == 0 ? 0 : packed & (~uint64_t{0} << dropped);
  }
}

}  // namespace

void HashIndex::place(uint64_t hash, uint32_t code) {
  size_t slot = hash & mask_;
  while (slots_[slot].code != kNone) slot = (slot + 1) & mask_;
  slots_[slot] = Slot{code, static_cast<uint32_t>(hash >> 32)};
}

void HashIndex::add(uint64_t hash, uint32_t code) {
  entries_.push_back(Entry{hash, code});
  if (entries_.size() * 2 > slots_.size()) {
    // Rebuild at twice the size, keeping the load at or under one half.
    slots_.assign(std::max<size_t>(64, slots_.size() * 2), Slot{});
    mask_ = slots_.size() - 1;
    for (const Entry& entry : entries_) place(entry.hash, entry.code);
    return;
  }
  place(hash, code);
}

KeyDictionary::KeyDictionary(v1::KeyValue::ValueCase output, std::optional<TimeBucketer> bucket)
    : output_(output), bucket_(std::move(bucket)) {}

unsigned KeyDictionary::bits() const {
  return entries_.size() <= 1 ? 0u : static_cast<unsigned>(std::bit_width(entries_.size() - 1));
}

uint64_t KeyDictionary::memory_bytes() const {
  return entries_.size() * (sizeof(Entry) + kEntryOverheadBytes) + text_bytes_.size() + index_.memory_bytes();
}

uint32_t KeyDictionary::code_for_null() {
  if (null_code_ == HashIndex::kNone) {
    null_code_ = size();
    Entry entry;
    entry.is_null = true;
    entries_.push_back(entry);
  }
  return null_code_;
}

uint32_t KeyDictionary::find_integer(int64_t key) const {
  const auto bits = static_cast<uint64_t>(key);
  return index_.find(mix_bits(bits), [&](uint32_t code) { return entries_[code].key == bits; });
}

uint32_t KeyDictionary::add_integer(int64_t key, int64_t value) {
  Entry entry;
  entry.key = static_cast<uint64_t>(key);
  entry.value = value;
  const uint32_t code = size();
  entries_.push_back(entry);
  index_.add(mix_bits(entry.key), code);
  if (direct_codes_.empty()) {
    direct_codes_.assign(kDirectKeys, HashIndex::kNone);
    direct_base_ = entry.key - kDirectKeys / 2;
  }
  // Unsigned arithmetic: keys far from the base wrap to large offsets.
  const uint64_t offset = entry.key - direct_base_;
  if (offset < kDirectKeys) direct_codes_[offset] = code;
  return code;
}

uint32_t KeyDictionary::code_for_integer(int64_t key, int64_t value) {
  const uint64_t offset = static_cast<uint64_t>(key) - direct_base_;
  if (offset < direct_codes_.size() && direct_codes_[offset] != HashIndex::kNone) return direct_codes_[offset];
  const uint32_t found = find_integer(key);
  return found != HashIndex::kNone ? found : add_integer(key, value);
}

// Inline: encode_text calls it once per row.
inline uint32_t KeyDictionary::find_text(std::string_view text, uint64_t packed, uint64_t hash) const {
  const auto length = static_cast<uint32_t>(text.size());
  return index_.find(hash, [&](uint32_t code) {
    const Entry& entry = entries_[code];
    if (entry.length != length) return false;
    if (length <= kPackedTextBytes) return entry.key == packed;
    return std::memcmp(text_bytes_.data() + entry.value, text.data(), length) == 0;
  });
}

uint32_t KeyDictionary::add_text(std::string_view text, uint64_t packed, uint64_t hash) {
  Entry entry;
  entry.key = packed;
  entry.value = static_cast<int64_t>(text_bytes_.size());
  entry.length = static_cast<uint32_t>(text.size());
  entry.is_text = true;
  text_bytes_.append(text);
  const uint32_t code = size();
  entries_.push_back(entry);
  index_.add(hash, code);
  return code;
}

void KeyDictionary::encode(const Column& column, size_t rows, uint32_t* codes) {
  if (column.kind == Column::Kind::kText) {
    encode_text(column, rows, codes);
  } else {
    encode_integers(column, rows, codes);
  }
}

void KeyDictionary::encode_text(const Column& column, size_t rows, uint32_t* codes) {
  const char* bytes = column.text_bytes.data();
  const size_t total = column.text_bytes.size();
  const uint32_t* ends = column.text_ends.data();
  for (size_t row = 0; row < rows; ++row) {
    if (!column.present[row]) {
      codes[row] = code_for_null();
      continue;
    }
    const uint32_t begin = row == 0 ? 0 : ends[row - 1];
    const uint32_t length = ends[row] - begin;
    const std::string_view text(bytes + begin, length);
    const uint64_t packed = length <= kPackedTextBytes ? pack_text(text.data(), length, total - begin) : 0;
    const uint64_t hash = text_hash(text, packed);
    const uint32_t found = find_text(text, packed, hash);
    codes[row] = found != HashIndex::kNone ? found : add_text(text, packed, hash);
  }
}

void KeyDictionary::encode_integers(const Column& column, size_t rows, uint32_t* codes) {
  const int64_t* values = column.integers.data();
  const uint8_t* present = column.present.data();
  if (!bucket_) {
    for (size_t row = 0; row < rows; ++row) {
      codes[row] = present[row] ? code_for_integer(values[row], values[row]) : code_for_null();
    }
    return;
  }
  bucket_keys_.resize(rows);
  bucket_->keys(values, present, rows, bucket_keys_.data());
  for (size_t row = 0; row < rows; ++row) {
    if (!present[row]) {
      codes[row] = code_for_null();
      continue;
    }
    const int64_t key = bucket_keys_[row];
    const uint64_t offset = static_cast<uint64_t>(key) - direct_base_;
    if (offset < direct_codes_.size() && direct_codes_[offset] != HashIndex::kNone) {
      codes[row] = direct_codes_[offset];
      continue;
    }
    // The bucket's start is computed once, for the first date in it.
    const uint32_t found = find_integer(key);
    codes[row] = found != HashIndex::kNone ? found : add_integer(key, bucket_->start(values[row]));
  }
}

uint32_t KeyDictionary::add_from(const KeyDictionary& other, uint32_t code) {
  const Entry& entry = other.entries_[code];
  if (entry.is_null) return code_for_null();
  if (entry.is_text) {
    const std::string_view text = other.text(entry);
    const uint64_t hash = text_hash(text, entry.key);
    const uint32_t found = find_text(text, entry.key, hash);
    return found != HashIndex::kNone ? found : add_text(text, entry.key, hash);
  }
  const auto key = static_cast<int64_t>(entry.key);
  const uint32_t found = find_integer(key);
  return found != HashIndex::kNone ? found : add_integer(key, entry.value);
}

bool KeyDictionary::less(uint32_t a, uint32_t b) const {
  const Entry& left = entries_[a];
  const Entry& right = entries_[b];
  if (left.is_null != right.is_null) return left.is_null;
  if (left.is_null) return false;
  if (left.is_text) return text(left) < text(right);
  return left.value < right.value;
}

void KeyDictionary::write(uint32_t code, v1::KeyValue* out) const {
  const Entry& entry = entries_[code];
  if (entry.is_null) {
    out->set_null(true);
  } else if (entry.is_text) {
    out->set_text(std::string(text(entry)));
  } else if (output_ == v1::KeyValue::kTimeMs) {
    out->set_time_ms(entry.value);
  } else if (output_ == v1::KeyValue::kBoolean) {
    out->set_boolean(entry.value != 0);
  } else {
    out->set_integer(entry.value);
  }
}

}  // namespace heavylift
