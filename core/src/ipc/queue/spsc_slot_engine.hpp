// The SPSC engine for fixed-size messages (SpscSlotRing); see engines.hpp.
#pragma once

#include "engine_vocabulary.hpp"
#include "shmring/engine/spsc_slot_ring.hpp"

namespace shmring::detail {

// ---- SPSC, fixed-size messages -----------------------------------------------------
//
// The ring itself lives in the handle's QueueHot (its inline fast path in
// queue.hpp needs it at a fixed place); this engine drives the same ring on
// the out-of-line paths and keeps the inline ones on only while they are
// right: put_generation / get_generation say "this handle holds the role
// in this process".

class SpscSlotEngine : public HeldReads<SpscSlotEngine> {
 public:
  static constexpr Engine kEngine = Engine::spsc;
  static constexpr std::uint32_t kStored = 2;
  static constexpr bool kOnDemand = false;  // every slot is reserved at create
  static constexpr bool kRepairs = false;   // a dead role is taken over at attach

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
  [[gnu::always_inline]] [[nodiscard]] RingView front() noexcept { return hot_->sring.front(); }
  [[gnu::always_inline]] bool pop(QueueHot& hot) noexcept {
    hot.sring.pop();
    notify(*hot.not_full, hot.stats, hot.plan);
    return true;
  }
  void drained() noexcept {}
  [[nodiscard]] bool consumer_can_read() const noexcept { return ring().consumer_can_read(); }

  // ---- roles and waiting ----
  [[nodiscard]] Errc attach(Role r, std::uint64_t me, QueueHot& hot) noexcept {
    const Errc e = attach_spsc(*layout_, r, me, [&] {
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
    detach_spsc(*layout_, held, me);
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

}  // namespace shmring::detail
