// LaneRing: process-local handle on a LaneTableLayout and its lanes — the
// many-producer many-consumer engine without a contended read-modify-write
// per put.
//
// Producers. A producer takes a lane for as long as it stays attached (the
// lane's owner word, a compare-and-swap at attach) and then writes it as the
// one producer of an SPSC byte ring: the same records, positions and
// publication as SpscRing, which it uses unchanged (no read-modify-write per
// put). The last lane is never taken for good: a producer that finds every
// other lane held by a live owner is a guest, and takes the last lane's owner
// word for one put (claim .. commit) at a time. Every producer writes one lane
// for its whole attachment, so messages keep the order of each producer
// (Python's Queue promises no order across producers).
//
// Consumers hold nothing. To take the oldest record of a lane, a consumer
// reads the lane's head h and tail, reads the record at h (copying it out, or
// handing the caller a view to copy from) and then moves head from h past the
// record with one compare-and-swap. The CAS decides who got the message:
//
//   Why a copy made before a successful CAS is the message. Positions only
//   grow (64 bits of bytes are never exhausted), so a CAS that finds head ==
//   h proves head was h during the whole copy: h at our load, h at the CAS,
//   and never smaller in between. The producer writes the bytes at h's
//   offset again only for a position >= h + capacity, that is after its
//   acquire load of head returned a value > h, which can only be our CAS's
//   value or a later one: our copy (before the CAS, whose success is a
//   release) happened before that overwrite. The record's own bytes were
//   written before the producer's release of tail, which we loaded with
//   acquire before reading them.
//
//   A failed CAS means another consumer took the record (head moved); our
//   copy may have raced with the producer's reuse of the bytes and is thrown
//   away. So a copy is read with the bounds checks of untrusted data (a torn
//   length must not send it outside the lane), and a check that fails is
//   reported as corrupt only if head is still h afterwards (then the bytes
//   were stable and really are damaged); otherwise it was a race: retry.
//
// Crashes. A producer killed mid-record leaves it beyond its published tail,
// invisible; its lane's owner word names a dead process, which the next
// producer that finds no free lane proves (IsDead) and takes over, resuming
// at the published tail. A guest killed holding the last lane is the same:
// the guest waiting behind it proves it dead and takes the lane over. A
// consumer killed before its CAS changed nothing; killed after it, the
// message left the queue with it, as a
// message handed to a process that then dies. Nobody waits for a dead
// consumer: it holds nothing others need. A consumer writes nothing shared
// but head and its own reader slot, where it says, before its CAS, what it
// is taking (take()): whoever frees a dead consumer's slot counts what went
// with it (reads_lost).
//
// The sole-consumer lease. While one consumer is attached it has nobody to
// race: a CAS per take buys nothing, and it is most of what a take costs
// beyond the SPSC engine's. So a consumer that attaches alone takes the
// lease (table `lease` = its reader slot + 1) and then moves heads with a
// plain release store, as the SPSC consumer does. Another consumer takes
// nothing before the lease is revoked and the holder provably stopped
// storing plainly:
//
//   holder's take                        revoker (at attach)
//   state = TRYING|SOLE (release)        lease |= REVOKED       (seq_cst)
//   light barrier (compiler only)        heavy barrier (membarrier)
//   if lease == mine:                    take nothing while the holder's
//     head = next (release)                state has TRYING|SOLE (acquire),
//     state = idle (release)               unless its owner is gone or dead
//   else: CAS, as every consumer         lease = 0 (release)
//
// Why no plain store can land after the revoker's first CAS. The heavy
// barrier runs a full barrier on the holder's CPU at some point P (as in
// blocking.hpp's asymmetric handshake). A holder's lease load after P sees
// REVOKED (the revoker stored it before the call): that take and every
// later one use the CAS. A load before P follows its SOLE store in program
// order, so the store is visible when the call returns: the revoker waits
// until a state without SOLE replaces it, and that state was stored with
// release after the head store, so the revoker's acquire of it orders the
// plain store before the revoker's own CAS on that head. A holder that is
// dead stores nothing more. One descheduled or stopped inside a take leaves
// the revocation pending: the revoker's attach returns, and its gets find
// nothing (a get with a timeout waits in park slices) until the holder is
// out of its take; a window of a few instructions per take.
//
// Acquiring: the CAS of lease 0 -> mine (seq_cst) and then a scan of every
// other reader slot (seq_cst loads) for a live owner, against an attaching
// consumer's slot RMW (seq_cst) and then its load of lease: one of the two
// sees the other (Dekker), so either the acquirer finds the newcomer and
// gives the lease back, or the newcomer finds the lease and revokes it. The
// lease is only taken in a process registered for heavy barriers (its light
// barrier is then covered); any consumer revokes. A holder killed anywhere
// leaves its value; the next consumer to attach revokes it without waiting
// (its slot's owner is dead); a revoker killed midway leaves REVOKED, which
// the next one finishes the same way. A holder that finds its lease revoked
// takes by CAS until it detaches; the lease is offered again only at attach.
//
// Where a consumer looks. A consumer stays on a lane for kStay messages,
// then turns to the next lane in use that has been written on its own CPU
// (each producer keeps its lane's cpu word current, and each consumer is
// told its CPU: the caller's platform::CpuHint, outside this class), or
// to the next lane in use if none was, and when its lane is empty it looks
// at those lanes first, then at the rest. On a machine with fewer CPUs than
// participants, a producer and a consumer often share a CPU, taking turns:
// the consumer then reads lines that are in its own cache, where a record
// written on another CPU costs a transfer for every line. Every
// kLocalTurns-th turn ignores the CPUs, so every lane is visited in turn
// even when the words are stale; and a consumer never waits while any lane
// has a message. The word is a hint: no outcome depends on its value.
//
// Sleeping: consumers park on the queue's not_empty word (any producer's put
// may be what they wait for); a lane's producers park on the lane's not_full
// word, which a consumer that took from that lane notifies. The parking and
// the wake-up handshake are the blocking layer's (blocking.hpp); this class
// only says where.
//
// Every position, header and owner word is read from memory other processes
// control, and checked before use.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "shmring/engine/lane_ring_layout.hpp"
#include "shmring/engine/ring_status.hpp"
#include "shmring/engine/spsc_ring.hpp"
#include "shmring/platform/membarrier.hpp"      // light_barrier (the lease holder's take)
#include "shmring/platform/preempt.hpp"         // SHMRING_PREEMPTION_POINT (stress builds only)
#include "shmring/platform/segment_layout.hpp"  // layout_at

