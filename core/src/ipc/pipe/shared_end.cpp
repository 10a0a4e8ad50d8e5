#include "shared_end.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <utility>
#include <vector>

#include "../queue/embedded.hpp"
#include "peer_watch.hpp"
#include "shmring/blocking/intervals.hpp"
#include "shmring/platform/clock.hpp"

namespace shmring::detail {

namespace {

constexpr std::int64_t kCheckNs = std::chrono::nanoseconds(kOwnerCheckInterval).count();
// How long a parent waits in fork() for its child to take over the slots
// kept for it (normally the child's first microseconds).
constexpr std::int64_t kChildClaimWaitNs = 1'000'000'000;

std::uint64_t this_process() noexcept { return platform::pack_owner(platform::current_process()); }

// Every SharedEnd of this process, for the fork hooks. The mutex also
// orders a handle's own changes to its slot and closed state (join, close)
// against the hooks, which may run in another thread's fork.
std::mutex g_mutex;
std::vector<SharedEnd*>& handles() {
  static std::vector<SharedEnd*> v;
  return v;
}

void hook_prepare() {
  g_mutex.lock();  // held across the fork; the parent and child hooks unlock
  for (SharedEnd* e : handles()) e->before_fork();
}
void hook_parent() {
  for (SharedEnd* e : handles()) e->after_fork_in_parent();
  g_mutex.unlock();
}
void hook_child() {
  for (SharedEnd* e : handles()) e->after_fork_in_child();
  g_mutex.unlock();  // the child's copy of the mutex, locked by the forking thread (now this one)
}

void register_handle(SharedEnd* e) {
  static std::once_flag hooks;
  std::call_once(hooks, [] { platform::at_fork(&hook_prepare, &hook_parent, &hook_child); });
  const std::lock_guard<std::mutex> lock(g_mutex);
  handles().push_back(e);
}
void unregister_handle(SharedEnd* e) {
  const std::lock_guard<std::mutex> lock(g_mutex);
  auto& v = handles();
  v.erase(std::remove(v.begin(), v.end(), e), v.end());
}

ConnStatus put_status(PutStatus s) noexcept {
  switch (s) {
    case PutStatus::ok: return ConnStatus::ok;
    case PutStatus::full: return ConnStatus::full;
    case PutStatus::closed: return ConnStatus::closed;
    case PutStatus::too_large: return ConnStatus::too_large;
    case PutStatus::handle_closed: return ConnStatus::handle_closed;
    default: return ConnStatus::corrupt;
  }
}

ConnStatus get_status(GetStatus s) noexcept {
  switch (s) {
    case GetStatus::ok: return ConnStatus::ok;
    case GetStatus::empty: return ConnStatus::empty;
    case GetStatus::closed: return ConnStatus::closed;
    case GetStatus::handle_closed: return ConnStatus::handle_closed;
    case GetStatus::role_taken: return ConnStatus::end_taken;  // no reader slot left in the direction
    default: return ConnStatus::corrupt;
  }
}

// A wait of at most one kOwnerCheckInterval, ending no later than `deadline`:
// a dead peer sends no wake-up, so a waiter looks for it between slices.
Wait slice_of(platform::Deadline deadline) noexcept {
  if (deadline.is_never()) return std::chrono::nanoseconds(kCheckNs);
  const std::int64_t left = deadline.ns() - platform::monotonic_ns();
  return std::chrono::nanoseconds(std::min(left, kCheckNs));
}

}  // namespace

SharedEnd::SharedEnd(std::shared_ptr<platform::Segment> segment, PipeLayout* p, const PipeConfigLayout& c, unsigned end,
                     std::optional<Queue> out, std::optional<Queue> in) noexcept
    : segment_(std::move(segment)),
      mine_(p->ends[end], p->control.closed[end]),
      peer_(p->ends[1 - end], p->control.closed[1 - end]),
      can_send_(c.duplex != 0 || end == 1),
      can_recv_(c.duplex != 0 || end == 0),
      out_(std::move(out)),
      in_(std::move(in)),
      in_at_(reinterpret_cast<std::byte*>(p) + c.data_offset[1u - end]),  // in_dir(end), owned_end.hpp
      in_bytes_(c.direction_bytes) {
  register_handle(this);
  const std::lock_guard<std::mutex> lock(g_mutex);
  const ConnStatus st = join_here();
  no_slot_ = st == ConnStatus::end_taken;
}

SharedEnd::~SharedEnd() {
  close();
  unregister_handle(this);
}

// Under g_mutex. A new slot for this handle in this process.
ConnStatus SharedEnd::join_here() noexcept {
  const EndTable::JoinResult j = mine_.join(this_process());
  switch (j.result) {
    case EndTable::Joined::ok:
      slot_ = j.slot;
      slot_generation_ = platform::fork_generation();
      return ConnStatus::ok;
    case EndTable::Joined::closed: closed_ = true; return ConnStatus::handle_closed;
    case EndTable::Joined::full: break;
  }
  return ConnStatus::end_taken;
}

bool SharedEnd::joined_here() const noexcept {
  return slot_ < kPipeHolders && slot_generation_ == platform::fork_generation();
}
bool SharedEnd::holds() const noexcept { return !closed_ && joined_here(); }

ConnStatus SharedEnd::attach() noexcept {
  if (closed_) return ConnStatus::handle_closed;
  if (joined_here()) return ConnStatus::ok;
  const std::lock_guard<std::mutex> lock(g_mutex);
  return join_here();
}

ConnStatus SharedEnd::ready(bool sending) noexcept {
  if (closed_) return ConnStatus::handle_closed;
  if (sending ? !can_send_ : !can_recv_) return sending ? ConnStatus::not_writable : ConnStatus::not_readable;
  return attach();
}

bool SharedEnd::peer_gone() noexcept {
  if (!peer_.closed_or_abandoned(this_process())) return false;
  close_directions();
  return true;
}

bool SharedEnd::peer_gone_due() noexcept {
  const std::int64_t now = platform::monotonic_ns();
  if (now < next_peer_check_) return peer_.closed() && peer_gone();
  next_peer_check_ = now + kCheckNs;
  return peer_gone();
}

// Closing a direction's queue is what wakes its waiters and turns later
// sends into closed and drained recvs into closed; closing twice is harmless.
void SharedEnd::close_directions() noexcept {
  if (out_) out_->close();
  if (in_) in_->close();
}

ConnStatus SharedEnd::send(std::span<const std::byte> bytes, Wait wait) noexcept {
  if (!can_send_ || !joined_here() || closed_) [[unlikely]] {
    if (const ConnStatus st = ready(true); st != ConnStatus::ok) return st;
  }
  if (peer_gone_due()) return ConnStatus::closed;
  PutStatus r = out_->put(bytes, nowait);
  if (r != PutStatus::full || wait.is_nowait()) return put_status(r);
  const platform::Deadline deadline = wait.deadline();
  for (;;) {
    if (deadline.passed()) return ConnStatus::full;
    r = out_->put(bytes, slice_of(deadline));
    if (r != PutStatus::full) return put_status(r);
    if (peer_gone()) return ConnStatus::closed;
  }
}

EndView SharedEnd::read(Wait wait) noexcept {
  if (!can_recv_ || !joined_here() || closed_) [[unlikely]] {
    if (const ConnStatus st = ready(false); st != ConnStatus::ok) return {st, {}};
  }
  GetView v = in_->read(nowait);
  if (v.status != GetStatus::empty) return {get_status(v.status), v.bytes};
  LazyDeadline deadline(wait);
  for (;;) {
    // Empty. A gone peer closes the directions; the next read drains what
    // it sent before going (the queue's close() orders that) and then says closed.
    if (peer_gone_due()) {
      v = in_->read(nowait);
      return {get_status(v.status), v.bytes};
    }
    if (wait.is_nowait() || !deadline.may_wait()) return {ConnStatus::empty, {}};
    v = in_->read(slice_of(deadline.get()));
    if (v.status != GetStatus::empty) return {get_status(v.status), v.bytes};
  }
}

void SharedEnd::release() noexcept { in_->release(); }

bool SharedEnd::poll(Wait wait) noexcept {
  if (!can_recv_ || !joined_here() || closed_) {
    if (ready(false) != ConnStatus::ok) return true;  // a recv fails at once
  }
  if (EmbeddedQueue::wait_readable(*in_, nowait)) return true;
  if (wait.is_nowait()) return peer_gone_due();
  const platform::Deadline deadline = wait.deadline();
  for (;;) {
    if (peer_gone_due()) return true;
    if (deadline.passed()) return false;
    if (EmbeddedQueue::wait_readable(*in_, slice_of(deadline))) return true;
  }
}

Result<int> SharedEnd::fileno() noexcept {
  if (closed_) return fail(Errc::invalid_argument, "fileno() of a closed Connection");
  if (!can_recv_) return fail(Errc::invalid_argument, "fileno() of a send-only end: it never becomes readable");
  auto fd = in_->fileno();
  if (!fd || watch_generation_ == platform::fork_generation()) return fd;
  // The first descriptor of this handle in this process: the peer watch
  // closes the receive direction (through a handle of its own, so it never
  // touches this one's state from its thread) once the other end is closed
  // or abandoned, and the close wakes the descriptor.
  auto q = EmbeddedQueue::attach(segment_, in_at_, in_bytes_);
  if (!q) return q.error();
  auto watched = std::make_shared<Queue>(std::move(*q));
  auto ticket = watch_peer([peer = peer_, watched]() mutable {
    if (watched->closed()) return true;  // closed already: by a recv, a poll, or a close()
    if (!peer.closed_or_abandoned(this_process())) return false;
    watched->close();
    return true;
  });
  if (!ticket) return ticket.error();
  watch_ticket_ = *ticket;
  watch_generation_ = platform::fork_generation();
  return fd;
}

void SharedEnd::close() noexcept {
  // Before g_mutex: the fork hooks take the watch's lock and then g_mutex,
  // so taking them the other way round here could deadlock with a fork.
  if (watch_generation_ == platform::fork_generation()) unwatch_peer(std::exchange(watch_ticket_, 0));
  const std::lock_guard<std::mutex> lock(g_mutex);
  if (closed_) return;
  closed_ = true;
  if (joined_here() && mine_.leave(slot_, this_process())) close_directions();
  slot_ = kPipeHolders;
  // Give back the lane and the reader slot this handle took (a fork copy's
  // queues hold nothing of the parent's: Queue handles see to that).
  out_.reset();
  in_.reset();
}

std::uint64_t SharedEnd::capacity_bytes() const noexcept {
  if (out_) return out_->capacity_bytes();
  return in_ ? in_->capacity_bytes() : 0;
}

std::uint64_t SharedEnd::max_message() const noexcept {
  if (out_) return out_->max_message();
  return in_ ? in_->max_message() : 0;
}

const BlockingStats& SharedEnd::blocking_stats() const noexcept {
  stats_ = {};
  for (const std::optional<Queue>* q : {&out_, &in_}) {
    if (!*q) continue;
    const BlockingStats& s = (*q)->stats();
    stats_.futex_waits += s.futex_waits;
    stats_.futex_wakes += s.futex_wakes;
    stats_.spin_hits += s.spin_hits;
  }
  return stats_;
}

// ---- fork hooks (under g_mutex, held by the forking thread) ----

void SharedEnd::before_fork() noexcept {
  child_slot_ = kPipeHolders;
  if (closed_ || !joined_here()) return;
  parent_ = this_process();
  const EndTable::JoinResult j = mine_.join(parent_);
  if (j.result == EndTable::Joined::ok) child_slot_ = j.slot;
}

// The parent returns from fork() only once the child has taken its slot
// over: until then the slot names the parent, and a parent that exited
// right after forking (a daemon's double fork) would leave the end looking
// abandoned while the child lives. A slot still the parent's after
// kChildClaimWait (a failed fork, a child killed or stopped before its
// first instruction) is given back, so that it never keeps the end open
// for a child that does not exist; such a child, if it runs later, joins
// on first use if the end is still open.
void SharedEnd::after_fork_in_parent() noexcept {
  const std::uint32_t kept = std::exchange(child_slot_, kPipeHolders);
  if (kept >= kPipeHolders) return;
  const std::int64_t give_up = platform::monotonic_ns() + kChildClaimWaitNs;
  while (mine_.slot_token(kept) == parent_) {
    if (platform::monotonic_ns() >= give_up) {
      mine_.drop(kept, parent_);
      return;
    }
    platform::yield_cpu();
  }
}

void SharedEnd::after_fork_in_child() noexcept {
  const std::uint32_t kept = std::exchange(child_slot_, kPipeHolders);
  // Not kept (closed, or no free slot): the copy joins on first use, if it can.
  if (kept >= kPipeHolders) return;
  // The slot names the parent; this_process() is already the child.
  if (mine_.hand_over(kept, parent_, this_process())) {
    slot_ = kept;
    slot_generation_ = platform::fork_generation();
  }
}

}  // namespace shmring::detail
