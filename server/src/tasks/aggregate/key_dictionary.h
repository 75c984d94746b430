// Dictionaries that number the distinct values of one group key column
// (codes 0, 1, 2, ... in order of first appearance), and the open-addressing
// hash index they and the hashed group index use. Codes let the aggregator
// find a row's group from small integers instead of hashing its whole key.
//
// Thread-safety: none; each Aggregator owns its dictionaries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "heavylift/v1/aggregate.pb.h"
#include "store/columns.h"
#include "tasks/aggregate/time_bucket.h"

namespace heavylift {

// Maps 64-bit hashes to 32-bit codes by open addressing, at a load of at
// most one half. The caller keeps the values and compares them.
class HashIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Returns the code added under `hash` for which equal(code) is true, or
  // kNone.
  template <typename Equal>
  uint32_t find(uint64_t hash, Equal&& equal) const {
    if (slots_.empty()) return kNone;
    const auto tag = static_cast<uint32_t>(hash >> 32);
    for (size_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const Slot& entry = slots_[slot];
      if (entry.code == kNone) return kNone;
      if (entry.tag == tag && equal(entry.code)) return entry.code;
    }
  }

  // Adds `code` (not kNone) under `hash`.
  void add(uint64_t hash, uint32_t code);

  size_t size() const { return entries_.size(); }
  uint64_t memory_bytes() const { return slots_.size() * sizeof(Slot) + entries_.size() * sizeof(Entry); }

 private:
  struct Slot {
    uint32_t code = kNone;  // kNone marks an empty slot
    uint32_t tag = 0;       // the hash's upper half
  };
  struct Entry {
    uint64_t hash;
    uint32_t code;
  };

  void place(uint64_t hash, uint32_t code);

  std::vector<Slot> slots_;
  std::vector<Entry> entries_;  // every code added, to rebuild the slots
  size_t mask_ = 0;
};

// Mixes the bits of a 64-bit value (the MurmurHash3 finalizer), so the low
// bits of the result depend on every input bit.
inline uint64_t mix_bits(uint64_t value) {
  value ^= value >> 33;
  value *= 0xff51afd7ed558ccdULL;
  value ^= value >> 33;
  value *= 0xc4ceb9fe1a85ec53ULL;
  value ^= value >> 33;
  return value;
}

// The distinct values of one key column: texts, integers or time buckets,
// and null (a missing value). Codes never change once given, so codes kept
// by groups stay valid while the dictionary grows.
class KeyDictionary {
 public:
  // `output` is how integer keys are written (integer, time_ms or boolean).
  // `bucket` buckets integer dates by time, and is empty for other keys.
  KeyDictionary(v1::KeyValue::ValueCase output, std::optional<TimeBucketer> bucket);

  // Writes the code of each of the first `rows` values of `column` to
  // codes[0, rows), adding the values not seen before.
  void encode(const Column& column, size_t rows, uint32_t* codes);

  // Returns the code of value `code` of `other` (a dictionary of the same
  // key), adding the value when it is new.
  uint32_t add_from(const KeyDictionary& other, uint32_t code);

  // Orders codes by their values: null first, then texts by bytes and
  // integers, dates and booleans by number.
  bool less(uint32_t a, uint32_t b) const;
  void write(uint32_t code, v1::KeyValue* out) const;

  uint32_t size() const { return static_cast<uint32_t>(entries_.size()); }
  // Bits that hold every code: ceil(log2(size())), 0 for one value.
  unsigned bits() const;
  // Estimated bytes held, for the request memory bound.
  uint64_t memory_bytes() const;

 private:
  struct Entry {
    // Integers: the value, or for a time bucket its key (see TimeBucketer).
    // Texts of up to 8 bytes: the bytes, zero-padded.
    uint64_t key = 0;
    // Integers: the value written to the output (a bucket's start).
    // Texts: the offset of the bytes in text_bytes_.
    int64_t value = 0;
    uint32_t length = 0;  // texts only
    bool is_text = false;
    bool is_null = false;
  };

  uint32_t code_for_null();
  // Returns the code of integer `key`, adding it with output `value` (the
  // value itself, or a bucket's start) when new.
  uint32_t code_for_integer(int64_t key, int64_t value);
  uint32_t find_integer(int64_t key) const;
  uint32_t add_integer(int64_t key, int64_t value);
  uint32_t find_text(std::string_view text, uint64_t packed, uint64_t hash) const;
  uint32_t add_text(std::string_view text, uint64_t packed, uint64_t hash);
  std::string_view text(const Entry& entry) const {
    return std::string_view(text_bytes_).substr(static_cast<size_t>(entry.value), entry.length);
  }
  void encode_text(const Column& column, size_t rows, uint32_t* codes);
  void encode_integers(const Column& column, size_t rows, uint32_t* codes);

  v1::KeyValue::ValueCase output_;
  std::optional<TimeBucketer> bucket_;
  std::vector<Entry> entries_;
  HashIndex index_;
  std::string text_bytes_;
  uint32_t null_code_ = HashIndex::kNone;
  // Codes of the integer keys in [direct_base_, direct_base_ + kDirectKeys),
  // kNone where not met yet, so keys that lie close together (days, months,
  // small counts) skip the hash. The base is set by the first key.
  static constexpr size_t kDirectKeys = 1024;
  std::vector<uint32_t> direct_codes_;
  uint64_t direct_base_ = 0;
  std::vector<int64_t> bucket_keys_;  // scratch for one batch
};

}  // namespace heavylift
