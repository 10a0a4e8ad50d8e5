// Reading two positions of a ring that other processes move while we read
// (an opener's check of a live file), so that a sound ring always passes.
#pragma once

#include <atomic>
#include <cstdint>

namespace shmring {

// `low` (a head, released) and `high` (a tail) only grow, and a sound ring
// keeps low <= high <= low + span at every instant. One read of each proves
// nothing about a ring in motion: read low then high and a ring that laps
// in between looks overfull; read high then low and it looks inverted.
// Reading low, high, low again bounds both sides from values that held at
// the moment high was read:
//   low_before <= low(then) <= high             (low only grows)
//   high <= low(then) + span <= low_after + span
// A file at rest reads low_before == low_after: the check is the plain one.
struct LivePositions {
  std::uint64_t low_before;
  std::uint64_t high;
  std::uint64_t low_after;

  // acquire: as the rings' own loads of these words.
  [[nodiscard]] static LivePositions read(const std::atomic<std::uint64_t>& low,
                                          const std::atomic<std::uint64_t>& high) noexcept {
    LivePositions p{};
    p.low_before = low.load(std::memory_order_acquire);
    p.high = high.load(std::memory_order_acquire);
    p.low_after = low.load(std::memory_order_acquire);
    return p;
  }
  // low <= high <= low + span, as above (no overflow for any values).
  [[nodiscard]] bool within(std::uint64_t span) const noexcept {
    return low_before <= high && (high < low_after || high - low_after <= span);
  }
  // Every value read is a multiple of `align`.
  [[nodiscard]] bool aligned(std::uint64_t align) const noexcept {
    return low_before % align == 0 && high % align == 0 && low_after % align == 0;
  }
};

}  // namespace shmring
