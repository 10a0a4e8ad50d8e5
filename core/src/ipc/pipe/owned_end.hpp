// A handle on one end of a one-owner Pipe (PipeOptions::one_owner): each
// end is held by at most one process at a time (its owner word) and each
// direction is an SPSC byte ring (spsc_ring.hpp) with the Queue's blocking
// layer. Ownership, takeover of a dead owner's end and end of file are as
// pipe.hpp describes for one_owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "../role_slot.hpp"
#include "end_view.hpp"
#include "shmring/blocking/blocking.hpp"
#include "shmring/blocking/intervals.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/engine/spsc_ring.hpp"

namespace shmring::detail {

using detail::LazyDeadline;
using platform::Deadline;

inline constexpr std::int64_t kOwnerCheckNs = std::chrono::nanoseconds(kOwnerCheckInterval).count();

// Direction d carries end d's messages: a sends on 0, b on 1.
constexpr unsigned out_dir(unsigned end) noexcept { return end; }
constexpr unsigned in_dir(unsigned end) noexcept { return 1u - end; }

inline ConnStatus ring_status(RingStatus s) noexcept {
  switch (s) {
    case RingStatus::ok: return ConnStatus::ok;
    case RingStatus::full: return ConnStatus::full;
    case RingStatus::too_large: return ConnStatus::too_large;
    case RingStatus::empty: return ConnStatus::empty;
    case RingStatus::wrong_size: return ConnStatus::wrong_size;
    default: return ConnStatus::corrupt;
  }
}

class OwnedEnd {
 public:
  std::shared_ptr<platform::Segment> segment;  // shared by the two ends Pipe::create returns
  PipeLayout* layout;
  unsigned me;    // this end: 0 (a) or 1 (b)
  unsigned peer;  // the other end
  bool can_send;
  bool can_recv;
  std::uint64_t max_message;
  SpscRing out;                       // direction out_dir(me); unused when !can_send
  SpscRing in;                        // direction in_dir(me); unused when !can_recv
  bool held = false;                  // this handle holds the end...
  std::uint64_t held_generation = 0;  // ...in the process of this fork generation
  bool closed = false;                // this handle was closed
  std::int64_t next_peer_check = 0;   // monotonic ns: when the peer's liveness is next due
  AdaptiveSpin send_spin;
  AdaptiveSpin recv_spin;
  BlockingStats stats;
  BarrierPlan plan;

  OwnedEnd(std::shared_ptr<platform::Segment> seg, PipeLayout* p, const PipeConfigLayout& c, unsigned end) noexcept
      : segment(std::move(seg)),
        layout(p),
        me(end),
        peer(1u - end),
        can_send(c.duplex != 0 || end == 1),
        can_recv(c.duplex != 0 || end == 0),
        max_message(c.max_message),
        out(p->direction[out_dir(end)].ring, data_of(p, c, out_dir(end)), c.capacity, c.max_message, 0),
        in(p->direction[in_dir(end)].ring, data_of(p, c, in_dir(end)), c.capacity, c.max_message, 0),
        held_generation(platform::fork_generation()) {
    plan.waiter_heavy = c.barriers == 1;
    refresh_plan();
  }
  OwnedEnd(const OwnedEnd&) = delete;
  OwnedEnd& operator=(const OwnedEnd&) = delete;
  ~OwnedEnd() { close(); }

  static std::byte* data_of(PipeLayout* p, const PipeConfigLayout& c, unsigned d) noexcept {
    return c.data_offset[d] == 0 ? nullptr : reinterpret_cast<std::byte*>(p) + c.data_offset[d];
  }
  void refresh_plan() noexcept { plan.notifier_light = plan.waiter_heavy && platform::register_for_heavy_barriers(); }

  PipeDirectionLayout& out_layout() noexcept { return layout->direction[out_dir(me)]; }
  PipeDirectionLayout& in_layout() noexcept { return layout->direction[in_dir(me)]; }

  [[nodiscard]] bool holds() const noexcept { return held && held_generation == platform::fork_generation(); }

  // Takes this end for this handle: refused while a live process holds it
  // (this one too, through another handle); a dead owner's end is taken over
  // and the rings re-derive their counts (SpscRing::attach_*).
  [[nodiscard]] ConnStatus take() noexcept {
    if (closed) return ConnStatus::handle_closed;
    if (held_generation != platform::fork_generation()) {  // a fork copy: the parent holds it
      held = false;
      held_generation = platform::fork_generation();
      refresh_plan();
    }
    if (held) return ConnStatus::ok;
    const std::uint64_t me_token = platform::pack_owner(platform::current_process());
    std::atomic<std::uint64_t>& slot = layout->control.owner[me];
    // SYNC(end): the take's acq_rel — we see the previous owner's ring
    // publications and its closed flag (stored before it freed the word).
    if (!detail::take_role_slot(slot, me_token)) return ConnStatus::end_taken;
    if (layout->control.closed[me].load(std::memory_order_acquire) != 0) {
      // A closed end stays closed: give the word back, this handle is done.
      detail::drop_role_slot(slot);
      closed = true;
      return ConnStatus::handle_closed;
    }
    const bool sane = (!can_send || out.attach_producer()) && (!can_recv || in.attach_consumer());
    if (!sane) {
      detail::drop_role_slot(slot);
      return ConnStatus::corrupt;
    }
    held = true;
    return ConnStatus::ok;
  }

  // The slow-path entry of every call: the handle's state, the end's
  // direction, then ownership.
  [[nodiscard]] ConnStatus ready_to(bool sending) noexcept {
    if (closed) return ConnStatus::handle_closed;
    if (sending ? !can_send : !can_recv) return sending ? ConnStatus::not_writable : ConnStatus::not_readable;
    return take();
  }

