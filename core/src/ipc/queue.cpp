#include "shmring/ipc/queue.hpp"

#include <bit>
#include <new>
#include <utility>

#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/engine/spsc_ring.hpp"
#include "shmring/engine/spsc_slot_ring.hpp"

namespace shmring {

using platform::Deadline;

const char* to_string(PutStatus s) noexcept {
  switch (s) {
    case PutStatus::ok: return "ok";
    case PutStatus::full: return "full";
    case PutStatus::closed: return "closed";
    case PutStatus::too_large: return "too_large";
    case PutStatus::role_taken: return "role_taken";
    case PutStatus::corrupt: return "corrupt";
    case PutStatus::no_memory: return "no_memory";
    case PutStatus::wrong_size: return "wrong_size";
    case PutStatus::claim_open: return "claim_open";
    case PutStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

const char* to_string(TaskDoneStatus s) noexcept {
  switch (s) {
    case TaskDoneStatus::ok: return "ok";
    case TaskDoneStatus::too_many: return "task_done() called more times than items were put";
    case TaskDoneStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

const char* to_string(JoinStatus s) noexcept {
  switch (s) {
    case JoinStatus::done: return "done";
    case JoinStatus::timed_out: return "timed_out";
    case JoinStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

const char* to_string(GetStatus s) noexcept {
  switch (s) {
    case GetStatus::ok: return "ok";
    case GetStatus::empty: return "empty";
    case GetStatus::closed: return "closed";
    case GetStatus::wrong_size: return "wrong_size";
    case GetStatus::role_taken: return "role_taken";
    case GetStatus::corrupt: return "corrupt";
    case GetStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

namespace {

constexpr std::uint64_t kMinCapacity = 4096;
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 40;


constexpr bool has(Role set, Role r) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(r)) != 0;
}
constexpr Role with(Role set, Role r) noexcept {
  return static_cast<Role>(static_cast<unsigned>(set) | static_cast<unsigned>(r));
}

PutStatus put_status(RingStatus s) noexcept {
  switch (s) {
    case RingStatus::ok: return PutStatus::ok;
    case RingStatus::full: return PutStatus::full;
    case RingStatus::too_large: return PutStatus::too_large;
    case RingStatus::wrong_size: return PutStatus::wrong_size;
    default: return PutStatus::corrupt;
  }
}

// Checks a mapped queue before any index in it is used: every value is read
// from memory another process controls. `c` is a private copy of q.config,
// taken once: the checked values are the ones used, whatever the file says
// a moment later.
// What every engine checks: the closed flag and the barrier mode.
Result<void> validate_common(const QueueConfigLayout& c, const QueueLayout& q) {
  if (q.control.closed.load(std::memory_order_acquire) > 1) return fail(Errc::corrupt, "closed flag");
  if (c.barriers > 1) return fail(Errc::corrupt, "barrier mode");
  if (c.barriers == 1 && !platform::can_issue_heavy_barrier()) {
    return fail(Errc::unsupported, "queue uses asymmetric barriers; membarrier(GLOBAL_EXPEDITED) unavailable here");
  }
  return {};
}

std::uint64_t max_payload_for(std::uint32_t engine, std::uint64_t capacity) noexcept {
  return engine == 1 ? MpmcRing::max_payload_for(capacity) : SpscRing::max_payload_for(capacity);
}

// Fixed-size slots: capacity / message size slots, a power of two, at least 2.
std::uint64_t slot_count(const QueueConfigLayout& c) noexcept {
  return c.engine == kEngineSlots && c.max_message != 0 ? c.capacity / c.max_message : 1;
}

Result<void> validate_slots(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload_size) {
  const std::uint64_t slots = slot_count(c);
  if (c.max_message == 0 || c.capacity % c.max_message != 0 || slots < 2 || !std::has_single_bit(slots) ||
      c.capacity > kMaxCapacity) {
    return fail(Errc::bad_size, "queue slots: capacity is not a power-of-two number (>= 2) of messages");
  }
  if (c.capacity > payload_size - sizeof(QueueLayout)) return fail(Errc::bad_size, "queue capacity exceeds the file");
  if (c.chunk != 0) return fail(Errc::bad_size, "queue memory chunk");
  const std::uint64_t head = q.ring.consumer.head.load(std::memory_order_acquire);
  const std::uint64_t tail = q.ring.producer.tail.load(std::memory_order_acquire);
  if (head > tail || tail - head > slots) return fail(Errc::corrupt, "ring positions out of range");
  return {};
}

Result<void> validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload_size) {
  if (c.data_offset != sizeof(QueueLayout)) return fail(Errc::bad_size, "queue data offset");
  if (c.engine > kEngineSlots) return fail(Errc::corrupt, "queue engine");
  if (c.engine == kEngineSlots) {
    if (auto ok = validate_slots(c, q, payload_size); !ok) return ok;
    return validate_common(c, q);
  }
  const std::uint64_t max_capacity = c.engine == 1 ? kMpmcMaxCapacity : kMaxCapacity;
  if (c.capacity < kMinCapacity || c.capacity > max_capacity || !std::has_single_bit(c.capacity)) {
    return fail(Errc::bad_size, "queue capacity is not a power of two in [4 KiB, 1 TiB (16 GiB for MPMC)]");
  }
  if (c.capacity > payload_size - sizeof(QueueLayout)) return fail(Errc::bad_size, "queue capacity exceeds the file");
  if (c.max_message == 0 || c.max_message > max_payload_for(c.engine, c.capacity)) {
    return fail(Errc::bad_size, "queue max_message out of range");
  }
  if (c.chunk != 0 && (!std::has_single_bit(c.chunk) || c.chunk < 4096 || c.chunk > c.capacity / 4)) {
    return fail(Errc::bad_size, "queue memory chunk");
  }
  if (c.engine == 1) {
    const auto& m = q.mpmc;
    const std::uint64_t r = m.released.value.load(std::memory_order_acquire);
    const std::uint64_t h = m.head.value.load(std::memory_order_acquire);
    const std::uint64_t t = m.tail.value.load(std::memory_order_acquire);
    if (!(r <= h && h <= t && t - r <= c.capacity - MpmcRing::kHeader && r % kMpmcAlign == 0 &&
          h % kMpmcAlign == 0 && t % kMpmcAlign == 0)) {
      return fail(Errc::corrupt, "ring positions out of range");
    }
  }
  // relaxed loads: the segment's acquire of the ready state ordered these.
  const std::uint64_t head = q.ring.consumer.head.load(std::memory_order_acquire);
  const std::uint64_t tail = q.ring.producer.tail.load(std::memory_order_acquire);
  if (head > tail || tail - head > c.capacity || head % kRecordAlign != 0 || tail % kRecordAlign != 0) {
    return fail(Errc::corrupt, "ring positions out of range");
  }
  if (q.ring.consumer.get_count.load(std::memory_order_acquire) >
      q.ring.producer.put_count.load(std::memory_order_acquire) + 1) {
    return fail(Errc::corrupt, "more messages taken than put");
  }
  return validate_common(c, q);
}

}  // namespace

// The fast path's fields (detail::QueueHot: the slot ring, stats, plan) come
// first, as the base; the handle points at them.
struct Queue::State : detail::QueueHot {
  platform::Segment segment;
  QueueLayout* layout;
  std::int64_t maxsize;
  bool mpmc;   // the engine: MpmcRing `mring`,
  bool slots;  // SpscSlotRing `sring` (fixed-size messages), else SpscRing `ring`
  SpscRing ring;
  MpmcRing mring;
  Role held = Role::none;
  std::uint64_t held_generation = 0;  // fork generation when the roles were taken
  AdaptiveSpin put_spin;
  AdaptiveSpin get_spin;
  bool joinable = false;  // puts count unfinished tasks (JoinableQueue)
  // On-demand memory (config.chunk != 0): see QueueBackingLayout.
  std::uint64_t chunk;
  std::uint64_t data_offset;        // of the ring's bytes in the payload
  std::uint64_t backed_cache = 0;   // a copy of backing.backed_end
  std::uint64_t unbacked_cache = 0; // a copy of backing.unbacked_below
  std::uint32_t gets_since_return = 0;

  // `config` is the creator's values or the opener's validated copy, never
  // re-read from shared memory.
  State(platform::Segment seg, QueueLayout* q, const QueueConfigLayout& config) noexcept
      : QueueHot(SpscSlotRing<>(q->ring.producer.tail, q->ring.consumer.head, data_of(q, config),
                                slot_count(config), config.max_message, max_messages(config)),
                 q->not_empty, q->not_full, q->control.closed),
        segment(std::move(seg)), layout(q), maxsize(config.maxsize), mpmc(config.engine == kEngineMpmc),
        slots(config.engine == kEngineSlots),
        ring(q->ring, data_of(q, config), config.capacity, config.max_message, max_messages(config)),
        mring(q->mpmc, data_of(q, config), config.capacity, config.max_message, max_messages(config)),
        chunk(config.chunk), data_offset(config.data_offset) {
    plan.waiter_heavy = config.barriers == 1;
    refresh_plan();
    if (chunk != 0) mring.limit_to_backed(&q->backing.backed_end);
  }

  // ---- on-demand memory ----------------------------------------------------
  //
  // Producers reserve chunks ahead of the tail (fallocate) before writing
  // there; consumers return whole chunks behind the oldest unconsumed byte
  // (punch a hole). Both change the two frontiers under one lock, taken a
  // few times per MiB of traffic. A chunk's bytes belong to one lap at a
  // time: reserving the chunk at position B reuses the memory of the lap
  // before (B - capacity) if it was not returned yet, so there is never a
  // hole under bytes in use and never memory under two laps' counts.

  // A live holder keeps the lock for one fallocate step; one that keeps it
  // for this long is a damaged lock word (a live pid, or our own), which
  // would otherwise be waited on forever (a review of the retry loops
  // found it): the caller reports corrupt.
  static constexpr std::chrono::seconds kBackingLockPatience{1};

  [[nodiscard]] bool lock_backing(bool wait) noexcept {
    const std::uint64_t me = platform::pack_owner(platform::current_process());
    std::atomic<std::uint64_t>& lock = layout->backing.lock;
    const Deadline patience = Deadline::after(kBackingLockPatience);
    for (;;) {
      std::uint64_t holder = lock.load(std::memory_order_acquire);
      const bool free = holder == 0 || (holder != me && platform::is_dead(holder));
      // SYNC(backing): acquire — the last holder's frontier stores are visible.
      if (free && lock.compare_exchange_strong(holder, me, std::memory_order_acquire, std::memory_order_relaxed)) {
        return true;
      }
      if (!wait || patience.passed()) return false;
      platform::yield_cpu();
    }
  }

  // The frontiers of a sound file: [low, end) is reserved, at most one ring
  // of it (ensure_backed keeps end - low <= capacity), and it covers every
  // byte in use (so the first byte in use is at most `end`). A damaged file
  // breaks this, and the walks below would run for up to 2^44 chunks (a
  // review of the retry loops found it). (Both engines' rings have the
  // queue's capacity; `ring` answers for either.)
  [[nodiscard]] bool frontiers_sane(std::uint64_t low, std::uint64_t end) const noexcept {
    return low <= end && end - low <= ring.capacity();
  }
  void unlock_backing() noexcept {
    // SYNC(backing): release — our frontier stores are visible to the next holder.
    layout->backing.lock.store(0, std::memory_order_release);
  }

  // Makes positions below `target` writable. A dead holder's half-done step
  // is redone: fallocate is idempotent and the frontiers move after it.
  [[nodiscard]] PutStatus ensure_backed(std::uint64_t target) noexcept {
    QueueBackingLayout& b = layout->backing;
    backed_cache = b.backed_end.load(std::memory_order_acquire);
    if (target <= backed_cache) return PutStatus::ok;
    const std::uint64_t capacity = ring.capacity();
    if (!lock_backing(true)) return PutStatus::corrupt;
    std::uint64_t end = b.backed_end.load(std::memory_order_relaxed);
    std::uint64_t low = b.unbacked_below.load(std::memory_order_relaxed);
    PutStatus status = PutStatus::ok;
    // One chunk beyond what is needed, so the next few puts find it ready.
    const std::uint64_t want = (target + chunk - 1) / chunk * chunk + chunk;
    // A sound target is at most one record past `end` (nobody writes past
    // it): a target that wraps `want` or lies a ring beyond is damage.
    if (want <= target || !frontiers_sane(low, end) || (want > end && want - end > capacity + 2 * chunk)) {
      unlock_backing();
      return PutStatus::corrupt;
    }
    while (end < want) {
      if (end >= capacity && end - capacity >= low) {
        // The lap before still holds this chunk's memory: it is ours now.
        low = end + chunk - capacity;
      } else if (!segment.back(data_offset + (end & (capacity - 1)), chunk)) {
        status = end >= target ? PutStatus::ok : PutStatus::no_memory;
        break;
      }
      end += chunk;
    }
    b.unbacked_below.store(low, std::memory_order_relaxed);
    // SYNC(backing): release — pairs with the acquire in the ring's claim:
    // the memory below `end` exists before anyone writes there.
    b.backed_end.store(end, std::memory_order_release);
    unlock_backing();
    backed_cache = end;
    unbacked_cache = low;
    return status;
  }

  // Returns the memory of whole chunks below `oldest` (the first byte still
  // in use). Skipped when another process holds the lock: it will be done later.
  void return_chunks(std::uint64_t oldest) noexcept {
    if (oldest < unbacked_cache + chunk || !lock_backing(false)) return;
    QueueBackingLayout& b = layout->backing;
    const std::uint64_t capacity = ring.capacity();
    std::uint64_t low = b.unbacked_below.load(std::memory_order_relaxed);
    const std::uint64_t end = b.backed_end.load(std::memory_order_relaxed);
    if (!frontiers_sane(low, end) || oldest > end) {  // damage: return nothing
      unlock_backing();
      return;
    }
    while (low + chunk <= oldest && end <= low + capacity) {
      segment.unback(data_offset + (low & (capacity - 1)), chunk);
      low += chunk;
    }
    // SYNC(backing): release, with the unlock.
    b.unbacked_below.store(low, std::memory_order_relaxed);
    unlock_backing();
    unbacked_cache = low;
  }

  // After gets: now and then, and whenever the queue ran dry.
  void maybe_return_chunks(bool drained) noexcept {
    if (chunk == 0 || (!drained && ++gets_since_return < 256)) return;
    gets_since_return = 0;
    return_chunks(mpmc ? mring.release_consumed() : ring.consumer_head());
  }

  // SPSC producers check before they claim (the ring's tail is theirs alone).
  [[nodiscard]] PutStatus backed_for(std::size_t size) noexcept {
    if (chunk == 0 || mpmc) return PutStatus::ok;
    const std::uint64_t target = ring.producer_tail() + 2 * record_size(size) + sizeof(RecordHeader);
    return target <= backed_cache ? PutStatus::ok : ensure_backed(target);
  }
  static std::byte* data_of(QueueLayout* q, const QueueConfigLayout& config) noexcept {
    return reinterpret_cast<std::byte*>(q) + config.data_offset;
  }
  static std::uint64_t max_messages(const QueueConfigLayout& config) noexcept {
    return config.maxsize > 0 ? static_cast<std::uint64_t>(config.maxsize) : 0;
  }

  // A process may use the light barrier only once registered (redone in a
  // forked child, which take() runs in before its first put or get).
  void refresh_plan() noexcept { plan.notifier_light = plan.waiter_heavy && platform::register_for_heavy_barriers(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() { give_back_roles(); }

  std::atomic<std::uint64_t>& owner_slot(Role r) noexcept {
    return r == Role::producer ? layout->control.producer_owner : layout->control.consumer_owner;
  }

  // Calls `f` with this queue's ring (MpmcRing, SpscSlotRing<> or SpscRing):
  // for what all three answer alike, said once.
  template <class F>
  decltype(auto) with_ring(F&& f) {
    return ring_of(*this, f);
  }
  template <class F>
  decltype(auto) with_ring(F&& f) const {
    return ring_of(*this, f);
  }
  template <class Self, class F>
  static decltype(auto) ring_of(Self& self, F& f) {
    if (self.mpmc) return f(self.mring);
    if (self.slots) return f(self.sring);
    return f(self.ring);
  }
  // The same, for a caller that knows the engine at compile time.
  template <std::uint32_t kEngine, class F>
  decltype(auto) with_engine(F&& f) const {
    if constexpr (kEngine == kEngineMpmc) {
      return f(mring);
    } else if constexpr (kEngine == kEngineSlots) {
      return f(sring);
    } else {
      return f(ring);
    }
  }

  // Fast check on every put/get: a role taken by this handle in this process.
  [[nodiscard]] bool holds(Role r) const noexcept {
    return has(held, r) && held_generation == platform::fork_generation();
  }

  // Takes role `r` (producer or consumer) for this handle. SPSC: a slot held
  // by a live process (including this one, through another handle) is
  // refused; a slot whose holder is dead — gone, zombie, or pid reused — is
  // taken over. MPMC: the handle attaches as a participant (once for both
  // roles), taking over the slot of a dead one if every slot is used.
  [[nodiscard]] Errc take(Role r) noexcept {
    if (held_generation != platform::fork_generation()) {  // a fork copy: the parent owns them
      held = Role::none;
      put_generation = get_generation = kOff;
      held_generation = platform::fork_generation();
      if (mpmc) mring.forget();
      refresh_plan();
    }
    if (has(held, r)) return Errc{};
    const std::uint64_t me = platform::pack_owner(platform::current_process());
    if (mpmc) {
      if (!mring.attached()) {
        const auto is_dead = [](std::uint64_t token) {
          return platform::is_dead(token);
        };
        if (!mring.attach(me, static_cast<std::uint32_t>(platform::current_process().pid), is_dead)) {
          return Errc::role_taken;
        }
      }
      held = with(held, r);
      return Errc{};
    }
    std::atomic<std::uint64_t>& slot = owner_slot(r);
    // SYNC(role): acquire — pairs with the previous holder's release in give_back_roles().
    std::uint64_t current = slot.load(std::memory_order_acquire);
    for (;;) {
      if (current != 0 &&
          (current == me || platform::is_alive(current))) {
        return Errc::role_taken;
      }
      // SYNC(role): acq_rel — we see the previous holder's ring publications.
      if (slot.compare_exchange_weak(current, me, std::memory_order_acq_rel, std::memory_order_acquire)) break;
    }
    const auto attach = [r](auto& spsc) {
      return r == Role::producer ? spsc.attach_producer() : spsc.attach_consumer();
    };
    const bool sane = slots ? attach(sring) : attach(ring);
    if (!sane) {
      slot.store(0, std::memory_order_release);
      return Errc::corrupt;
    }
    held = with(held, r);
    if (slots && r == Role::consumer) get_generation = held_generation;
    if (slots && r == Role::producer && !joinable) put_generation = held_generation;
    return Errc{};
  }

  void give_back_roles() noexcept {
    if (held_generation != platform::fork_generation()) return;  // not ours: a fork copy
    put_generation = get_generation = kOff;
    const std::uint64_t me = platform::pack_owner(platform::current_process());
    if (mpmc) {
      mring.detach(me);  // abandons an open claim or read first
      held = Role::none;
      return;
    }
    for (const Role r : {Role::producer, Role::consumer}) {
      if (!has(held, r)) continue;
      std::uint64_t expected = me;
      // SYNC(role): release — the next holder sees our last publications.
      (void)owner_slot(r).compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
    }
    held = Role::none;
  }

  // MPMC: watches who blocks us. Once the same participant has blocked us
  // at the same record for kDeadOwnerCheck, checks that its process lives;
  // if it is dead, repairs the record. True: a repair was made (retry now).
  struct Watch {
    Blocker blocker;
    std::int64_t since = 0;
  };
  [[nodiscard]] bool check_blocker(const Blocker& b, RecordKind kind, Watch& w) noexcept {
    if (b.owner == kNoOwner) {
      w = Watch{};
      return false;
    }
    const std::int64_t now = platform::monotonic_ns();
    if (b.owner != w.blocker.owner || b.pos != w.blocker.pos || w.since == 0) {
      w.blocker = b;
      w.since = now;
      return false;
    }
    if (now - w.since < std::chrono::nanoseconds(kDeadOwnerCheck).count()) return false;
    w.since = now;  // the next check one window later
    const std::uint64_t token = mring.owner_token(b.owner);
    if (platform::is_alive(token)) return false;
    // A blocker on the room (kind reading) is a dead reader's record, or a
    // dead participant's hazard (refresh_released() names either).
    const bool repaired = kind == RecordKind::claimed ? mring.repair_producer(b)
                                                      : mring.repair_consumer(b) || mring.repair_hazard(b);
    if (repaired) {  // others may be parked behind the same record
      notify_all(layout->not_empty, stats);
      notify_all(layout->not_full, stats);
    }
    return repaired;
  }

  // Consumes the record handed out by front()/read() and tells a sleeping
  // producer: the one there is (SPSC), or one of them (MPMC).
  void finish_get() noexcept {
    if (mpmc) {
      finish_get_on<kEngineMpmc>();
    } else if (slots) {
      finish_get_on<kEngineSlots>();
    } else {
      finish_get_on<kEngineSpsc>();
    }
  }
  template <std::uint32_t kEngine>
  void finish_get_on() noexcept {
    if constexpr (kEngine == kEngineMpmc) {
      mring.pop();
      notify_one(layout->not_full, stats, plan);
    } else if constexpr (kEngine == kEngineSlots) {
      sring.pop();  // fixed-size queues reserve all their memory: no chunks to return
      notify(layout->not_full, stats, plan);
      return;
    } else {
      ring.pop();
      notify(layout->not_full, stats, plan);
    }
    maybe_return_chunks(false);
  }

  // Publishes the claimed record (`size` bytes; a fixed-size slot is
  // published whole) and tells a sleeping consumer: the one there is (SPSC),
  // or one of them (MPMC).
  void publish_claim(std::size_t size) noexcept {
    if (mpmc) {
      mring.commit(size);
      notify_one(layout->not_empty, stats, plan);
      return;
    }
    if (slots) {
      sring.commit(size);
      // The claim is published: the inline put that claim() turned off is
      // back on (as take() sets it), whether a commit() or put_slow() got here.
      if (!joinable && holds(Role::producer)) put_generation = held_generation;
    } else {
      ring.commit(size);
    }
    notify(layout->not_empty, stats, plan);
  }

  // The end of the next wait slice: MPMC waiters wake every kDeadOwnerCheck
  // to look for dead participants (one that claims after we parked and dies
  // never notifies).
  [[nodiscard]] Deadline slice(Deadline deadline) const noexcept {
    if (!mpmc) return deadline;
    const std::int64_t soon = platform::monotonic_ns() + std::chrono::nanoseconds(kDeadOwnerCheck).count();
    return deadline.is_never() || deadline.ns() > soon ? Deadline::at_ns(soon) : deadline;
  }

  // JoinableQueue: one more unfinished task, before the message it counts is
  // published — so a task_done for it can never come first.
  void count_task() noexcept {
    // relaxed: ordered before the consumer's decrement by the release of the
    // record (tail) that follows it in this thread.
    if (joinable) layout->tasks.unfinished.fetch_add(1, std::memory_order_relaxed);
  }

  // One task fewer; false if there was none. Reaching 0 wakes join().
  [[nodiscard]] bool finish_task() noexcept {
    std::atomic<std::uint64_t>& n = layout->tasks.unfinished;
    std::uint64_t v = n.load(std::memory_order_relaxed);
    do {
      if (v == 0) return false;
      // SYNC(tasks): release — join()'s acquire sees everything done before.
    } while (!n.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel, std::memory_order_relaxed));
    if (v == 1) notify(layout->all_done, stats, plan);
    return true;
  }

  [[nodiscard]] bool is_closed() const noexcept {
    // SYNC(close): acquire — pairs with close(); records published before the
    // close are visible to the drain that follows.
    return layout->control.closed.load(std::memory_order_acquire) != 0;
  }
};

namespace {
// What a moved-from handle's hot_ points at: a QueueHot whose generations
// are kOff, so its try_put/try_get return false before they touch anything
// and the caller takes the out-of-line path, which finds s_ null. Its ring
// and flags are never used; they exist so that the object is whole (a queue
// that reads as closed and empty, should anything ever look).
struct OffHot {
  std::atomic<std::uint64_t> tail{0};
  std::atomic<std::uint64_t> head{0};
  ParkingLayout park{};
  std::atomic<std::uint32_t> closed{1};
  detail::QueueHot hot{SpscSlotRing<>(tail, head, nullptr, 1, 0, 0), park, park, closed};
};
detail::QueueHot* off_hot() noexcept {
  static OffHot off;  // a function-local static: ready for moves made during static initialisation
  return &off.hot;
}
const std::string kNoPath;
}  // namespace

Queue::Queue(std::unique_ptr<State> state) noexcept : s_(std::move(state)), hot_(s_.get()) {}
Queue::Queue(Queue&& other) noexcept : s_(std::move(other.s_)), hot_(std::exchange(other.hot_, off_hot())) {}
Queue& Queue::operator=(Queue&& other) noexcept {
  if (this != &other) {
    s_ = std::move(other.s_);
    hot_ = std::exchange(other.hot_, off_hot());
  }
  return *this;
}
Queue::~Queue() = default;

Result<Queue> Queue::create(std::string_view name, const QueueOptions& options) {
  return create_kind(name, options, kQueueKind);
}

Result<Queue> Queue::open(std::string_view name, const OpenOptions& options) {
  return open_kind(name, options, kQueueKind);
}

Result<JoinableQueue> JoinableQueue::create(std::string_view name, const QueueOptions& options) {
  auto q = create_kind(name, options, kJoinableQueueKind);
  if (!q) return q.error();
  return JoinableQueue(std::move(*q));
}

Result<JoinableQueue> JoinableQueue::open(std::string_view name, const OpenOptions& options) {
  auto q = open_kind(name, options, kJoinableQueueKind);
  if (!q) return q.error();
  return JoinableQueue(std::move(*q));
}

namespace {

// The ring of a new queue: engine, bytes and largest message.
struct RingShape {
  std::uint32_t engine;
  std::uint64_t capacity;
  std::uint64_t max_message;
};

Result<RingShape> fixed_shape(const QueueOptions& o) {
  const std::uint64_t size = o.message_size;
  if (o.engine != Engine::spsc) {
    return fail(Errc::invalid_argument, "fixed-size messages (message_size) need Engine::spsc");
  }
  if (o.max_message != 0 && o.max_message != size) {
    return fail(Errc::invalid_argument, "max_message must be 0 or equal to message_size");
  }
  if (size > kMaxCapacity / 2) return fail(Errc::invalid_argument, "message_size above 512 GiB");
  const std::uint64_t wanted = std::max<std::uint64_t>((o.capacity_bytes + size - 1) / size, 2);
  const std::uint64_t slots = std::bit_ceil(wanted);
  if (slots > kMaxCapacity / size) return fail(Errc::invalid_argument, "capacity_bytes above 1 TiB");
  return RingShape{kEngineSlots, slots * size, size};
}

Result<RingShape> ring_shape(const QueueOptions& o) {
  if (o.capacity_bytes > kMaxCapacity) return fail(Errc::invalid_argument, "capacity_bytes above 1 TiB");
  if (o.message_size != 0) return fixed_shape(o);
  const std::uint32_t engine = o.engine == Engine::mpmc ? kEngineMpmc : kEngineSpsc;
  if (engine == kEngineMpmc && o.capacity_bytes > kMpmcMaxCapacity) {
    return fail(Errc::invalid_argument, "capacity_bytes above 16 GiB (the MPMC engine's limit)");
  }
  const std::uint64_t capacity = std::bit_ceil(std::max(o.capacity_bytes, kMinCapacity));
  const std::uint64_t largest = max_payload_for(engine, capacity);
  if (o.max_message > largest) {
    return fail(Errc::invalid_argument, "max_message must fit in half the capacity minus the record headers");
  }
  return RingShape{engine, capacity, o.max_message == 0 ? largest : o.max_message};
}

}  // namespace

Result<Queue> Queue::create_kind(std::string_view name, const QueueOptions& options, std::uint32_t kind) {
  auto shape = ring_shape(options);
  if (!shape) return shape.error();
  const auto [engine, capacity, max_message] = *shape;

  platform::SegmentSpec spec;
  spec.kind = kind;
  spec.layout_version = kQueueLayoutVersion;
  spec.layout_hash = kQueueLayoutHash;
  spec.payload_size = sizeof(QueueLayout) + capacity;
  spec.mode = options.mode;
  const std::uint64_t chunk = capacity > kOnDemandAbove && engine != kEngineSlots ? kOnDemandChunk : 0;
  if (chunk != 0) spec.reserved_payload = sizeof(QueueLayout);  // the ring's memory comes on demand
  auto seg = platform::Segment::create(name, spec);
  if (!seg) return seg.error();

  // The file is zero-filled; construct the layout's objects in place.
  auto* q = new (seg->payload()) QueueLayout{};
  q->config.capacity = capacity;
  q->config.max_message = max_message;
  q->config.maxsize = options.maxsize;
  q->config.data_offset = sizeof(QueueLayout);
  q->config.barriers =
      options.barriers == Barriers::asymmetric && platform::can_issue_heavy_barrier() ? 1u : 0u;
  q->config.engine = engine;
  q->config.chunk = chunk;
  SpscRing::initialize(q->ring);
  if (engine == kEngineMpmc) MpmcRing::initialize(q->mpmc, State::data_of(q, q->config), platform::random_u64());
  const QueueConfigLayout config = q->config;
  seg->publish();  // SYNC(publish): release — everything above is visible to openers
  auto state = std::make_unique<State>(std::move(*seg), q, config);
  state->joinable = kind == kJoinableQueueKind;
  return Queue(std::move(state));
}

Result<Queue> Queue::open_kind(std::string_view name, const OpenOptions& options, std::uint32_t kind) {
  platform::SegmentExpect expect;
  expect.kind = kind;
  expect.layout_version = kQueueLayoutVersion;
  expect.layout_hash = kQueueLayoutHash;
  expect.min_payload_size = sizeof(QueueLayout);
  expect.ready_timeout = options.ready_timeout;
  expect.allow_foreign_owner = options.allow_foreign_owner;
  auto seg = platform::Segment::open(name, expect);
  if (!seg) return seg.error();
  auto* q = std::launder(platform::layout_at<QueueLayout>(seg->payload()));
  const QueueConfigLayout config = q->config;  // one copy; only it is checked and used
  if (auto ok = validate(config, *q, seg->payload_size()); !ok) return ok.error();
  auto state = std::make_unique<State>(std::move(*seg), q, config);
  state->joinable = kind == kJoinableQueueKind;
  Queue queue(std::move(state));
  for (const Role r : {Role::producer, Role::consumer}) {
    if (!has(options.role, r)) continue;
    if (const Errc e = queue.s_->take(r); e != Errc{}) {
      return fail(e, r == Role::producer ? "producer role" : "consumer role");
    }
  }
  return queue;
}

Result<void> Queue::unlink(std::string_view name) { return platform::Segment::unlink(name, kQueueKind); }

Result<void> JoinableQueue::unlink(std::string_view name) {
  return platform::Segment::unlink(name, kJoinableQueueKind);
}

// ---- producer ---------------------------------------------------------------

PutClaim Queue::claim(std::size_t size, Wait wait) noexcept {
  if (!s_) [[unlikely]] return {PutStatus::handle_closed, {}};
  State& s = *s_;
  if (!s.holds(Role::producer)) [[unlikely]] {
    if (const Errc e = s.take(Role::producer); e != Errc{}) {
      return {e == Errc::corrupt ? PutStatus::corrupt : PutStatus::role_taken, {}};
    }
  }
  // One claim at a time: a second one would re-claim the same room (SPSC)
  // or claim a second record that the first commit never publishes, which
  // wedges every consumer behind it (MPMC). The open claim stays usable.
  if (s.with_ring([](const auto& r) { return r.has_claim(); })) return {PutStatus::claim_open, {}};
  if (s.slots) {
    if (size != s.sring.slot_size()) return {PutStatus::wrong_size, {}};
  } else if (size > (s.mpmc ? s.mring.max_payload() : s.ring.max_payload())) {
    return {PutStatus::too_large, {}};
  }
  Deadline deadline = Deadline::expired();
  bool deadline_set = false;
  State::Watch watch;
  std::uint32_t busy = 0;
  for (;;) {
    if (s.is_closed()) return {PutStatus::closed, {}};
    Blocker reader;
    if (s.mpmc) {
      const MpmcClaim c = s.mring.claim(size);
      if (c.status == RingStatus::busy) {
        // Another producer is between its claim and its tail update (tens
        // of nanoseconds, unless it was descheduled, stopped, or killed).
        if (s.check_blocker(c.blocker, RecordKind::claimed, watch)) continue;
        if (++busy < 64) {
          platform::cpu_relax();
          continue;
        }
        if (!deadline_set) {
          deadline = wait.is_nowait() ? Deadline::after(std::chrono::microseconds(100)) : wait.deadline();
          deadline_set = true;
        }
        if (deadline.passed()) return {PutStatus::full, {}};
        platform::yield_cpu();
        continue;
      }
      if (c.status == RingStatus::unbacked) {
        if (const PutStatus st = s.ensure_backed(c.blocker.pos); st != PutStatus::ok) return {st, {}};
        continue;
      }
      if (c.status != RingStatus::full) return {put_status(c.status), c.bytes};
      reader = c.blocker;
    } else if (s.slots) {
      const RingClaim c = s.sring.claim(size);
      // The inline put (QueueHot::try_put) would write into the claimed
      // slot: it stays off until publish_claim() turns it back on.
      if (c.status == RingStatus::ok) s.put_generation = detail::QueueHot::kOff;
      if (c.status != RingStatus::full) return {put_status(c.status), c.bytes};
    } else {
      if (const PutStatus st = s.backed_for(size); st != PutStatus::ok) return {st, {}};
      const RingClaim c = s.ring.claim(size);
      if (c.status != RingStatus::full) return {put_status(c.status), c.bytes};
    }
    if (s.mpmc && s.check_blocker(reader, RecordKind::reading, watch)) continue;
    if (wait.is_nowait()) return {PutStatus::full, {}};
    if (!deadline_set) {  // the clock is read once, and only when we must wait
      deadline = wait.deadline();
      deadline_set = true;
    } else if (deadline.passed()) {
      return {PutStatus::full, {}};
    }
    const auto room = [&] {
      return s.with_ring([size](auto& r) { return r.producer_can_claim(size); }) || s.is_closed();
    };
    if (!wait_until(s.layout->not_full, room, s.slice(deadline), s.put_spin, s.stats, s.plan) &&
        deadline.passed()) {
      return {PutStatus::full, {}};
    }
  }
}

void Queue::commit(std::size_t size) noexcept {
  if (!s_) [[unlikely]] return;
  State& s = *s_;
  if (!s.with_ring([](const auto& r) { return r.has_claim(); })) return;  // nothing claimed: nothing to publish or count
  s.count_task();  // zero-copy puts count too, before the record is published
  s.publish_claim(size);
}

// Fixed-size messages are put and got inline in the caller (queue.hpp,
// detail::QueueHot) when they can be at once; everything else comes here.
// put_any and get_any dispatch on the engine to one small function each
// (put_on, get_on): when this handle holds the role, the queue is open and
// the ring has room (a message), the call is one straight line that saves no
// registers; anything else (first use, closed, full, empty, waiting, errors)
// goes to the slow path (put_slow: claim(); get_slow: read()). With all
// three engines in one function the compiler saved six registers on every
// call and kept finish_get out of line (callgrind, a put+get pair of 64-byte
// fixed-size messages in one process: 222 instructions; after: 171; with the
// inline fast path: 120, the any-size engines 247 -> 257 for its two
// compares and the extra call level).
inline PutStatus Queue::put_unjoined(std::span<const std::byte> bytes, Wait wait) noexcept {
  if (s_->slots) return put_on<kEngineSlots>(bytes, wait);
  if (s_->mpmc) return put_on<kEngineMpmc>(bytes, wait);
  return put_on<kEngineSpsc>(bytes, wait);
}

PutStatus Queue::put_any(std::span<const std::byte> bytes, Wait wait) noexcept {
  if (!s_) [[unlikely]] return PutStatus::handle_closed;
  if (s_->joinable) [[unlikely]] return put_counted(bytes, wait);
  return put_unjoined(bytes, wait);
}

// JoinableQueue: counted before the message can be seen; uncounted if it never is.
PutStatus Queue::put_counted(std::span<const std::byte> bytes, Wait wait) noexcept {
  s_->count_task();
  const PutStatus st = put_unjoined(bytes, wait);
  if (st != PutStatus::ok) (void)s_->finish_task();
  return st;
}

template <std::uint32_t kEngine>
PutStatus Queue::put_on(std::span<const std::byte> bytes, Wait wait) noexcept {
  State& s = *s_;
  // An open claim sends the put to the slow path, whose claim() refuses it.
  if (s.holds(Role::producer) && !s.is_closed() && !s.with_engine<kEngine>([](const auto& r) { return r.has_claim(); }))
      [[likely]] {
    if constexpr (kEngine == kEngineSlots) {
      const RingStatus r = s.push(bytes.data(), bytes.size());
      if (r == RingStatus::ok) [[likely]] return PutStatus::ok;
      if (r != RingStatus::full) return put_status(r);
    } else if constexpr (kEngine == kEngineMpmc) {
      const MpmcClaim c = s.mring.claim(bytes.size());
      if (c.status == RingStatus::ok) [[likely]] {
        copy_message(c.bytes.data(), bytes.data(), bytes.size());
        s.mring.commit(bytes.size());
        notify_one(s.layout->not_empty, s.stats, s.plan);
        return PutStatus::ok;
      }
      // anything else (full, busy, unbacked, errors): the slow path sorts it out
    } else if (s.chunk == 0 ||
               s.ring.producer_tail() + 2 * record_size(bytes.size()) + sizeof(RecordHeader) <= s.backed_cache) {
      const RingStatus r = s.ring.try_push(bytes);
      if (r == RingStatus::ok) [[likely]] {
        notify(s.layout->not_empty, s.stats, s.plan);
        return PutStatus::ok;
      }
      if (r != RingStatus::full) return put_status(r);
    }
  }
  return put_slow(bytes, wait);
}

PutStatus Queue::put_slow(std::span<const std::byte> bytes, Wait wait) noexcept {
  const PutClaim c = claim(bytes.size(), wait);
  if (c.status != PutStatus::ok) return c.status;
  copy_message(c.bytes.data(), bytes.data(), bytes.size());
  s_->publish_claim(bytes.size());
  return PutStatus::ok;
}

// ---- consumer ---------------------------------------------------------------

GetView Queue::read(Wait wait) noexcept {
  if (!s_) [[unlikely]] return {GetStatus::handle_closed, {}};
  State& s = *s_;
  if (!s.holds(Role::consumer)) [[unlikely]] {
    if (const Errc e = s.take(Role::consumer); e != Errc{}) {
      return {e == Errc::corrupt ? GetStatus::corrupt : GetStatus::role_taken, {}};
    }
  }
  Deadline deadline = Deadline::expired();
  bool deadline_set = false;
  bool saw_closed = false;
  State::Watch watch;
  for (;;) {
    Blocker writer;
    if (s.mpmc) {
      const MpmcView v = s.mring.front();
      if (v.status == RingStatus::ok) return {GetStatus::ok, v.bytes};
      if (v.status != RingStatus::empty) return {GetStatus::corrupt, {}};
      writer = v.blocker;
    } else {
      const RingView v = s.slots ? s.sring.front() : s.ring.front();
      if (v.status == RingStatus::ok) return {GetStatus::ok, v.bytes};
      if (v.status != RingStatus::empty) return {GetStatus::corrupt, {}};
    }
    // Empty. Closed only if the ring is still empty after we saw the flag:
    // the acquire in is_closed() makes every record put before close() visible.
    if (saw_closed) return {GetStatus::closed, {}};
    if (s.is_closed()) {
      saw_closed = true;
      continue;
    }
    if (s.mpmc && s.check_blocker(writer, RecordKind::claimed, watch)) continue;
    s.maybe_return_chunks(true);  // drained: give its memory back before waiting
    if (wait.is_nowait()) return {GetStatus::empty, {}};
    if (!deadline_set) {
      deadline = wait.deadline();
      deadline_set = true;
    } else if (deadline.passed()) {
      return {GetStatus::empty, {}};
    }
    const auto ready = [&] {
      return s.with_ring([](auto& r) { return r.consumer_can_read(); }) || s.is_closed();
    };
    if (!wait_until(s.layout->not_empty, ready, s.slice(deadline), s.get_spin, s.stats, s.plan) &&
        deadline.passed()) {
      return {GetStatus::empty, {}};
    }
  }
}

namespace {
// Copies a message out, reusing the vector's storage.
inline void copy_out(std::vector<std::byte>& out, std::span<const std::byte> bytes) {
  if (out.size() != bytes.size()) out.resize(bytes.size());
  copy_message(out.data(), bytes.data(), bytes.size());
}
}  // namespace

void Queue::release() noexcept {
  if (s_) [[likely]] s_->finish_get();
}

// Fixed-size queues come here only when the inline get could not finish
// (first use, empty, a buffer of another size): the slow path at once.
GetStatus Queue::get_any(std::vector<std::byte>& out, Wait wait) {
  if (!s_) [[unlikely]] return GetStatus::handle_closed;
  if (s_->slots) return get_slow(out, wait);
  if (s_->mpmc) return get_on<kEngineMpmc>(out, wait);
  return get_on<kEngineSpsc>(out, wait);
}

// Fast path: this handle holds the role, a message is there and `out` has its
// size; else get_slow().
template <std::uint32_t kEngine>
GetStatus Queue::get_on(std::vector<std::byte>& out, Wait wait) {
  State& s = *s_;
  if (s.holds(Role::consumer)) [[likely]] {
    std::span<const std::byte> bytes;
    if constexpr (kEngine == kEngineMpmc) {
      const MpmcView v = s.mring.front();
      if (v.status != RingStatus::ok) return get_slow(out, wait);
      bytes = v.bytes;
    } else {
      const RingView v = s.ring.front();
      if (v.status != RingStatus::ok) return get_slow(out, wait);
      bytes = v.bytes;
    }
    // A buffer to resize: the slow path (front() hands out the same view again).
    if (out.size() != bytes.size()) [[unlikely]] return get_slow(out, wait);
    copy_message(out.data(), bytes.data(), bytes.size());
    s.finish_get_on<kEngine>();
    return GetStatus::ok;
  }
  return get_slow(out, wait);
}

GetStatus Queue::get_slow(std::vector<std::byte>& out, Wait wait) {
  const GetView v = read(wait);
  if (v.status != GetStatus::ok) return v.status;
  copy_out(out, v.bytes);
  s_->finish_get();
  return GetStatus::ok;
}

// A new vector never has the message's size, so get_into's fast path would
// only defer to its slow path (looking at the message twice): go there now.
Message Queue::get(Wait wait) {
  Message m;
  const GetView v = read(wait);
  m.status = v.status;
  if (v.status == GetStatus::ok) {
    m.bytes.assign(v.bytes.begin(), v.bytes.end());
    release();
  }
  return m;
}

// ---- observers ----------------------------------------------------------------

// ---- a moved-from handle (s_ null): see "A moved-from handle" in queue.hpp.

std::size_t Queue::qsize() const noexcept {
  if (!s_) return 0;
  const State& s = *s_;
  return static_cast<std::size_t>(s.with_ring([](const auto& r) { return r.message_count(); }));
}

bool Queue::empty() const noexcept {
  if (!s_) return true;
  const State& s = *s_;
  return s.mpmc ? s.mring.message_count() == 0 : s.slots ? s.sring.message_count() == 0 : s.ring.used_bytes() == 0;
}

bool Queue::full() const noexcept {
  if (!s_) return false;
  const State& s = *s_;
  if (s.maxsize > 0 && qsize() >= static_cast<std::uint64_t>(s.maxsize)) return true;
  if (s.slots) return s.sring.full();
  // No room even for the smallest message, wherever it would land.
  if (s.mpmc) return s.mring.capacity() - s.mring.used_bytes() < 2 * MpmcRing::record_bytes(1) + MpmcRing::kHeader;
  return s.ring.capacity() - s.ring.used_bytes() < 2 * record_size(1);
}

void Queue::close() noexcept {
  if (!s_) return;
  State& s = *s_;
  // SYNC(close): seq_cst — pairs with the acquire in is_closed(); then every
  // parked process wakes (unconditionally: close is rare).
  s.layout->control.closed.store(1, std::memory_order_seq_cst);
  notify_all(s.layout->not_empty, s.stats);
  notify_all(s.layout->not_full, s.stats);
}

bool Queue::closed() const noexcept { return !s_ || s_->is_closed(); }
std::int64_t Queue::maxsize() const noexcept { return s_ ? s_->maxsize : 0; }
std::uint64_t Queue::capacity_bytes() const noexcept { return s_ ? s_->ring.capacity() : 0; }
std::uint64_t Queue::max_message() const noexcept {
  if (!s_) return 0;
  return s_->mpmc ? s_->mring.max_payload() : s_->ring.max_payload();
}
std::uint64_t Queue::message_size() const noexcept { return s_ && s_->slots ? s_->sring.slot_size() : 0; }
// A moved-from handle: the default engine (it has none of its own).
Engine Queue::engine() const noexcept { return !s_ || s_->mpmc ? Engine::mpmc : Engine::spsc; }
std::uint64_t Queue::memory_bytes() const noexcept { return s_ ? s_->segment.allocated_bytes() : 0; }
std::uint64_t Queue::claims_repaired() const noexcept { return s_ && s_->mpmc ? s_->mring.claims_abandoned() : 0; }
std::uint64_t Queue::reads_lost() const noexcept { return s_ && s_->mpmc ? s_->mring.reads_lost() : 0; }
std::uint64_t Queue::recover() noexcept {
  if (!s_ || !s_->mpmc) return 0;
  // Repairs are made under a hazard, which needs a participant slot.
  if (s_->take(Role::consumer) != Errc{}) return 0;
  const std::uint64_t n = s_->mring.repair_dead_readers([](std::uint64_t token) {
    return platform::is_dead(token);
  });
  if (n != 0) notify_all(s_->layout->not_full, s_->stats);
  return n;
}
const std::string& Queue::path() const noexcept { return s_ ? s_->segment.path() : kNoPath; }
Role Queue::roles_held() const noexcept {
  if (!s_) return Role::none;
  return s_->holds(Role::producer) || s_->holds(Role::consumer) ? s_->held : Role::none;
}
const BlockingStats& Queue::stats() const noexcept { return hot_->stats; }  // moved from: the off QueueHot's zeroes
// ---- JoinableQueue -------------------------------------------------------------

TaskDoneStatus JoinableQueue::task_done() noexcept {
  if (!s_) [[unlikely]] return TaskDoneStatus::handle_closed;
  return s_->finish_task() ? TaskDoneStatus::ok : TaskDoneStatus::too_many;
}

JoinStatus JoinableQueue::join(Wait wait) noexcept {
  if (!s_) [[unlikely]] return JoinStatus::handle_closed;
  State& s = *s_;
  // SYNC(tasks): acquire — pairs with the release of the task_done that reached 0.
  const auto all_done = [&] { return s.layout->tasks.unfinished.load(std::memory_order_acquire) == 0; };
  if (all_done()) return JoinStatus::done;
  if (wait.is_nowait()) return JoinStatus::timed_out;
  AdaptiveSpin spin;
  return wait_until(s.layout->all_done, all_done, wait.deadline(), spin, s.stats, s.plan) ? JoinStatus::done
                                                                                          : JoinStatus::timed_out;
}

std::uint64_t JoinableQueue::unfinished_tasks() const noexcept {
  return s_ ? s_->layout->tasks.unfinished.load(std::memory_order_acquire) : 0;
}

Barriers Queue::barriers() const noexcept { return hot_->plan.waiter_heavy ? Barriers::asymmetric : Barriers::fences; }

}  // namespace shmring
