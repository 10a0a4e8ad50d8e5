// The Queue's engines: one type per ring, each giving the Queue the same
// vocabulary (QueueEngine, below), so the claim/commit/read/release/wait
// loops in queue.cpp are written once and an engine is added without
// touching the others.
//
//   engine            ring (core/include/shmring/engine/)   who may use it
//   SpscBytesEngine   SpscRing: records of any size           1 producer, 1 consumer process
//   MpmcEngine        MpmcRing: records of any size           any number (<= 256 attached)
//   SpscSlotEngine    SpscSlotRing: fixed-size slots          1 producer, 1 consumer process
//
// What stays with each engine: how it claims and publishes, how it tells
// sleepers (SPSC: the one waiter there is, notify(); MPMC: one of many,
// notify_one()), who may hold a role (SPSC: an owner word per role,
// role_slot.hpp; MPMC: a participant slot for both roles), what blocks a
// waiter and how a dead blocker is repaired (MPMC only), whether its memory
// comes on demand, and how its part of a mapped file is checked before use.
//
// The handle holds the engine it opened, chosen once from the file's engine
// number (kStored, which is also the engine's index in AnyEngine). Every
// engine method is called by the handle's owner thread only.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "on_demand_memory.hpp"
#include "participant_watch.hpp"
#include "../role_slot.hpp"
#include "shmring/blocking/blocking.hpp"
#include "shmring/blocking/intervals.hpp"
#include "shmring/engine/copy.hpp"
#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/engine/spsc_ring.hpp"
#include "shmring/engine/spsc_slot_ring.hpp"
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

// What front() found: a message (ok), empty (with who blocks it, MPMC), or corrupt.
struct ReadStep {
  RingStatus status;
  std::span<const std::byte> bytes{};
  Blocker blocker{};
};

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
};

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
Result<RingShape> byte_ring_shape(const QueueOptions& o, std::uint32_t engine, std::uint64_t max_payload_for_capacity(std::uint64_t));

// ---- SPSC, messages of any size --------------------------------------------------

class SpscBytesEngine {
 public:
  static constexpr Engine kEngine = Engine::spsc;
  static constexpr std::uint32_t kStored = 0;
  static constexpr bool kOnDemand = true;  // large rings reserve memory as they fill

  SpscBytesEngine(QueueLayout& q, const QueueConfigLayout& c, OnDemandMemory* memory) noexcept
      : layout_(&q), ring_(q.ring, ring_bytes(q, c), c.capacity, c.max_message, message_limit(c)), memory_(memory) {}

