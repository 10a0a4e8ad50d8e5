// The lane engine (LaneRing): any number of producers and consumers, a lane
// per producer; see engines.hpp and lane_ring.hpp.
#pragma once

#include <vector>

#include "engine_vocabulary.hpp"
#include "on_demand_memory.hpp"
#include "shmring/engine/lane_ring.hpp"
#include "shmring/engine/spsc_ring.hpp"  // initialize(): the layout's SPSC ring kept at rest

namespace shmring::detail {

// A guest waiting for the last lane names its holder this way (Blocker::pos:
// the holder's owner token), so the wait's ParticipantWatch can prove it dead.
inline constexpr std::uint32_t kLaneHolder = kMpmcParticipants + 1;

class LanesEngine {
 public:
  static constexpr Engine kEngine = Engine::lanes;
  static constexpr std::uint32_t kStored = 3;
  static constexpr bool kOnDemand = true;  // large queues: each lane reserves memory as it fills
  // recover() counts what dead consumers took with them (nobody waits for
  // them); dead producers' lanes are taken over at attach.
  static constexpr bool kRepairs = true;

  // `segment`: the queue's, for on-demand memory (config.chunk != 0): one
  // OnDemandMemory per lane, on the lane's own frontiers.
  LanesEngine(QueueLayout& q, const QueueConfigLayout& c, platform::Segment& segment)
      : ring_(ring_bytes(q, c), c.lanes, c.capacity / c.lanes, c.max_message), limit_(message_limit(c)) {
    if (c.chunk == 0) return;
    memory_.reserve(c.lanes);
    for (std::uint32_t i = 0; i < c.lanes; ++i) {
      memory_.emplace_back(segment, ring_.backing(i), c.chunk, c.data_offset + ring_.lane_bytes_offset(i),
                           c.capacity / c.lanes);
    }
  }
  // The chunk of on-demand memory for lanes of `lane_capacity` bytes in a
  // queue of `capacity` (0: all memory reserved at create).
  [[nodiscard]] static constexpr std::uint64_t chunk_for(std::uint64_t capacity, std::uint64_t lane_capacity) noexcept {
    if (capacity <= kOnDemandAbove) return 0;
    return lane_capacity / 4 < kOnDemandChunk ? lane_capacity / 4 : kOnDemandChunk;
  }

  static void initialize(QueueLayout& q, const QueueConfigLayout& c) noexcept {
    SpscRing::initialize(q.ring);  // unused by this engine; a sound file keeps it at rest
    LaneRing::initialize(ring_bytes(q, c), c.lanes);
  }
  [[nodiscard]] static Result<void> validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload);
  [[nodiscard]] static Result<RingShape> shape(const QueueOptions& o);

