#include "tasks/aggregate/group_index.h"

namespace heavylift {

void GroupIndex::set_bits(const std::vector<unsigned>& bits) {
  if (bits == bits_) return;
  bits_ = bits;
  unsigned total = 0;
  for (size_t k = 0; k < key_count_; ++k) {
    shifts_[k] = total;
    total += bits_[k];
  }
  if (!dense_) return;  // the hash of a tuple does not depend on the bits
  dense_ = total <= kMaxDenseBits;
  rebuild();
}

void GroupIndex::rebuild() {
  if (dense_) {
    unsigned total = 0;
    for (const unsigned bits : bits_) total += bits;
    slots_.assign(size_t{1} << total, kNone);
    for (uint32_t group = 0; group < group_count_; ++group) {
      const uint32_t* tuple = codes(group);
      size_t slot = 0;
      for (size_t k = 0; k < key_count_; ++k) slot |= size_t{tuple[k]} << shifts_[k];
      slots_[slot] = group;
    }
    return;
  }
  slots_.clear();
  slots_.shrink_to_fit();
  hashed_ = HashIndex();
  for (uint32_t group = 0; group < group_count_; ++group) hashed_.add(hash(codes(group)), group);
}

uint64_t GroupIndex::hash(const uint32_t* tuple) const {
  uint64_t hash = key_count_;
  for (size_t k = 0; k < key_count_; ++k) hash = (hash ^ tuple[k]) * 0x9e3779b97f4a7c15ULL;
  return mix_bits(hash);
}

bool GroupIndex::same(uint32_t group, const uint32_t* tuple) const {
  const uint32_t* mine = codes(group);
  for (size_t k = 0; k < key_count_; ++k) {
    if (mine[k] != tuple[k]) return false;
  }
  return true;
}

uint32_t GroupIndex::add(const uint32_t* tuple, uint64_t hash) {
  const auto group = static_cast<uint32_t>(group_count_++);
  group_codes_.insert(group_codes_.end(), tuple, tuple + key_count_);
  if (!dense_) hashed_.add(hash, group);
  return group;
}

uint32_t GroupIndex::find_or_add(const uint32_t* tuple) {
  if (dense_) {
    size_t slot = 0;
    for (size_t k = 0; k < key_count_; ++k) slot |= size_t{tuple[k]} << shifts_[k];
    if (slots_[slot] == kNone) slots_[slot] = add(tuple, 0);
    return slots_[slot];
  }
  const uint64_t tuple_hash = hash(tuple);
  const uint32_t found = hashed_.find(tuple_hash, [&](uint32_t group) { return same(group, tuple); });
  return found != kNone ? found : add(tuple, tuple_hash);
}

bool GroupIndex::assign(const uint32_t* codes, size_t rows, uint32_t max_groups, uint32_t* groups) {
  tuple_.resize(key_count_);
  if (dense_) {
    // The slot of each row, one key column at a time.
    for (size_t row = 0; row < rows; ++row) groups[row] = 0;
    for (size_t k = 0; k < key_count_; ++k) {
      const uint32_t* column = codes + k * rows;
      const unsigned shift = shifts_[k];
      for (size_t row = 0; row < rows; ++row) groups[row] |= column[row] << shift;
    }
    for (size_t row = 0; row < rows; ++row) {
      uint32_t& slot = slots_[groups[row]];
      if (slot == kNone) {
        for (size_t k = 0; k < key_count_; ++k) tuple_[k] = codes[k * rows + row];
        slot = add(tuple_.data(), 0);
        if (group_count_ > max_groups) return false;
      }
      groups[row] = slot;
    }
    return true;
  }
  for (size_t row = 0; row < rows; ++row) {
    for (size_t k = 0; k < key_count_; ++k) tuple_[k] = codes[k * rows + row];
    const uint64_t tuple_hash = hash(tuple_.data());
    uint32_t group = hashed_.find(tuple_hash, [&](uint32_t candidate) { return same(candidate, tuple_.data()); });
    if (group == kNone) {
      group = add(tuple_.data(), tuple_hash);
      if (group_count_ > max_groups) return false;
    }
    groups[row] = group;
  }
  return true;
}

uint64_t GroupIndex::memory_bytes() const {
  return slots_.size() * sizeof(uint32_t) + hashed_.memory_bytes() + group_codes_.size() * sizeof(uint32_t);
}

}  // namespace heavylift
