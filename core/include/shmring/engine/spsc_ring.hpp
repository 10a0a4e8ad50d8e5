// SpscRing: process-local handle on a SpscRingLayout and its bytes. One
// producer and one consumer, each possibly in another process. Not
// thread-safe per side: one thread produces, one consumes.
//
// Each side keeps its own position and a cached copy of the other side's
// position in process-local memory, on its own 128-byte block, and reads the
// shared copy only when the cached one says "full" or "empty".
//
// Everything read from shared memory is untrusted: positions and record
// headers are range-checked, and a violation is reported as `corrupt`.
//
// The protocol (every order below, the wrap padding, the fast path's lap
// limit) is checked by model/spsc_ring.pml; damage by tests/unit/spsc_ring_test.cpp
// and fuzz/fuzz_corrupt_ring.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "shmring/engine/catch_up.hpp"
#include "shmring/engine/copy.hpp"
#include "shmring/engine/live_positions.hpp"
#include "shmring/engine/ring_status.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/engine/spsc_ring_layout.hpp"

namespace shmring {

class SpscRing {
 public:
  // `capacity` is a power of two and a multiple of kRecordAlign; `max_payload`
  // keeps record_size(max_payload) <= capacity / 2 so a largest record always
  // fits once the ring is empty; `max_messages` 0 means no count limit.
  SpscRing(SpscRingLayout& layout, std::byte* data, std::uint64_t capacity, std::uint64_t max_payload,
           std::uint64_t max_messages) noexcept
      : layout_(&layout),
        data_(data),
        capacity_(capacity),
        mask_(capacity - 1),
        max_payload_(max_payload),
        max_messages_(max_messages) {}

  // Largest payload a ring of `capacity` bytes accepts.
  [[nodiscard]] static constexpr std::uint64_t max_payload_for(std::uint64_t capacity) noexcept {
    const std::uint64_t m = capacity / 2 - sizeof(RecordHeader);
    return m < kMaxRecordPayload ? m : kMaxRecordPayload;
  }

  // Initialises a fresh layout (all positions 0).
  static void initialize(SpscRingLayout& layout) noexcept {
    // relaxed: the segment's publish (release) orders these before any opener.
    layout.producer.tail.store(0, std::memory_order_relaxed);
    layout.producer.put_count.store(0, std::memory_order_relaxed);
    layout.consumer.head.store(0, std::memory_order_relaxed);
    layout.consumer.get_count.store(0, std::memory_order_relaxed);
  }

  // Takes the producer side: loads the shared position and re-derives
  // put_count from the last published record (the previous producer may have
  // died between its tail and put_count stores). Only this side writes
  // records, so [head, tail) is stable while we walk it. False: corrupt.
  [[nodiscard]] bool attach_producer() noexcept {
    // SYNC(role): acquire — the previous producer's publications are visible.
    const std::uint64_t tail = layout_->producer.tail.load(std::memory_order_acquire);
    const std::uint64_t put = layout_->producer.put_count.load(std::memory_order_acquire);
    // head before get_count: the consumer stores them in the other order
    // (pop()), so `got` counts at least every record below `head`.
    const std::uint64_t head = layout_->consumer.head.load(std::memory_order_acquire);
    const std::uint64_t got = layout_->consumer.get_count.load(std::memory_order_acquire);
    if (!positions_sane(head, tail)) return false;
    // An empty ring: every message was taken, and `got` says how many.
    std::uint64_t next = got;
    std::uint64_t pos = head;
    while (pos != tail) {
      const std::uint64_t offset = pos & mask_;
      const RecordHeader h = read_header(offset);
      const bool padding = (h.length & kPaddingFlag) != 0;
      const std::uint64_t rec = padding ? sizeof(RecordHeader) + (h.length & ~kPaddingFlag) : record_size(h.length);
      if (rec > tail - pos || rec > capacity_ - offset || rec % kRecordAlign != 0) return false;
      if (!padding) next = widen(h.seq, put) + 1;  // the last message record wins
      pos += rec;
    }
    p_ = ProducerLocal{};
    p_.tail = tail;
    p_.put_count = next;
    p_.cached_head = head;
    p_.cached_get_count = got;
    refresh_limits();
    if (next != put) layout_->producer.put_count.store(next, std::memory_order_release);  // SYNC(count)
    return true;
  }

