// The MPMC engine (MpmcRing): any number of producers and consumers; see engines.hpp.
#pragma once

#include "engine_vocabulary.hpp"
#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/engine/spsc_ring.hpp"  // initialize(): the layout's SPSC ring kept at rest

namespace shmring::detail {

// ---- MPMC -----------------------------------------------------------------------

class MpmcEngine : public HeldReads<MpmcEngine> {
 public:
  static constexpr Engine kEngine = Engine::mpmc;
  static constexpr std::uint32_t kStored = 1;
  static constexpr bool kOnDemand = true;
  static constexpr bool kRepairs = true;  // recover() repairs dead participants' records

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
  [[gnu::always_inline]] [[nodiscard]] MpmcView front() noexcept { return ring_.front(); }
  [[gnu::always_inline]] bool pop(QueueHot& hot) noexcept {
    ring_.pop();
    notify_one(*hot.not_full, hot.stats, hot.plan);
    if (memory_ != nullptr) memory_->after_get(false, [this] { return ring_.release_consumed(); });
    return true;
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

}  // namespace shmring::detail
