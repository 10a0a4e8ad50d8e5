// MpmcRing: process-local handle on an MpmcRingLayout and its bytes, for any
// number of producers and consumers in any number of processes. One handle is
// one participant (a slot in the layout's table); not thread-safe.
//
// The protocol. Every record boundary carries a 16-byte header whose state
// word (mpmc_ring_layout.hpp) is the only thing anyone compare-and-swaps on
// the data path; three shared positions are hints kept ahead of it:
//
//   producer (put n bytes, record size s)     consumer (get)
//   t = tail                       (acq)      h = head                    (acq)
//   room: t + s + 16 <= released + capacity   w = state[h]                (acq)
//   state[t]: empty(t) -> claimed(t, me) CAS   committed(h): CAS -> reading(h, me)
//   meta[t] = seq | n                         head: h -> h + size(meta[h])  CAS
//   header[t+s] = {seq+1, empty(t+s)}         copy the payload out
//   tail = t + s                   (rel)      state[h] = consumed(h)       (rel)
//   write the payload
//   state[t] = committed(t)        (rel)
//
// Why this is right:
// * Exactly once. A record is taken by the one CAS committed -> reading;
//   a slot by the one CAS empty -> claimed. Tags make both CASes fail on a
//   header of another lap, and the hazard below keeps the bytes they
//   expect from being reused while they are pending.
// * The chain invariant: the header at `tail` always reads empty(tail) —
//   the claimant of the record before it wrote it before moving the tail
//   (release), and a consumer reaches a position only after the record before
//   it was committed (release, after that write). So nobody ever inspects
//   bytes at a boundary that have not been initialised in this lap.
// * FIFO per producer: a producer's records lie in its claim order; head
//   moves forward only over records already taken, so consumers take records
//   in ring order.
// * released <= head <= tail <= released + capacity - 16. Producers move
//   `released` over consumed records, never past head, with one CAS from the
//   value they started from: the CAS succeeding proves `released` did not move
//   while they read those headers, so no producer could have reused (and
//   overwritten) them meanwhile — a failed CAS discards what was read.
//   The 16 extra bytes are the next header, written before the tail moves.
// * Crashes. While someone works on a record, the state word names them
//   (claimed/reading + owner index); no other state needs a live owner. A
//   participant that finds the owner dead (the caller proves it: pid + start
//   time, never a stopped process) takes the record over with a CAS and
//   finishes it: a claimed record becomes padding (its message was never
//   committed), a record being read becomes consumed (the dead reader's
//   message is lost: at most that one). Each repair is a CAS on the exact
//   word, so repairers race harmlessly; a repairer that dies mid-repair is
//   itself the recorded owner and is repaired in turn.
// * Reuse. A tag says which lap wrote a whole header, not that its bytes
//   are still a header: once `released` passes a record, the next lap may
//   write a payload over it, and a payload that ends inside the old state
//   word leaves that word's high bytes (the old tag) standing and rewrites
//   its low bytes (kind and owner). One payload byte can so recreate the
//   very word a participant read before it was descheduled — committed(r),
//   empty(t) — and its CAS would then succeed on another message's bytes:
//   a consumer would take a message twice and write its state word into a
//   live payload; a producer would claim a position a lap old and move the
//   tail back. A check of `released` before the CAS cannot close this (the
//   reuse can happen between the check and the CAS). So every CAS on a
//   header word runs under a hazard (MpmcParticipantLayout::hazard):
//   publish "I may CAS at p or later", then check released <= p; refresh_
//   released() moves `released` as before but lets producers reuse bytes
//   only below the lowest published hazard. Both sides use seq_cst (the
//   store-then-load pattern of hazard pointers): either the checker sees the
//   new `released` and backs off, or the refresher sees the hazard. A hazard
//   lives from the check to the CAS; a participant that dies holding one is
//   found like any blocker (the producer waiting for room is told who) and
//   its hazard cleared. Checked by model/mpmc_ring.pml (the stale CAS with
//   byte reuse, and its weakened variant without the hazard) and by
//   tests/stress/mpmc_race_test.cpp.
//
// Everything read from shared memory is untrusted: sizes and positions are
// range-checked, and violations are reported as `corrupt`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "shmring/engine/mpmc_ring_layout.hpp"
#include "shmring/platform/preempt.hpp"         // SHMRING_PREEMPTION_POINT (stress builds only)
#include "shmring/platform/segment_layout.hpp"  // layout_at
#include "shmring/engine/copy.hpp"
#include "shmring/engine/live_positions.hpp"
#include "shmring/engine/ring_status.hpp"

namespace shmring {

inline constexpr std::uint32_t kNoOwner = 0xFFFFFFFFu;

// Who must make progress before this one can, when the status is not ok:
// a producer still writing the record at `pos` (get: empty; put: busy), or a
// consumer still reading the oldest record (put: full). kNoOwner: nobody.
struct Blocker {
  std::uint32_t owner = kNoOwner;
  std::uint64_t pos = 0;
};

struct MpmcClaim {
  RingStatus status;
  std::span<std::byte> bytes;
  Blocker blocker;
};

struct MpmcView {
  RingStatus status;
  std::span<const std::byte> bytes;
  Blocker blocker;
};

class MpmcRing {
 public:
  static constexpr std::uint64_t kHeader = sizeof(MpmcRecordHeader);
  static constexpr std::uint64_t kTagBits = 52;

  MpmcRing(MpmcRingLayout& layout, std::byte* data, std::uint64_t capacity, std::uint64_t max_payload,
           std::uint64_t max_messages) noexcept
      : layout_(&layout),
        data_(data),
        capacity_(capacity),
        // Offsets are taken with the low 4 bits cleared too. Every position
        // the protocol writes is a multiple of kMpmcAlign, so this changes
        // nothing for a sound ring; for a position damaged after open (the
        // opener checks alignment, a handle already open does not) it keeps
        // every header access aligned and inside the ring instead of
        // misaligned (undefined behaviour; reproducer
        // fuzz/crashes/corrupt_ring-misaligned-mpmc-tail). Free: the mask is
        // one AND either way.
        mask_((capacity - 1) & ~(kMpmcAlign - 1)),
        max_payload_(max_payload),
        max_messages_(max_messages),
        key_(layout.key.key) {}

  // Largest payload a ring of `capacity` bytes accepts: a record, the padding
  // before it at the wrap, and the next header always fit in an empty ring.
  [[nodiscard]] static constexpr std::uint64_t max_payload_for(std::uint64_t capacity) noexcept {
    const std::uint64_t m = capacity / 2 - 2 * kHeader;
    return m < kMaxRecordPayload ? m : kMaxRecordPayload;
  }