  static void initialize(QueueLayout& q, const QueueConfigLayout&) noexcept { SpscRing::initialize(q.ring); }
  [[nodiscard]] static Result<void> validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload);
  [[nodiscard]] static Result<RingShape> shape(const QueueOptions& o) {
    return byte_ring_shape(o, kStored, SpscRing::max_payload_for);
  }

  // ---- producer ----
  [[nodiscard]] bool has_claim() const noexcept { return ring_.has_claim(); }
  [[nodiscard]] PutStatus check_size(std::size_t size) const noexcept {
    return size > ring_.max_payload() ? PutStatus::too_large : PutStatus::ok;
  }
  // The whole put when it can be made at once; full: take the slow path.
  [[gnu::always_inline]] [[nodiscard]] PutStatus try_put(std::span<const std::byte> bytes, QueueHot& hot) noexcept {
    if (memory_ != nullptr && !memory_->known_backed(backing_target(bytes.size()))) return PutStatus::full;
    const RingStatus r = ring_.try_push(bytes);
    if (r == RingStatus::ok) [[likely]] notify(*hot.not_empty, hot.stats, hot.plan);
    return put_status(r);
  }
  [[nodiscard]] ClaimStep claim(std::size_t size, QueueHot&) noexcept {
    if (memory_ != nullptr) {
      const PutStatus st = memory_->backed_for(ring_.producer_tail(), backing_target(size) - ring_.producer_tail());
      if (st != PutStatus::ok) return {ClaimStep::Kind::done, st};
    }
    const RingClaim c = ring_.claim(size);
    if (c.status == RingStatus::full) return {ClaimStep::Kind::full};
    return {ClaimStep::Kind::done, put_status(c.status), c.bytes};
  }
  [[gnu::always_inline]] void commit(std::size_t size, QueueHot& hot) noexcept {
    ring_.commit(size);
    notify(*hot.not_empty, hot.stats, hot.plan);
  }
  [[nodiscard]] bool producer_can_claim(std::size_t size) noexcept { return ring_.producer_can_claim(size); }

  // ---- consumer ----
  [[gnu::always_inline]] [[nodiscard]] ReadStep front() noexcept {
    const RingView v = ring_.front();
    return {v.status, v.bytes};
  }
  [[gnu::always_inline]] void pop(QueueHot& hot) noexcept {
    ring_.pop();
    notify(*hot.not_full, hot.stats, hot.plan);
    if (memory_ != nullptr) memory_->after_get(false, [this] { return ring_.consumer_head(); });
  }
  void drained() noexcept {
    if (memory_ != nullptr) memory_->after_get(true, [this] { return ring_.consumer_head(); });
  }
  [[nodiscard]] bool consumer_can_read() const noexcept { return ring_.consumer_can_read(); }

  // ---- roles and waiting ----
  [[nodiscard]] Errc attach(Role r, std::uint64_t me, QueueHot&) noexcept {
    return attach_spsc(*layout_, r, me, [&] { return r == Role::producer ? ring_.attach_producer() : ring_.attach_consumer(); });
  }
  void detach(Role held, std::uint64_t me) noexcept { detach_spsc(*layout_, held, me); }
  void forget_after_fork() noexcept {}
  // Nobody but the one peer can block us, and a dead peer blocks nothing:
  // its published records stay readable and its room stays free.
  [[nodiscard]] bool check_blocker(const Blocker&, RecordKind, ParticipantWatch&, QueueHot&) noexcept { return false; }
  [[nodiscard]] platform::Deadline slice(platform::Deadline deadline) const noexcept { return deadline; }
  std::uint64_t recover(QueueHot&) noexcept { return 0; }

  // ---- observers ----
  [[nodiscard]] std::uint64_t message_count() const noexcept { return ring_.message_count(); }
  [[nodiscard]] bool empty() const noexcept { return ring_.used_bytes() == 0; }
  // No room even for the smallest message, wherever it would land.
  [[nodiscard]] bool full() const noexcept { return ring_.capacity() - ring_.used_bytes() < 2 * record_size(1); }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.capacity(); }
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return ring_.max_payload(); }
  [[nodiscard]] std::uint64_t message_size() const noexcept { return 0; }
  [[nodiscard]] std::uint64_t claims_repaired() const noexcept { return 0; }
  [[nodiscard]] std::uint64_t reads_lost() const noexcept { return 0; }

  // SPSC role taking, shared with the slot engine: the role's owner word
  // (role_slot.hpp), then the ring's own take-over check (`ring_attach`,
  // which re-derives the side's counts); a failed check frees the word.
  template <class RingAttach>
  [[nodiscard]] static Errc attach_spsc(QueueLayout& q, Role r, std::uint64_t me, RingAttach&& ring_attach) noexcept;
  static void detach_spsc(QueueLayout& q, Role held, std::uint64_t me) noexcept;

 private:
  // Memory needed before a put of `size` bytes: the record, and a padding
  // record before it if it would not fit before the end of the ring.
  [[nodiscard]] std::uint64_t backing_target(std::size_t size) const noexcept {
    return ring_.producer_tail() + 2 * record_size(size) + sizeof(RecordHeader);
  }

  QueueLayout* layout_;
  SpscRing ring_;
  OnDemandMemory* memory_;  // null: all memory reserved at create
};

// ---- SPSC, fixed-size messages -----------------------------------------------------
//
// The ring itself lives in the handle's QueueHot (its inline fast path in
// queue.hpp needs it at a fixed place); this engine drives the same ring on
// the out-of-line paths and keeps the inline ones on only while they are
// right: put_generation / get_generation say "this handle holds the role
// in this process".

class SpscSlotEngine {
 public:
  static constexpr Engine kEngine = Engine::spsc;
  static constexpr std::uint32_t kStored = 2;
  static constexpr bool kOnDemand = false;  // every slot is reserved at create

  // `hot`: the handle's QueueHot, which holds the ring (same lifetime as
  // this engine: both live in the handle's State). `counted_puts`: a
  // JoinableQueue, whose puts count tasks out of line: the inline put stays off.
  SpscSlotEngine(QueueLayout& q, QueueHot& hot, bool counted_puts) noexcept
      : layout_(&q), hot_(&hot), counted_puts_(counted_puts) {}

