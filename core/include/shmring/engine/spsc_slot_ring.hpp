// SpscSlotRing: a single-producer single-consumer ring of fixed-size slots in
// shared memory, no record headers: every message is exactly one slot. The
// engine under Queue's fixed-size messages (QueueOptions::message_size) and
// under SpscTypedRing<T>.
//
// Why it exists: the byte ring (spsc_ring.hpp) frames each message with an
// 8-byte header, so a 64-byte message is a 72-byte record and consecutive
// records share cache lines: while the consumer reads record i, the producer
// writes the head of record i+1 into the same line, and that line crosses
// between the cores twice (the measurement is in docs/notes-from-comments.md).
// Slots of a fixed size need no header; 64-byte slots on a line-aligned
// array are one line each.
//
// Positions count slots (tail: slots published, head: slots consumed), so
// the message count is tail - head, and a process that takes over a side
// after the previous holder died needs nothing but the two published
// positions: there is no count or sequence number that a death between two
// stores could leave behind. A producer killed before publishing leaves an
// unpublished slot that the next producer overwrites; a consumer killed
// after reading a slot and before publishing head leaves that message to be
// delivered again.
//
// Each side caches the other's position in process-local memory and reads
// the shared one only when its cache says full or empty (rigtorp's
// SPSCQueue does this; Boost's spsc_queue reads it on every operation).
//
// kSlot: the slot size when known at compile time (SpscTypedRing<T>: the
// copies fold into moves), or 0: given at run time (Queue).
//
// The protocol, with both sides killed and replaced at any step, is checked
// by model/spsc_slot_ring.pml; damaged positions by tests/unit/queue_fixed_test.cpp
// and fuzz/fuzz_corrupt_ring.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "shmring/engine/copy.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/engine/catch_up.hpp"
#include "shmring/engine/ring_status.hpp"

namespace shmring {

template <std::size_t kSlot = 0>
class SpscSlotRing {
 public:
  // `tail` and `head` live on their own 128-byte blocks of some shared
  // layout; `slots` (a power of two) slots of `slot_size` bytes start at
  // `data`. `max_messages` limits the count (0: `slots`).
  SpscSlotRing(std::atomic<std::uint64_t>& tail, std::atomic<std::uint64_t>& head, std::byte* data, std::uint64_t slots,
               std::uint64_t slot_size = kSlot, std::uint64_t max_messages = 0) noexcept
      : tail_(&tail),
        head_(&head),
        data_(data),
        mask_(slots - 1),
        size_(slot_size),
        limit_(max_messages != 0 && max_messages < slots ? max_messages : slots) {}

  // Take a side (first use, or after the previous holder died). False: the
  // shared positions are inconsistent (a damaged or hostile file).
  [[nodiscard]] bool attach_producer() noexcept {
    // SYNC(role): acquire — the previous producer's publications are visible.
    p_ = ProducerLocal{};
    p_.tail = tail_->load(std::memory_order_acquire);
    p_.cached_head = head_->load(std::memory_order_acquire);
    return sane(p_.cached_head, p_.tail);
  }
  [[nodiscard]] bool attach_consumer() noexcept {
    // SYNC(role): acquire — as attach_producer(): the previous consumer's head.
    c_ = ConsumerLocal{};
    c_.head = head_->load(std::memory_order_acquire);
    c_.cached_tail = tail_->load(std::memory_order_acquire);
    return sane(c_.head, c_.cached_tail);
  }

  // ---- producer -----------------------------------------------------------

  // The next slot, to be published by commit(). full: no room; wrong_size: a
  // message of another size; corrupt: damaged positions.
  [[nodiscard]] RingClaim claim(std::uint64_t size) noexcept {
    if (size != slot_size()) return {RingStatus::wrong_size, {}};
    if (!room()) {
      if (!sane(p_.cached_head, p_.tail)) return {RingStatus::corrupt, {}};
      return {RingStatus::full, {}};
    }
    p_.claimed = true;
    return {RingStatus::ok, {slot(p_.tail), static_cast<std::size_t>(slot_size())}};
  }
  [[nodiscard]] bool has_claim() const noexcept { return p_.claimed; }
  // Publishes the claimed slot. A fixed-size message has no shorter length
  // to record: when only the first `written` bytes were written, the rest is
  // zeroed first (never the bytes of the message that held the slot a lap
  // before). Without an outstanding claim it does nothing.
  void commit(std::uint64_t written) noexcept {
    if (!p_.claimed) return;
    p_.claimed = false;
    if (written < slot_size()) std::memset(slot(p_.tail) + written, 0, static_cast<std::size_t>(slot_size() - written));
    publish();
  }