  // Bytes a record of `payload` bytes occupies.
  [[nodiscard]] static constexpr std::uint64_t record_bytes(std::uint64_t payload) noexcept {
    return (kHeader + payload + kMpmcAlign - 1) & ~(kMpmcAlign - 1);
  }

  // Initialises a fresh, zero-filled layout and ring: positions 0, the first
  // header empty(0) with message number 0.
  static void initialize(MpmcRingLayout& layout, std::byte* data, std::uint64_t key) noexcept {
    // relaxed: the segment's publish (release) orders these before any opener.
    layout.key.key = key;
    layout.tail.value.store(0, std::memory_order_relaxed);
    layout.head.value.store(0, std::memory_order_relaxed);
    layout.released.value.store(0, std::memory_order_relaxed);
    auto* first = platform::layout_at<MpmcRecordHeader>(data);
    first->meta.store(0, std::memory_order_relaxed);
    first->state.store(word(0, RecordKind::empty, 0, key), std::memory_order_relaxed);
  }

  // ---- participants -----------------------------------------------------------

  // Takes a free slot of the table for `token` (platform::pack_owner), or the
  // slot of a participant `is_dead(token)` proves dead, after repairing what
  // it held. Returns false when all slots belong to live participants.
  template <class IsDead>
  [[nodiscard]] bool attach(std::uint64_t token, std::uint32_t hint, IsDead&& is_dead) noexcept {
    for (int pass = 0; pass < 2; ++pass) {
      for (std::uint32_t i = 0; i < kMpmcParticipants; ++i) {
        const std::uint32_t idx = (hint + i) % kMpmcParticipants;
        MpmcParticipantLayout& p = layout_->participants[idx];
        // SYNC(slot): acquire — pairs with the release in detach(): the last
        // owner's records are visible.
        std::uint64_t owner = p.owner.load(std::memory_order_acquire);
        if (owner != 0 && (pass == 0 || !is_dead(owner))) continue;
        if (!p.owner.compare_exchange_strong(owner, token, std::memory_order_acq_rel, std::memory_order_relaxed)) {
          continue;
        }
        me_ = idx;
        slot_ = &p;
        // relaxed: a dead owner's hazard protected nothing it will ever CAS;
        // ours is published with seq_cst when we need one.
        p.hazard.store(0, std::memory_order_relaxed);
        // A dead owner may still be named by the records it held: finish them
        // now, as this index, before anything else can be claimed under it.
        if (owner != 0) {
          (void)repair_producer(Blocker{idx, p.held_put.load(std::memory_order_relaxed)});
          (void)repair_consumer(Blocker{idx, p.held_get.load(std::memory_order_relaxed)});
        }
        return true;
      }
    }
    return false;
  }

  // Gives the slot back; abandons an uncommitted claim and an unreleased read.
  void detach(std::uint64_t token) noexcept {
    if (slot_ == nullptr) return;
    abandon_claim();
    if (read_pos_ != kNone) pop();
    unprotect();  // none stands between calls; a fork child's copy never detaches
    std::uint64_t expected = token;
    // SYNC(slot): release — our last records are visible to the next owner.
    (void)slot_->owner.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
    slot_ = nullptr;
    me_ = kNoOwner;
  }

  // A fork child's copy of the handle: the slot and records are the
  // parent's. Forgets them without touching shared memory.
  void forget() noexcept {
    slot_ = nullptr;
    me_ = kNoOwner;
    claim_pos_ = kNone;
    read_pos_ = kNone;
  }

  [[nodiscard]] bool attached() const noexcept { return slot_ != nullptr; }
  [[nodiscard]] std::uint32_t index() const noexcept { return me_; }
  // The owner token of participant `idx` (0: free), for liveness checks.
  [[nodiscard]] std::uint64_t owner_token(std::uint32_t idx) const noexcept {
    if (idx >= kMpmcParticipants) return 0;
    return layout_->participants[idx].owner.load(std::memory_order_acquire);
  }

  // ---- producer -----------------------------------------------------------

  // Claims room for a message of `n` bytes; commit() publishes it.
  // full: no room (blocker: a consumer still reading the oldest record, if
  // that is what holds it); busy: another producer is between its claim and
  // its tail update (blocker: that producer) — retry at once.
  [[nodiscard]] MpmcClaim claim(std::uint64_t n) noexcept {
    if (n > max_payload_) return {RingStatus::too_large, {}, {}};
    const std::uint64_t s = record_bytes(n);
    for (MpmcClaim answer{};;) {
      // SYNC(tail): acquire — the header at t (empty(t), its message number)
      // written before the tail moved here is visible.
      const std::uint64_t t = layout_->tail.value.load(std::memory_order_acquire);
      SHMRING_PREEMPTION_POINT();
      const std::uint64_t need = claim_span(t, s);
      const bool pad = need != s;
      Attempt a = room_at(t, need, answer);
      std::uint32_t seq = 0;
      if (a == Attempt::go) a = take_empty(t, pad, seq, answer);
      if (a == Attempt::answer) return answer;
      if (a == Attempt::again) continue;
      publish_claim(t, need, seq, pad, pad ? kPaddingFlag | need / kMpmcAlign : n);
      if (pad) continue;  // the padding is consumed; claim again at the ring's start
      claim_pos_ = t;
      claim_size_ = s;
      claim_len_ = n;
      claim_seq_ = seq;
      return {RingStatus::ok, {data_ + (t & mask_) + kHeader, static_cast<std::size_t>(n)}, {}};
    }
  }

  [[nodiscard]] bool has_claim() const noexcept { return claim_pos_ != kNone; }

  // On-demand memory: claims never reach past *end (positions below it have
  // memory reserved); a claim that would returns unbacked with blocker.pos =
  // the end it needs.
  void limit_to_backed(const std::atomic<std::uint64_t>* end) noexcept { backed_end_ = end; }

  // Moves `released` over consumed records now (producers do it when they
  // need room; the owner of on-demand memory, to return it); returns the end
  // of the bytes that may be reused (no hazard stands on them).
  std::uint64_t release_consumed() noexcept {
    (void)refresh_released();
    return reuse_limit_;
  }
  [[nodiscard]] std::uint64_t tail() const noexcept { return layout_->tail.value.load(std::memory_order_acquire); }

