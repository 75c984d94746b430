// Runs the items of a batch on several threads: the batch tasks
// (crypto.password.*_batch, crypto.sign_batch, crypto.verify_batch) spread
// one call's items over the cores this way.
//
// Thread-safety: `item` runs on several threads at once, each index exactly
// once, so it must only write to state that belongs to its index.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "core/task_context.h"

namespace heavylift {

// Runs `item(i)` for i in [0, count) on up to `threads` threads (0: one per
// core), the caller's thread included, starting no more threads than leave
// each at least `min_items_per_thread` items. Stops handing out items once
// the context ends; the caller checks the context afterwards.
inline void run_spread(size_t count, uint32_t threads, TaskContext& context, const std::function<void(size_t)>& item,
                       size_t min_items_per_thread = 1) {
  const size_t cores = threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  const size_t workers = std::max<size_t>(1, std::min(cores, count / std::max<size_t>(1, min_items_per_thread)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < count; i = next++) {
      if (!context.check().ok()) return;
      item(i);
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
}

}  // namespace heavylift