  // Copies a message of exactly slot_size() bytes in.
  [[nodiscard]] RingStatus try_push(const void* bytes, std::uint64_t size) noexcept {
    if (size != slot_size()) [[unlikely]]
      return RingStatus::wrong_size;
    if (!room()) [[unlikely]]
      return sane(p_.cached_head, p_.tail) ? RingStatus::full : RingStatus::corrupt;
    // `size` (== slot_size()) rather than the member: a caller's constant
    // size folds the copy into fixed moves (Queue::put_value inlined).
    copy(slot(p_.tail), static_cast<const std::byte*>(bytes), size);
    publish();
    return RingStatus::ok;
  }

  // Would a message fit now? Reloads the consumer's position: the waiting
  // producer's predicate (damage reads as "yes": claim() reports it). Every
  // message is one slot; `size` is taken to match the other rings.
  [[nodiscard]] bool producer_can_claim(std::uint64_t /*size*/ = kSlot) noexcept {
    // SYNC(space): acquire — as in room().
    const std::uint64_t head = head_->load(std::memory_order_acquire);
    if (!sane(head, p_.tail)) return true;
    p_.cached_head = head;  // only a sane head is cached (see room())
    return p_.tail - head < limit_;
  }
  [[nodiscard]] std::uint64_t producer_tail() const noexcept { return p_.tail; }

  // ---- consumer -----------------------------------------------------------

  // A view of the oldest message, valid until pop().
  [[nodiscard]] RingView front() noexcept {
    if (const RingStatus st = look(); st != RingStatus::ok) [[unlikely]]
      return {st, {}};
    c_.viewing = true;
    return {RingStatus::ok, {slot(c_.head), static_cast<std::size_t>(slot_size())}};
  }
  // Consumes the message front() returned; without one it does nothing.
  void pop() noexcept {
    if (!c_.viewing) return;
    consume();
  }
  // Copies the oldest message out (slot_size() bytes); false: empty or damaged.
  // kSize: the slot size as the caller knows it at compile time (it must be
  // slot_size()), so the copy is a fixed-size move into an object of that
  // size; 0: slot_size() at run time.
  template <std::size_t kSize = kSlot>
  [[nodiscard]] bool try_pop(void* out) noexcept {
    if (look() != RingStatus::ok) [[unlikely]]
      return false;
    copy<kSize>(static_cast<std::byte*>(out), slot(c_.head), slot_size());
    consume();
    return true;
  }

  // Is anything published past our head? The waiting consumer's predicate.
  [[nodiscard]] bool consumer_can_read() const noexcept {
    // SYNC(slot): acquire — as in look().
    return tail_->load(std::memory_order_acquire) != c_.head;
  }
  [[nodiscard]] std::uint64_t consumer_head() const noexcept { return c_.head; }
  // Will the next reload of the producer's position wait first (CatchUpPatience)?
  [[nodiscard]] bool consumer_waits_before_reload() const noexcept { return c_.patience.waits(); }

  // ---- observers (any process; exact when quiescent) -----------------------

  [[nodiscard]] std::uint64_t message_count() const noexcept {
    const std::uint64_t head = head_->load(std::memory_order_acquire);
    const std::uint64_t tail = tail_->load(std::memory_order_acquire);
    return tail >= head ? (tail - head <= slots() ? tail - head : slots()) : 0;
  }
  [[nodiscard]] bool full() const noexcept { return message_count() >= limit_; }
  // Shared positions (counted in slots) are consistent: head <= tail <= head + slots.
  [[nodiscard]] static constexpr bool positions_sane(std::uint64_t head, std::uint64_t tail,
                                                     std::uint64_t slots) noexcept {
    return head <= tail && tail - head <= slots;
  }
  [[nodiscard]] std::uint64_t slots() const noexcept { return mask_ + 1; }
  [[nodiscard]] std::uint64_t slot_size() const noexcept {
    if constexpr (kSlot != 0) {
      return kSlot;
    } else {
      return size_;
    }
  }

  // Positions of a sound ring: head <= tail <= head + slots.
  [[nodiscard]] bool sane(std::uint64_t head, std::uint64_t tail) const noexcept {
    return positions_sane(head, tail, slots());
  }