  // Takes the consumer side: loads the shared head and re-derives get_count
  // from the record at head (the previous consumer may have died between its
  // get_count and head stores, with the message it was taking still at head:
  // that message is delivered again). False: corrupt.
  [[nodiscard]] bool attach_consumer() noexcept {
    // SYNC(role): acquire — the previous consumer stored get_count before head.
    const std::uint64_t head = layout_->consumer.head.load(std::memory_order_acquire);
    const std::uint64_t got = layout_->consumer.get_count.load(std::memory_order_acquire);
    const std::uint64_t tail = layout_->producer.tail.load(std::memory_order_acquire);
    if (!positions_sane(head, tail)) return false;
    c_ = ConsumerLocal{};
    c_.head = head;
    c_.cached_tail = tail;
    std::uint64_t next = got;  // an empty ring: `got` counts every record below head
    if (head != tail) {
      RecordHeader h = read_header(head & mask_);
      if ((h.length & kPaddingFlag) != 0 && tail - head > capacity_ - (head & mask_)) {
        h = read_header(0);  // a padding record: the first message is at offset 0
      }
      next = widen(h.seq, got);
    }
    c_.get_count = next;
    if (next != got) layout_->consumer.get_count.store(next, std::memory_order_release);  // SYNC(count)
    return true;
  }

  // Takes the producer side from a previous producer that gave it back in
  // order (its tail and put_count stores done): loads them as they are,
  // without attach_producer()'s walk. For a producer that holds the side
  // for one put at a time (the lane engine's guests). False: the positions
  // are damaged (nothing may be written: claim() would not always look).
  [[nodiscard]] bool resume_producer() noexcept {
    p_ = ProducerLocal{};
    // SYNC(role): acquire — the previous producer's stores before it gave
    // the side back (the caller's acquire of the owner word) are visible.
    p_.tail = layout_->producer.tail.load(std::memory_order_acquire);
    p_.put_count = layout_->producer.put_count.load(std::memory_order_acquire);
    p_.cached_head = layout_->consumer.head.load(std::memory_order_acquire);
    p_.cached_get_count = layout_->consumer.get_count.load(std::memory_order_acquire);
    if (!positions_sane(p_.cached_head, p_.tail)) return false;
    refresh_limits();
    return true;
  }

  // ---- producer -----------------------------------------------------------

  // Reserves contiguous room for a record of `size` payload bytes. Nothing is
  // visible to the consumer until commit().
  [[nodiscard]] RingClaim claim(std::uint64_t size) noexcept {
    if (size > max_payload_) return {RingStatus::too_large, {}};
    if (max_messages_ != 0 && p_.put_count - p_.cached_get_count >= max_messages_) {
      // SYNC(count): acquire — pairs with the consumer's release of get_count.
      p_.cached_get_count = layout_->consumer.get_count.load(std::memory_order_acquire);
      if (p_.cached_get_count > p_.put_count) return {RingStatus::corrupt, {}};
      if (p_.put_count - p_.cached_get_count >= max_messages_) return {RingStatus::full, {}};
    }
    const std::uint64_t rec = record_size(size);
    const std::uint64_t offset = p_.tail & mask_;
    const std::uint64_t contiguous = capacity_ - offset;
    const std::uint64_t need = rec <= contiguous ? rec : contiguous + rec;
    if (p_.tail + need - p_.cached_head > capacity_) {
      // SYNC(space): acquire — pairs with the consumer's release of head: its
      // reads of the bytes we are about to overwrite happened before.
      p_.cached_head = layout_->consumer.head.load(std::memory_order_acquire);
      if (!positions_sane(p_.cached_head, p_.tail)) return {RingStatus::corrupt, {}};
      if (p_.tail + need - p_.cached_head > capacity_) return {RingStatus::full, {}};
    }
    refresh_limits();
    std::uint64_t start = p_.tail;
    if (rec > contiguous) {
      // Fill the rest of the ring with one padding record; commit() publishes
      // it together with the record.
      write_header(offset, kPaddingFlag | static_cast<std::uint32_t>(contiguous - sizeof(RecordHeader)));
      start += contiguous;
    }
    p_.claim_start = start;
    p_.claim_size = size;
    p_.claimed = true;
    return {RingStatus::ok, {data_ + (start & mask_) + sizeof(RecordHeader), static_cast<std::size_t>(size)}};
  }

