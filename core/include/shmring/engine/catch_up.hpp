// The consumer side of an SPSC ring (SpscRing, SpscSlotRing): when to wait
// a little before reading the producer's position again.
#pragma once

#include <cstdint>

#include "shmring/platform/cpu.hpp"

namespace shmring {

// Catch-up patience, for the consumer of an SPSC ring (this byte ring and
// SpscSlotRing). A consumer faster than its producer runs at its heels: it
// re-read the producer's tail line every second message (0.5 reloads per
// message, counted on the 64-byte slot ring), pulling that line, and with
// small messages the data line the producer is still filling, away between
// the producer's stores, which then wait for the line to come back. So once
// two reloads in a row have each found more than one message, or at least
// 16 KiB (the producer is streaming), a consumer that has taken all it knew
// of waits kSpins loop iterations (75-108 ns here, timed) before it reads
// the producer's lines again. A reload that finds nothing or a single message
// (under 16 KiB) ends the streak: a request-response consumer of small
// messages (one outstanding: empty, then one message, or one message
// already there) never waits; one with several requests outstanding may.
//
// Measured in one binary with the count switched by an environment variable
// (scratch, not kept), samples taken while the spin floor read 62-72 ns:
//   BM_QueueFixed_Bytes/64  none 45-68 M msgs/s (median ~51); 32: 39-69;
//                           128: 57-84; 256: 70-77 (and one 21 M sample)
//   BM_Spsc_Typed8          none or 32: 141-167 M; 256: 172-184; 512:
//                           188-238 (Boost's spsc_queue 90-117 M throughout)
// (that scan counted a reload that found one message as a hit too; the
// "more than one" rule came from a review: see perf/RESULTS.md.)
// The cost: while streaming, a message can be seen up to ~100 ns later than
// it could have been, and a non-blocking pop at the end of a burst spends
// that long before it reports empty. Only timing changes: the protocol is
// the same (model/spsc_slot_ring.pml, model/spsc_ring.pml).
class CatchUpPatience {
 public:
  static constexpr unsigned kSpins = 256;
  // Before reading the producer's position because our copy says empty.
  void before_reload() const noexcept {
    if (waits()) platform::spin_iterations(kSpins);
  }
  [[nodiscard]] bool waits() const noexcept { return hits_ >= 2; }
  // Does a reload that found `bytes` bytes, more than one message if
  // `several`, count towards the streak? Several messages, or one large
  // enough that the wait is small beside copying it (a 64 KiB stream finds
  // one message per reload, and measured 11.7-12.4 GB/s without the wait vs
  // 23.6-33.2 with it).
  static constexpr std::uint64_t kBulkBytes = 16384;
  [[nodiscard]] static bool streaming_find(bool several, std::uint64_t bytes) noexcept {
    return several || bytes >= kBulkBytes;
  }
  // After a sane reload: did it find streaming_find() messages?
  void after_reload(bool found_several) noexcept {
    hits_ = found_several ? static_cast<std::uint8_t>(hits_ < 2 ? hits_ + 1 : 2) : std::uint8_t{0};
  }

 private:
  std::uint8_t hits_ = 0;  // reloads in a row that found several messages, up to 2
};

}  // namespace shmring
