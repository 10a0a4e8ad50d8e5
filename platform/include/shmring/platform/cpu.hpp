// CPU-level helpers: the false-sharing range every layout uses, the spin-wait
// hint, and pinning for benchmarks and demos.
#pragma once

#include <cstddef>
#include <cstdint>

#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define SHMRING_HAVE_RSEQ 1
#endif

namespace shmring::platform {

// Two cache lines: Intel's adjacent-line prefetcher pulls lines in pairs
// (folly/lang/Align.h). A fixed number, never
// std::hardware_destructive_interference_size, because two processes built
// with different -mtune must agree on every layout.
inline constexpr std::size_t kFalseSharingRange = 128;

// A hint to the CPU that we are in a spin-wait loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
  asm volatile("yield" ::: "memory");
#elif defined(__riscv)
  // Zihintpause `pause` (a FENCE hint): a no-op on cores without the extension.
  asm volatile(".insn i 0x0F, 0, x0, x0, 0x010" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

// A busy wait of `n` loop iterations, about `n` cycles: finer-grained than
// cpu_relax() (one x86 pause lasts many cycles) and without its hint
// (docs/notes-from-comments.md has the timings). The empty asm
// keeps the loop from being removed; `unroll 1` keeps it from being
// shortened by unrolling (GCC and clang both honour the pragma).
inline void spin_iterations(unsigned n) noexcept {
#pragma GCC unroll 1
  for (unsigned i = 0; i < n; ++i) asm volatile("" ::: "memory");
}

// Number of CPUs this process may run on.
[[nodiscard]] int available_cpus() noexcept;

// Pins the calling thread to `cpu`; false if the kernel refused.
bool pin_to_cpu(int cpu) noexcept;

// Gives the CPU to another runnable thread (sched_yield): for a waiter whose
// partner may be descheduled on the same core.
void yield_cpu() noexcept;

// The CPU the calling thread ran on a moment ago (sched_getcpu): a hint for
// keeping work near its data, never a basis for correctness (the thread may
// move the next instant). Out of line: the system call or vDSO read.
[[nodiscard]] std::uint32_t current_cpu_slow() noexcept;

// The same, as one thread-local load where glibc registered restartable
// sequences for the thread (2.35 and later: the kernel keeps the rseq area's
// cpu_id current); elsewhere (registration refused, as under qemu-user) the
// out-of-line read.
[[nodiscard]] inline std::uint32_t current_cpu() noexcept {
#if defined(SHMRING_HAVE_RSEQ) && defined(__GNUC__)
  if (__rseq_size != 0) {
    // The area is aligned (the ABI's 32 bytes); the thread pointer is not typed.
    const void* area = static_cast<const char*>(__builtin_thread_pointer()) + __rseq_offset;
    const auto id = static_cast<std::int32_t>(static_cast<const volatile struct rseq*>(area)->cpu_id);
    if (id >= 0) return static_cast<std::uint32_t>(id);
  }
#endif
  return current_cpu_slow();
}

// current_cpu() for a hot path: read on every call where that is one load,
// else (the system call) once every kEvery calls, the last answer between.
class CpuHint {
 public:
  static constexpr std::uint32_t kEvery = 256;
  [[nodiscard]] std::uint32_t get() noexcept {
#if defined(SHMRING_HAVE_RSEQ) && defined(__GNUC__)
    if (__rseq_size != 0) return current_cpu();
#endif
    if (calls_++ % kEvery == 0) cpu_ = current_cpu_slow();
    return cpu_;
  }

 private:
  std::uint32_t calls_ = 0;
  std::uint32_t cpu_ = 0;
};

// 64 random bits from the kernel (getrandom); never 0.
[[nodiscard]] std::uint64_t random_u64() noexcept;

}  // namespace shmring::platform
