// The consumer side of an SPSC ring (SpscRing, SpscSlotRing): when to wait
// a little before reading the producer's position again.
#pragma once

#include <cstdint>

#include "shmring/platform/cpu.hpp"

namespace shmring {

// Catch-up patience, for the consumer of an SPSC ring (this byte ring and
// SpscSlotRing). A consumer faster than its producer runs at its heels: it
// re-reads the producer's tail line every message or two, pulling that line,
// and with small messages the data line the producer is still filling, away
// between the producer's stores, which then wait for the line to come back.
// So once two reloads in a row have each found more than one message, or at
// least kBulkBytes (the producer is streaming), a consumer that has taken all
// it knew of waits kSpins loop iterations (platform::spin_iterations(): about
// kSpins cycles) before it reads the producer's lines again. A reload that
// finds nothing or a single message (under kBulkBytes) ends the streak: a
// request-response consumer of small messages (one outstanding: empty, then
// one message, or one message already there) never waits; one with several
// requests outstanding may. Checked by CatchUpPatience.* and
// RingFixture.PatienceStartsOnlyWhenReloadsFindSeveralMessages
// (tests/unit/spsc_ring_test.cpp) and SlotRingPatience.* (spsc_typed_ring_test.cpp);
// the measurements behind kSpins are in docs/notes-from-comments.md.
// The cost: while streaming, a message can be seen up to kSpins iterations
// later than it could have been, and a non-blocking pop at the end of a burst
// spends that long before it reports empty. Only timing changes: the protocol
// is the same (model/spsc_slot_ring.pml, model/spsc_ring.pml).
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
  // enough that the wait is small beside copying it: a stream of large
  // messages finds one per reload and still needs the patience
  // (CatchUpPatience.OneLargeMessageCountsAsStreaming).
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