  // Is a claim() waiting for its commit()?
  [[nodiscard]] bool has_claim() const noexcept { return p_.claimed; }
  // This side's own position (no shared read).
  [[nodiscard]] std::uint64_t producer_tail() const noexcept { return p_.tail; }
  [[nodiscard]] std::uint64_t consumer_head() const noexcept { return c_.head; }
  // Will the next reload of the producer's position wait first (CatchUpPatience)?
  [[nodiscard]] bool consumer_waits_before_reload() const noexcept { return c_.patience.waits(); }

  // Publishes the claimed record with `size` <= the claimed size. Without an
  // outstanding claim it does nothing.
  void commit(std::uint64_t size) noexcept {
    if (!p_.claimed) return;
    p_.claimed = false;
    if (size > p_.claim_size) size = p_.claim_size;
    write_header(p_.claim_start & mask_, static_cast<std::uint32_t>(size));
    publish(p_.claim_start + record_size(size));
  }

  // Copies a message in. The fast path (room known from the cached head, no
  // wrap) is a few compares, the header, the copy and the publication;
  // anything else goes through claim().
  // Always inlined: with several callers (the SPSC engine, lane owners) the
  // compiler would otherwise call it, and the put path is this function.
  [[gnu::always_inline]] [[nodiscard]] RingStatus try_push(std::span<const std::byte> bytes) noexcept {
    const std::uint64_t size = bytes.size();
    const std::uint64_t rec = record_size(size);
    if (size <= max_payload_ && fits_without_looking(rec)) [[likely]] {
      write_header(p_.tail & mask_, static_cast<std::uint32_t>(size));
      copy_message(data_ + (p_.tail & mask_) + sizeof(RecordHeader), bytes.data(), bytes.size());
      publish(p_.tail + rec);
      return RingStatus::ok;
    }
    const RingClaim c = claim(size);
    if (c.status != RingStatus::ok) return c.status;
    copy_message(c.bytes.data(), bytes.data(), bytes.size());
    commit(size);
    return RingStatus::ok;
  }

  // Copies in as many of `messages` as fit now, in order, and publishes
  // them together (one tail and one count store for the run). Stops at the
  // first that does not fit or is too large; returns how many went in.
  [[nodiscard]] std::size_t try_push_many(std::span<const std::span<const std::byte>> messages) noexcept {
    if (p_.claimed) return 0;
    std::size_t n = 0;
    for (const std::span<const std::byte> m : messages) {
      const std::uint64_t size = m.size();
      if (size > max_payload_) break;
      std::uint64_t start = p_.tail;
      if (!fits_without_looking(record_size(size))) {
        // claim(): the room check that reloads head, and any wrap padding.
        if (claim(size).status != RingStatus::ok) break;
        p_.claimed = false;
        start = p_.claim_start;
      }
      write_header(start & mask_, static_cast<std::uint32_t>(size));
      copy_message(data_ + (start & mask_) + sizeof(RecordHeader), m.data(), m.size());
      p_.tail = start + record_size(size);
      ++p_.put_count;
      ++n;
    }
    if (n != 0) publish_position();
    return n;
  }