  // ---- producer ----
  [[nodiscard]] bool has_claim() const noexcept { return claimed_; }
  [[nodiscard]] PutStatus check_size(std::size_t size) const noexcept {
    return size > ring_.max_payload() ? PutStatus::too_large : PutStatus::ok;
  }
  // An owner's put when its lane has room (and the count allows): the SPSC
  // byte ring's put, then a wake-up for one sleeping consumer. A guest's
  // put, and anything else, goes through claim().
  [[gnu::always_inline]] [[nodiscard]] PutStatus try_put(std::span<const std::byte> bytes, QueueHot& hot) noexcept {
    if (ring_.guest()) return PutStatus::full;
    if (!memory_.empty() && !lane_memory().known_backed(backing_target(bytes.size()))) return PutStatus::full;
    if (limit_ != 0 && !ring_.reserve(limit_)) return PutStatus::full;
    const RingStatus r = ring_.producer_ring().try_push(bytes);
    if (r != RingStatus::ok) [[unlikely]] {
      if (limit_ != 0) ring_.unreserve();
      return put_status(r);
    }
    ring_.note_cpu(cpu_hint_.get());
    notify_one(*hot.not_empty, hot.stats, hot.plan);
    return PutStatus::ok;
  }
  [[nodiscard]] ClaimStep claim(std::size_t size, QueueHot&) noexcept {
    if (!ring_.holding()) {
      const LaneRing::Holder h = ring_.lock_guest(me_);
      if (h.corrupt) return {ClaimStep::Kind::done, PutStatus::corrupt};
      if (h.token != 0) return {ClaimStep::Kind::busy, PutStatus::full, {}, Blocker{kLaneHolder, h.token}};
    }
    if (!memory_.empty()) {
      const std::uint64_t tail = ring_.producer_ring().producer_tail();
      const PutStatus st = lane_memory().backed_for(tail, backing_target(size) - tail);
      if (st != PutStatus::ok) {
        ring_.unlock_guest(me_);
        return {ClaimStep::Kind::done, st};
      }
    }
    if (limit_ != 0 && !ring_.reserve(limit_)) {
      ring_.unlock_guest(me_);
      return {ClaimStep::Kind::full};
    }
    const RingClaim c = ring_.producer_ring().claim(size);
    if (c.status != RingStatus::ok) {
      if (limit_ != 0) ring_.unreserve();
      ring_.unlock_guest(me_);
      if (c.status == RingStatus::full) return {ClaimStep::Kind::full};
      return {ClaimStep::Kind::done, put_status(c.status)};
    }
    claimed_ = true;
    return {ClaimStep::Kind::done, PutStatus::ok, c.bytes};
  }
  [[gnu::always_inline]] void commit(std::size_t size, QueueHot& hot) noexcept {
    ring_.producer_ring().commit(size);
    ring_.note_cpu(cpu_hint_.get());
    claimed_ = false;
    ring_.unlock_guest(me_);
    notify_one(*hot.not_empty, hot.stats, hot.plan);
  }
  // An owner without a message limit writes the run and publishes it once;
  // guests and limited queues put one at a time.
  [[nodiscard]] std::size_t put_batch(std::span<const std::span<const std::byte>> messages, QueueHot& hot) noexcept {
    std::size_t n = 0;
    if (!ring_.guest() && limit_ == 0 && memory_.empty()) {
      n = ring_.producer_ring().try_push_many(messages);
      if (n != 0) ring_.note_cpu(cpu_hint_.get());
      // A run may feed several sleeping consumers (they do not pass wake-ups on).
      if (n == 1) notify_one(*hot.not_empty, hot.stats, hot.plan);
      if (n > 1) notify(*hot.not_empty, hot.stats, hot.plan);
      return n;
    }
    for (const std::span<const std::byte> m : messages) {
      if (try_put(m, hot) != PutStatus::ok) break;
      ++n;
    }
    return n;
  }
  [[nodiscard]] bool producer_can_claim(std::size_t size) noexcept {
    return (limit_ == 0 || ring_.below(limit_)) && ring_.producer_room(size);
  }
  // A full lane's producers park on the lane's word; with a message limit
  // every producer parks on the queue's (room anywhere may be theirs).
  [[nodiscard]] ParkingLayout& room_park(QueueHot& hot) noexcept {
    return limit_ != 0 ? *hot.not_full : ring_.producer_park();
  }

  // close() wakes the queue's words; producers waiting for their lane's room
  // sleep on the lane's.
  void wake_after_close(QueueHot& hot) noexcept {
    for (std::uint32_t i = 0; i < ring_.lanes(); ++i) notify_all(ring_.lane_park(i), hot.stats);
  }