  // Publishes the claimed record with its first `n` bytes (n <= claimed).
  void commit(std::uint64_t n) noexcept {
    if (claim_pos_ == kNone) return;
    if (n > claim_len_) n = claim_len_;
    const std::uint64_t t = claim_pos_;
    MpmcRecordHeader& h = header(t);
    const std::uint64_t used = record_bytes(n);
    if (used < claim_size_) {  // the unused tail of the claim becomes padding
      MpmcRecordHeader& ph = header(t + used);
      // relaxed: published by the commit below.
      ph.meta.store(std::uint64_t{claim_seq_ + 1} << 32 | kPaddingFlag | (claim_size_ - used) / kMpmcAlign,
                    std::memory_order_relaxed);
      ph.state.store(word(t + used, RecordKind::consumed, me_), std::memory_order_relaxed);
    }
    SHMRING_PREEMPTION_POINT();
    h.meta.store(std::uint64_t{claim_seq_} << 32 | n, std::memory_order_relaxed);
    // SYNC(state): release — the payload and meta are visible to the consumer
    // whose CAS (acquire) takes this record.
    h.state.store(word(t, RecordKind::committed, me_), std::memory_order_release);
    claim_pos_ = kNone;
  }

  // Gives up an uncommitted claim: the record becomes padding.
  void abandon_claim() noexcept {
    if (claim_pos_ == kNone) return;
    MpmcRecordHeader& h = header(claim_pos_);
    h.meta.store(std::uint64_t{claim_seq_} << 32 | kPaddingFlag | claim_size_ / kMpmcAlign, std::memory_order_relaxed);
    // SYNC(state): release — the padding size is visible with the state.
    h.state.store(word(claim_pos_, RecordKind::consumed, me_), std::memory_order_release);
    claim_pos_ = kNone;
  }

  // True when a claim of `n` bytes would find room now (a wait predicate).
  [[nodiscard]] bool producer_can_claim(std::uint64_t n) noexcept {
    const std::uint64_t t = layout_->tail.value.load(std::memory_order_acquire);
    const std::uint64_t s = record_bytes(n);
    const std::uint64_t need = claim_span(t, s);
    if (max_messages_ != 0 && !room_for_message(seq_at(t))) return false;
    if (t + need + kHeader <= reuse_limit_ + capacity_) return true;
    (void)refresh_released();
    return t + need + kHeader <= reuse_limit_ + capacity_ || layout_->tail.value.load(std::memory_order_acquire) != t;
  }

  // ---- consumer -----------------------------------------------------------

  // Takes the oldest committed record for this participant; the view stays
  // valid until pop(). empty: nothing committed (blocker: the producer still
  // writing the oldest record, if any).
  //
  // A record still being written does not hold the consumers up: they take
  // committed records after it (up to kMaxSkip records on), except those of
  // a producer whose record they skipped. That keeps each producer's order:
  // having seen its record X still claimed, we may not take a later record
  // of the same producer even though X cannot be in its claim any more by
  // then (one claim at a time) — X may have been committed just after we
  // looked, and then X must be taken first (skipping by position alone
  // would reorder: MpmcFixture.ALaterRecordOfAProducerWhoseRecordWasSkippedIsNotTakenFirst,
  // and the 4P4C tests check producer order). Skipping keeps one
  // descheduled producer (more processes than cores) from stalling every
  // consumer until it runs again. The head stays at the unfinished record.
  [[nodiscard]] MpmcView front() noexcept { return scan(true); }

  // Consumes the record front() handed out.
  void pop() noexcept {
    if (read_pos_ == kNone) return;
    SHMRING_PREEMPTION_POINT();
    // SYNC(state): release — our reads of the payload come before any
    // producer's reuse of these bytes (it acquires this state first).
    header(read_pos_).state.store(word(read_pos_, RecordKind::consumed, me_), std::memory_order_release);
    read_pos_ = kNone;
  }

  [[nodiscard]] bool has_read() const noexcept { return read_pos_ != kNone; }

  // True when front() would find a record (a wait predicate).
  [[nodiscard]] bool consumer_can_read() noexcept { return scan(false).status != RingStatus::empty; }

  // ---- repairs (the caller has proved the blocker's owner dead) -------------