  // Typed values: the same path with a size known at compile time, so the
  // copy and the record size fold into constants.
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] RingStatus try_push(const T& value) noexcept {
    // A dynamic-extent span: a fixed one would pick this template again.
    return try_push(std::span<const std::byte>(reinterpret_cast<const std::byte*>(&value), sizeof(T)));
  }

  // Would a record of `size` payload bytes fit now? Reloads the consumer's
  // shared position and count: the waiting producer's predicate.
  [[nodiscard]] bool producer_can_claim(std::uint64_t size) noexcept {
    // SYNC(space), SYNC(count): acquire — as in claim().
    p_.cached_head = layout_->consumer.head.load(std::memory_order_acquire);
    p_.cached_get_count = layout_->consumer.get_count.load(std::memory_order_acquire);
    // A count ahead of ours is damage only where claim() looks at counts
    // (a message limit). Elsewhere it must not decide anything: "yes" here
    // while claim() says full would make a waiting producer (a Pipe, or a
    // Queue without maxsize, whose get_count was damaged) spin without ever
    // sleeping.
    if (!positions_sane(p_.cached_head, p_.tail) || (max_messages_ != 0 && p_.cached_get_count > p_.put_count)) {
      return true;  // let claim() report the corruption
    }
    refresh_limits();
    if (max_messages_ != 0 && p_.put_count - p_.cached_get_count >= max_messages_) return false;
    const std::uint64_t rec = record_size(size);
    const std::uint64_t contiguous = capacity_ - (p_.tail & mask_);
    const std::uint64_t need = rec <= contiguous ? rec : contiguous + rec;
    return p_.tail + need - p_.cached_head <= capacity_;
  }

  // ---- consumer -----------------------------------------------------------

  // A view of the oldest record, valid until pop(). Skips padding records.
  [[nodiscard]] RingView front() noexcept {
    bool reloaded = false;  // for the patience: how much did this reload find?
    for (;;) {
      if (c_.head == c_.cached_tail) {
        c_.patience.before_reload();
        // SYNC(record): acquire — pairs with the producer's release of tail;
        // every record before the new tail is complete.
        c_.cached_tail = layout_->producer.tail.load(std::memory_order_acquire);
        if (c_.cached_tail == c_.head) {
          c_.patience.after_reload(false);
          return {RingStatus::empty, {}};
        }
        if (!positions_sane(c_.head, c_.cached_tail)) return {RingStatus::corrupt, {}};
        reloaded = true;
      }
      const std::uint64_t offset = c_.head & mask_;
      const std::uint64_t available = c_.cached_tail - c_.head;
      const std::uint64_t contiguous = capacity_ - offset;
      const RecordHeader h = read_header(offset);  // one copy: the producer may be hostile
      if ((h.length & kPaddingFlag) != 0) {
        if ((h.length & ~kPaddingFlag) != contiguous - sizeof(RecordHeader) || contiguous > available) {
          return {RingStatus::corrupt, {}};
        }
        c_.head += contiguous;  // published with the next pop()
        continue;
      }
      const std::uint64_t rec = record_size(h.length);
      if (h.length > max_payload_ || rec > available || rec > contiguous ||
          h.seq != static_cast<std::uint32_t>(c_.get_count)) {
        return {RingStatus::corrupt, {}};
      }
      if (reloaded) c_.patience.after_reload(CatchUpPatience::streaming_find(available > rec, available));
      c_.front_size = rec;
      return {RingStatus::ok, {data_ + offset + sizeof(RecordHeader), h.length}};
    }
  }

  // Releases the record returned by the last successful front(). Without
  // one outstanding it does nothing.
  void pop() noexcept {
    if (c_.front_size == 0) return;  // every record is at least 8 bytes
    pop_unpublished();
    publish_pops();
  }