  // Capacity / message size slots, a power of two, at least 2.
  [[nodiscard]] static std::uint64_t slot_count(const QueueConfigLayout& c) noexcept {
    return c.capacity / c.max_message;
  }
  // The ring for QueueHot: this queue's slots, or (another engine) a ring of
  // nothing that the inline paths never reach (their generations stay kOff).
  [[nodiscard]] static SpscSlotRing<> hot_ring(QueueLayout& q, const QueueConfigLayout& c) noexcept {
    if (c.engine != kStored) return SpscSlotRing<>(q.ring.producer.tail, q.ring.consumer.head, nullptr, 1, 0, 0);
    return SpscSlotRing<>(q.ring.producer.tail, q.ring.consumer.head, ring_bytes(q, c), slot_count(c), c.max_message,
                          message_limit(c));
  }
  static void initialize(QueueLayout& q, const QueueConfigLayout&) noexcept { SpscRing::initialize(q.ring); }
  [[nodiscard]] static Result<void> validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload);
  [[nodiscard]] static Result<RingShape> shape(const QueueOptions& o);

  // ---- producer ----
  [[nodiscard]] bool has_claim() const noexcept { return ring().has_claim(); }
  [[nodiscard]] PutStatus check_size(std::size_t size) const noexcept {
    return size != ring().slot_size() ? PutStatus::wrong_size : PutStatus::ok;
  }
  [[gnu::always_inline]] [[nodiscard]] PutStatus try_put(std::span<const std::byte> bytes, QueueHot& hot) noexcept {
    return put_status(hot.push(bytes.data(), bytes.size()));
  }
  [[nodiscard]] ClaimStep claim(std::size_t size, QueueHot& hot) noexcept {
    const RingClaim c = hot.sring.claim(size);
    if (c.status == RingStatus::full) return {ClaimStep::Kind::full};
    // The inline put would write into the claimed slot: off until commit().
    if (c.status == RingStatus::ok) hot.put_generation = QueueHot::kOff;
    return {ClaimStep::Kind::done, put_status(c.status), c.bytes};
  }
  // Publishes the whole slot (bytes past `size` zeroed) and turns the
  // inline put back on, as attach() set it.
  [[gnu::always_inline]] void commit(std::size_t size, QueueHot& hot) noexcept {
    hot.sring.commit(size);
    if (!counted_puts_ && producer_generation_ == platform::fork_generation()) {
      hot.put_generation = producer_generation_;
    }
    notify(*hot.not_empty, hot.stats, hot.plan);
  }
  [[nodiscard]] bool producer_can_claim(std::size_t size) noexcept { return hot_->sring.producer_can_claim(size); }

  // ---- consumer ----
  [[gnu::always_inline]] [[nodiscard]] ReadStep front() noexcept {
    const RingView v = hot_->sring.front();
    return {v.status, v.bytes};
  }
  [[gnu::always_inline]] void pop(QueueHot& hot) noexcept {
    hot.sring.pop();
    notify(*hot.not_full, hot.stats, hot.plan);
  }
  void drained() noexcept {}
  [[nodiscard]] bool consumer_can_read() const noexcept { return ring().consumer_can_read(); }

  // ---- roles and waiting ----
  [[nodiscard]] Errc attach(Role r, std::uint64_t me, QueueHot& hot) noexcept {
    const Errc e = SpscBytesEngine::attach_spsc(*layout_, r, me, [&] {
      return r == Role::producer ? hot.sring.attach_producer() : hot.sring.attach_consumer();
    });
    if (e != Errc{}) return e;
    if (r == Role::consumer) {
      hot.get_generation = platform::fork_generation();
    } else {
      producer_generation_ = platform::fork_generation();
      if (!counted_puts_) hot.put_generation = producer_generation_;
    }
    return Errc{};
  }
  void detach(Role held, std::uint64_t me) noexcept {
    producer_generation_ = QueueHot::kOff;
    SpscBytesEngine::detach_spsc(*layout_, held, me);
  }
  void forget_after_fork() noexcept { producer_generation_ = QueueHot::kOff; }
  [[nodiscard]] bool check_blocker(const Blocker&, RecordKind, ParticipantWatch&, QueueHot&) noexcept { return false; }
  [[nodiscard]] platform::Deadline slice(platform::Deadline deadline) const noexcept { return deadline; }
  std::uint64_t recover(QueueHot&) noexcept { return 0; }

  // ---- observers ----
  [[nodiscard]] std::uint64_t message_count() const noexcept { return ring().message_count(); }
  [[nodiscard]] bool empty() const noexcept { return ring().message_count() == 0; }
  [[nodiscard]] bool full() const noexcept { return ring().full(); }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring().slot_size() * ring().slots(); }
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return ring().slot_size(); }
  [[nodiscard]] std::uint64_t message_size() const noexcept { return ring().slot_size(); }
  [[nodiscard]] std::uint64_t claims_repaired() const noexcept { return 0; }
  [[nodiscard]] std::uint64_t reads_lost() const noexcept { return 0; }

 private:
  [[nodiscard]] const SpscSlotRing<>& ring() const noexcept { return hot_->sring; }

  QueueLayout* layout_;
  QueueHot* hot_;
  bool counted_puts_;
  std::uint64_t producer_generation_ = QueueHot::kOff;  // the fork generation in which we took the producer role
};

