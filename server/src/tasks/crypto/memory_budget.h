// The memory budget that memory-hard password hashes (argon2, scrypt)
// reserve from before they allocate.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/error.h"
#include "core/task_context.h"

namespace heavylift {

// A process-wide budget, in KiB, for the memory argon2 and scrypt allocate.
// A hash reserves its memory before allocating and waits (in arrival order
// of wake-ups, bounded by its deadline) while the budget is spent, so many
// concurrent hashes queue instead of allocating past the budget.
class MemoryBudget {
 public:
  // Returns the daemon's budget.
  static MemoryBudget& process();

  // Sets the capacity; 0 disables the budget (no waiting, still counted).
  void set_capacity(uint64_t kib);
  uint64_t capacity() const;

  // Reserves `kib`, waiting while the budget is spent. Returns
  // INVALID_ARGUMENT naming `field` when `kib` alone exceeds the capacity,
  // and the context's error (DEADLINE_EXCEEDED, CANCELLED) when it ends
  // while waiting. On success the caller must call release(kib).
  Status acquire(uint64_t kib, TaskContext& context, const std::string& field);
  void release(uint64_t kib);

  uint64_t in_use() const;
  // Highest in_use() seen since the last reset_peak().
  uint64_t peak() const;
  void reset_peak();
  // Hashes waiting for memory right now.
  uint64_t waiting() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable available_;
  uint64_t capacity_ = 0;
  uint64_t in_use_ = 0;
  uint64_t peak_ = 0;
  uint64_t waiting_ = 0;
};

// Holds a reservation for the life of a scope.
class MemoryReservation {
 public:
  MemoryReservation() = default;
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;
  ~MemoryReservation();
  Status acquire(MemoryBudget& budget, uint64_t kib, TaskContext& context, const std::string& field);

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t kib_ = 0;
};

}  // namespace heavylift
