#include "tasks/files/column_stats.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>

namespace heavylift {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool equals_ignoring_case(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

bool digits_at(std::string_view text, size_t offset, size_t count) {
  if (text.size() < offset + count) return false;
  for (size_t i = offset; i < offset + count; ++i) {
    if (!is_digit(text[i])) return false;
  }
  return true;
}

}  // namespace

bool is_iso_timestamp(std::string_view text) {
  if (text.size() < 10 || !digits_at(text, 0, 4) || text[4] != '-' || !digits_at(text, 5, 2) || text[7] != '-' ||
      !digits_at(text, 8, 2)) {
    return false;
  }
  const int month = (text[5] - '0') * 10 + (text[6] - '0');
  const int day = (text[8] - '0') * 10 + (text[9] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  if (text.size() == 10) return true;
  if ((text[10] != 'T' && text[10] != ' ') || !digits_at(text, 11, 2) || text.size() < 16 || text[13] != ':' ||
      !digits_at(text, 14, 2)) {
    return false;
  }
  size_t i = 16;
  if (i < text.size() && text[i] == ':') {
    if (!digits_at(text, i + 1, 2)) return false;
    i += 3;
    if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
      ++i;
      const size_t start = i;
      while (i < text.size() && is_digit(text[i])) ++i;
      if (i == start) return false;
    }
  }
  if (i == text.size()) return true;
  if (text[i] == 'Z' && i + 1 == text.size()) return true;
  if (text[i] == '+' || text[i] == '-') {
    if (!digits_at(text, i + 1, 2)) return false;
    i += 3;
    if (i < text.size() && text[i] == ':') ++i;
    return i + 2 == text.size() && digits_at(text, i, 2);
  }
  return false;
}

bool is_json_number(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  if (i >= text.size()) return false;
  if (text[i] == '0') {
    ++i;
  } else if (is_digit(text[i])) {
    while (i < text.size() && is_digit(text[i])) ++i;
  } else {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits_at(text, i, 1)) return false;
    while (i < text.size() && is_digit(text[i])) ++i;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits_at(text, i, 1)) return false;
    while (i < text.size() && is_digit(text[i])) ++i;
  }
  return i == text.size();
}

namespace {

std::string format_number(double value) { return fmt::format("{}", value); }

}  // namespace

ValueKind classify_text(std::string_view text, int64_t* integer, double* number) {
  if (text.empty()) return ValueKind::kNull;
  const char first = text[0];
  if (is_digit(first) || first == '-' || first == '+') {
    // Integers take the fast path; anything else numeric goes to from_chars.
    size_t i = (first == '-' || first == '+') ? 1 : 0;
    const size_t digits_start = i;
    uint64_t magnitude = 0;
    while (i < text.size() && is_digit(text[i]) && i - digits_start < 19) {
      magnitude = magnitude * 10 + static_cast<uint64_t>(text[i] - '0');
      ++i;
    }
    if (i == text.size() && i > digits_start) {
      if (magnitude <= static_cast<uint64_t>(INT64_MAX)) {
        *integer = first == '-' ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
        return ValueKind::kInteger;
      }
    }
    if (is_digit(first) && text.size() >= 10 && text[4] == '-' && is_iso_timestamp(text)) return ValueKind::kTimestamp;
    std::string_view numeric = first == '+' ? text.substr(1) : text;
    const auto [end, ec] = std::from_chars(numeric.data(), numeric.data() + numeric.size(), *number);
    if (ec == std::errc() && end == numeric.data() + numeric.size() && std::isfinite(*number) &&
        numeric.size() > (numeric[0] == '-' ? 1u : 0u) && is_digit(numeric[numeric[0] == '-' ? 1 : 0])) {
      return ValueKind::kNumber;
    }
    return ValueKind::kString;
  }
  if (text.size() <= 5 && (equals_ignoring_case(text, "true") || equals_ignoring_case(text, "false"))) {
    return ValueKind::kBoolean;
  }
  return ValueKind::kString;
}

TopValues::TopValues(size_t capacity)
    : capacity_(capacity), slots_(std::bit_ceil(capacity * 2)), texts_(slots_.size()) {}

void TopValues::add(uint64_t hash, std::string_view text) {
  const size_t mask = slots_.size() - 1;
  size_t index = hash & mask;
  while (slots_[index].count != 0) {
    if (slots_[index].hash == hash) {
      ++slots_[index].count;
      return;
    }
    index = (index + 1) & mask;
  }
  if (size_ < capacity_) {
    slots_[index] = {hash, 1};
    texts_[index].assign(text.substr(0, ColumnStats::kMaxKeptBytes));
    ++size_;
    return;
  }
  // Full: the new value and every counter lose one.
  decrement_all();
}

void TopValues::decrement_all() {
  std::vector<std::pair<Slot, std::string>> survivors;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].count > 1) survivors.emplace_back(Slot{slots_[i].hash, slots_[i].count - 1}, std::move(texts_[i]));
    slots_[i].count = 0;
  }
  size_ = 0;
  const size_t mask = slots_.size() - 1;
  for (auto& [slot, text] : survivors) {
    size_t index = slot.hash & mask;
    while (slots_[index].count != 0) index = (index + 1) & mask;
    slots_[index] = slot;
    texts_[index] = std::move(text);
    ++size_;
  }
}

