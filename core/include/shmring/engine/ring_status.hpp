// What a ring operation reports, and the claim and view it hands out: the
// vocabulary every engine (SpscRing, SpscSlotRing, MpmcRing) shares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace shmring {

// wrong_size: a typed pop found a record of another size (it stays queued).
// busy (MPMC): another participant is mid-operation where we need to go; retry.
// unbacked (MPMC): the room is free but its memory is not reserved yet (the
// owner of the ring reserves it and retries; see Queue's on-demand memory).
enum class RingStatus : std::uint8_t { ok, full, empty, too_large, wrong_size, corrupt, busy, unbacked };

struct RingClaim {
  RingStatus status;
  std::span<std::byte> bytes;  // where to write the payload (status ok)
};

struct RingView {
  RingStatus status;
  std::span<const std::byte> bytes;  // the oldest record's payload (status ok)
};

}  // namespace shmring
