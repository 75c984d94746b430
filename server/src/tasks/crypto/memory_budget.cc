#include "tasks/crypto/memory_budget.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace heavylift {

MemoryBudget& MemoryBudget::process() {
  static MemoryBudget budget;
  return budget;
}

void MemoryBudget::set_capacity(uint64_t kib) {
  std::lock_guard lock(mutex_);
  capacity_ = kib;
  available_.notify_all();
}

uint64_t MemoryBudget::capacity() const {
  std::lock_guard lock(mutex_);
  return capacity_;
}

Status MemoryBudget::acquire(uint64_t kib, TaskContext& context, const std::string& field) {
  std::unique_lock lock(mutex_);
  if (capacity_ != 0 && kib > capacity_) {
    return Error::out_of_range(field, fmt::format("<= {} KiB (crypto.memory_budget)", capacity_),
                               fmt::format("{} KiB", kib));
  }
  ++waiting_;
  while (capacity_ != 0 && in_use_ + kib > capacity_) {
    // Wake regularly to notice the deadline and cancellation.
    available_.wait_for(lock, std::chrono::milliseconds(20));
    if (Status s = context.check(); !s.ok()) {
      --waiting_;
      return s;
    }
  }
  --waiting_;
  in_use_ += kib;
  peak_ = std::max(peak_, in_use_);
  return Status::Ok();
}

void MemoryBudget::release(uint64_t kib) {
  std::lock_guard lock(mutex_);
  in_use_ -= std::min(in_use_, kib);
  available_.notify_all();
}

uint64_t MemoryBudget::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

uint64_t MemoryBudget::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

void MemoryBudget::reset_peak() {
  std::lock_guard lock(mutex_);
  peak_ = in_use_;
}

uint64_t MemoryBudget::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

MemoryReservation::~MemoryReservation() {
  if (budget_ != nullptr) budget_->release(kib_);
}

Status MemoryReservation::acquire(MemoryBudget& budget, uint64_t kib, TaskContext& context,
                                  const std::string& field) {
  if (Status s = budget.acquire(kib, context, field); !s.ok()) return s;
  budget_ = &budget;
  kib_ = kib;
  return Status::Ok();
}

}  // namespace heavylift
