// Shared layouts of the synchronization primitives (Lock, RLock, Semaphore,
// BoundedSemaphore, Event). Each is embeddable: any shmring segment may hold
// one at a 128-byte aligned offset and hand it to a LockRef, RLockRef,
// SemaphoreRef or EventRef (lock.hpp, semaphore.hpp, event.hpp). The named
// objects are a segment whose payload is exactly one of these.
//
// All-zero bytes are a valid state of every layout here — a free lock, an
// unbounded semaphore at 0, a clear event — so a zero-filled (fallocated)
// segment needs no initialisation beyond a bounded semaphore's bound.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/blocking/blocking.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring {

// FourCCs, read as little-endian integers (as kQueueKind).
inline constexpr std::uint32_t kLockKind = 0x4b434f4cu;              // "LOCK"
inline constexpr std::uint32_t kRLockKind = 0x4b434c52u;             // "RLCK"
inline constexpr std::uint32_t kSemaphoreKind = 0x414d4553u;         // "SEMA"
inline constexpr std::uint32_t kBoundedSemaphoreKind = 0x4d455342u;  // "BSEM"
inline constexpr std::uint32_t kEventKind = 0x544e5645u;             // "EVNT"
inline constexpr std::uint32_t kSyncLayoutVersion = 1;

// Lock and RLock. `owner` is the lock: 0 when free, else
// platform::pack_owner(platform::current_thread()) of the holding thread —
// tid and the thread's start time in one word, so taking the lock, and taking
// it over from a dead holder, is one compare-exchange, and the word alone
// proves who holds it (no window where the lock is taken but its holder
// unknown).
struct alignas(platform::kFalseSharingRange) LockLayout {
  std::atomic<std::uint64_t> owner;
  // RLock only: the holder's recursion depth. Written only by the holding
  // thread (and by the thread that takes over from a dead holder, right after
  // its compare-exchange), read only by the holding thread.
  std::atomic<std::uint64_t> depth;
  std::atomic<std::uint64_t> takeovers;  // times the lock was taken from a dead holder
  std::uint64_t reserved0;
  ParkingLayout park;  // waiters park here; release notifies
};

static_assert(std::is_standard_layout_v<LockLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(LockLayout) == 2 * platform::kFalseSharingRange && offsetof(LockLayout, park) == 128,
              "the lock word and its parking word sit on their own 128-byte blocks; offsets are the file format");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the owner word must be lock-free in shared memory");

// Semaphore and BoundedSemaphore. `value` is the count; `bounded`/`bound`
// are written once, before the layout is shared (initialize() below).
struct alignas(platform::kFalseSharingRange) SemaphoreLayout {
  std::atomic<std::uint32_t> value;
  std::uint32_t bounded;  // 0: Semaphore; 1: BoundedSemaphore (release may not exceed `bound`)
  std::uint32_t bound;    // BoundedSemaphore: its initial value
  std::uint32_t reserved0;
  ParkingLayout park;  // acquirers park here; release notifies
};

static_assert(std::is_standard_layout_v<SemaphoreLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(SemaphoreLayout) == 2 * platform::kFalseSharingRange && offsetof(SemaphoreLayout, park) == 128,
              "the count and its parking word sit on their own 128-byte blocks; offsets are the file format");

// Python's SEM_VALUE_MAX on Linux: a semaphore never counts above it.
inline constexpr std::uint32_t kSemaphoreValueMax = 0x7fffffffu;

// Event. `state` bit 0 is the flag; bits 1..31 count the set() calls that
// raised it (mod 2^31), so a waiter that slept through a set() and a clear()
// still learns that the flag was set while it waited (Python's Event.wait
// returns True then).
struct alignas(platform::kFalseSharingRange) EventLayout {
  std::atomic<std::uint32_t> state;
  std::uint32_t reserved0;
  ParkingLayout park;  // waiters park here; set() notifies
};

static_assert(std::is_standard_layout_v<EventLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(EventLayout) == 2 * platform::kFalseSharingRange && offsetof(EventLayout, park) == 128,
              "the flag and its parking word sit on their own 128-byte blocks; offsets are the file format");

inline constexpr std::uint64_t kLockLayoutHash =
    platform::layout_hash(sizeof(LockLayout), alignof(LockLayout), offsetof(LockLayout, owner),
                          offsetof(LockLayout, depth), offsetof(LockLayout, takeovers), offsetof(LockLayout, park),
                          offsetof(ParkingLayout, sequence), offsetof(ParkingLayout, sleeping), platform::kPidBits);
inline constexpr std::uint64_t kSemaphoreLayoutHash = platform::layout_hash(
    sizeof(SemaphoreLayout), alignof(SemaphoreLayout), offsetof(SemaphoreLayout, value),
    offsetof(SemaphoreLayout, bounded), offsetof(SemaphoreLayout, bound), offsetof(SemaphoreLayout, park),
    offsetof(ParkingLayout, sequence), offsetof(ParkingLayout, sleeping), kSemaphoreValueMax);
inline constexpr std::uint64_t kEventLayoutHash = platform::layout_hash(
    sizeof(EventLayout), alignof(EventLayout), offsetof(EventLayout, state), offsetof(EventLayout, park),
    offsetof(ParkingLayout, sequence), offsetof(ParkingLayout, sleeping));

}  // namespace shmring
