// The SPSC engine for messages of any size (SpscRing); see engines.hpp.
#pragma once

#include "engine_vocabulary.hpp"
#include "shmring/engine/spsc_ring.hpp"

namespace shmring::detail {

// ---- SPSC, messages of any size --------------------------------------------------

class SpscBytesEngine : public HeldReads<SpscBytesEngine> {
 public:
  static constexpr Engine kEngine = Engine::spsc;
  static constexpr std::uint32_t kStored = 0;
  static constexpr bool kOnDemand = true;  // large rings reserve memory as they fill
  static constexpr bool kRepairs = false;  // a dead role is taken over at attach

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
    if (r == RingStatus::ok) [[likely]]
      notify(*hot.not_empty, hot.stats, hot.plan);
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

  // One publication (and one wake-up) for the run; on-demand memory checks
  // its backing message by message instead.
  [[nodiscard]] std::size_t put_batch(std::span<const std::span<const std::byte>> messages, QueueHot& hot) noexcept {
    if (memory_ != nullptr) return HeldReads::put_batch(messages, hot);
    const std::size_t n = ring_.try_push_many(messages);
    if (n != 0) notify(*hot.not_empty, hot.stats, hot.plan);
    return n;
  }

  // ---- consumer ----
  [[gnu::always_inline]] [[nodiscard]] RingView front() noexcept { return ring_.front(); }
  [[gnu::always_inline]] bool pop(QueueHot& hot) noexcept {
    ring_.pop();
    notify(*hot.not_full, hot.stats, hot.plan);
    if (memory_ != nullptr) memory_->after_get(false, [this] { return ring_.consumer_head(); });
    return true;
  }
  // The run's room handed back with one publication and one wake-up.
  [[nodiscard]] std::size_t take_batch(MessageBatch& out, std::size_t max, QueueHot& hot) {
    std::size_t n = 0;
    for (; n < max; ++n) {
      const RingView v = ring_.front();
      if (v.status != RingStatus::ok) break;
      copy_message(BatchAccess::append(out, v.bytes.size()), v.bytes.data(), v.bytes.size());
      ring_.pop_unpublished();
    }
    if (n == 0) return 0;
    ring_.publish_pops();
    notify(*hot.not_full, hot.stats, hot.plan);
    if (memory_ != nullptr) memory_->after_get(false, [this] { return ring_.consumer_head(); });
    return n;
  }
  // Read-ahead (Queue::read_ahead): messages past the head, not taken.
  [[nodiscard]] RingView ahead() noexcept { return ring_.ahead(); }
  [[nodiscard]] std::uint64_t last_ahead_seq() const noexcept { return ring_.get_count() + ring_.ahead_count() - 1; }
  void pop_ahead(std::uint64_t n, QueueHot& hot) noexcept {
    ring_.pop_ahead(n);
    notify(*hot.not_full, hot.stats, hot.plan);
    if (memory_ != nullptr) memory_->after_get(false, [this] { return ring_.consumer_head(); });
  }
  void drained() noexcept {
    if (memory_ != nullptr) memory_->after_get(true, [this] { return ring_.consumer_head(); });
  }
  [[nodiscard]] bool consumer_can_read() const noexcept { return ring_.consumer_can_read(); }

  // ---- roles and waiting ----
  [[nodiscard]] Errc attach(Role r, std::uint64_t me, QueueHot&) noexcept {
    return attach_spsc(*layout_, r, me,
                       [&] { return r == Role::producer ? ring_.attach_producer() : ring_.attach_consumer(); });
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

}  // namespace shmring::detail