  // pop() without its two shared stores, after a successful front(): a run
  // of pops published once by publish_pops() (until then the producer sees
  // none of that room).
  void pop_unpublished() noexcept {
    c_.head += c_.front_size;
    c_.front_size = 0;
    ++c_.get_count;
    if (c_.ahead_count != 0) --c_.ahead_count;  // the head's record was the oldest ahead() showed
  }

  // ---- read-ahead: records past the head, shown without taking them ----
  // The record after the last one ahead() showed since they were taken (the
  // first: the head's), valid until pop_ahead() (or pop()) takes it. Nothing
  // is published: the producer still sees the head, so a consumer that dies
  // holding records shown this way leaves every one of them queued, under
  // the same sequence numbers (attach_consumer()). Skips padding records.
  [[nodiscard]] RingView ahead() noexcept {
    std::uint64_t pos = c_.ahead_count == 0 ? c_.head : c_.ahead_end;
    for (;;) {
      if (pos == c_.cached_tail) {
        // SYNC(record): acquire — as in front(): every record before the new
        // tail is complete.
        c_.cached_tail = layout_->producer.tail.load(std::memory_order_acquire);
        if (c_.cached_tail == pos) return {RingStatus::empty, {}};
        if (!positions_sane(c_.head, c_.cached_tail) || pos - c_.head > c_.cached_tail - c_.head) {
          return {RingStatus::corrupt, {}};
        }
      }
      const std::uint64_t offset = pos & mask_;
      const std::uint64_t available = c_.cached_tail - pos;
      const std::uint64_t contiguous = capacity_ - offset;
      const RecordHeader h = read_header(offset);  // one copy: the producer may be hostile
      if ((h.length & kPaddingFlag) != 0) {
        if ((h.length & ~kPaddingFlag) != contiguous - sizeof(RecordHeader) || contiguous > available) {
          return {RingStatus::corrupt, {}};
        }
        pos += contiguous;
        continue;
      }
      const std::uint64_t rec = record_size(h.length);
      if (h.length > max_payload_ || rec > available || rec > contiguous ||
          h.seq != static_cast<std::uint32_t>(c_.get_count + c_.ahead_count)) {
        return {RingStatus::corrupt, {}};
      }
      c_.ahead_end = pos + rec;
      ++c_.ahead_count;
      return {RingStatus::ok, {data_ + offset + sizeof(RecordHeader), h.length}};
    }
  }
  // Records ahead() showed and nobody took yet; the sequence number of the
  // last one shown is get_count() + ahead_count() - 1.
  [[nodiscard]] std::uint64_t ahead_count() const noexcept { return c_.ahead_count; }
  [[nodiscard]] std::uint64_t get_count() const noexcept { return c_.get_count; }
  // Takes the `n` oldest records ahead() showed (at most as many as it
  // showed), published with one store each of get_count and head.
  // The headers are read again to find where the n-th record ends, and a
  // hostile producer may have rewritten them since ahead() checked them:
  // every step must stay within what ahead() showed (ahead_end), else the
  // pops stop there (the next read finds the damage and says corrupt). All
  // of them taken: the end is ahead_end itself, nothing read.
  void pop_ahead(std::uint64_t n) noexcept {
    if (n > c_.ahead_count) n = c_.ahead_count;
    if (n == 0) return;
    std::uint64_t popped = 0;
    if (n == c_.ahead_count) {
      c_.head = c_.ahead_end;
      popped = n;
    } else {
      for (; popped < n; ++popped) {
        std::uint64_t pos = c_.head;
        RecordHeader h = read_header(pos & mask_);
        if ((h.length & kPaddingFlag) != 0) {
          const std::uint64_t contiguous = capacity_ - (pos & mask_);
          if ((h.length & ~kPaddingFlag) != contiguous - sizeof(RecordHeader)) break;
          pos += contiguous;
          h = read_header(pos & mask_);
          if ((h.length & kPaddingFlag) != 0) break;
        }
        if (h.length > max_payload_ || record_size(h.length) > c_.ahead_end - pos) break;
        c_.head = pos + record_size(h.length);
      }
    }
    c_.get_count += popped;
    c_.ahead_count -= popped;
    c_.front_size = 0;
    publish_pops();
  }
  void publish_pops() noexcept {
    // get_count before head: a consumer killed between the two leaves the
    // record at head with get_count already past it, which attach_consumer()
    // repairs from the record's sequence number. The other order could leave
    // an empty ring with a stale get_count that no record can correct.
    // SYNC(count): release — pairs with the producer's acquire of get_count.
    layout_->consumer.get_count.store(c_.get_count, std::memory_order_release);
    // SYNC(space): release — our reads of the records happen-before the
    // producer's acquire of head and its reuse of these bytes.
    layout_->consumer.head.store(c_.head, std::memory_order_release);
  }