  [[nodiscard]] bool peer_closed() const noexcept {
    // SYNC(close): acquire — pairs with the peer's seq_cst store in close():
    // every record it sent before closing is visible to the drain after this.
    return layout->control.closed[peer].load(std::memory_order_acquire) != 0;
  }

  // Is the peer's owner dead? Checked at most once per kOwnerCheckInterval
  // (a /proc read), so callers may ask on every send and every empty recv.
  // An end nobody holds is not dead: it is not attached yet.
  [[nodiscard]] bool peer_dead_due() noexcept {
    const std::int64_t now = platform::monotonic_ns();
    if (now < next_peer_check) return false;
    next_peer_check = now + kOwnerCheckNs;
    // relaxed: a token names a process; the proof of its death is the /proc
    // read, and what it published before dying is re-read with acquire.
    const std::uint64_t token = layout->control.owner[peer].load(std::memory_order_relaxed);
    return platform::is_dead(token);
  }

  // The end of the next wait slice: a dead peer sends no wake-up, so a
  // waiter looks for its death at least once per kOwnerCheckInterval.
  [[nodiscard]] static Deadline slice(Deadline deadline) noexcept { return slice_end(deadline, kOwnerCheckInterval); }

  void close() noexcept {
    if (closed) return;
    closed = true;
    if (!holds()) return;  // never taken here (or a fork copy): only this handle ends
    held = false;
    // SYNC(close): seq_cst — pairs with the peer's acquire in peer_closed(),
    // after our last publication of tail (release): a peer that sees the
    // flag sees every record we sent. Then every parked peer wakes.
    layout->control.closed[me].store(1, std::memory_order_seq_cst);
    if (can_send) notify_all(out_layout().not_empty, stats);  // the peer's recv
    if (can_recv) notify_all(in_layout().not_full, stats);    // the peer's send
    // SYNC(end): the give-back's release — the next taker sees the closed flag.
    detail::give_back_role_slot(layout->control.owner[me], platform::pack_owner(platform::current_process()));
  }

  // Fast path: this handle holds the end, the reader is there and the ring has
  // room: the checks, the copy, the publication, the notify.
  [[nodiscard]] ConnStatus send(std::span<const std::byte> bytes, Wait wait) noexcept {
    OwnedEnd& s = *this;
    if (!s.holds() || !s.can_send) [[unlikely]] {  // held or not, a receive-only end never sends
      if (const ConnStatus st = s.ready_to(true); st != ConnStatus::ok) return st;
    }
    LazyDeadline deadline(wait);  // the clock is read once, and only when we must wait
    for (;;) {
      if (s.peer_closed() || s.peer_dead_due()) return ConnStatus::closed;
      const RingStatus r = s.out.try_push(bytes);
      if (r == RingStatus::ok) [[likely]] {
        notify(s.out_layout().not_empty, s.stats, s.plan);
        return ConnStatus::ok;
      }
      if (r != RingStatus::full) return ring_status(r);
      if (wait.is_nowait() || !deadline.may_wait()) return ConnStatus::full;
      const std::uint64_t size = bytes.size();
      // SYNC(close): the predicate's acquire of the closed flag pairs with close().
      const auto room = [&] { return s.out.producer_can_claim(size) || s.peer_closed(); };
      (void)wait_until(s.out_layout().not_full, room, slice(deadline.get()), s.send_spin, s.stats, s.plan);
    }
  }

  [[nodiscard]] EndView read(Wait wait) noexcept {
    OwnedEnd& s = *this;
    if (!s.holds() || !s.can_recv) [[unlikely]] {  // held or not, a send-only end never receives
      if (const ConnStatus st = s.ready_to(false); st != ConnStatus::ok) return {st, {}};
    }
    LazyDeadline deadline(wait);
    bool saw_eof = false;
    for (;;) {
      const RingView v = s.in.front();
      if (v.status == RingStatus::ok) return {ConnStatus::ok, v.bytes};
      if (v.status != RingStatus::empty) return {ConnStatus::corrupt, {}};
      // Empty. EOF only if the ring is still empty after we saw the peer gone:
      // the acquire of the closed flag makes every record sent before close()
      // visible; a dead peer published nothing after its death (its last
      // release of tail precedes the exit the kernel reported to us).
      if (saw_eof) return {ConnStatus::closed, {}};
      if (s.peer_closed() || s.peer_dead_due()) {
        saw_eof = true;
        continue;
      }
      if (wait.is_nowait() || !deadline.may_wait()) return {ConnStatus::empty, {}};
      const auto ready = [&] { return s.in.consumer_can_read() || s.peer_closed(); };
      (void)wait_until(s.in_layout().not_empty, ready, slice(deadline.get()), s.recv_spin, s.stats, s.plan);
    }
  }

  void release() noexcept {
    OwnedEnd& s = *this;
    s.in.pop();
    notify(s.in_layout().not_full, s.stats, s.plan);
  }

  // True when a recv would return without waiting (see Connection::poll).
  [[nodiscard]] bool poll(Wait wait) noexcept { return read(wait).status != ConnStatus::empty; }
  [[nodiscard]] ConnStatus attach() noexcept { return take(); }
  [[nodiscard]] bool is_closed() const noexcept { return closed; }
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept { return out.capacity(); }
  [[nodiscard]] const BlockingStats& blocking_stats() const noexcept { return stats; }
  [[nodiscard]] const std::string& path() const noexcept { return segment->path(); }
};

}  // namespace shmring::detail
