// Asymmetric memory barriers between processes (membarrier(2)).
//
// A Dekker-style handshake (store X, then load Y, on both sides) needs a full
// barrier between the store and the load on both sides. When one side runs
// on every message and the other only when it is about to sleep, the full
// barrier can be moved entirely to the rare side: the hot side keeps only a
// compiler barrier, and the rare side calls heavy_barrier(), which makes the
// kernel execute a memory barrier on every CPU currently running a
// registered process (and a descheduled thread passes one when it runs
// again). Either the hot side's store is then visible to the rare side, or
// the hot side's later load sees the rare side's store. folly's
// asymmetricHeavyBarrier is the same idea within one process.
#pragma once

#include <atomic>

namespace shmring::platform {

// Can this process issue heavy_barrier()? (membarrier GLOBAL_EXPEDITED; the
// answer is cached: it depends on the kernel and seccomp, inherited by fork.)
[[nodiscard]] bool can_issue_heavy_barrier() noexcept;

// Registers this process to receive heavy barriers, so its hot paths may use
// light_barrier(). Idempotent, cheap after the first call in a process
// (re-done after fork). False: this process must use full fences.
[[nodiscard]] bool register_for_heavy_barriers() noexcept;

// The rare side: a barrier on every CPU running a registered process.
void heavy_barrier() noexcept;

// The hot side, in a registered process: only the compiler may not reorder.
inline void light_barrier() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

}  // namespace shmring::platform