  // ---- consumer ----
  // The oldest record of some lane, not yet taken (pop() takes it), or the
  // message this handle holds (read() took it).
  // A revocation of the lease still pending (its holder inside a take)
  // shows nothing until the holder is out of it.
  [[gnu::always_inline]] [[nodiscard]] RingView front() noexcept {
    if (held_) return {RingStatus::ok, {scratch_.data(), held_size_}};
    if (!settled()) [[unlikely]]
      return {RingStatus::empty, {}};
    ring_.note_consumer_cpu(cpu_hint_.get());
    return ring_.front();
  }
  // No revocation of ours is pending (every way to take asks this first).
  [[gnu::always_inline]] [[nodiscard]] bool settled() noexcept {
    return !ring_.lease_pending() || ring_.finish_revocation(platform::is_dead);
  }
  // Copies what front() showed: the copy is speculative until pop() (lane_ring.hpp).
  [[gnu::always_inline]] void copy_front(std::byte* dst, std::span<const std::byte> src) const noexcept {
    lane_speculative_copy(dst, src.data(), src.size());
  }
  // A message that stays this handle's until pop(): read() hands out its bytes.
  [[nodiscard]] RingView read_front() noexcept {
    for (;;) {
      const RingView v = front();
      if (held_ || v.status != RingStatus::ok) return v;
      if (scratch_.size() < v.bytes.size()) scratch_.resize(static_cast<std::size_t>(ring_.max_payload()));
      copy_front(scratch_.data(), v.bytes);
      if (!ring_.take(true)) continue;
      held_ = true;
      held_size_ = v.bytes.size();
      return {RingStatus::ok, {scratch_.data(), held_size_}};
    }
  }
  // Takes the message front() showed; false: another consumer took it first.
  [[gnu::always_inline]] [[nodiscard]] bool pop(QueueHot& hot) noexcept {
    if (held_) {
      held_ = false;
      ring_.release_held();
    } else if (!ring_.take(false)) {
      return false;
    }
    after_take(1, hot);
    return true;
  }
  // A run of one lane's records with one CAS (LaneRing::take_run).
  [[nodiscard]] std::size_t take_batch(MessageBatch& out, std::size_t max, QueueHot& hot) {
    std::size_t n = 0;
    if (held_ && max != 0) {  // a message read() handed out comes first
      copy_message(BatchAccess::append(out, held_size_), scratch_.data(), held_size_);
      (void)pop(hot);
      n = 1;
    }
    if (n == max || !settled()) return n;
    const std::size_t before = out.size();
    ring_.note_consumer_cpu(cpu_hint_.get());
    const LaneRing::Run run = ring_.take_run(
        max - n, [&](std::span<const std::byte> b) { copy_front(BatchAccess::append(out, b.size()), b); },
        [&] { BatchAccess::truncate(out, before); });
    if (run.count == 0) return n;
    after_take(run.count, hot);
    return n + run.count;
  }
  // Before a consumer waits: every lane's memory behind its head goes back.
  void drained() noexcept {
    if (memory_.empty()) return;
    for (std::uint64_t in_use = ring_.lanes_in_use(); in_use != 0; in_use &= in_use - 1) {
      const auto i = static_cast<std::uint32_t>(__builtin_ctzll(in_use));
      memory_[i].after_get(true, [&] { return ring_.lane_head(i); });
    }
  }
  [[nodiscard]] bool consumer_can_read() const noexcept {
    return ring_.lease_settled(platform::is_dead) && ring_.consumer_can_read();
  }

