// JoinableQueue's unfinished tasks, in the shared QueueTasksLayout: +1 by a
// put before its message is published, -1 by task_done(); join() waits for 0.
// Must stay true: a task is counted before anyone can see its message, so a
// task_done() for it never comes first and the count never goes below 0.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmring/blocking/blocking.hpp"
#include "shmring/blocking/wait.hpp"
#include "shmring/ipc/queue_layout.hpp"

namespace shmring::detail {

class TaskCount {
 public:
  TaskCount(QueueLayout& q, bool joinable) noexcept : layout_(&q), joinable_(joinable) {}

  [[nodiscard]] bool joinable() const noexcept { return joinable_; }

  // One more unfinished task (JoinableQueue only), before the put publishes.
  void count() noexcept {
    // relaxed: ordered before the consumer's decrement by the release of the
    // record (tail) that follows it in this thread.
    if (joinable_) layout_->tasks.unfinished.fetch_add(1, std::memory_order_relaxed);
  }

  // One task fewer; false if there was none (nothing changed). Reaching 0
  // wakes join().
  [[nodiscard]] bool finish(BlockingStats& stats, BarrierPlan plan) noexcept {
    std::atomic<std::uint64_t>& n = layout_->tasks.unfinished;
    std::uint64_t v = n.load(std::memory_order_relaxed);
    do {
      if (v == 0) return false;
      // SYNC(tasks): acq_rel — the release half pairs with join()'s acquire:
      // it sees everything done before this task_done.
    } while (!n.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel, std::memory_order_relaxed));
    if (v == 1) notify(layout_->all_done, stats, plan);
    return true;
  }

  [[nodiscard]] std::uint64_t unfinished() const noexcept {
    // SYNC(tasks): acquire — pairs with the release of the task_done that reached 0.
    return layout_->tasks.unfinished.load(std::memory_order_acquire);
  }

  // Blocks until no task is unfinished or the wait ends; true: none is.
  [[nodiscard]] bool join(Wait wait, BlockingStats& stats, BarrierPlan plan) noexcept {
    const auto all_done = [&] { return unfinished() == 0; };
    if (all_done()) return true;
    if (wait.is_nowait()) return false;
    AdaptiveSpin spin;
    return wait_until(layout_->all_done, all_done, wait.deadline(), spin, stats, plan);
  }

 private:
  QueueLayout* layout_;
  bool joinable_;
};

}  // namespace shmring::detail
