// Finds the group of a row from the codes of its key columns (see
// KeyDictionary). While every key column has few distinct values, the codes
// read as one mixed-radix number (each column taking the bits of its
// dictionary) index a flat array of group numbers. When the product of the
// columns' capacities (2^bits each) passes kMaxDenseSlots, a hash table of
// code tuples takes over, for the rest of the aggregation.
//
// Thread-safety: none; each Aggregator owns one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tasks/aggregate/key_dictionary.h"

namespace heavylift {

class GroupIndex {
 public:
  static constexpr uint32_t kNone = HashIndex::kNone;
  static constexpr unsigned kMaxDenseBits = 16;
  // Most slots of the flat array (256 KiB of group numbers).
  static constexpr size_t kMaxDenseSlots = size_t{1} << kMaxDenseBits;

  explicit GroupIndex(size_t key_count)
      : key_count_(key_count), shifts_(key_count, 0), bits_(key_count, 0), slots_(1, kNone) {}

  // Sets the bits of each key column's codes (never fewer than before) and
  // rebuilds the index when they changed.
  void set_bits(const std::vector<unsigned>& bits);

  // Writes the group of each row to groups[0, rows): row r has the codes
  // codes[k * rows + r] for key column k. Rows with a new key get the next
  // group numbers. Stops after the group that makes group_count() pass
  // `max_groups` and returns false, leaving later rows unassigned.
  bool assign(const uint32_t* codes, size_t rows, uint32_t max_groups, uint32_t* groups);

  // Returns the group with key codes tuple[0, key count), adding it when new.
  uint32_t find_or_add(const uint32_t* tuple);

  // The key codes of `group`.
  const uint32_t* codes(uint32_t group) const { return group_codes_.data() + group * key_count_; }
  size_t group_count() const { return group_count_; }
  bool dense() const { return dense_; }
  uint64_t memory_bytes() const;

 private:
  uint64_t hash(const uint32_t* tuple) const;
  bool same(uint32_t group, const uint32_t* tuple) const;
  uint32_t add(const uint32_t* tuple, uint64_t hash);
  void rebuild();

  size_t key_count_;
  std::vector<unsigned> shifts_;
  std::vector<unsigned> bits_;
  bool dense_ = true;
  // Dense: group number by slot, kNone for a key not seen.
  std::vector<uint32_t> slots_;
  // Hashed: groups by the hash of their codes.
  HashIndex hashed_;
  // Key codes of every group, key_count_ per group.
  std::vector<uint32_t> group_codes_;
  size_t group_count_ = 0;
  // Scratch: the tuple of one row on the hashed path.
  std::vector<uint32_t> tuple_;
};

}  // namespace heavylift