  // Typed fast path: when the next record is a T already known to be
  // published, a header check, the copy and the publication; else front().
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] RingStatus try_pop(T& out) noexcept {
    constexpr std::uint64_t rec = record_size(sizeof(T));
    const std::uint64_t offset = c_.head & mask_;
    if (c_.head + rec <= c_.cached_tail && offset + rec <= capacity_) [[likely]] {
      const RecordHeader h = read_header(offset);
      if (h.length == sizeof(T) && h.seq == static_cast<std::uint32_t>(c_.get_count)) [[likely]] {
        std::memcpy(&out, data_ + offset + sizeof(RecordHeader), sizeof(T));
        c_.front_size = rec;
        pop();
        return RingStatus::ok;
      }
    }
    const RingView v = front();
    if (v.status != RingStatus::ok) return v.status;
    if (v.bytes.size() != sizeof(T)) return RingStatus::wrong_size;
    std::memcpy(&out, v.bytes.data(), sizeof(T));
    pop();
    return RingStatus::ok;
  }

  // Is anything published past our head? The waiting consumer's predicate.
  // It does not update the cached tail: front() reloads and checks it.
  [[nodiscard]] bool consumer_can_read() const noexcept {
    // SYNC(record): acquire — as in front().
    return layout_->producer.tail.load(std::memory_order_acquire) != c_.head;
  }

  // ---- observers (any process; approximate under concurrency) --------------

  [[nodiscard]] std::uint64_t message_count() const noexcept {
    // acquire: get_count first, so the put_count read after it is not older.
    const std::uint64_t got = layout_->consumer.get_count.load(std::memory_order_acquire);
    const std::uint64_t put = layout_->producer.put_count.load(std::memory_order_acquire);
    return put >= got ? put - got : 0;
  }
  [[nodiscard]] std::uint64_t used_bytes() const noexcept {
    // acquire: as message_count(); a snapshot.
    const std::uint64_t head = layout_->consumer.head.load(std::memory_order_acquire);
    const std::uint64_t tail = layout_->producer.tail.load(std::memory_order_acquire);
    if (tail <= head) return 0;
    return tail - head > capacity_ ? capacity_ : tail - head;
  }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return max_payload_; }

  // Shared positions are consistent: head <= tail <= head + capacity, aligned.
  [[nodiscard]] bool positions_sane(std::uint64_t head, std::uint64_t tail) const noexcept {
    return positions_sane(head, tail, capacity_);
  }
  [[nodiscard]] static bool positions_sane(std::uint64_t head, std::uint64_t tail, std::uint64_t capacity) noexcept {
    return head <= tail && tail - head <= capacity && head % kRecordAlign == 0 && tail % kRecordAlign == 0;
  }
  // A mapped layout another process controls, checked before any handle
  // uses it: sane positions, and no more messages taken than put (+1: a
  // producer that died between its tail and put_count stores left put_count
  // one short, and its consumer may have taken that message).
  // The peers may be moving the ring meanwhile: live_positions.hpp says why
  // head is read twice. The counts likewise: get_count before put_count,
  // both only grow, so a sound ring in motion passes.
  [[nodiscard]] static bool layout_sane(const SpscRingLayout& l, std::uint64_t capacity) noexcept {
    const LivePositions p = LivePositions::read(l.consumer.head, l.producer.tail);
    const std::uint64_t got = l.consumer.get_count.load(std::memory_order_acquire);
    const std::uint64_t put = l.producer.put_count.load(std::memory_order_acquire);
    return p.within(capacity) && p.aligned(kRecordAlign) && got <= put + 1;
  }

 private:
  // The producer may write up to p_.limit (the cached head plus capacity, and
  // the end of the current lap) and up to p_.count_limit messages without
  // reading shared memory. Both only grow with the consumer, so stale values
  // are merely conservative: the slow path (claim) refreshes them.
  [[nodiscard]] bool fits_without_looking(std::uint64_t rec) const noexcept {
    return p_.tail + rec <= p_.limit && p_.put_count < p_.count_limit;
  }
  void refresh_limits() noexcept {
    const std::uint64_t lap_end = (p_.tail & ~mask_) + capacity_;
    const std::uint64_t room_end = p_.cached_head + capacity_;
    p_.limit = lap_end < room_end ? lap_end : room_end;
    p_.count_limit = max_messages_ == 0 ? ~std::uint64_t{0} : p_.cached_get_count + max_messages_;
  }
  // Makes every record before `new_tail` visible to the consumer.
  void publish(std::uint64_t new_tail) noexcept {
    p_.tail = new_tail;
    ++p_.put_count;
    publish_position();
  }
  void publish_position() noexcept {
    // SYNC(record): release — publishes the record bytes (and any padding
    // before them) to the consumer's acquire load of tail.
    layout_->producer.tail.store(p_.tail, std::memory_order_release);
    // SYNC(count): release — observers (qsize) that see the count see the record.
    layout_->producer.put_count.store(p_.put_count, std::memory_order_release);
  }

  // The 64-bit number nearest `ref` whose low 32 bits are `low`.
  [[nodiscard]] static std::uint64_t widen(std::uint32_t low, std::uint64_t ref) noexcept {
    const auto delta = static_cast<std::int32_t>(low - static_cast<std::uint32_t>(ref));
    return ref + static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));
  }
  [[nodiscard]] RecordHeader read_header(std::uint64_t offset) const noexcept {
    RecordHeader h;
    std::memcpy(&h, data_ + offset, sizeof(h));
    return h;
  }
  // The header's seq is the message number being written (padding: the next one).
  void write_header(std::uint64_t offset, std::uint32_t length) noexcept {
    const RecordHeader h{length, static_cast<std::uint32_t>(p_.put_count)};
    std::memcpy(data_ + offset, &h, sizeof(h));
  }

  // Local state of each side on its own block: a process holding both roles
  // must not false-share between its producer and consumer threads.
  struct alignas(platform::kFalseSharingRange) ProducerLocal {
    std::uint64_t tail = 0;
    std::uint64_t put_count = 0;
    std::uint64_t cached_head = 0;       // last head read from shared memory
    std::uint64_t cached_get_count = 0;  // last get_count read from shared memory
    std::uint64_t claim_start = 0;
    std::uint64_t claim_size = 0;
    std::uint64_t limit = 0;  // see fits_without_looking()
    std::uint64_t count_limit = 0;
    bool claimed = false;  // a claim() awaits its commit()
  };
  struct alignas(platform::kFalseSharingRange) ConsumerLocal {
    std::uint64_t head = 0;
    std::uint64_t get_count = 0;
    std::uint64_t cached_tail = 0;  // last tail read from shared memory
    std::uint64_t front_size = 0;   // record size of the view handed out by front()
    std::uint64_t ahead_count = 0;  // records ahead() showed, not yet taken (from head on)
    std::uint64_t ahead_end = 0;    // position after the last record ahead() showed
    CatchUpPatience patience;
  };

  SpscRingLayout* layout_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t max_payload_;
  std::uint64_t max_messages_;
  ProducerLocal p_;
  ConsumerLocal c_;
};

}  // namespace shmring
