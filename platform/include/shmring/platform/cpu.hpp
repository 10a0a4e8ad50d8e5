// CPU-level helpers: the false-sharing range every layout uses, the spin-wait
// hint, and pinning for benchmarks and demos.
#pragma once

#include <cstddef>
#include <cstdint>

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

// 64 random bits from the kernel (getrandom); never 0.
[[nodiscard]] std::uint64_t random_u64() noexcept;

}  // namespace shmring::platform