// ---- MPMC -----------------------------------------------------------------------

class MpmcEngine {
 public:
  static constexpr Engine kEngine = Engine::mpmc;
  static constexpr std::uint32_t kStored = 1;
  static constexpr bool kOnDemand = true;

  MpmcEngine(QueueLayout& q, const QueueConfigLayout& c, OnDemandMemory* memory) noexcept
      : ring_(q.mpmc, ring_bytes(q, c), c.capacity, c.max_message, message_limit(c)), memory_(memory) {
    if (memory_ != nullptr) ring_.limit_to_backed(&q.backing.backed_end);
  }

  static void initialize(QueueLayout& q, const QueueConfigLayout& c) noexcept {
    SpscRing::initialize(q.ring);  // unused by this engine; a sound file keeps it at rest
    MpmcRing::initialize(q.mpmc, ring_bytes(q, c), platform::random_u64());
  }
  [[nodiscard]] static Result<void> validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload);
  [[nodiscard]] static Result<RingShape> shape(const QueueOptions& o);

  // ---- producer ----
  [[nodiscard]] bool has_claim() const noexcept { return ring_.has_claim(); }
  [[nodiscard]] PutStatus check_size(std::size_t size) const noexcept {
    return size > ring_.max_payload() ? PutStatus::too_large : PutStatus::ok;
  }
  // Anything but an immediate claim (full, busy, unbacked, errors): the
  // slow path sorts it out.
  [[gnu::always_inline]] [[nodiscard]] PutStatus try_put(std::span<const std::byte> bytes, QueueHot& hot) noexcept {
    const MpmcClaim c = ring_.claim(bytes.size());
    if (c.status != RingStatus::ok) return PutStatus::full;
    copy_message(c.bytes.data(), bytes.data(), bytes.size());
    commit(bytes.size(), hot);
    return PutStatus::ok;
  }
  [[nodiscard]] ClaimStep claim(std::size_t size, QueueHot&) noexcept {
    const MpmcClaim c = ring_.claim(size);
    switch (c.status) {
      case RingStatus::busy: return {ClaimStep::Kind::busy, PutStatus::full, {}, c.blocker};
      case RingStatus::full: return {ClaimStep::Kind::full, PutStatus::full, {}, c.blocker};
      case RingStatus::unbacked: {
        const PutStatus st = memory_ != nullptr ? memory_->ensure_backed(c.blocker.pos) : PutStatus::corrupt;
        if (st != PutStatus::ok) return {ClaimStep::Kind::done, st};
        return {ClaimStep::Kind::retry};
      }
      default: return {ClaimStep::Kind::done, put_status(c.status), c.bytes};
    }
  }
  [[gnu::always_inline]] void commit(std::size_t size, QueueHot& hot) noexcept {
    ring_.commit(size);
    notify_one(*hot.not_empty, hot.stats, hot.plan);
  }
  [[nodiscard]] bool producer_can_claim(std::size_t size) noexcept { return ring_.producer_can_claim(size); }

  // ---- consumer ----
  [[gnu::always_inline]] [[nodiscard]] ReadStep front() noexcept {
    const MpmcView v = ring_.front();
    return {v.status, v.bytes, v.blocker};
  }
  [[gnu::always_inline]] void pop(QueueHot& hot) noexcept {
    ring_.pop();
    notify_one(*hot.not_full, hot.stats, hot.plan);
    if (memory_ != nullptr) memory_->after_get(false, [this] { return ring_.release_consumed(); });
  }
  void drained() noexcept {
    if (memory_ != nullptr) memory_->after_get(true, [this] { return ring_.release_consumed(); });
  }
  [[nodiscard]] bool consumer_can_read() noexcept { return ring_.consumer_can_read(); }

  // ---- roles and waiting ----
  // One participant slot for both roles, taken over from a dead participant
  // when all 256 are used.
  [[nodiscard]] Errc attach(Role, std::uint64_t me, QueueHot&) noexcept {
    if (ring_.attached()) return Errc{};
    const auto pid = static_cast<std::uint32_t>(platform::current_process().pid);
    return ring_.attach(me, pid, platform::is_dead) ? Errc{} : Errc::role_taken;
  }
  void detach(Role, std::uint64_t me) noexcept { ring_.detach(me); }  // abandons an open claim or read first
  void forget_after_fork() noexcept { ring_.forget(); }
  // Once the same participant has blocked us at the same record for a
  // window (ParticipantWatch) and its process is proved dead, repairs the
  // record and wakes everyone (others may be parked behind it). A blocker
  // on the room (kind reading) is a dead reader's record or a dead
  // participant's hazard (refresh_released() names either). True: repaired.
  [[nodiscard]] bool check_blocker(const Blocker& b, RecordKind kind, ParticipantWatch& watch, QueueHot& hot) noexcept {
    if (!watch.due(b) || platform::is_alive(ring_.owner_token(b.owner))) return false;
    const bool repaired =
        kind == RecordKind::claimed ? ring_.repair_producer(b) : ring_.repair_consumer(b) || ring_.repair_hazard(b);
    if (repaired) wake_everyone(hot);
    return repaired;
  }
  // A participant that claims after we parked and dies never notifies: wake
  // every kDeadOwnerCheck to look.
  [[nodiscard]] platform::Deadline slice(platform::Deadline deadline) const noexcept {
    return slice_end(deadline, kDeadOwnerCheck);
  }
  // Repairs every record a dead consumer still holds (the caller attached).
  std::uint64_t recover(QueueHot& hot) noexcept {
    const std::uint64_t n = ring_.repair_dead_readers(platform::is_dead);
    if (n != 0) notify_all(*hot.not_full, hot.stats);
    return n;
  }

  // ---- observers ----
  [[nodiscard]] std::uint64_t message_count() const noexcept { return ring_.message_count(); }
  [[nodiscard]] bool empty() const noexcept { return ring_.message_count() == 0; }
  [[nodiscard]] bool full() const noexcept {
    return ring_.capacity() - ring_.used_bytes() < 2 * MpmcRing::record_bytes(1) + MpmcRing::kHeader;
  }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.capacity(); }
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return ring_.max_payload(); }
  [[nodiscard]] std::uint64_t message_size() const noexcept { return 0; }
  [[nodiscard]] std::uint64_t claims_repaired() const noexcept { return ring_.claims_abandoned(); }
  [[nodiscard]] std::uint64_t reads_lost() const noexcept { return ring_.reads_lost(); }

 private:
  static void wake_everyone(QueueHot& hot) noexcept {
    notify_all(*hot.not_empty, hot.stats);
    notify_all(*hot.not_full, hot.stats);
  }

  MpmcRing ring_;
  OnDemandMemory* memory_;
};