  // A producer died holding the claimed record at b.pos: make it padding.
  // False when it is not (or no longer) claimed by b.owner.
  [[nodiscard]] bool repair_producer(Blocker b) noexcept {
    if (b.owner >= kMpmcParticipants || slot_ == nullptr) return false;
    MpmcRecordHeader& x = header(b.pos);
    std::uint64_t w = word(b.pos, RecordKind::claimed, b.owner);
    // A blocker seen a lap ago names bytes that are another lap's now.
    if (x.state.load(std::memory_order_acquire) != w || !protect(b.pos)) return false;
    SHMRING_PREEMPTION_POINT();
    slot_->held_put.store(b.pos, std::memory_order_relaxed);  // if we die too, the next repairer knows
    // SYNC(state): acq_rel — the dead owner's writes before its death, and
    // our takeover, are ordered for the next repairer.
    const bool won = x.state.compare_exchange_strong(w, word(b.pos, RecordKind::claimed, me_),
                                                     std::memory_order_acq_rel, std::memory_order_relaxed);
    unprotect();
    if (!won) return false;
    // SYNC(tail): acquire — if the owner moved the tail, its meta and the next
    // header are visible. Nobody else moves the tail from b.pos: the record
    // there is claimed (by us now).
    const std::uint64_t t = layout_->tail.value.load(std::memory_order_acquire);
    // relaxed: after the takeover CAS (acq_rel) above; nobody else writes it now.
    const std::uint64_t m = x.meta.load(std::memory_order_relaxed);
    const std::uint32_t seq = static_cast<std::uint32_t>(m >> 32);
    if (t == b.pos) {
      // It died before moving the tail: nothing after it exists. The record
      // shrinks to a bare header; the room was proven when it was claimed.
      // relaxed: the next header by the tail store (release) below, the
      // padding size by the state store (release) at the end.
      MpmcRecordHeader& nh = header(b.pos + kHeader);
      nh.meta.store(std::uint64_t{seq} << 32, std::memory_order_relaxed);
      nh.state.store(word(b.pos + kHeader, RecordKind::empty, 0), std::memory_order_relaxed);
      x.meta.store(std::uint64_t{seq} << 32 | kPaddingFlag | 1, std::memory_order_relaxed);
      // SYNC(tail): release — publishes the new next header.
      layout_->tail.value.store(b.pos + kHeader, std::memory_order_release);
    } else {
      const std::uint64_t size = span_of(m);
      const std::uint64_t keep = size == 0 || size > t - b.pos ? kHeader : size;
      // relaxed: published by the state store (release) below.
      x.meta.store(std::uint64_t{seq} << 32 | kPaddingFlag | keep / kMpmcAlign, std::memory_order_relaxed);
    }
    // SYNC(state): release — the padding size is visible with the state.
    x.state.store(word(b.pos, RecordKind::consumed, me_), std::memory_order_release);
    // relaxed: a statistic.
    layout_->key.claims_abandoned.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // A consumer died reading the record at b.pos: it is consumed (lost).
  [[nodiscard]] bool repair_consumer(Blocker b) noexcept {
    if (b.owner >= kMpmcParticipants || slot_ == nullptr) return false;
    std::uint64_t w = word(b.pos, RecordKind::reading, b.owner);
    if (header(b.pos).state.load(std::memory_order_acquire) != w || !protect(b.pos)) return false;
    // SYNC(state): acq_rel — the release as pop()'s: a producer that acquires
    // `consumed` may reuse the bytes; the acquire as repair_producer()'s takeover.
    const bool won = header(b.pos).state.compare_exchange_strong(w, word(b.pos, RecordKind::consumed, b.owner),
                                                                 std::memory_order_acq_rel, std::memory_order_relaxed);
    unprotect();
    if (!won) return false;
    // relaxed: a statistic.
    layout_->key.reads_lost.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // A participant died holding a hazard at b.pos (refresh_released() named
  // it as what keeps producers from room): clear it. False when its hazard
  // is not (or no longer) that one.
  [[nodiscard]] bool repair_hazard(Blocker b) noexcept {
    if (b.owner >= kMpmcParticipants) return false;
    std::uint64_t expected = kHazardFlag | b.pos;
    // SYNC(hazard): release — as unprotect(); the owner is dead, it CASes nothing more.
    return layout_->participants[b.owner].hazard.compare_exchange_strong(expected, 0, std::memory_order_release,
                                                                         std::memory_order_relaxed);
  }

  // Repairs every record that a dead consumer still holds (`is_dead(token)`
  // proves it), from the oldest up to the head; returns how many. Needed
  // only to account for them at once: producers repair a dead reader's record
  // anyway when its room is what they wait for.
  template <class IsDead>
  std::uint64_t repair_dead_readers(IsDead&& is_dead) noexcept {
    std::uint64_t repaired = 0;
    std::uint64_t r = layout_->released.value.load(std::memory_order_acquire);
    const std::uint64_t hd = layout_->head.value.load(std::memory_order_acquire);
    while (r < hd) {
      MpmcRecordHeader& x = header(r);
      const std::uint64_t w = x.state.load(std::memory_order_acquire);
      if (tag_of(w) != tag(r)) break;  // reused meanwhile: whatever we missed was consumed
      if (kind_of(w) == RecordKind::reading) {
        const std::uint64_t token = owner_token(owner_of(w));
        if ((token == 0 || is_dead(token)) && repair_consumer(Blocker{owner_of(w), r})) ++repaired;
      }
      const std::uint64_t size = span_of(x.meta.load(std::memory_order_relaxed));
      if (size == 0 || size > hd - r) break;
      r += size;
    }
    return repaired;
  }

  // Repairs made on this ring by every participant so far.
  [[nodiscard]] std::uint64_t claims_abandoned() const noexcept {
    return layout_->key.claims_abandoned.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t reads_lost() const noexcept {
    return layout_->key.reads_lost.load(std::memory_order_relaxed);
  }

  // ---- observers ------------------------------------------------------------

  // Messages put and not yet taken, from the message numbers at head and
  // tail (exact when quiescent).
  [[nodiscard]] std::uint64_t message_count() const noexcept {
    for (int attempt = 0; attempt < 16; ++attempt) {
      const std::uint64_t h = layout_->head.value.load(std::memory_order_acquire);
      // A record still being written (or whose producer died writing it and
      // is not repaired yet) is no message yet: not counted.
      const std::uint32_t queued = queued_after_head(h, tail_seq(), false);
      // Valid if the head stayed: the record there is not reused before it moves.
      if (layout_->head.value.load(std::memory_order_acquire) == h) return queued;
    }
    return 0;
  }

  [[nodiscard]] std::uint64_t used_bytes() const noexcept {
    const std::uint64_t r = layout_->released.value.load(std::memory_order_acquire);
    const std::uint64_t t = layout_->tail.value.load(std::memory_order_acquire);
    return t >= r ? t - r : 0;
  }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return max_payload_; }

  // Positions as an opener validates them.
  [[nodiscard]] bool positions_sane() const noexcept { return layout_sane(*layout_, capacity_); }
  // released <= head <= tail, within one ring, aligned: checked on a mapped
  // layout another process controls before any handle uses it, while its
  // participants may be moving all three. Read in the order that makes each
  // bound hold for a sound ring in motion (all three only grow;
  // live_positions.hpp): released, head, tail, released again.
  [[nodiscard]] static bool layout_sane(const MpmcRingLayout& l, std::uint64_t capacity) noexcept {
    const std::uint64_t r = l.released.value.load(std::memory_order_acquire);
    const std::uint64_t h = l.head.value.load(std::memory_order_acquire);
    const std::uint64_t t = l.tail.value.load(std::memory_order_acquire);
    const LivePositions rt{r, t, l.released.value.load(std::memory_order_acquire)};
    return r <= h && h <= t && rt.within(capacity - kHeader) && rt.aligned(kMpmcAlign) && h % kMpmcAlign == 0;
  }

 private:
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};
  static constexpr std::uint64_t kTagMask = (std::uint64_t{1} << kTagBits) - 1;

  [[nodiscard]] static constexpr std::uint64_t word(std::uint64_t pos, RecordKind kind, std::uint32_t owner,
                                                    std::uint64_t key) noexcept {
    return (((pos / kMpmcAlign) ^ key) & kTagMask) << 12 | std::uint64_t{owner & 0xffu} << 4 |
           static_cast<std::uint64_t>(kind);
  }
  [[nodiscard]] std::uint64_t word(std::uint64_t pos, RecordKind kind, std::uint32_t owner) const noexcept {
    return word(pos, kind, owner, key_);
  }
  [[nodiscard]] std::uint64_t tag(std::uint64_t pos) const noexcept { return word(pos, RecordKind{}, 0) >> 12; }
  [[nodiscard]] static constexpr std::uint64_t tag_of(std::uint64_t w) noexcept { return w >> 12; }
  [[nodiscard]] static constexpr RecordKind kind_of(std::uint64_t w) noexcept { return RecordKind(w & 0xfu); }
  [[nodiscard]] static constexpr std::uint32_t owner_of(std::uint64_t w) noexcept {
    return static_cast<std::uint32_t>(w >> 4) & 0xffu;
  }
  // The bytes a record spans, from its meta word (0: impossible).
  [[nodiscard]] std::uint64_t span_of(std::uint64_t meta) const noexcept {
    const std::uint32_t len = static_cast<std::uint32_t>(meta);
    const std::uint64_t size =
        (len & kPaddingFlag) != 0 ? std::uint64_t{len & ~kPaddingFlag} * kMpmcAlign : record_bytes(len);
    return size == 0 || size > capacity_ ? 0 : size;
  }

  // What a claim of a `s`-byte record at tail `t` takes next: the record, or
  // (less than s) the padding to the ring's end that must come first.
  [[nodiscard]] std::uint64_t claim_span(std::uint64_t t, std::uint64_t s) const noexcept {
    const std::uint64_t offset = t & mask_;
    return offset + s > capacity_ ? capacity_ - offset : s;
  }

  [[nodiscard]] MpmcRecordHeader& header(std::uint64_t pos) const noexcept {
    return *platform::layout_at<MpmcRecordHeader>(data_ + (pos & mask_));
  }
  // relaxed: callers acquire the position first (tail or head), which
  // publishes the header there.
  [[nodiscard]] std::uint32_t seq_at(std::uint64_t pos) const noexcept {
    return static_cast<std::uint32_t>(header(pos).meta.load(std::memory_order_relaxed) >> 32);
  }
  [[nodiscard]] bool is_padding(std::uint64_t pos) const noexcept {
    return (static_cast<std::uint32_t>(header(pos).meta.load(std::memory_order_relaxed)) & kPaddingFlag) != 0;
  }

  static constexpr int kMaxSkip = 64;
  static constexpr int kCountWalk = 4096;

  // A claim attempt's step: go on, try again from a fresh tail (it moved,
  // or what we read of it was a lap old), or return `answer`.
  enum class Attempt : std::uint8_t { go, again, answer };

  // Is there room for `need` bytes (and a next header) at tail t, and
  // memory behind them?
  [[gnu::always_inline]] Attempt room_at(std::uint64_t t, std::uint64_t need, MpmcClaim& answer) noexcept {
    if (t + need + kHeader > reuse_limit_ + capacity_) {
      const Blocker reader = refresh_released();
      if (t < released_cache_ || t - released_cache_ > capacity_) {
        if (layout_->tail.value.load(std::memory_order_acquire) != t) return Attempt::again;
        answer = {RingStatus::corrupt, {}, {}};
        return Attempt::answer;
      }
      if (t + need + kHeader > reuse_limit_ + capacity_) {
        if (layout_->tail.value.load(std::memory_order_acquire) != t) return Attempt::again;
        answer = {RingStatus::full, {}, reader};
        return Attempt::answer;
      }
    }
    if (backed_end_ != nullptr && t + need + kHeader > backed_cache_) {
      // SYNC(backing): acquire — pairs with the release that published the
      // reservation; memory below it may be written.
      backed_cache_ = backed_end_->load(std::memory_order_acquire);
      if (t + need + kHeader > backed_cache_) {
        answer = {RingStatus::unbacked, {}, {kNoOwner, t + need + kHeader}};
        return Attempt::answer;
      }
    }
    return Attempt::go;
  }

  // Makes the empty record at tail t ours (claimed) with the one CAS of a
  // claim; seq: its message number. A padding record (pad) takes no message
  // number, so maxsize does not stop it.
  [[gnu::always_inline]] Attempt take_empty(std::uint64_t t, bool pad, std::uint32_t& seq, MpmcClaim& answer) noexcept {
    MpmcRecordHeader& h = header(t);
    // SYNC(state): acquire — see the claim CAS below.
    std::uint64_t w = h.state.load(std::memory_order_acquire);
    if (w != word(t, RecordKind::empty, 0)) return not_empty(t, w, answer);
    // acquire: this read must stay before protect()'s load of `released`,
    // which vouches for it. (The value itself was written with empty(t) and
    // published by the tail store we acquired in claim().)
    seq = static_cast<std::uint32_t>(h.meta.load(std::memory_order_acquire) >> 32);
    if (!protect(t)) {  // our tail is a lap old: that empty(t) was half-overwritten bytes
      if (!behind_released(layout_->tail)) return Attempt::again;
      answer = {RingStatus::corrupt, {}, {}};
      return Attempt::answer;
    }
    if (!pad && max_messages_ != 0 && !room_for_message(seq)) {
      unprotect();
      if (layout_->tail.value.load(std::memory_order_acquire) != t) return Attempt::again;
      answer = {RingStatus::full, {}, {}};
      return Attempt::answer;
    }
    SHMRING_PREEMPTION_POINT();
    // relaxed: read only by whoever proves us dead, after our death.
    slot_->held_put.store(t, std::memory_order_relaxed);
    // SYNC(state): acq_rel — the one CAS that makes the record ours. Our
    // later writes to [t, t + need) must not move above it nor above the
    // acquire of `released` that proved the room free. Under the hazard:
    // the word it compares cannot be reused bytes (see "Reuse").
    const bool won = h.state.compare_exchange_strong(w, word(t, RecordKind::claimed, me_), std::memory_order_acq_rel,
                                                     std::memory_order_relaxed);
    unprotect();  // a claimed record holds `released` back by itself
    return won ? Attempt::go : Attempt::again;
  }

  // The record at tail t is not empty(t), state word w.
  [[nodiscard]] Attempt not_empty(std::uint64_t t, std::uint64_t w, MpmcClaim& answer) const noexcept {
    SHMRING_PREEMPTION_POINT();
    if (stale(t)) {  // our tail is a lap old: these bytes are another lap's
      if (!behind_released(layout_->tail)) return Attempt::again;
      answer = {RingStatus::corrupt, {}, {}};
      return Attempt::answer;
    }
    if (tag_of(w) == tag(t) && kind_of(w) == RecordKind::claimed) {
      // Another producer claimed it and has not moved the tail yet.
      answer = {RingStatus::busy, {}, {owner_of(w), t}};
      return Attempt::answer;
    }
    if (layout_->tail.value.load(std::memory_order_acquire) != t) return Attempt::again;  // we read a stale tail
    answer = {RingStatus::corrupt, {}, {}};
    return Attempt::answer;
  }

  // After the claim CAS on the record at t: writes the next record's empty
  // header (message number seq + 1, or seq again after padding) and this
  // record's meta (its length, or kPaddingFlag | its span), then moves the
  // tail past it. Padding is consumed at once.
  [[gnu::always_inline]] void publish_claim(std::uint64_t t, std::uint64_t need, std::uint32_t seq, bool pad,
                                            std::uint64_t meta_low) noexcept {
    SHMRING_PREEMPTION_POINT();
    const std::uint64_t next = t + need;
    MpmcRecordHeader& h = header(t);
    MpmcRecordHeader& nh = header(next);
    // relaxed: both published by the tail store (release) below.
    nh.meta.store(std::uint64_t{pad ? seq : seq + 1} << 32, std::memory_order_relaxed);
    nh.state.store(word(next, RecordKind::empty, 0), std::memory_order_relaxed);
    if (!pad) SHMRING_PREEMPTION_POINT();
    h.meta.store(std::uint64_t{seq} << 32 | meta_low, std::memory_order_relaxed);  // final length at commit
    // SYNC(tail): release — publishes meta and the next header.
    layout_->tail.value.store(next, std::memory_order_release);
    // SYNC(state): release — consumers read the padding's size after this.
    if (pad) h.state.store(word(t, RecordKind::consumed, me_), std::memory_order_release);
  }

  // protect() for a walk with many exits: the hazard is cleared by clear()
  // or when the scope ends.
  struct HazardScope {
    MpmcRing& ring;
    bool set = false;
    explicit HazardScope(MpmcRing& r) noexcept : ring(r) {}
    HazardScope(const HazardScope&) = delete;
    HazardScope& operator=(const HazardScope&) = delete;
    ~HazardScope() { clear(); }
    [[nodiscard]] bool protect(std::uint64_t pos) noexcept { return set || (set = ring.protect(pos)); }
    void clear() noexcept {
      if (set) ring.unprotect();
      set = false;
    }
  };

  // front()'s walk from the head: helps the head past taken records, skips
  // records still being written, and takes (take) or reports (!take) the
  // first committed one. A walk that stale() or a moved head cannot vouch
  // for starts again from the head.
  [[nodiscard]] MpmcView scan(bool take) noexcept {
    if (read_pos_ != kNone) return reread();  // read() twice without release(): the same record
    HazardScope hazard{*this};                // cleared on every way out
    for (bool again = false;; again = true) {
      hazard.clear();
      // Every walk after the first was restarted by a stale() verdict or a
      // moved head; a head behind `released` would restart it forever.
      if (again && behind_released(layout_->head)) return {RingStatus::corrupt, {}, {}};
      if (MpmcView out; walk(take, hazard, out)) return out;
    }
  }

  // The record this consumer holds, handed out again. Its length is read
  // again from shared memory, so it is checked again: the record is ours,
  // but a damaged file can still change its bytes (reproducer
  // fuzz/crashes/corrupt_ring-reread-length).
  [[nodiscard]] MpmcView reread() noexcept {
    const std::uint32_t len = static_cast<std::uint32_t>(header(read_pos_).meta.load(std::memory_order_relaxed));
    if ((len & kPaddingFlag) != 0 || len > max_payload_ || (read_pos_ & mask_) + record_bytes(len) > capacity_) {
      pop();  // as for a damaged record found by a walk
      return {RingStatus::corrupt, {}, {}};
    }
    return {RingStatus::ok, {data_ + (read_pos_ & mask_) + kHeader, len}, {}};
  }

  // What step_over() says: walk on from k.r, start a new walk, or the answer is in `out`.
  enum class Step : std::uint8_t { on, again, answer };

  // One walk's position and what it has seen so far.
  struct Walk {
    std::uint64_t start;  // the head it began at: trusted while stale(start) is false
    std::uint64_t h;      // the head as this walk moved it
    std::uint64_t r;      // the record looked at
    Blocker writer;       // the oldest record still being written; kNoOwner: none seen yet
    // Producers with a record skipped; zeroed when the first one is (until
    // then writer.owner is kNoOwner and the bits are not read).
    std::uint64_t skipped[kMpmcParticipants / 64];
    int hops = 0;

    explicit Walk(std::uint64_t head) noexcept : start(head), h(head), r(head) {}
    [[nodiscard]] bool was_skipped(std::uint32_t owner) const noexcept {
      return writer.owner != kNoOwner && (skipped[owner / 64] >> (owner % 64) & 1) != 0;
    }
    void skip(std::uint32_t owner, std::uint64_t pos) noexcept {
      if (writer.owner == kNoOwner) {
        writer = {owner, pos};
        for (std::uint64_t& bits : skipped) bits = 0;
      }
      skipped[owner / 64] |= std::uint64_t{1} << (owner % 64);
    }
  };

  // One walk from the head: true with the answer in `out`, false to start again.
  //
  // What a walk read is acted on (a CAS) or reported (corrupt) only after
  // stale(start) vouches that no byte from its start on was reused
  // meanwhile: a walk descheduled for a lap reads another lap's bytes — a
  // payload half-written over an old header, or an old header whose size
  // jumps over records of this lap (taking the committed record it lands on
  // would then pass over an earlier one of the same producer;
  // tests/stress/mpmc_race_test.cpp provokes such walks). Skipping over
  // stale bytes is harmless: it ends in one of the checks.
  [[gnu::always_inline]] [[nodiscard]] bool walk(bool take, HazardScope& hazard, MpmcView& out) noexcept {
    // SYNC(head): acquire — pairs with the release CAS that moved it here.
    const std::uint64_t h = layout_->head.value.load(std::memory_order_acquire);
    SHMRING_PREEMPTION_POINT();
    Walk k{h};
    for (;;) {
      MpmcRecordHeader& x = header(k.r);
      // SYNC(state): acquire — pairs with the producer's commit (release).
      std::uint64_t w = x.state.load(std::memory_order_acquire);
      SHMRING_PREEMPTION_POINT();
      if (tag_of(w) != tag(k.r)) {
        if (stale(k.start) || layout_->head.value.load(std::memory_order_acquire) != k.h) return false;
        out = {RingStatus::corrupt, {}, {}};
        return true;
      }
      const RecordKind kind = kind_of(w);
      if (kind == RecordKind::empty) {
        out = {RingStatus::empty, {}, k.writer};
        return true;
      }
      if (kind == RecordKind::committed && !k.was_skipped(owner_of(w))) {
        if (!take) {
          out = {RingStatus::ok, {}, {}};
          return true;
        }
        // The walk from `start` is vouched for, and the CAS below compares a
        // header that cannot be reused bytes, while the hazard stands.
        if (!hazard.protect(k.start)) return false;
        SHMRING_PREEMPTION_POINT();
        // relaxed: read only by whoever proves us dead, after our death.
        slot_->held_get.store(k.r, std::memory_order_relaxed);
        // SYNC(state): acquire — the payload is visible once the record is ours.
        if (!x.state.compare_exchange_strong(w, word(k.r, RecordKind::reading, me_), std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
          continue;  // taken by another consumer: look at it again (still protected)
        }
        hazard.clear();  // a record being read holds `released` back by itself
        out = taken(k.r, k.h);
        return true;
      }
      if (kind == RecordKind::committed) {  // a later record of a producer we skipped: not yet
        out = {RingStatus::empty, {}, k.writer};
        return true;
      }
      switch (step_over(k, x, w, out)) {
        case Step::on: break;
        case Step::again: return false;
        case Step::answer: return true;
      }
    }
  }

  // The walk passes the record at k.r that is not its to take (being
  // written, being read or consumed), helping the head past it when taken.
  // on: walk on from k.r; again: start a new walk; answer: `out` holds it.
  [[gnu::always_inline]] [[nodiscard]] Step step_over(Walk& k, MpmcRecordHeader& x, std::uint64_t w,
                                                      MpmcView& out) noexcept {
    const RecordKind kind = kind_of(w);
    if (kind != RecordKind::claimed && kind != RecordKind::reading && kind != RecordKind::consumed) {
      if (stale(k.start)) return Step::again;
      out = {RingStatus::corrupt, {}, {}};
      return Step::answer;
    }
    // SYNC(tail): acquire — a claimed record's size (meta) was written
    // before its producer moved the tail past it.
    const std::uint64_t tail = layout_->tail.value.load(std::memory_order_acquire);
    if (kind == RecordKind::claimed) {
      k.skip(owner_of(w), k.r);
      if (tail <= k.r || ++k.hops > kMaxSkip) {
        if (stale(k.start)) return Step::again;  // the blocker it names must be real: it may be repaired
        out = {RingStatus::empty, {}, k.writer};
        return Step::answer;
      }
    }
    // acquire: read before stale() below looks at `released`.
    const std::uint64_t size = span_of(x.meta.load(std::memory_order_acquire));
    SHMRING_PREEMPTION_POINT();
    if (size == 0 || size > tail - k.r) {
      if (stale(k.start) || layout_->head.value.load(std::memory_order_acquire) != k.h) return Step::again;
      out = {RingStatus::corrupt, {}, {}};
      return Step::answer;
    }
    if (k.r == k.h && kind != RecordKind::claimed) {  // taken already: help the head past it
      advance_head(k.h, size);
      k.h += size;
    }
    k.r += size;
    return Step::on;
  }

  // The record at r is ours (reading); h is the head as the walk left it.
  // A sound record never crosses the ring's end (claim pads instead);
  // checking it keeps a view inside the mapping even when a damaged tail
  // makes `tail - r` meaningless.
  [[gnu::always_inline]] [[nodiscard]] MpmcView taken(std::uint64_t r, std::uint64_t h) noexcept {
    SHMRING_PREEMPTION_POINT();
    const std::uint32_t len = static_cast<std::uint32_t>(header(r).meta.load(std::memory_order_relaxed));
    const std::uint64_t tail = layout_->tail.value.load(std::memory_order_acquire);
    read_pos_ = r;
    if ((len & kPaddingFlag) != 0 || len > max_payload_ || record_bytes(len) > tail - r ||
        (r & mask_) + record_bytes(len) > capacity_) {
      pop();  // a damaged record: not handed out, not left to wedge the queue
      return {RingStatus::corrupt, {}, {}};
    }
    if (r == h) advance_head(h, record_bytes(len));
    return {RingStatus::ok, {data_ + (r & mask_) + kHeader, len}, {}};
  }

  // True when the bytes at position `pos` may have been reused since the
  // reads before this call: reuse needs `released` past them, and `released`
  // only grows. Called after the reads it vouches for (acquire loads, so they
  // cannot move below this one). Without it, a participant descheduled for a
  // whole lap reads a header whose low bytes a later payload overwrote and
  // whose tag bytes were left: a "record" of no kind (reported as corrupt),
  // or worse, one that looks committed and whose CAS succeeds inside another
  // message (that CAS: model/mpmc_ring.pml, "Reuse"; both:
  // tests/stress/mpmc_race_test.cpp).
  [[nodiscard]] bool stale(std::uint64_t pos) const noexcept {
    // SYNC(released): acquire — orders this load after the header reads.
    return layout_->released.value.load(std::memory_order_acquire) > pos;
  }

  // After stale() said yes: true when `anchor` (tail or head) is behind
  // `released`, which a sound ring never allows (released <= head <= tail):
  // a damaged file, where retrying until the position moves would spin
  // forever (a put that never returns; reproducer
  // fuzz/crashes/corrupt_ring-released-past-tail). `released` is
  // read first: the anchor only grows, so a sound anchor read after it is
  // at least that value.
  [[nodiscard]] bool behind_released(const MpmcPositionLayout& anchor) const noexcept {
    // SYNC(released): acquire — ordered before the anchor's load below.
    const std::uint64_t rel = layout_->released.value.load(std::memory_order_acquire);
    return anchor.value.load(std::memory_order_acquire) < rel;
  }

  void advance_head(std::uint64_t from, std::uint64_t size) noexcept {
    std::uint64_t expected = from;
    SHMRING_PREEMPTION_POINT();
    // SYNC(head): release — a consumer that reads the new head sees the
    // header there (written before the record we passed was committed).
    (void)layout_->head.value.compare_exchange_strong(expected, from + size, std::memory_order_release,
                                                      std::memory_order_relaxed);
  }

  // Moves `released` over consumed records (never past head); sets
  // released_cache_ to it and reuse_limit_ to the end of the bytes producers
  // may reuse: `released`, or the lowest hazard below it (a hazard below
  // `released` may be one about to fail its check: honouring it only waits
  // a little). Returns who stops it from going further:
  // the participant whose hazard is lowest, if one is below `released`, else
  // the consumer holding the oldest record, if a read is what stops it.
  Blocker refresh_released() noexcept {
    // SYNC(released): seq_cst — pairs with the CAS (seq_cst, so release) of
    // whoever moved it, and is ordered before the hazard loads below (see "Reuse").
    std::uint64_t cur = layout_->released.value.load(std::memory_order_seq_cst);
    const std::uint64_t hd = layout_->head.value.load(std::memory_order_acquire);
    std::uint64_t r = cur;
    Blocker reader;
    SHMRING_PREEMPTION_POINT();
    while (r < hd) {
      MpmcRecordHeader& x = header(r);
      // SYNC(state): acquire — pairs with pop() (release): the reader is done
      // with the bytes before we let anyone reuse them.
      const std::uint64_t w = x.state.load(std::memory_order_acquire);
      if (tag_of(w) != tag(r)) break;  // `released` moved on; the CAS below fails
      if (kind_of(w) != RecordKind::consumed) {
        if (kind_of(w) == RecordKind::reading) reader = {owner_of(w), r};
        break;
      }
      const std::uint64_t size = span_of(x.meta.load(std::memory_order_relaxed));
      if (size == 0 || size > hd - r) break;  // damaged: stop here
      r += size;
    }
    SHMRING_PREEMPTION_POINT();
    // SYNC(released): seq_cst — success proves nobody moved `released` while
    // we read, so what we read was not overwritten; it publishes the new
    // value, and precedes the hazard loads below in the single total order.
    if (r != cur && !layout_->released.value.compare_exchange_strong(cur, r, std::memory_order_seq_cst,
                                                                     std::memory_order_seq_cst)) {
      r = cur;  // someone else moved it further
      reader = {};
    }
    SHMRING_PREEMPTION_POINT();
    const Blocker scanner = lowest_hazard(r);
    released_cache_ = r;
    reuse_limit_ = scanner.owner == kNoOwner ? r : scanner.pos;
    return scanner.owner == kNoOwner ? reader : scanner;
  }

  // The participant with the lowest hazard below `limit` (its position), or
  // kNoOwner.
  [[nodiscard]] Blocker lowest_hazard(std::uint64_t limit) const noexcept {
    Blocker lowest{kNoOwner, limit};
    for (std::uint32_t i = 0; i < kMpmcParticipants; ++i) {
      // SYNC(hazard): seq_cst — after our read or CAS of `released`: a
      // participant whose check of `released` came before it is seen here.
      const std::uint64_t hz = layout_->participants[i].hazard.load(std::memory_order_seq_cst);
      // A damaged word (flag clear) protects nothing: positions are aligned.
      if ((hz & kHazardFlag) == 0) continue;
      const std::uint64_t pos = hz & ~(kMpmcAlign - 1);
      if (pos < lowest.pos) lowest = {i, pos};
    }
    return lowest;
  }

  // Publishes this participant's hazard at `pos` and checks that nothing
  // from `pos` on was reused before it stood (stale() after the store).
  // False: stale; no hazard is left standing.
  [[nodiscard]] bool protect(std::uint64_t pos) noexcept {
    // SYNC(hazard): seq_cst — the store is ordered before the load of
    // `released` below (store-then-load: the pair refresh_released() and
    // lowest_hazard() complete). Either that load sees a `released` past pos,
    // or every later lowest_hazard() sees this hazard.
    slot_->hazard.store(kHazardFlag | pos, std::memory_order_seq_cst);
    SHMRING_PREEMPTION_POINT();
    if (layout_->released.value.load(std::memory_order_seq_cst) <= pos) return true;
    unprotect();
    return false;
  }
  void unprotect() noexcept {
    // SYNC(hazard): release — our CAS on the protected bytes comes before
    // any producer's reuse of them (lowest_hazard() loads this with seq_cst).
    slot_->hazard.store(0, std::memory_order_release);
  }

  // The message number the next message will get.
  [[nodiscard]] std::uint32_t tail_seq() const noexcept {
    return seq_at(layout_->tail.value.load(std::memory_order_acquire));
  }

  // Messages queued from the record at head `h` up to message number `next`:
  // the difference of the message numbers, less the records already taken
  // that the head has not passed yet (it lags behind the CAS that took one,
  // and stays at a record still being written while later ones are taken;
  // looked at up to kCountWalk records on). Padding carries the number of
  // the message after it, so it never counts.
  // `claims`: count records still being written too (maxsize must: they
  // will be messages; qsize does not: they are not yet).
  [[nodiscard]] std::uint32_t queued_after_head(std::uint64_t h, std::uint32_t next,
                                                bool claims = true) const noexcept {
    std::uint32_t n = next - seq_at(h);
    const std::uint64_t tail = layout_->tail.value.load(std::memory_order_acquire);
    std::uint64_t r = h;
    for (int hops = 0; r < tail && n > 0 && hops < kCountWalk; ++hops) {
      const MpmcRecordHeader& x = header(r);
      const std::uint64_t w = x.state.load(std::memory_order_acquire);
      const std::uint64_t m = x.meta.load(std::memory_order_relaxed);
      if (tag_of(w) != tag(r)) break;
      const RecordKind kind = kind_of(w);
      if (kind == RecordKind::empty) break;
      const bool taken = kind == RecordKind::reading || kind == RecordKind::consumed;
      const bool uncounted = taken || (!claims && kind == RecordKind::claimed);
      if (uncounted && (static_cast<std::uint32_t>(m) & kPaddingFlag) == 0) --n;
      const std::uint64_t size = span_of(m);
      if (size == 0 || size > tail - r) break;
      r += size;
    }
    return n;
  }

  // maxsize: is there room for message number `seq`? The number at the head
  // is cached: the head only moves forward, so a stale one overcounts and is
  // refreshed only when it says "full".
  [[nodiscard]] bool room_for_message(std::uint32_t seq) noexcept {
    if (seq - head_seq_cache_ < max_messages_) return true;
    for (int attempt = 0; attempt < 16; ++attempt) {
      const std::uint64_t h = layout_->head.value.load(std::memory_order_acquire);
      const std::uint32_t queued = queued_after_head(h, seq);
      if (layout_->head.value.load(std::memory_order_acquire) != h) continue;
      head_seq_cache_ = seq - queued;
      return queued < max_messages_;
    }
    return false;
  }

  MpmcRingLayout* layout_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t max_payload_;
  std::uint64_t max_messages_;
  std::uint64_t key_;
  MpmcParticipantLayout* slot_ = nullptr;
  std::uint32_t me_ = kNoOwner;
  std::uint64_t released_cache_ = 0;  // `released` as last read (sanity checks)
  std::uint64_t reuse_limit_ = 0;     // bytes below it may be reused (room checks)
  std::uint32_t head_seq_cache_ = 0;
  const std::atomic<std::uint64_t>* backed_end_ = nullptr;  // on-demand memory: see limit_to_backed()
  std::uint64_t backed_cache_ = 0;
  // The claim in progress (producer) and the record handed out (consumer).
  std::uint64_t claim_pos_ = kNone;
  std::uint64_t claim_size_ = 0;
  std::uint64_t claim_len_ = 0;
  std::uint32_t claim_seq_ = 0;
  std::uint64_t read_pos_ = kNone;
};

}  // namespace shmring