namespace shmring {

#if defined(__SANITIZE_THREAD__)
#define SHMRING_LANE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMRING_LANE_TSAN 1
#endif
#endif

// Copies a record out of a lane before the CAS that decides whether it was
// ours: the one read of another process's bytes that may race with their
// reuse (the copy is then discarded, see LaneRing). Under the thread
// sanitizer it is out of line and named, so that race's report can be told
// from others (tests/tsan.supp names it); elsewhere it is the message copy.
#ifdef SHMRING_LANE_TSAN
[[gnu::noinline]] inline void lane_speculative_copy(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  std::memcpy(dst, src, n);
}
#else
[[gnu::always_inline]] inline void lane_speculative_copy(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  copy_message(dst, src, n);
}
#endif

class LaneRing {
 public:
  // Who blocks a guest: the holder of the last lane's owner word.
  struct Holder {
    std::uint64_t token = 0;  // 0: nobody (the guest holds the lane now, unless corrupt)
    bool corrupt = false;     // the lane's positions are damaged (given back, nothing written)
  };

  // `table`: the LaneTableLayout followed by `lanes` LaneLayouts and then
  // the lanes' bytes (lane_table_bytes(lanes) from `table`). `lane_capacity`
  // is a power of two (>= 4 KiB); `max_payload` <= max_payload_for(it).
  LaneRing(std::byte* table, std::uint32_t lanes, std::uint64_t lane_capacity, std::uint64_t max_payload) noexcept
      : table_(platform::layout_at<LaneTableLayout>(table)),
        lanes_(lanes),
        lane_capacity_(lane_capacity),
        max_payload_(max_payload),
        lane_bits_(lanes >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << lanes) - 1),
        ring_(lane_at(table, 0)->ring, table + lane_table_bytes(lanes), lane_capacity, max_payload, 0) {
    for (std::uint32_t i = 0; i < lanes && i < kMaxLanes; ++i) {
      lane_layouts_[i] = lane_at(table, i);
      lane_data_[i] = table + lane_bytes_offset(i);
    }
  }

  [[nodiscard]] static constexpr std::uint64_t max_payload_for(std::uint64_t lane_capacity) noexcept {
    return SpscRing::max_payload_for(lane_capacity);
  }

  // A fresh table: every lane free and empty.
  static void initialize(std::byte* table, std::uint32_t lanes) noexcept {
    // relaxed: the segment's publish (release) orders these before any opener.
    auto* t = platform::layout_at<LaneTableLayout>(table);
    t->mask.in_use.store(0, std::memory_order_relaxed);
    t->mask.reads_lost.store(0, std::memory_order_relaxed);
    t->mask.lease.store(0, std::memory_order_relaxed);
    t->count.queued.store(0, std::memory_order_relaxed);
    for (LaneReaderLayout& r : t->readers) {
      r.owner.store(0, std::memory_order_relaxed);
      r.state.store(0, std::memory_order_relaxed);
      r.from.store(0, std::memory_order_relaxed);
    }
    for (std::uint32_t i = 0; i < lanes; ++i) {
      LaneLayout& l = *lane_at(table, i);
      SpscRing::initialize(l.ring);
      l.control.owner.store(0, std::memory_order_relaxed);
      l.control.cpu.store(0, std::memory_order_relaxed);
      l.not_full.sequence.store(0, std::memory_order_relaxed);
      l.not_full.sleeping.store(0, std::memory_order_relaxed);
      l.backing.backed_end.store(0, std::memory_order_relaxed);
      l.backing.unbacked_below.store(0, std::memory_order_relaxed);
      l.backing.lock.store(0, std::memory_order_relaxed);
    }
  }

  // A mapped table another process controls, checked before use: every
  // lane's positions in range (read as live_positions.hpp says: the peers
  // may be moving them).
  [[nodiscard]] static bool layout_sane(const std::byte* table, std::uint32_t lanes,
                                        std::uint64_t lane_capacity) noexcept {
    for (std::uint32_t i = 0; i < lanes; ++i) {
      const LaneLayout& l = *platform::layout_at<const LaneLayout>(table + lane_offset(i));
      const LivePositions p = LivePositions::read(l.ring.consumer.head, l.ring.producer.tail);
      if (!p.within(lane_capacity) || !p.aligned(kRecordAlign)) return false;
    }
    return true;
  }

  // ---- producer -------------------------------------------------------------

  // Takes a lane for this producer: a free one, else one whose owner
  // `is_dead(token)` proves dead; none: this producer is a guest of the last
  // lane. False: the lane taken is damaged (and was given back).
  template <class IsDead>
  [[nodiscard]] bool attach_producer(std::uint64_t token, IsDead&& is_dead) noexcept {
    for (int pass = 0; pass < 2; ++pass) {
      for (std::uint32_t i = 0; i + 1 < lanes_; ++i) {
        std::atomic<std::uint64_t>& owner = lane(i).control.owner;
        // SYNC(lane): acquire — pairs with the previous owner's release in
        // detach_producer(): its publications are visible.
        std::uint64_t seen = owner.load(std::memory_order_acquire);
        if (seen != 0 && (pass == 0 || seen == token || !is_dead(seen))) continue;
        if (!owner.compare_exchange_strong(seen, token, std::memory_order_acq_rel, std::memory_order_relaxed)) {
          continue;
        }
        use_lane(i);
        // A previous owner may have died between its tail and put_count
        // stores: attach_producer() re-derives the count from the records.
        if (!ring_.attach_producer()) {
          owner.store(0, std::memory_order_release);
          return false;
        }
        guest_ = false;
        attached_ = true;
        return true;
      }
    }
    use_lane(lanes_ - 1);
    guest_ = true;
    attached_ = true;
    return true;
  }