template <class RingAttach>
Errc SpscBytesEngine::attach_spsc(QueueLayout& q, Role r, std::uint64_t me, RingAttach&& ring_attach) noexcept {
  std::atomic<std::uint64_t>& slot = owner_slot(q, r);
  if (!take_role_slot(slot, me)) return Errc::role_taken;
  if (!ring_attach()) {
    drop_role_slot(slot);
    return Errc::corrupt;
  }
  return Errc{};
}

// The vocabulary every engine gives the Queue (queue.cpp's loops use
// nothing else). `hot`: the handle's QueueHot (parking words, stats, barrier plan).
template <class E>
concept QueueEngine = requires(E& e, const E& ce, QueueHot& hot, std::size_t n, std::span<const std::byte> bytes,
                               Role r, std::uint64_t token, const Blocker& b, ParticipantWatch& w,
                               platform::Deadline d) {
  { E::kEngine } -> std::convertible_to<Engine>;
  { E::kStored } -> std::convertible_to<std::uint32_t>;
  { E::kOnDemand } -> std::convertible_to<bool>;
  { ce.has_claim() } -> std::same_as<bool>;
  { ce.check_size(n) } -> std::same_as<PutStatus>;
  { e.try_put(bytes, hot) } -> std::same_as<PutStatus>;
  { e.claim(n, hot) } -> std::same_as<ClaimStep>;
  e.commit(n, hot);
  { e.producer_can_claim(n) } -> std::same_as<bool>;
  { e.front() } -> std::same_as<ReadStep>;
  e.pop(hot);
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

// The engine a handle holds; its index is the file's engine number.
using AnyEngine = std::variant<SpscBytesEngine, MpmcEngine, SpscSlotEngine>;
static_assert(QueueEngine<SpscBytesEngine> && QueueEngine<MpmcEngine> && QueueEngine<SpscSlotEngine>);
static_assert(std::is_same_v<std::variant_alternative_t<SpscBytesEngine::kStored, AnyEngine>, SpscBytesEngine> &&
              std::is_same_v<std::variant_alternative_t<MpmcEngine::kStored, AnyEngine>, MpmcEngine> &&
              std::is_same_v<std::variant_alternative_t<SpscSlotEngine::kStored, AnyEngine>, SpscSlotEngine>);

}  // namespace shmring::detail
