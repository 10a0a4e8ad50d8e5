// What every Queue engine gives the Queue and what the engines share: the
// step results (ClaimStep, the rings' views as ReadView), the QueueEngine concept, the ring
// shape and its checks, and SPSC role taking. engines.hpp lists the engines.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include "on_demand_memory.hpp"
#include "participant_watch.hpp"
#include "../role_slot.hpp"
#include "shmring/blocking/blocking.hpp"
#include "shmring/blocking/intervals.hpp"
#include "shmring/engine/copy.hpp"
#include "shmring/engine/mpmc_ring.hpp"  // Blocker, RecordKind
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/error.hpp"
#include "shmring/platform/process.hpp"

namespace shmring::detail {

// try_put, front, pop and commit are the fast paths' steps: always inlined
// into Queue::put_on / get_on, which are one straight line per engine.

// What one claim attempt found; the Queue's loop decides what to do next.
struct ClaimStep {
  enum class Kind : std::uint8_t {
    done,   // `status` is the answer (ok: write into `bytes`)
    full,   // no room yet; `blocker` holds it if someone does (MPMC)
    busy,   // another participant is mid-claim where we need to go (MPMC)
    retry,  // something was fixed (memory reserved): try again at once
  };
  Kind kind;
  PutStatus status = PutStatus::ok;
  std::span<std::byte> bytes{};
  Blocker blocker{};
};

// What front() found is the ring's own view (RingView, MpmcView): a message
// (ok), empty, or corrupt. Handed on as the ring returned it, never copied
// into a common struct: the ring writes the view to the caller's stack
// field by field, and a copy that the compiler merges into one 16-byte load
// of `bytes` cannot be forwarded from those two 8-byte stores: every get
// would stall on it (x86-64's store-to-load forwarding).
template <class V>
concept ReadView = requires(const V& v) {
  { v.status } -> std::convertible_to<RingStatus>;
  { v.bytes } -> std::convertible_to<std::span<const std::byte>>;
};

// Who keeps an empty ring empty: a participant mid-claim (MpmcView), or
// nobody the consumer could do anything about (the SPSC rings' views).
template <ReadView V>
[[nodiscard]] Blocker blocker_of(const V& v) noexcept {
  if constexpr (requires { v.blocker; }) {
    return v.blocker;
  } else {
    return {};
  }
}

[[nodiscard]] constexpr PutStatus put_status(RingStatus s) noexcept {
  switch (s) {
    case RingStatus::ok: return PutStatus::ok;
    case RingStatus::full: return PutStatus::full;
    case RingStatus::too_large: return PutStatus::too_large;
    case RingStatus::wrong_size: return PutStatus::wrong_size;
    default: return PutStatus::corrupt;
  }
}

// The shape of a new queue's ring, from the options.
struct RingShape {
  std::uint32_t engine;  // kStored of the engine
  std::uint64_t capacity;
  std::uint64_t max_message;
  std::uint32_t lanes = 0;  // LanesEngine only
};
// The bytes after QueueLayout: the ring's, and the lane table before the lanes.
[[nodiscard]] constexpr std::uint64_t data_bytes(const RingShape& s) noexcept {
  return s.capacity + (s.lanes != 0 ? lane_table_bytes(s.lanes) : 0);
}

[[nodiscard]] constexpr bool has_role(Role set, Role r) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(r)) != 0;
}
[[nodiscard]] constexpr Role with_role(Role set, Role r) noexcept {
  return static_cast<Role>(static_cast<unsigned>(set) | static_cast<unsigned>(r));
}

inline constexpr std::uint64_t kMinCapacity = 4096;
inline constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 40;

[[nodiscard]] inline std::byte* ring_bytes(QueueLayout& q, const QueueConfigLayout& c) noexcept {
  return reinterpret_cast<std::byte*>(&q) + c.data_offset;
}
[[nodiscard]] constexpr std::uint64_t message_limit(const QueueConfigLayout& c) noexcept {
  return c.maxsize > 0 ? static_cast<std::uint64_t>(c.maxsize) : 0;
}
[[nodiscard]] inline std::atomic<std::uint64_t>& owner_slot(QueueLayout& q, Role r) noexcept {
  return r == Role::producer ? q.control.producer_owner : q.control.consumer_owner;
}

// The checks and shape both byte-ring engines share (their limits differ).
Result<void> validate_byte_ring(const QueueConfigLayout& c, std::uint64_t payload_size, std::uint64_t max_capacity,
                                std::uint64_t max_payload);
Result<RingShape> byte_ring_shape(const QueueOptions& o, std::uint32_t engine,
                                  std::uint64_t max_payload_for_capacity(std::uint64_t));

// SPSC role taking, shared by both SPSC engines: the role's owner word
// (role_slot.hpp), then the ring's own take-over check (`ring_attach`,
// which re-derives the side's counts); a failed check frees the word.
template <class RingAttach>
[[nodiscard]] Errc attach_spsc(QueueLayout& q, Role r, std::uint64_t me, RingAttach&& ring_attach) noexcept {
  std::atomic<std::uint64_t>& slot = owner_slot(q, r);
  if (!take_role_slot(slot, me)) return Errc::role_taken;
  if (!ring_attach()) {
    drop_role_slot(slot);
    return Errc::corrupt;
  }
  return Errc{};
}
// Gives back the roles in `held` that `me` holds (engines.cpp).
void detach_spsc(QueueLayout& q, Role held, std::uint64_t me) noexcept;