std::vector<std::pair<std::string, uint64_t>> TopValues::top(size_t limit) const {
  std::vector<std::pair<std::string, uint64_t>> entries;
  entries.reserve(size_);
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].count != 0) entries.emplace_back(texts_[i], slots_[i].count);
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (entries.size() > limit) entries.resize(limit);
  return entries;
}

void ColumnStats::add(ValueKind kind, std::string_view text, int64_t integer, double number) {
  if (kind == ValueKind::kNull) {
    ++nulls_;
    ++present_;
    return;
  }
  ++present_;
  ++kind_counts_[static_cast<int>(kind)];
  if (kind == ValueKind::kInteger) {
    if (!has_integer_ || integer < min_integer_) min_integer_ = integer;
    if (!has_integer_ || integer > max_integer_) max_integer_ = integer;
    has_integer_ = true;
    sum_ += integer;
  } else if (kind == ValueKind::kNumber) {
    if (!has_number_ || number < min_number_) min_number_ = number;
    if (!has_number_ || number > max_number_) max_number_ = number;
    has_number_ = true;
    sum_ += number;
  }
  // Numeric values have their own range; the byte-wise range covers the rest.
  if (kind != ValueKind::kInteger && kind != ValueKind::kNumber) {
    const std::string_view compared = text.substr(0, kMaxKeptBytes);
    if (!has_text_) {
      min_text_ = compared;
      max_text_ = compared;
      has_text_ = true;
    } else if (compared < min_text_) {
      min_text_ = compared;
    } else if (compared > max_text_) {
      max_text_ = compared;
    }
  }
  const uint64_t hash = XXH3_64bits(text.data(), text.size());
  distinct_.add_hash(hash);
  top_.add(hash, text);
}

void ColumnStats::write(v1::ColumnProfile* out, size_t top_limit) const {
  out->set_name(name_);
  out->set_count(present_);
  out->set_null_count(nulls_ + missing_);
  const auto count = [this](ValueKind kind) { return kind_counts_[static_cast<int>(kind)]; };
  out->set_boolean_count(count(ValueKind::kBoolean));
  out->set_integer_count(count(ValueKind::kInteger));
  out->set_number_count(count(ValueKind::kNumber));
  out->set_timestamp_count(count(ValueKind::kTimestamp));
  out->set_string_count(count(ValueKind::kString));

  // The type is the one kind seen, with integers and numbers merged into
  // number; MIXED when several remain.
  int kinds = 0;
  v1::ColumnType type = v1::COLUMN_TYPE_NULL;
  const std::pair<ValueKind, v1::ColumnType> candidates[] = {
      {ValueKind::kBoolean, v1::COLUMN_TYPE_BOOLEAN}, {ValueKind::kTimestamp, v1::COLUMN_TYPE_TIMESTAMP},
      {ValueKind::kString, v1::COLUMN_TYPE_STRING},   {ValueKind::kObject, v1::COLUMN_TYPE_OBJECT},
      {ValueKind::kArray, v1::COLUMN_TYPE_ARRAY},
  };
  for (const auto& [kind, column_type] : candidates) {
    if (count(kind) > 0) {
      ++kinds;
      type = column_type;
    }
  }
  const bool numeric = has_integer_ || has_number_;
  if (numeric) {
    ++kinds;
    type = has_number_ ? v1::COLUMN_TYPE_NUMBER : v1::COLUMN_TYPE_INTEGER;
  }
  if (kinds > 1) type = v1::COLUMN_TYPE_MIXED;
  out->set_type(type);

  if (type == v1::COLUMN_TYPE_INTEGER) {
    out->set_min(std::to_string(min_integer_));
    out->set_max(std::to_string(max_integer_));
  } else if (type == v1::COLUMN_TYPE_NUMBER) {
    double min = has_number_ ? min_number_ : static_cast<double>(min_integer_);
    double max = has_number_ ? max_number_ : static_cast<double>(max_integer_);
    if (has_integer_) {
      min = std::min(min, static_cast<double>(min_integer_));
      max = std::max(max, static_cast<double>(max_integer_));
    }
    out->set_min(format_number(min));
    out->set_max(format_number(max));
  } else if (has_text_) {
    out->set_min(min_text_);
    out->set_max(max_text_);
  }
  const uint64_t numeric_count = count(ValueKind::kInteger) + count(ValueKind::kNumber);
  if (numeric && (type == v1::COLUMN_TYPE_INTEGER || type == v1::COLUMN_TYPE_NUMBER)) {
    out->set_mean(static_cast<double>(sum_ / static_cast<long double>(numeric_count)));
  }
  out->set_distinct_estimate(std::min<uint64_t>(std::llround(distinct_.estimate()), present_ - nulls_));
  for (const auto& [text, value_count] : top_.top(top_limit)) {
    v1::ValueCount* entry = out->add_top_values();
    entry->set_value(text);
    entry->set_count(value_count);
  }
}

}  // namespace heavylift