 private:
  [[nodiscard]] std::byte* slot(std::uint64_t pos) const noexcept { return data_ + (pos & mask_) * slot_size(); }
  // Copies one message of `n` (== slot_size()) bytes; kSize: n as a
  // compile-time constant, or 0.
  template <std::size_t kSize = kSlot>
  void copy(std::byte* dst, const std::byte* src, std::uint64_t n) const noexcept {
    if constexpr (kSize != 0) {
      std::memcpy(dst, src, kSize);
    } else {
      copy_message_inline(dst, src, static_cast<std::size_t>(n));
    }
  }

  // Room for one more message? Reads the shared head only when the cached
  // one says full. A damaged head may be cached here, and the fast test
  // still fails for it: we reload only when tail - cached_head >= limit_, so
  // tail >= limit_ then; a head above tail makes tail - head wrap to at least
  // 2^64 - (head - tail), which stays >= limit_ unless head > tail + 2^64 -
  // limit_, i.e. head wrapped past 2^64 (a tail that large takes centuries),
  // and a head below tail - slots leaves more than `limit_` queued. So a
  // damaged cached head is reloaded and rechecked on every call.
  [[nodiscard]] bool room() noexcept {
    if (p_.tail - p_.cached_head < limit_) [[likely]]
      return true;
    // SYNC(space): acquire — pairs with the consumer's release of head: its
    // read of the slot we are about to overwrite happened before.
    p_.cached_head = head_->load(std::memory_order_acquire);
    return sane(p_.cached_head, p_.tail) && p_.tail - p_.cached_head < limit_;
  }
  void publish() noexcept {
    ++p_.tail;
    // SYNC(slot): release — publishes the slot's bytes to the consumer's
    // acquire of tail.
    tail_->store(p_.tail, std::memory_order_release);
  }

  // Is a message published at our head (ok, empty, corrupt)? Reads the
  // shared tail only when the cached one says empty, and caches only a sane
  // one: the fast test (head != cached tail) does not check sanity, so a
  // damaged tail in the cache would hand out slots nobody wrote, call after
  // call (QueueFixed.PositionsDamagedAfterOpenMakeCallsReturnCorruptNotSpin).
  // Waits first once two reloads in a row found several messages each:
  // CatchUpPatience (catch_up.hpp).
  [[nodiscard]] RingStatus look() noexcept {
    if (c_.head != c_.cached_tail) [[likely]]
      return RingStatus::ok;
    c_.patience.before_reload();
    // SYNC(slot): acquire — pairs with the producer's release of tail.
    const std::uint64_t tail = tail_->load(std::memory_order_acquire);
    if (tail == c_.head) {
      c_.patience.after_reload(false);
      return RingStatus::empty;
    }
    if (!sane(c_.head, tail)) return RingStatus::corrupt;
    c_.patience.after_reload(CatchUpPatience::streaming_find(tail - c_.head > 1, (tail - c_.head) * slot_size()));
    c_.cached_tail = tail;
    return RingStatus::ok;
  }
  // Also ends a view: a message front() showed and try_pop() then took must
  // not be consumed again by a later pop(), which would drop the next message
  // (Queue::release() after an inline get:
  // QueueFixed.GetAfterReadTakesTheViewedMessageAndEndsTheView).
  void consume() noexcept {
    c_.viewing = false;
    ++c_.head;
    // SYNC(space): release — our read of the slot happens-before its reuse.
    head_->store(c_.head, std::memory_order_release);
  }

  // Local state of each side on its own block: a process holding both roles
  // must not false-share between its producer and consumer threads.
  struct alignas(platform::kFalseSharingRange) ProducerLocal {
    std::uint64_t tail = 0;
    std::uint64_t cached_head = 0;
    bool claimed = false;
  };
  struct alignas(platform::kFalseSharingRange) ConsumerLocal {
    std::uint64_t head = 0;
    std::uint64_t cached_tail = 0;
    bool viewing = false;
    CatchUpPatience patience;
  };

  std::atomic<std::uint64_t>* tail_;
  std::atomic<std::uint64_t>* head_;
  std::byte* data_;
  std::uint64_t mask_;
  std::uint64_t size_;
  std::uint64_t limit_;
  ProducerLocal p_;
  ConsumerLocal c_;
};

}  // namespace shmring