// read_front(), copy_front() and room_park() of the engines whose front()
// already holds the message (see the concept below): pop() always succeeds.
// put_batch() and take_batch() one message at a time, for engines with
// nothing better.
template <class E>
struct HeldReads {
  [[nodiscard]] decltype(auto) read_front() noexcept { return self().front(); }
  static void copy_front(std::byte* dst, std::span<const std::byte> src) noexcept {
    copy_message(dst, src.data(), src.size());
  }
  [[nodiscard]] static ParkingLayout& room_park(QueueHot& hot) noexcept { return *hot.not_full; }
  static void wake_after_close(QueueHot&) noexcept {}  // room_park() is the queue's word: close() woke it
  [[nodiscard]] std::size_t put_batch(std::span<const std::span<const std::byte>> messages, QueueHot& hot) noexcept {
    std::size_t n = 0;
    for (const std::span<const std::byte> m : messages) {
      if (self().try_put(m, hot) != PutStatus::ok) break;
      ++n;
    }
    return n;
  }
  [[nodiscard]] std::size_t take_batch(MessageBatch& out, std::size_t max, QueueHot& hot) {
    std::size_t n = 0;
    for (; n < max; ++n) {
      const auto v = self().front();
      if (v.status != RingStatus::ok) break;
      copy_message(BatchAccess::append(out, v.bytes.size()), v.bytes.data(), v.bytes.size());
      (void)self().pop(hot);
    }
    return n;
  }

 private:
  E& self() noexcept { return *static_cast<E*>(this); }
};

// The vocabulary every engine gives the Queue (queue.cpp's loops use
// nothing else). `hot`: the handle's QueueHot (parking words, stats, barrier plan).
//
// Reading: front() shows the oldest message; copy_front() copies what it
// showed; pop() takes it — false when another consumer took it first (the
// lane engine, whose consumers copy before they take: the copy is void,
// start again from front()). read_front() shows a message that stays this
// handle's until pop() (read()/release(): the caller keeps the view). For
// the engines whose front() already holds the message (SPSC: one consumer;
// MPMC: the record is claimed), read_front() is front(), copy_front() a
// copy and pop() always true. room_park(): where a producer waiting for room
// parks; wake_after_close(): wakes the waiters close() cannot reach itself
// (the lane engine's per-lane words).
// put_batch(): puts what fits now of a run of messages (the caller holds the
// role, no claim is open); take_batch(): takes up to n messages there now,
// appending them; both return how many, without waiting.
template <class E>
concept QueueEngine = requires(E& e, const E& ce, QueueHot& hot, std::size_t n, std::span<const std::byte> bytes,
                               Role r, std::uint64_t token, const Blocker& b, ParticipantWatch& w, MessageBatch& batch,
                               platform::Deadline d) {
  { E::kEngine } -> std::convertible_to<Engine>;
  { E::kStored } -> std::convertible_to<std::uint32_t>;
  { E::kOnDemand } -> std::convertible_to<bool>;
  { E::kRepairs } -> std::convertible_to<bool>;
  { ce.has_claim() } -> std::same_as<bool>;
  { ce.check_size(n) } -> std::same_as<PutStatus>;
  { e.try_put(bytes, hot) } -> std::same_as<PutStatus>;
  { e.claim(n, hot) } -> std::same_as<ClaimStep>;
  e.commit(n, hot);
  { e.producer_can_claim(n) } -> std::same_as<bool>;
  { e.front() } -> ReadView;
  e.copy_front(static_cast<std::byte*>(nullptr), bytes);
  { e.read_front() } -> ReadView;
  { e.pop(hot) } -> std::same_as<bool>;
  { e.room_park(hot) } -> std::same_as<ParkingLayout&>;
  e.wake_after_close(hot);
  { e.put_batch(std::span<const std::span<const std::byte>>{}, hot) } -> std::same_as<std::size_t>;
  { e.take_batch(batch, n, hot) } -> std::same_as<std::size_t>;
  e.drained();
  { e.consumer_can_read() } -> std::same_as<bool>;
  { e.attach(r, token, hot) } -> std::same_as<Errc>;
  e.detach(r, token);
  e.forget_after_fork();
  { e.check_blocker(b, RecordKind::claimed, w, hot) } -> std::same_as<bool>;
  { ce.slice(d) } -> std::same_as<platform::Deadline>;
  { e.recover(hot) } -> std::same_as<std::uint64_t>;
  { ce.message_count() } -> std::same_as<std::uint64_t>;
  { ce.empty() } -> std::same_as<bool>;
  { ce.full() } -> std::same_as<bool>;
  { ce.capacity() } -> std::same_as<std::uint64_t>;
  { ce.max_payload() } -> std::same_as<std::uint64_t>;
  { ce.message_size() } -> std::same_as<std::uint64_t>;
  { ce.claims_repaired() } -> std::same_as<std::uint64_t>;
  { ce.reads_lost() } -> std::same_as<std::uint64_t>;
};

}  // namespace shmring::detail