  // Gives the lane back (a claim not committed is abandoned: it was never
  // published). A guest holding the last lane gives it back too.
  void detach_producer(std::uint64_t token) noexcept {
    if (!attached_) return;
    if (!guest_ || holding_) give_back(token);
    forget_producer();
  }
  // A forked child's copy holds nothing of its parent's.
  void forget_producer() noexcept {
    attached_ = false;
    holding_ = false;
    guest_ = false;
  }

  [[nodiscard]] bool producer_attached() const noexcept { return attached_; }
  [[nodiscard]] bool guest() const noexcept { return guest_; }
  [[nodiscard]] bool holding() const noexcept { return !guest_ || holding_; }
  [[nodiscard]] std::uint32_t producer_lane() const noexcept { return lane_; }
  [[nodiscard]] ParkingLayout& producer_park() noexcept { return lane(lane_).not_full; }
  [[nodiscard]] ParkingLayout& lane_park(std::uint32_t i) noexcept { return lane(i).not_full; }

  // A guest's turn on the last lane: takes its owner word for one put. The
  // holder when another process has it (the caller waits, and proves a
  // holder that never lets go dead before take_over_guest_lane()).
  [[nodiscard]] Holder lock_guest(std::uint64_t token) noexcept {
    std::atomic<std::uint64_t>& owner = lane(lane_).control.owner;
    // SYNC(lane): acquire, as in attach_producer().
    std::uint64_t seen = owner.load(std::memory_order_acquire);
    if (seen != 0) return {seen};
    if (!owner.compare_exchange_strong(seen, token, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return {seen != 0 ? seen : token};  // taken meanwhile (or a spurious loss: try again)
    }
    if (!ring_.resume_producer()) {
      owner.store(0, std::memory_order_release);
      return {0, true};
    }
    holding_ = true;
    return {};
  }
  // The holder `dead` of the last lane is proved dead: take the lane from it
  // and re-derive its count (it may have died between tail and put_count).
  // False: someone else took it first, or the lane is damaged.
  [[nodiscard]] bool take_over_guest_lane(std::uint64_t dead, std::uint64_t token) noexcept {
    std::atomic<std::uint64_t>& owner = lane(lane_).control.owner;
    if (!owner.compare_exchange_strong(dead, token, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return false;
    }
    if (!ring_.attach_producer()) {
      owner.store(0, std::memory_order_release);
      return false;
    }
    holding_ = true;
    return true;
  }
  // A guest's put is over (committed or given up): the lane is free.
  void unlock_guest(std::uint64_t token) noexcept {
    if (guest_ && holding_) give_back(token);
    holding_ = false;
  }

  // The CPU this producer runs on (platform::CpuHint), for consumers that
  // prefer lanes filled on their own CPU; stored only when it changed.
  [[gnu::always_inline]] void note_cpu(std::uint32_t cpu) noexcept {
    const std::uint32_t tag = cpu + 1;
    if (tag == noted_cpu_ || guest_) return;
    noted_cpu_ = tag;
    // relaxed: a hint; nothing is ordered by it.
    lane(lane_).control.cpu.store(tag, std::memory_order_relaxed);
  }

  // The CPU this consumer runs on (the caller's platform::CpuHint), for its
  // choice of lanes; told before each front() or take_run().
  [[gnu::always_inline]] void note_consumer_cpu(std::uint32_t cpu) noexcept { consumer_cpu_ = cpu + 1; }

  // The producer's ring (this handle's lane), for claim/commit/try_push.
  [[nodiscard]] SpscRing& producer_ring() noexcept { return ring_; }

  // Would a record of `size` fit in this producer's lane? (A guest not
  // holding the lane reads the shared positions: a wait predicate.)
  [[nodiscard]] bool producer_room(std::uint64_t size) noexcept {
    if (holding()) return ring_.producer_can_claim(size);
    const LaneLayout& l = lane(lane_);
    // SYNC(space): acquire — as SpscRing::producer_can_claim().
    const std::uint64_t head = l.ring.consumer.head.load(std::memory_order_acquire);
    const std::uint64_t tail = l.ring.producer.tail.load(std::memory_order_acquire);
    if (!SpscRing::positions_sane(head, tail, lane_capacity_)) return true;  // claim() reports it
    const std::uint64_t rec = record_size(size);
    const std::uint64_t contiguous = lane_capacity_ - (tail & (lane_capacity_ - 1));
    const std::uint64_t need = rec <= contiguous ? rec : contiguous + rec;
    return tail + need - head <= lane_capacity_;
  }

  // ---- consumer -------------------------------------------------------------

  // The oldest record of some lane, not yet taken: read it, then take() it.
  // The lane we are on first (no scan while it has messages); we stay on a
  // lane for up to kStay messages, then turn to the next lane (see "Where a
  // consumer looks").
  //
  // The view is built here from peek_'s scalars, not passed up from peek()
  // and front_elsewhere() as a RingView: a view returned through memory by
  // the out-of-line call made GCC build the inline one in memory too, with
  // byte and word stores read back by one 16-byte load, which the CPU
  // cannot forward (a stall on every get).
  [[gnu::always_inline]] [[nodiscard]] RingView front() noexcept {
    peeked_ = false;
    RingStatus st = peek<true>(cursor_);
    if (st != RingStatus::ok) [[unlikely]]
      st = front_elsewhere(st);
    if (st != RingStatus::ok) return {st, {}};
    return {RingStatus::ok, {peek_.payload, peek_.length}};
  }

  // Takes the record front() returned (the caller attached as a consumer).
  // `hold`: the caller keeps it until release_held() (read()); otherwise it
  // has already copied it. False: another consumer took it first (what was
  // read from it is void); front() again.
  //
  // The reader slot says what we are doing, for whoever finds us dead:
  // trying (from before the CAS until we know its answer), then holding or
  // idle. A dead reader's slot counts as lost the messages it held, or the
  // `records` it was trying to take if the lane's head has moved past them —
  // which may also be another consumer's doing, when the kill fell between
  // the slot store and the store after our CAS: reads_lost() is an upper
  // bound, by at most the run a dead consumer was trying to take, never low.
  //
  // The slot's state stores are releases: a revoker of the lease that
  // reads a state without kReaderSole must see the plain head stores made
  // before it (see "The sole-consumer lease").
  [[gnu::always_inline]] [[nodiscard]] bool take(bool hold, std::size_t records = 1) noexcept {
    if (!peeked_) return false;
    peeked_ = false;
    LaneLayout& l = lane(peek_.lane);
    // relaxed: the slot is read only by whoever proves us dead, and a
    // process's stores are visible once the kernel has reaped it.
    reader_->from.store(peek_.head, std::memory_order_relaxed);
    const std::uint64_t what = std::uint64_t{records} << kReaderCountShift | peek_.lane;
    if (sole_) [[likely]] {
      reader_->state.store(kReaderTrying | kReaderSole | what, std::memory_order_release);
      // SYNC(lease): light barrier — the state store before the lease load;
      // the revoker's heavy barrier stands in for the fence.
      platform::light_barrier();
      // relaxed: the barrier pair decides what this load must see.
      if (table_->mask.lease.load(std::memory_order_relaxed) == lease_value_) [[likely]] {
        SHMRING_PREEMPTION_POINT();  // a holder paused here: a revoker must wait for it
        // SYNC(take): release — as the CAS's below: our reads of the record
        // happen before the producer's reuse of its bytes.
        l.ring.consumer.head.store(peek_.next, std::memory_order_release);
        reader_->state.store(hold ? kReaderHolding | what : 0, std::memory_order_release);
        taken(records);
        return true;
      }
      sole_ = false;  // revoked: the CAS from now on
    }
    reader_->state.store(kReaderTrying | what, std::memory_order_release);
    SHMRING_PREEMPTION_POINT();  // between the copy and the CAS: the window the CAS must close
    std::uint64_t expected = peek_.head;
    // SYNC(take): release on success — our reads of the record happen before
    // the producer's acquire load of head and its reuse of these bytes
    // (see "Why a copy made before a successful CAS is the message").
    if (!l.ring.consumer.head.compare_exchange_strong(expected, peek_.next, std::memory_order_release,
                                                      std::memory_order_relaxed)) {
      reader_->state.store(0, std::memory_order_release);
      return false;
    }
    reader_->state.store(hold ? kReaderHolding | what : 0, std::memory_order_release);
    taken(records);
    return true;
  }
  // Takes a run of up to `max` records of one lane with one CAS: the record
  // front() finds and those after it in its lane, each shown to `copy`
  // (span of its payload) before the CAS; if another consumer moves the
  // lane's head first, `undo()` must forget those copies and we start
  // again. Returns the records taken (0: the status front() reported:
  // empty or corrupt). A torn header read while the lane moves under us
  // ends the run early at worst: the CAS fails for any run whose bytes were
  // being reused (the argument above), so whatever a successful CAS takes
  // was read intact.
  struct Run {
    std::size_t count;
    RingStatus status;
  };
  template <class Copy, class Undo>
  [[nodiscard]] Run take_run(std::size_t max, Copy&& copy, Undo&& undo) {
    for (;;) {
      const RingView first = front();
      if (first.status != RingStatus::ok) return {0, first.status};
      copy(first.bytes);
      std::size_t n = 1;
      const std::uint32_t i = peek_.lane;
      const std::uint64_t tail = cached_tail_[i];
      const std::byte* data = lane_bytes(i);
      const std::uint64_t mask = lane_capacity_ - 1;
      std::uint64_t end = peek_.next;
      while (n < max && end < tail) {
        std::uint64_t start = end;
        RecordHeader hdr{};
        std::memcpy(&hdr, data + (start & mask), sizeof(hdr));
        if ((hdr.length & kPaddingFlag) != 0) {
          start += lane_capacity_ - (start & mask);  // the record after padding is at offset 0
          if (start >= tail) break;
          std::memcpy(&hdr, data, sizeof(hdr));
        }
        const std::uint64_t rec = record_size(hdr.length);
        if ((hdr.length & kPaddingFlag) != 0 || hdr.length > max_payload_ || rec > tail - start ||
            rec > lane_capacity_ - (start & mask)) {
          break;  // a race or damage: take what we have (the next front() tells which)
        }
        copy(std::span<const std::byte>(data + (start & mask) + sizeof(RecordHeader), hdr.length));
        end = start + rec;
        ++n;
      }
      peek_.next = end;
      if (take(false, n)) return {n, RingStatus::ok};
      undo();
    }
  }

  // The message take(true) took is delivered.
  void release_held() noexcept { reader_->state.store(0, std::memory_order_release); }

  // ---- consumer slots ---------------------------------------------------------

  // Takes a reader slot: a free one, else one whose owner `is_dead(token)`
  // proves dead (what it held is counted lost first). False: all held by
  // live consumers.
  template <class IsDead>
  [[nodiscard]] bool attach_consumer(std::uint64_t token, IsDead&& is_dead) noexcept {
    for (int pass = 0; pass < 2; ++pass) {
      for (LaneReaderLayout& r : table_->readers) {
        // SYNC(slot): acquire — a dead owner's last stores to its slot are read below.
        std::uint64_t seen = r.owner.load(std::memory_order_acquire);
        if (seen != 0 && (pass == 0 || seen == token || !is_dead(seen))) continue;
        if (!take_slot(r, seen, token).won) continue;
        reader_ = &r;
        return true;
      }
    }
    return false;
  }
  void detach_consumer(std::uint64_t token) noexcept {
    if (reader_ == nullptr) return;
    reader_->state.store(0, std::memory_order_release);
    if (sole_) {
      std::uint64_t held = lease_value_;
      // SYNC(lease): release — our plain head stores before the freed word:
      // a consumer that attaches and reads 0 revokes nothing, and must see
      // them. (A revoker that set REVOKED meanwhile frees the word itself.)
      (void)table_->mask.lease.compare_exchange_strong(held, 0, std::memory_order_release, std::memory_order_relaxed);
      sole_ = false;
    }
    pending_lease_ = 0;  // a revocation left pending: the next consumer to attach finishes it
    std::uint64_t expected = token;
    // SYNC(slot): release — the next owner starts from our last state.
    (void)reader_->owner.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
    reader_ = nullptr;
  }
  void forget_consumer() noexcept {
    reader_ = nullptr;
    peeked_ = false;
    sole_ = false;  // the parent's lease (a child that attaches revokes it)
    pending_lease_ = 0;
  }
  [[nodiscard]] bool consumer_attached() const noexcept { return reader_ != nullptr; }

  // After attach_consumer(): takes back a lease another consumer holds (no
  // take of ours may race with its plain stores), then takes the lease if
  // `may_hold` (this process is registered for heavy barriers) and no other
  // live consumer is attached. The platform's: `is_dead(token)`,
  // `heavy_barrier()`. Never waits: a holder still inside a take after a
  // short spin (descheduled or stopped there) leaves the revocation
  // pending, and this consumer takes nothing until finish_revocation()
  // finds the holder out of it (front() and the waiting predicate ask).
  template <class IsDead, class Barrier>
  void settle_lease(bool may_hold, IsDead&& is_dead, Barrier&& heavy_barrier) noexcept {
    std::atomic<std::uint64_t>& lease = table_->mask.lease;
    // SYNC(lease): seq_cst — after our slot's owner RMW (seq_cst, in
    // take_slot): against an acquirer's CAS of lease and its scan of the slots.
    std::uint64_t v = lease.load(std::memory_order_seq_cst);
    while (v != 0 && (v & kLeaseRevoked) == 0) {
      if (lease.compare_exchange_weak(v, v | kLeaseRevoked, std::memory_order_seq_cst, std::memory_order_seq_cst)) {
        v |= kLeaseRevoked;
      }
    }
    if (v != 0) {
      // SYNC(lease): heavy barrier — see "The sole-consumer lease".
      heavy_barrier();
      pending_lease_ = v;
      for (int spin = 0; spin < 64 && !holder_quiet(false, is_dead); ++spin) platform::cpu_relax();
      if (!finish_revocation(is_dead)) return;  // pending: no lease for us either
    }
    if (may_hold) hold_lease_if_alone(is_dead);
  }
  // A revocation of ours waits for the holder to leave its take.
  [[nodiscard]] bool lease_pending() const noexcept { return pending_lease_ != 0; }
  // Is the holder of the lease we revoke out of its plain takes (or dead)?
  template <class IsDead>
  [[nodiscard]] bool lease_settled(IsDead&& is_dead) const noexcept {
    return pending_lease_ == 0 || holder_quiet(true, is_dead);
  }
  // Ends a pending revocation if the holder is out of its take: the lease
  // word is freed and this consumer may take. False: still pending.
  template <class IsDead>
  [[nodiscard]] bool finish_revocation(IsDead&& is_dead) noexcept {
    if (pending_lease_ == 0) return true;
    if (!holder_quiet(true, is_dead)) return false;
    std::uint64_t v = pending_lease_;
    // SYNC(lease): release — our acquire of the holder's state (holder_quiet)
    // ordered its plain head stores before this; a consumer that attaches
    // and reads 0 here must see them too.
    (void)table_->mask.lease.compare_exchange_strong(v, 0, std::memory_order_release, std::memory_order_relaxed);
    pending_lease_ = 0;
    return true;
  }
  // Frees every slot whose owner `is_dead` proves dead, counting what it
  // held. Returns how many messages that was.
  // `token`: the caller's (the slot is ours while we count, then free).
  template <class IsDead>
  std::uint64_t repair_dead_readers(std::uint64_t token, IsDead&& is_dead) noexcept {
    std::uint64_t lost = 0;
    for (LaneReaderLayout& r : table_->readers) {
      const std::uint64_t seen = r.owner.load(std::memory_order_acquire);
      if (seen == 0 || seen == token || !is_dead(seen)) continue;
      const SlotTaken t = take_slot(r, seen, token);
      if (!t.won) continue;
      lost += t.lost;
      // SYNC(slot): release — the next owner finds the slot as we left it.
      r.owner.store(0, std::memory_order_release);
    }
    return lost;
  }
  [[nodiscard]] std::uint64_t reads_lost() const noexcept {
    return table_->mask.reads_lost.load(std::memory_order_relaxed);
  }

  // Lane i's head now (the oldest byte a consumer may still read).
  [[nodiscard]] std::uint64_t lane_head(std::uint32_t i) const noexcept {
    // acquire: as the producer's reload of head.
    return lane(i).ring.consumer.head.load(std::memory_order_acquire);
  }
  [[nodiscard]] RingBackingLayout& backing(std::uint32_t i) noexcept { return lane(i).backing; }
  // Where lane i's bytes start, from the start of the table.
  [[nodiscard]] std::uint64_t lane_bytes_offset(std::uint32_t i) const noexcept {
    return lane_table_bytes(lanes_) + std::uint64_t{i} * lane_capacity_;
  }
  // The in-use mask, without bits of lanes this queue does not have (the
  // word is another process's to damage; every walk of its bits goes here).
  [[nodiscard]] std::uint64_t lanes_in_use() const noexcept {
    // SYNC(lane): acquire — pairs with the fetch_or that made a lane in use
    // (its owner's later publications come through its tail).
    return table_->mask.in_use.load(std::memory_order_acquire) & lane_bits_;
  }
  [[nodiscard]] std::uint32_t taken_lane() const noexcept { return taken_lane_; }

  // The lane of the last record take() took (whose producers may wait for its room).
  [[nodiscard]] ParkingLayout& taken_park() noexcept { return lane(taken_lane_).not_full; }

  // Is anything published in any lane? The waiting consumer's predicate.
  [[nodiscard]] bool consumer_can_read() const noexcept {
    std::uint64_t in_use = lanes_in_use();
    for (; in_use != 0; in_use &= in_use - 1) {
      const LaneLayout& l = lane(static_cast<std::uint32_t>(__builtin_ctzll(in_use)));
      if (l.ring.producer.tail.load(std::memory_order_acquire) !=
          l.ring.consumer.head.load(std::memory_order_acquire)) {
        return true;
      }
    }
    return false;
  }

  // ---- maxsize --------------------------------------------------------------

  // One more message towards `limit`; false (nothing changed) at the limit.
  [[nodiscard]] bool reserve(std::uint64_t limit) noexcept {
    // relaxed: a counter; the messages themselves are ordered by the lanes.
    std::int64_t n = table_->count.queued.load(std::memory_order_relaxed);
    do {
      if (n >= static_cast<std::int64_t>(limit)) return false;
    } while (!table_->count.queued.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  void unreserve(std::size_t n = 1) noexcept {
    table_->count.queued.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_release);
  }
  [[nodiscard]] bool below(std::uint64_t limit) const noexcept {
    // acquire: pairs with unreserve()'s release (the waiting producer's predicate).
    return table_->count.queued.load(std::memory_order_acquire) < static_cast<std::int64_t>(limit);
  }

  // ---- observers (any process; approximate under concurrency) ---------------

  // Messages queued: per lane, the producer's count minus the sequence
  // number of the record at head. Exact when quiescent.
  [[nodiscard]] std::uint64_t message_count() const noexcept {
    std::uint64_t total = 0;
    std::uint64_t in_use = lanes_in_use();
    for (; in_use != 0; in_use &= in_use - 1)
      total += lane_messages(static_cast<std::uint32_t>(__builtin_ctzll(in_use)));
    return total;
  }
  [[nodiscard]] bool empty() const noexcept { return !consumer_can_read(); }
  // Would a put from this handle wait for room? A producer's: its lane has
  // no room for the smallest message. Anyone else's would take a lane: no
  // lane has room.
  [[nodiscard]] bool full() const noexcept {
    const auto no_room = [&](std::uint32_t i) { return lane_capacity_ - used_bytes(i) < 2 * record_size(1); };
    if (attached_) return no_room(lane_);
    for (std::uint32_t i = 0; i < lanes_; ++i) {
      if (!no_room(i)) return false;
    }
    return true;
  }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return lane_capacity_ * lanes_; }
  [[nodiscard]] std::uint64_t lane_capacity() const noexcept { return lane_capacity_; }
  [[nodiscard]] std::uint32_t lanes() const noexcept { return lanes_; }
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return max_payload_; }

  [[nodiscard]] static constexpr std::uint64_t lane_offset(std::uint32_t i) noexcept {
    return sizeof(LaneTableLayout) + std::uint64_t{i} * sizeof(LaneLayout);
  }

 private:
  static constexpr std::uint32_t kStay = 32;
  static constexpr std::uint32_t kLocalTurns = 8;

  // What front() found, for take().
  struct Peek {
    std::uint32_t lane = 0;
    std::uint64_t head = 0;              // head when read
    std::uint64_t next = 0;              // head past the record (and any padding before it)
    const std::byte* payload = nullptr;  // the record's payload in the lane
    std::size_t length = 0;              // its length
  };

  [[nodiscard]] static LaneLayout* lane_at(std::byte* table, std::uint32_t i) noexcept {
    return platform::layout_at<LaneLayout>(table + lane_offset(i));
  }
  // i < lanes_ (every caller checks an index read from shared memory).
  [[nodiscard]] LaneLayout& lane(std::uint32_t i) noexcept { return *lane_layouts_[i]; }
  [[nodiscard]] const LaneLayout& lane(std::uint32_t i) const noexcept { return *lane_layouts_[i]; }
  [[nodiscard]] std::byte* lane_bytes(std::uint32_t i) const noexcept { return lane_data_[i]; }

  // Makes lane i this producer's ring and marks it in use for consumers.
  void use_lane(std::uint32_t i) noexcept {
    lane_ = i;
    noted_cpu_ = 0;
    ring_ = SpscRing(lane(i).ring, lane_bytes(i), lane_capacity_, max_payload_, 0);
    // SYNC(lane): release — consumers that see the bit see the lane's layout.
    if ((table_->mask.in_use.load(std::memory_order_relaxed) >> i & 1) == 0) {
      table_->mask.in_use.fetch_or(std::uint64_t{1} << i, std::memory_order_release);
    }
  }
  void give_back(std::uint64_t token) noexcept {
    std::uint64_t expected = token;
    // SYNC(lane): release — the next producer of the lane sees our tail and
    // put_count (stored before this).
    (void)lane(lane_).control.owner.compare_exchange_strong(expected, 0, std::memory_order_release,
                                                            std::memory_order_relaxed);
  }

  // front() when the current lane had no message ready: `first` is what
  // peek() said of it. A race (busy: another consumer took a record while we
  // read, so someone progressed) looks again; an empty lane sends us round
  // the lanes in use.
  [[gnu::noinline]] [[nodiscard]] RingStatus front_elsewhere(RingStatus first) noexcept {
    RingStatus st = first;
    while (st == RingStatus::busy) st = peek<true>(cursor_);
    if (st != RingStatus::empty) return st;
    const std::uint64_t in_use = lanes_in_use();
    const std::uint64_t local = local_lanes(in_use);
    for (const std::uint64_t look : {local, in_use & ~local}) {
      std::uint32_t i = cursor_;
      for (std::uint32_t k = 1; k < lanes_; ++k) {
        if (++i == lanes_) i = 0;
        if ((look >> i & 1) == 0) continue;
        do {
          st = peek(i);
        } while (st == RingStatus::busy);
        if (st == RingStatus::empty) continue;
        cursor_ = i;
        stay_left_ = kStay;
        return st;
      }
    }
    return RingStatus::empty;
  }
  // The lanes of `in_use` whose producer last put on this consumer's CPU.
  [[nodiscard]] std::uint64_t local_lanes(std::uint64_t in_use) const noexcept {
    const std::uint32_t tag = consumer_cpu_;
    std::uint64_t local = 0;
    if (tag == 0) return 0;
    for (std::uint64_t m = in_use; m != 0; m &= m - 1) {
      const auto i = static_cast<std::uint32_t>(__builtin_ctzll(m));
      // relaxed: a hint.
      if (lane(i).control.cpu.load(std::memory_order_relaxed) == tag) local |= std::uint64_t{1} << i;
    }
    return local;
  }
  // After a take of `records` of peek_'s lane: where the next front() looks.
  [[gnu::always_inline]] void taken(std::size_t records) noexcept {
    taken_lane_ = peek_.lane;
    if (records >= stay_left_) [[unlikely]] {
      next_turn();
    } else {
      stay_left_ -= static_cast<std::uint32_t>(records);
    }
  }

  // Is the holder named by pending_lease_ (its slot + 1; anything else
  // names nobody) out of its plain takes? Its slot's state says so unless
  // it has kReaderTrying and kReaderSole; else, with `check_death`, a slot
  // freed or an owner proved dead. Once revoked, a holder never sets
  // kReaderSole again (its next lease load sees REVOKED), and whoever
  // attaches into its slot later is not a holder while we are attached.
  template <class IsDead>
  [[nodiscard]] bool holder_quiet(bool check_death, IsDead& is_dead) const noexcept {
    const std::uint64_t value = pending_lease_ & ~kLeaseRevoked;
    if (value == 0 || value > kLaneReaders) return true;
    const LaneReaderLayout& r = table_->readers[value - 1];
    // acquire (both loads): a state without kReaderSole was stored, with
    // release, after the holder's last plain store of head; a freed owner
    // word was released after the holder's last state store.
    const std::uint64_t st = r.state.load(std::memory_order_acquire);
    if ((st & (kReaderTrying | kReaderSole)) != (kReaderTrying | kReaderSole)) return true;
    if (!check_death) return false;
    const std::uint64_t owner = r.owner.load(std::memory_order_acquire);
    return owner == 0 || is_dead(owner);
  }

  // Takes the lease if it is free and no other live consumer is attached
  // (see "Acquiring"); gives it back if one is.
  template <class IsDead>
  void hold_lease_if_alone(IsDead& is_dead) noexcept {
    std::atomic<std::uint64_t>& lease = table_->mask.lease;
    const std::uint64_t mine = static_cast<std::uint64_t>(reader_ - table_->readers) + 1;
    std::uint64_t expected = 0;
    // SYNC(lease): seq_cst — before the scan below (Dekker with an attaching consumer).
    if (!lease.compare_exchange_strong(expected, mine, std::memory_order_seq_cst, std::memory_order_relaxed)) return;
    for (const LaneReaderLayout& r : table_->readers) {
      if (&r == reader_) continue;
      // SYNC(lease): seq_cst — see above.
      const std::uint64_t owner = r.owner.load(std::memory_order_seq_cst);
      if (owner != 0 && !is_dead(owner)) {
        expected = mine;
        // relaxed: nothing was taken under the lease.
        (void)lease.compare_exchange_strong(expected, 0, std::memory_order_relaxed);
        return;
      }
    }
    lease_value_ = mine;
    sole_ = true;
  }

  // The next lane in use after the cursor's (the cursor's own if it is the
  // only one: a lone producer's consumer never looks elsewhere for nothing).
  void next_turn() noexcept {
    stay_left_ = kStay;
    std::uint64_t in_use = lanes_in_use();
    if (++turns_ % kLocalTurns != 0) {
      const std::uint64_t local = local_lanes(in_use);
      if (local != 0) in_use = local;
    }
    const std::uint64_t after = cursor_ + 1 >= 64 ? 0 : in_use >> (cursor_ + 1) << (cursor_ + 1);
    const std::uint64_t pick = after != 0 ? after : in_use;
    if (pick != 0) cursor_ = static_cast<std::uint32_t>(__builtin_ctzll(pick));
  }

  // The oldest record of lane i: ok (peek_ says where it is, for front()
  // and take()), empty, busy (the lane moved while we read: a race, look
  // again) or corrupt.
  // kPatient: the lane we are on, read with the SPSC consumer's catch-up
  // patience (catch_up.hpp): a consumer at a streaming producer's heels
  // waits a little before it pulls the producer's tail line again.
  template <bool kPatient = false>
  [[gnu::always_inline]] [[nodiscard]] RingStatus peek(std::uint32_t i) noexcept {
    const LaneLayout& l = lane(i);
    // relaxed: the CAS in take() validates it; the record's bytes are
    // ordered by the acquire load of tail.
    const std::uint64_t h = l.ring.consumer.head.load(std::memory_order_relaxed);
    std::uint64_t& tail = cached_tail_[i];
    bool reloaded = false;
    if (h >= tail) {
      if constexpr (kPatient) patience_.before_reload();
      // SYNC(record): acquire — pairs with the producer's release of tail.
      tail = l.ring.producer.tail.load(std::memory_order_acquire);
      if (tail == h) {
        if constexpr (kPatient) patience_.after_reload(false);
        return RingStatus::empty;
      }
      reloaded = true;
    }
    const std::uint64_t mask = lane_capacity_ - 1;
    const std::byte* data = lane_bytes(i);
    std::uint64_t start = h;
    std::uint64_t available = tail - h;
    bool sane = SpscRing::positions_sane(h, tail, lane_capacity_);
    RecordHeader hdr{};
    if (sane) {
      std::uint64_t contiguous = lane_capacity_ - (start & mask);
      SHMRING_PREEMPTION_POINT();                             // a consumer paused here finds its record reused
      std::memcpy(&hdr, data + (start & mask), sizeof(hdr));  // one copy: it may be reused under us
      if ((hdr.length & kPaddingFlag) != 0) {
        // Padding is published with the record after it: a message follows at offset 0.
        sane = (hdr.length & ~kPaddingFlag) == contiguous - sizeof(RecordHeader) && contiguous < available;
        start += contiguous;
        available -= sane ? contiguous : 0;
        contiguous = lane_capacity_;
        if (sane) std::memcpy(&hdr, data, sizeof(hdr));
      }
      sane = sane && hdr.length <= max_payload_ && record_size(hdr.length) <= available &&
             record_size(hdr.length) <= contiguous;
    }
    if (!sane) {
      // A race (head moved: the bytes may have been reused) or real damage
      // (head still h: they were stable while we read them). The fence keeps
      // the re-read of head after the reads of the bytes (a seqlock's read
      // side): without it a weakly ordered CPU may take head's value from
      // before a reuse whose bytes it then read.
      std::atomic_thread_fence(std::memory_order_acquire);
      if (l.ring.consumer.head.load(std::memory_order_relaxed) != h) return RingStatus::busy;
      tail = 0;  // reload next time
      return RingStatus::corrupt;
    }
    peek_ = Peek{i, h, start + record_size(hdr.length), data + (start & mask) + sizeof(RecordHeader), hdr.length};
    peeked_ = true;
    if constexpr (kPatient) {
      if (reloaded)
        patience_.after_reload(CatchUpPatience::streaming_find(available > record_size(hdr.length), available));
    }
    return RingStatus::ok;
  }

  // Takes reader slot `r` from `seen` (0: free; else a dead owner) for
  // `token` (never 0: a slot freed before its state is cleared could be
  // taken by a new consumer whose state we would then clear or count). Only
  // the winner of the owner word looks at the dead owner's state (nobody
  // else writes it then) and counts what it held: the messages it was
  // holding, or those it was trying to take if the lane's head moved past
  // them (see take(); an upper bound).
  struct SlotTaken {
    bool won;
    std::uint64_t lost;  // messages
  };
  SlotTaken take_slot(LaneReaderLayout& r, std::uint64_t seen, std::uint64_t token) noexcept {
    // SYNC(slot): acq_rel — we see the dead owner's last slot stores;
    // seq_cst — before settle_lease()'s load of the lease (Dekker with an acquirer).
    if (!r.owner.compare_exchange_strong(seen, token, std::memory_order_seq_cst, std::memory_order_relaxed)) {
      return {false, 0};
    }
    const std::uint64_t state = r.state.load(std::memory_order_relaxed);
    const std::uint64_t from = r.from.load(std::memory_order_relaxed);
    r.state.store(0, std::memory_order_release);
    const std::uint32_t i = static_cast<std::uint32_t>(state & 0xff);
    bool lost = false;
    if (seen != 0 && i < lanes_) {
      if ((state & kReaderHolding) != 0) {
        lost = true;
      } else if ((state & kReaderTrying) != 0) {
        // acquire: the head another consumer (or the dead one) moved.
        lost = lane(i).ring.consumer.head.load(std::memory_order_acquire) != from;
      }
    }
    const std::uint64_t count = lost ? state >> kReaderCountShift : 0;
    if (count != 0) table_->mask.reads_lost.fetch_add(count, std::memory_order_relaxed);
    return {true, count};
  }

  [[nodiscard]] std::uint64_t used_bytes(std::uint32_t i) const noexcept {
    const LaneLayout& l = lane(i);
    // acquire: a snapshot, as SpscRing::used_bytes().
    const std::uint64_t head = l.ring.consumer.head.load(std::memory_order_acquire);
    const std::uint64_t tail = l.ring.producer.tail.load(std::memory_order_acquire);
    if (tail <= head) return 0;
    return tail - head > lane_capacity_ ? lane_capacity_ : tail - head;
  }
  [[nodiscard]] std::uint64_t lane_messages(std::uint32_t i) const noexcept {
    const LaneLayout& l = lane(i);
    // acquire: head first, then the count and the tail published after it.
    const std::uint64_t head = l.ring.consumer.head.load(std::memory_order_acquire);
    const std::uint64_t put = l.ring.producer.put_count.load(std::memory_order_acquire);
    const std::uint64_t tail = l.ring.producer.tail.load(std::memory_order_acquire);
    if (tail <= head || !SpscRing::positions_sane(head, tail, lane_capacity_)) return 0;
    const std::byte* data = lane_bytes(i);
    const std::uint64_t mask = lane_capacity_ - 1;
    RecordHeader hdr{};
    std::memcpy(&hdr, data + (head & mask), sizeof(hdr));
    // A padding record carries the next message's number, as the record after it.
    const auto behind = static_cast<std::uint32_t>(static_cast<std::uint32_t>(put) - hdr.seq);
    const std::uint64_t most = (tail - head) / record_size(0);
    return behind <= most ? behind : most;
  }

  LaneTableLayout* table_;
  std::uint32_t lanes_;
  std::uint64_t lane_capacity_;
  std::uint64_t max_payload_;
  std::uint64_t lane_bits_;                   // a bit for each of our lanes
  LaneLayout* lane_layouts_[kMaxLanes] = {};  // lane i's layout, and its bytes
  std::byte* lane_data_[kMaxLanes] = {};

  // Producer side.
  SpscRing ring_;  // this producer's lane
  std::uint32_t lane_ = 0;
  bool attached_ = false;
  bool guest_ = false;           // writes the last lane, one put at a time
  bool holding_ = false;         // a guest holding the last lane now
  std::uint32_t noted_cpu_ = 0;  // the lane's cpu word as we last stored it

  // Consumer side.
  LaneReaderLayout* reader_ = nullptr;  // this handle's slot (attach_consumer())
  bool sole_ = false;                   // holds the lease: plain stores of head
  std::uint64_t lease_value_ = 0;       // the lease word's value while sole_
  std::uint64_t pending_lease_ = 0;     // the lease word we revoked, its holder maybe still in a take
  Peek peek_;
  bool peeked_ = false;  // peek_ is front()'s last answer, not yet taken
  std::uint32_t cursor_ = 0;
  std::uint32_t stay_left_ = kStay;
  std::uint32_t taken_lane_ = 0;
  std::uint64_t cached_tail_[kMaxLanes] = {};
  CatchUpPatience patience_;
  std::uint32_t consumer_cpu_ = 0;  // 1 + the CPU the caller said it runs on (0: not known)
  std::uint32_t turns_ = 0;
};

}  // namespace shmring
