#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/process.hpp"

namespace shmring::platform {
namespace {

long membarrier(int cmd) noexcept { return ::syscall(SYS_membarrier, cmd, 0, 0); }

// 0: not asked yet; 1: yes; 2: no.
std::atomic<int> g_can_issue{0};
// Fork generation + 1 in which this process registered (0: never).
std::atomic<std::uint64_t> g_registered_generation{0};

}  // namespace

// relaxed (both caches): process-local answers that guard nothing else;
// threads that race to fill one ask the kernel the same question.
bool can_issue_heavy_barrier() noexcept {
  int v = g_can_issue.load(std::memory_order_relaxed);
  if (v == 0) {
    const long query = membarrier(MEMBARRIER_CMD_QUERY);
    v = query >= 0 && (query & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 && membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0
            ? 1
            : 2;
    g_can_issue.store(v, std::memory_order_relaxed);
  }
  return v == 1;
}

bool register_for_heavy_barriers() noexcept {
  const std::uint64_t gen = fork_generation() + 1;
  if (g_registered_generation.load(std::memory_order_relaxed) == gen) return true;
  if (membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0) return false;
  g_registered_generation.store(gen, std::memory_order_relaxed);
  return true;
}

void heavy_barrier() noexcept {
  if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) return;
  // Only reached if the kernel stopped honouring a command it accepted at
  // open: the slow global barrier (every process, no registration) is still right.
  if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0) return;
  // Both refused: a fence orders this thread's side at least (it does not
  // reach the light notifiers' CPUs).
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace shmring::platform
