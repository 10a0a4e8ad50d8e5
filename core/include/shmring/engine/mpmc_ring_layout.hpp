// MpmcRingLayout: the shared part of a multi-producer multi-consumer byte
// ring (mpmc_ring.hpp has the protocol). Like SpscRingLayout it holds
// positions only; the ring's bytes live after the owning object's layout.
//
// Records start on 16-byte boundaries with a 16-byte MpmcRecordHeader:
//
//   state  one 64-bit word: tag(pos) << 12 | owner << 4 | kind. Every claim
//          and every hand-over is a change of this word, so the word alone
//          says what the record is and — while someone works on it — who.
//   meta   seq << 32 | length: the record's message number (0, 1, 2, ... per
//          ring; padding shares the next message's number) and its payload
//          length, or kPaddingFlag | size in 16-byte units for padding.
//
// tag(pos) is the record's byte position (positions only grow: 2^64 bytes are
// never reached) divided by 16, XORed with a per-ring random key, 52 bits.
// A header can therefore never be taken for the header of another position:
// stale bytes from an earlier lap carry another tag, and payload bytes would
// have to reproduce the random key to pass for a header.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/platform/cpu.hpp"
#include "shmring/engine/spsc_ring_layout.hpp"

namespace shmring {

inline constexpr std::uint64_t kMpmcAlign = 16;
inline constexpr std::uint32_t kMpmcParticipants = 256;                    // owner field: 8 bits
inline constexpr std::uint64_t kMpmcMaxCapacity = std::uint64_t{1} << 34;  // padding size: 31 bits of 16-byte units

// The life of a record. `owner` is meaningful in claimed and reading.
enum class RecordKind : std::uint8_t {
  empty = 1,      // the next record goes here; nobody has claimed it
  claimed = 2,    // a producer (owner) is writing it
  committed = 3,  // ready to be read
  reading = 4,    // a consumer (owner) is reading it
  consumed = 5,   // read, or padding, or abandoned: its bytes may be reused
};

struct MpmcRecordHeader {
  std::atomic<std::uint64_t> state;
  std::atomic<std::uint64_t> meta;
};
static_assert(sizeof(MpmcRecordHeader) == kMpmcAlign, "a record header is one alignment unit");

// One position on its own 128-byte block: each is written by a different crowd.
struct alignas(platform::kFalseSharingRange) MpmcPositionLayout {
  std::atomic<std::uint64_t> value;
};

// `key` is written once by the creator before publish; the counters only by
// repairs (rare), so they share its block.
struct alignas(platform::kFalseSharingRange) MpmcKeyLayout {
  std::uint64_t key;                            // random; tags are keyed with it
  std::atomic<std::uint64_t> claims_abandoned;  // dead producers' uncommitted records made padding
  std::atomic<std::uint64_t> reads_lost;        // records dead consumers held, marked consumed
};

// A participant: one queue handle (a process may hold several). Headers name
// it by its index. `held_put`/`held_get` are the positions it last set out to
// claim/read, written before the claim: whoever finds the owner dead repairs
// those two records (if they are still claimed/read by this index) before
// reusing the slot, so no header ever names a slot's next owner.
// `hazard` is kHazardFlag | p while the participant may compare-and-swap a
// header word at a position >= p (0: none): bytes from p on are not reused
// until it is cleared (mpmc_ring.hpp, "Reuse").
struct MpmcParticipantLayout {
  std::atomic<std::uint64_t> owner;  // platform::pack_owner(); 0: free
  std::atomic<std::uint64_t> held_put;
  std::atomic<std::uint64_t> held_get;
  std::atomic<std::uint64_t> hazard;
};
// Positions are multiples of kMpmcAlign: bit 0 marks a hazard as set, so a
// zero-filled table means "no hazards".
inline constexpr std::uint64_t kHazardFlag = 1;
static_assert(sizeof(MpmcParticipantLayout) == 32);

struct MpmcRingLayout {
  MpmcPositionLayout tail;      // where the next record goes (producers)
  MpmcPositionLayout head;      // the oldest record not yet taken by a consumer
  MpmcPositionLayout released;  // everything before it is consumed: producers may reuse it
  MpmcKeyLayout key;
  MpmcParticipantLayout participants[kMpmcParticipants];
};

static_assert(std::is_standard_layout_v<MpmcRingLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(MpmcRingLayout) % platform::kFalseSharingRange == 0, "the layout ends on a 128-byte block");
static_assert(offsetof(MpmcRingLayout, head) == 128 && offsetof(MpmcRingLayout, released) == 256 &&
                  offsetof(MpmcRingLayout, key) == 384 && offsetof(MpmcRingLayout, participants) == 512,
              "offsets are part of the file format");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "every atomic in a shared layout must be lock-free");

}  // namespace shmring
