// Queue's put and get, written once for every engine (engines.hpp): the
// claim/commit and read/release loops with their waits, the out-of-line
// fast paths, the observers and JoinableQueue's counting.
//
// Fixed-size messages are put and got inline in the caller (queue.hpp,
// detail::QueueHot) when they can be at once; everything else comes here.
// put_any and get_any dispatch on the engine to one small function each
// (put_on, get_on): when this handle holds the role, the queue is open and
// the ring has room (a message), the call is one straight line; anything
// else (first use, closed, full, empty, waiting, errors) goes to the slow
// path (put_slow: claim(); get_slow: read()). One function per engine keeps
// each fast path free of the others' registers and branches.
#include "shmring/ipc/queue.hpp"

#include <chrono>
#include <type_traits>
#include <utility>

#include "embedded.hpp"
#include "engines.hpp"
#include "participant_watch.hpp"
#include "shmring/platform/cpu.hpp"
#include "state.hpp"

namespace shmring {

using detail::LazyDeadline;
using platform::Deadline;

namespace {

// Copies a message out, reusing the vector's storage.
inline void copy_out(std::vector<std::byte>& out, std::span<const std::byte> bytes) {
  if (out.size() != bytes.size()) out.resize(bytes.size());
  copy_message(out.data(), bytes.data(), bytes.size());
}

// The claim loop: a claim, or why there is none. Waits for room as `wait` allows.
template <class E>
PutClaim claim_on(Queue::State& s, E& e, std::size_t size, Wait wait) noexcept {
  LazyDeadline deadline(wait);
  detail::ParticipantWatch watch;
  std::uint32_t busy = 0;
  for (;;) {
    if (s.is_closed()) return {PutStatus::closed, {}};
    const detail::ClaimStep c = e.claim(size, s);
    using Kind = detail::ClaimStep::Kind;
    if (c.kind == Kind::done) return {c.status, c.bytes};
    if (c.kind == Kind::retry) continue;
    // busy: a producer between its claim and its tail update (tens of
    // nanoseconds, unless descheduled, stopped or killed); full: a reader
    // (or a hazard) holds the room.
    const RecordKind blocker_kind = c.kind == Kind::busy ? RecordKind::claimed : RecordKind::reading;
    if (e.check_blocker(c.blocker, blocker_kind, watch, s)) continue;
    if (c.kind == Kind::busy) {
      if (++busy < 64) {
        platform::cpu_relax();
        continue;
      }
      if (deadline.busy_deadline().passed()) return {PutStatus::full, {}};
      platform::yield_cpu();
      continue;
    }
    if (wait.is_nowait() || !deadline.may_wait()) return {PutStatus::full, {}};
    const auto room = [&] { return e.producer_can_claim(size) || s.is_closed(); };
    if (!wait_until(e.room_park(s), room, e.slice(deadline.get()), s.put_spin, s.stats, s.plan) &&
        deadline.get().passed()) {
      return {PutStatus::full, {}};
    }
  }
}

// The read loop: a view of the next message, or why there is none.
template <class E>
GetView read_on(Queue::State& s, E& e, Wait wait) noexcept {
  LazyDeadline deadline(wait);
  detail::ParticipantWatch watch;
  bool saw_closed = false;
  for (;;) {
    const auto v = e.read_front();
    if (v.status == RingStatus::ok) return {GetStatus::ok, v.bytes};
    if (v.status != RingStatus::empty) return {GetStatus::corrupt, {}};
    // Empty. Closed only if the ring is still empty after we saw the flag:
    // the acquire in is_closed() makes every record put before close() visible.
    if (saw_closed) return {GetStatus::closed, {}};
    if (s.is_closed()) {
      saw_closed = true;
      continue;
    }
    if (e.check_blocker(detail::blocker_of(v), RecordKind::claimed, watch, s)) continue;
    e.drained();  // give its memory back before waiting
    if (wait.is_nowait() || !deadline.may_wait()) {
      s.rearm_poller();
      return {GetStatus::empty, {}};
    }
    const auto ready = [&] { return e.consumer_can_read() || s.is_closed(); };
    if (!wait_until(s.layout->not_empty, ready, e.slice(deadline.get()), s.get_spin, s.stats, s.plan) &&
        deadline.get().passed()) {
      s.rearm_poller();
      return {GetStatus::empty, {}};
    }
  }
}

}  // namespace

// ---- producer ---------------------------------------------------------------

PutClaim Queue::claim(std::size_t size, Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return {PutStatus::handle_closed, {}};
  State& s = *s_;
  if (!s.holds(Role::producer)) [[unlikely]] {
    if (const Errc e = s.take(Role::producer); e != Errc{}) {
      return {e == Errc::corrupt ? PutStatus::corrupt : PutStatus::role_taken, {}};
    }
  }
  return s.visit([&](auto& e) -> PutClaim {
    // One claim at a time: a second one would re-claim the same room (SPSC)
    // or claim a second record that the first commit never publishes, which
    // wedges every consumer behind it (MPMC). The open claim stays usable.
    if (e.has_claim()) return {PutStatus::claim_open, {}};
    if (const PutStatus st = e.check_size(size); st != PutStatus::ok) return {st, {}};
    return claim_on(s, e, size, wait);
  });
}

void Queue::commit(std::size_t size) noexcept {
  if (!s_) [[unlikely]]
    return;
  State& s = *s_;
  s.visit([&](auto& e) {
    if (!e.has_claim()) return;  // nothing claimed: nothing to publish or count
    s.tasks.count();             // zero-copy puts count too, before the record is published
    e.commit(size, s);
  });
}

inline PutStatus Queue::put_unjoined(std::span<const std::byte> bytes, Wait wait) noexcept {
  // The fast path finds its engine itself: no extra argument to pass.
  return s_->visit([&]<class E>(E&) { return put_on<E>(bytes, wait); });
}

PutStatus Queue::put_any(std::span<const std::byte> bytes, Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return PutStatus::handle_closed;
  if (s_->tasks.joinable()) [[unlikely]]
    return put_counted(bytes, wait);
  return put_unjoined(bytes, wait);
}

// JoinableQueue: counted before the message can be seen; uncounted if it never is.
PutStatus Queue::put_counted(std::span<const std::byte> bytes, Wait wait) noexcept {
  State& s = *s_;
  s.tasks.count();
  const PutStatus st = put_unjoined(bytes, wait);
  if (st != PutStatus::ok) (void)s.tasks.finish(s.stats, s.plan);
  return st;
}

template <class E>
PutStatus Queue::put_on(std::span<const std::byte> bytes, Wait wait) noexcept {
  State& s = *s_;
  E& e = detail::engine_as<E>(s.engine);
  // An open claim sends the put to the slow path, whose claim() refuses it.
  if (s.holds(Role::producer) && !s.is_closed() && !e.has_claim()) [[likely]] {
    const PutStatus st = e.try_put(bytes, s);
    if (st == PutStatus::ok) [[likely]]
      return st;
    if (st != PutStatus::full) return st;  // full: the slow path waits or sorts it out
  }
  return put_slow(bytes, wait);
}

PutStatus Queue::put_slow(std::span<const std::byte> bytes, Wait wait) noexcept {
  const PutClaim c = claim(bytes.size(), wait);
  if (c.status != PutStatus::ok) return c.status;
  copy_message(c.bytes.data(), bytes.data(), bytes.size());
  s_->visit([&](auto& e) { e.commit(bytes.size(), *s_); });
  return PutStatus::ok;
}

// A run of messages: what the engine takes at once (put_batch: one
// publication where it can), and each message that must wait, or fails,
// through put_any (which waits, takes the role, counts a JoinableQueue's
// task and reports errors). A JoinableQueue puts one at a time: each
// message counts its task before it is published.
PutManyResult Queue::put_many(std::span<const std::span<const std::byte>> messages, Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return {0, PutStatus::handle_closed};
  State& s = *s_;
  std::size_t n = 0;
  while (n < messages.size()) {
    if (!s.tasks.joinable() && s.holds(Role::producer) && !s.is_closed()) {
      n += s.visit([&](auto& e) -> std::size_t { return e.has_claim() ? 0 : e.put_batch(messages.subspan(n), s); });
      if (n == messages.size()) break;
    }
    if (const PutStatus st = put_any(messages[n], wait); st != PutStatus::ok) return {n, st};
    ++n;
  }
  return {n, PutStatus::ok};
}

// ---- consumer ---------------------------------------------------------------

GetView Queue::read(Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return {GetStatus::handle_closed, {}};
  State& s = *s_;
  if (!s.holds(Role::consumer)) [[unlikely]] {
    if (const Errc e = s.take(Role::consumer); e != Errc{}) {
      return {e == Errc::corrupt ? GetStatus::corrupt : GetStatus::role_taken, {}};
    }
  }
  return s.visit([&](auto& e) { return read_on(s, e, wait); });
}

// Consumes the record handed out by read() and tells a sleeping producer.
// Only by a handle holding the consumer role in this process (a forked
// child's copy holds the parent's engine state, not its own).
void Queue::release() noexcept {
  if (s_ && s_->holds(Role::consumer)) [[likely]]
    s_->visit([this](auto& e) { (void)e.pop(*s_); });  // the message read() handed out: always ours
}

GetStatus Queue::get_any(std::vector<std::byte>& out, Wait wait) {
  if (!s_) [[unlikely]]
    return GetStatus::handle_closed;
  return s_->visit([&]<class E>(E&) { return get_on<E>(out, wait); });
}

// Fast path: this handle holds the role and a message is there (`out` is
// resized to it); else get_slow(), which waits. A pop that lost the message
// to another consumer (the lane engine) looks again.
template <class E>
GetStatus Queue::get_on(std::vector<std::byte>& out, Wait wait) {
  State& s = *s_;
  E& e = detail::engine_as<E>(s.engine);
  if (s.holds(Role::consumer)) [[likely]] {
    for (;;) {
      const auto v = e.front();
      if (v.status != RingStatus::ok) break;
      if (out.size() != v.bytes.size()) [[unlikely]]
        out.resize(v.bytes.size());
      e.copy_front(out.data(), v.bytes);
      if (e.pop(s)) [[likely]]
        return GetStatus::ok;
    }
  }
  return get_slow(out, wait);
}

// get_value() for the engines without the inline slot path: as get_on, with
// a message of another size left where it is (wrong_size).
GetStatus Queue::get_copy(void* out, std::size_t size, Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return GetStatus::handle_closed;
  State& s = *s_;
  if (s.holds(Role::consumer)) [[likely]] {
    const bool done = s.visit([&](auto& e) {
      for (;;) {
        const auto v = e.front();
        if (v.status != RingStatus::ok || v.bytes.size() != size) return false;
        e.copy_front(static_cast<std::byte*>(out), v.bytes);
        if (e.pop(s)) [[likely]]
          return true;
      }
    });
    if (done) return GetStatus::ok;
  }
  const GetView v = read(wait);
  if (v.status != GetStatus::ok) return v.status;
  if (v.bytes.size() != size) return GetStatus::wrong_size;
  std::memcpy(out, v.bytes.data(), size);
  release();
  return GetStatus::ok;
}

GetStatus Queue::get_slow(std::vector<std::byte>& out, Wait wait) {
  const GetView v = read(wait);
  if (v.status != GetStatus::ok) return v.status;
  copy_out(out, v.bytes);
  release();
  return GetStatus::ok;
}

// What is there now (take_batch); else one message as get waits for it,
// then what followed it.
GetStatus Queue::get_many(MessageBatch& out, std::size_t max_messages, Wait wait) {
  if (!s_) [[unlikely]]
    return GetStatus::handle_closed;
  if (max_messages == 0) return GetStatus::ok;
  State& s = *s_;
  if (!s.holds(Role::consumer)) [[unlikely]] {
    if (const Errc e = s.take(Role::consumer); e != Errc{}) {
      return e == Errc::corrupt ? GetStatus::corrupt : GetStatus::role_taken;
    }
  }
  return s.visit([&](auto& e) -> GetStatus {
    if (e.take_batch(out, max_messages, s) != 0) return GetStatus::ok;
    const GetView v = read_on(s, e, wait);
    if (v.status != GetStatus::ok) return v.status;
    copy_message(detail::BatchAccess::append(out, v.bytes.size()), v.bytes.data(), v.bytes.size());
    (void)e.pop(s);  // the message read_on() handed out: always ours
    (void)e.take_batch(out, max_messages - 1, s);
    return GetStatus::ok;
  });
}

Message Queue::get(Wait wait) {
  Message m;
  m.status = get_any(m.bytes, wait);
  if (m.status != GetStatus::ok) m.bytes.clear();  // a copy a lane consumer lost to another
  return m;
}

// ---- observers (a moved-from handle: see "A moved-from handle" in queue.hpp) ----

namespace {
const std::string kNoPath;
}  // namespace

std::size_t Queue::qsize() const noexcept {
  if (!s_) return 0;
  return static_cast<std::size_t>(s_->visit([](const auto& e) { return e.message_count(); }));
}

// ---- event loops ----

Result<int> Queue::fileno() noexcept {
  if (!s_) [[unlikely]]
    return fail(Errc::invalid_argument, "fileno() on a moved-from Queue handle");
  State& s = *s_;
  if (!s.poller || !s.poller->ours()) {
    auto p = Poller::attach(s.layout->not_empty, s.plan);
    if (!p) return p.error();
    s.poller.emplace(std::move(*p));  // a forked copy's inherited poller: inert, closed here
  }
  s.rearm_poller();
  return s.poller->fd();
}

bool Queue::empty() const noexcept {
  return !s_ || s_->visit([](const auto& e) { return e.empty(); });
}

bool Queue::full() const noexcept {
  if (!s_) return false;
  if (s_->maxsize > 0 && qsize() >= static_cast<std::uint64_t>(s_->maxsize)) return true;
  return s_->visit([](const auto& e) { return e.full(); });
}

// Closes the queue for everyone.
void Queue::close() noexcept {
  if (!s_) return;
  State& s = *s_;
  // SYNC(close): seq_cst — pairs with the acquire in is_closed(); then every
  // parked process wakes (unconditionally: close is rare).
  s.layout->control.closed.store(1, std::memory_order_seq_cst);
  notify_all(s.layout->not_empty, s.stats);
  notify_all(s.layout->not_full, s.stats);
  s.visit([&](auto& e) { e.wake_after_close(s); });
}

bool Queue::closed() const noexcept { return !s_ || s_->is_closed(); }
std::int64_t Queue::maxsize() const noexcept { return s_ ? s_->maxsize : 0; }
std::uint64_t Queue::capacity_bytes() const noexcept {
  return s_ ? s_->visit([](const auto& e) { return e.capacity(); }) : 0;
}
std::uint64_t Queue::max_message() const noexcept {
  return s_ ? s_->visit([](const auto& e) { return e.max_payload(); }) : 0;
}
std::uint64_t Queue::message_size() const noexcept {
  return s_ ? s_->visit([](const auto& e) { return e.message_size(); }) : 0;
}
// A moved-from handle: the default engine (it has none of its own).
Engine Queue::engine() const noexcept {
  return s_ ? s_->visit([]<class E>(const E&) { return E::kEngine; }) : QueueOptions{}.engine;
}
std::uint64_t Queue::memory_bytes() const noexcept { return s_ ? s_->segment->allocated_bytes() : 0; }
std::uint64_t Queue::claims_repaired() const noexcept {
  return s_ ? s_->visit([](const auto& e) { return e.claims_repaired(); }) : 0;
}
std::uint64_t Queue::reads_lost() const noexcept {
  return s_ ? s_->visit([](const auto& e) { return e.reads_lost(); }) : 0;
}
// The byte ring's shared counts: only its consumer (producer) writes them,
// and attach re-derives them from the records, so the holder of the role
// reads what it and its dead predecessors left, consistent.
std::optional<std::uint64_t> Queue::read_seq() const noexcept {
  if (!s_ || engine() != Engine::spsc || message_size() != 0 || !s_->holds(Role::consumer)) return std::nullopt;
  // SYNC(count): relaxed — this process is the only writer of get_count now.
  return s_->layout->ring.consumer.get_count.load(std::memory_order_relaxed);
}
std::optional<std::uint64_t> Queue::put_seq() const noexcept {
  if (!s_ || engine() != Engine::spsc || message_size() != 0 || !s_->holds(Role::producer)) return std::nullopt;
  // SYNC(count): relaxed — this process is the only writer of put_count now.
  return s_->layout->ring.producer.put_count.load(std::memory_order_relaxed);
}
AheadView Queue::read_ahead() noexcept {
  if (!s_) return {AheadStatus::handle_closed, {}, 0};
  State& s = *s_;
  return s.visit([&]<class E>(E& e) -> AheadView {
    if constexpr (!std::is_same_v<E, detail::SpscBytesEngine>) {
      return {AheadStatus::unsupported, {}, 0};
    } else {
      if (!s.holds(Role::consumer)) {
        if (const Errc err = s.take(Role::consumer); err != Errc{}) {
          return {err == Errc::corrupt ? AheadStatus::corrupt : AheadStatus::role_taken, {}, 0};
        }
      }
      // Closed only if nothing more is there after we saw the flag: the
      // acquire in is_closed() makes every record put before close() visible.
      const bool was_closed = s.is_closed();
      const RingView v = e.ahead();
      if (v.status == RingStatus::ok) return {AheadStatus::ok, v.bytes, e.last_ahead_seq()};
      if (v.status != RingStatus::empty) return {AheadStatus::corrupt, {}, 0};
      return {was_closed ? AheadStatus::closed : AheadStatus::empty, {}, 0};
    }
  });
}

void Queue::release_ahead(std::size_t n) noexcept {
  if (!s_) return;
  s_->visit([&]<class E>(E& e) {
    if constexpr (std::is_same_v<E, detail::SpscBytesEngine>) e.pop_ahead(n, *s_);
  });
}

std::uint64_t Queue::recover() noexcept {
  if (!s_) return 0;
  return s_->visit([this]<class E>(E& e) -> std::uint64_t {
    if constexpr (!E::kRepairs) {
      return 0;
    } else {
      // Repairs are made under a hazard, which needs a participant slot.
      if (s_->take(Role::consumer) != Errc{}) return 0;
      return e.recover(*s_);
    }
  });
}
const std::string& Queue::path() const noexcept { return s_ ? s_->segment->path() : kNoPath; }
Role Queue::roles_held() const noexcept {
  if (!s_) return Role::none;
  return s_->holds(Role::producer) || s_->holds(Role::consumer) ? s_->held : Role::none;
}
const BlockingStats& Queue::stats() const noexcept { return hot_->stats; }  // moved from: the off QueueHot's zeroes
Barriers Queue::barriers() const noexcept { return hot_->plan.waiter_heavy ? Barriers::asymmetric : Barriers::fences; }

// ---- queues inside another object's segment (embedded.hpp) ----

bool detail::EmbeddedQueue::wait_readable(Queue& q, Wait wait) noexcept {
  if (!q.s_) return true;  // a get returns handle_closed at once
  Queue::State& s = *q.s_;
  if (!s.holds(Role::consumer) && s.take(Role::consumer) != Errc{}) return true;  // a get fails at once
  return s.visit([&](auto& e) {
    LazyDeadline deadline(wait);
    // front() takes nothing (a message read() handed out counts: a get returns it).
    const auto ready = [&] { return e.front().status != RingStatus::empty || s.is_closed(); };
    for (;;) {
      if (ready()) return true;
      if (wait.is_nowait() || !deadline.may_wait()) {
        s.rearm_poller();  // a poll() that found nothing re-arms, as an empty get does
        return false;
      }
      if (!wait_until(s.layout->not_empty, ready, deadline.get(), s.get_spin, s.stats, s.plan) &&
          deadline.get().passed()) {
        s.rearm_poller();
        return false;
      }
    }
  });
}

// ---- JoinableQueue -------------------------------------------------------------

TaskDoneStatus JoinableQueue::task_done() noexcept {
  if (!s_) [[unlikely]]
    return TaskDoneStatus::handle_closed;
  return s_->tasks.finish(s_->stats, s_->plan) ? TaskDoneStatus::ok : TaskDoneStatus::too_many;
}

JoinStatus JoinableQueue::join(Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return JoinStatus::handle_closed;
  return s_->tasks.join(wait, s_->stats, s_->plan) ? JoinStatus::done : JoinStatus::timed_out;
}

std::uint64_t JoinableQueue::unfinished_tasks() const noexcept { return s_ ? s_->tasks.unfinished() : 0; }

}  // namespace shmring