  // ---- roles and waiting ----
  // A producer takes a lane (or becomes a guest of the last one); a
  // consumer takes a reader slot (one of 256; a dead consumer's is taken
  // over, counting what it held).
  // A consumer alone holds the sole-consumer lease (plain head stores) if
  // this process's notifies may use the light barrier: the lease's holder
  // side uses it too (lane_ring.hpp).
  [[nodiscard]] Errc attach(Role r, std::uint64_t me, QueueHot& hot) noexcept {
    me_ = me;
    if (r == Role::consumer) {
      if (ring_.consumer_attached()) return Errc{};
      if (!ring_.attach_consumer(me, platform::is_dead)) return Errc::role_taken;
      ring_.settle_lease(hot.plan.notifier_light, platform::is_dead, platform::heavy_barrier);
      return Errc{};
    }
    if (ring_.producer_attached()) return Errc{};
    return ring_.attach_producer(me, platform::is_dead) ? Errc{} : Errc::corrupt;
  }
  void detach(Role held, std::uint64_t me) noexcept {
    if (has_role(held, Role::consumer)) {
      held_ = false;  // a message read() handed out and never released was delivered
      ring_.detach_consumer(me);
    }
    if (has_role(held, Role::producer)) {
      if (claimed_ && limit_ != 0) ring_.unreserve();  // the claim is abandoned, never published
      claimed_ = false;
      ring_.detach_producer(me);
    }
  }
  void forget_after_fork() noexcept {
    ring_.forget_producer();
    ring_.forget_consumer();
    claimed_ = false;
    held_ = false;  // the parent's to deliver, not ours
  }
  // A guest waiting for the last lane: once the same holder has kept it for
  // a window and is proved dead, take the lane from it.
  [[nodiscard]] bool check_blocker(const Blocker& b, RecordKind, ParticipantWatch& watch, QueueHot&) noexcept {
    if (b.owner != kLaneHolder || !watch.due(b) || !platform::is_dead(b.pos)) return false;
    return ring_.take_over_guest_lane(b.pos, me_);
  }
  [[nodiscard]] platform::Deadline slice(platform::Deadline deadline) const noexcept { return deadline; }
  // Frees the slots of dead consumers, counting what they took with them.
  std::uint64_t recover(QueueHot&) noexcept { return ring_.repair_dead_readers(me_, platform::is_dead); }

  // ---- observers ----
  [[nodiscard]] std::uint64_t message_count() const noexcept { return ring_.message_count(); }
  [[nodiscard]] bool empty() const noexcept { return ring_.empty(); }
  [[nodiscard]] bool full() const noexcept { return ring_.full(); }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.capacity(); }
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return ring_.max_payload(); }
  [[nodiscard]] std::uint64_t message_size() const noexcept { return 0; }
  [[nodiscard]] std::uint64_t claims_repaired() const noexcept { return 0; }
  [[nodiscard]] std::uint64_t reads_lost() const noexcept { return ring_.reads_lost(); }

 private:
  // `n` messages left the queue: their count, and a wake-up for a producer
  // waiting for the room (the lane's, or anyone's under a message limit).
  void after_take(std::size_t n, QueueHot& hot) noexcept {
    if (limit_ != 0) {
      ring_.unreserve(n);
      notify(*hot.not_full, hot.stats, hot.plan);
    } else {
      notify(ring_.taken_park(), hot.stats, hot.plan);
    }
    if (!memory_.empty()) {
      const std::uint32_t i = ring_.taken_lane();
      memory_[i].after_get(false, [&] { return ring_.lane_head(i); });
    }
  }
  [[nodiscard]] OnDemandMemory& lane_memory() noexcept { return memory_[ring_.producer_lane()]; }
  // Memory needed before a put of `size` bytes in this producer's lane: the
  // record, and a padding record before it if it would not fit before the
  // end of the lane (as SpscBytesEngine).
  [[nodiscard]] std::uint64_t backing_target(std::size_t size) noexcept {
    return ring_.producer_ring().producer_tail() + 2 * record_size(size) + sizeof(RecordHeader);
  }

  LaneRing ring_;
  std::uint64_t limit_;  // maxsize; 0: none
  std::uint64_t me_ = 0;
  bool claimed_ = false;  // a claim() awaits its commit()
  bool held_ = false;     // read_front() took a message into scratch_, not yet released
  std::size_t held_size_ = 0;
  std::vector<std::byte> scratch_;
  std::vector<OnDemandMemory> memory_;  // one per lane; empty: all memory reserved at create
  platform::CpuHint cpu_hint_;          // where this process runs: its lane's hint, its choice of lanes
};

}  // namespace shmring::detail
