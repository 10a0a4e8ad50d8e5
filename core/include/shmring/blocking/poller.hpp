// Poller: a file descriptor an event loop (epoll, poll, select, Python's
// selectors, asyncio, multiprocessing.connection.wait) waits on beside its
// sockets. It is readable when a waiter on one ParkingLayout would not wait
// — for a Queue's not_empty word: a get would not block (Queue::fileno()).
//
// Protocol. The descriptor is a PollSocket (platform/poll_socket.hpp) whose
// token the poller writes into one of the word's kPollerSlots slots. To arm,
// the poller drains its socket, sets its bit in `armed` and checks the
// predicate; every notify() of the word that finds a bit set takes it and
// pokes that socket (blocking.hpp, poke_pollers). So:
//
//   poller (rearm)                         notifier
//   drain the socket                       store S             (release, by caller)
//   armed |= bit        (seq_cst)          fence(seq_cst)
//   fence(seq_cst)                         if armed == 0: return (relaxed)
//   if pred(S):                            bits = armed.exchange(0)
//     if (armed &= ~bit) had bit:          poke each bit's token
//       poke self
//
// Readable when it must be: by the fences (Dekker, as for futex waiters),
// either the notifier sees the bit and pokes, or the poller's check sees S
// and makes itself readable — by its own poke when it took its bit back, or
// by the notifier's when the notifier took it first. Never readable for
// long when it should not be: a rearm drains every poke queued before it, so
// a readiness that finds nothing (a poke that arrived late, another consumer
// took the message, a stranger's poke) costs one more rearm, not a spin.
//
// Cost. While nobody polls, notifiers pay one more relaxed load of a word on
// the block they already read. A registered poller costs one send per
// episode (its bit is taken once until it rearms) and one receive per
// rearm; a consumer that never finds the queue empty never rearms, so
// streaming costs no system call. A rearm happens when the handle that owns
// the poller finds the queue empty without waiting (get_nowait, a get whose
// timeout ran out) and at each fileno() call; a blocking get never rearms,
// so after blocking gets the descriptor may be readable with nothing there
// (the next get_nowait, or fileno(), rearms it).
//
// Slots. A poller claims a free slot with a compare-and-swap of its token
// into it; when all are taken, the slots whose sockets are gone (a connect
// probe is refused: the poller closed or died) are taken back. A notifier
// whose poke is refused frees the slot itself. A poller belongs to the
// process that made it: in a forked child the copy is inert (its slot and
// socket stay the parent's) and the child's handle makes its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "shmring/blocking/blocking.hpp"
#include "shmring/platform/error.hpp"
#include "shmring/platform/poll_socket.hpp"
#include "shmring/platform/process.hpp"

namespace shmring {

class Poller {
 public:
  // Registers a poller on `park` (Errc::no_space: every slot is held by a
  // live poller; the socket's errors otherwise).
  [[nodiscard]] static Result<Poller> attach(ParkingLayout& park, BarrierPlan plan) noexcept {
    auto socket = platform::PollSocket::create();
    if (!socket) return socket.error();
    const std::uint64_t token = socket->token();
    for (int pass = 0; pass < 2; ++pass) {
      for (std::uint32_t i = 0; i < kPollerSlots; ++i) {
        // relaxed load, then release CAS: the token is all a notifier reads.
        std::uint64_t seen = park.pollers[i].load(std::memory_order_relaxed);
        // Second pass: a slot whose socket is gone is free.
        if (seen != 0 && (pass == 0 || platform::poller_alive(seen))) continue;
        if (park.pollers[i].compare_exchange_strong(seen, token, std::memory_order_release,
                                                    std::memory_order_relaxed)) {
          return Poller(park, i, std::move(*socket), plan);
        }
      }
    }
    return fail(Errc::no_space, "every poller slot of this object is held by a live poller");
  }

  Poller(Poller&& other) noexcept
      : park_(std::exchange(other.park_, nullptr)),
        slot_(other.slot_),
        socket_(std::move(other.socket_)),
        waiter_heavy_(other.waiter_heavy_),
        generation_(other.generation_) {}
  Poller& operator=(Poller&& other) noexcept {
    if (this != &other) {
      leave();
      park_ = std::exchange(other.park_, nullptr);
      slot_ = other.slot_;
      socket_ = std::move(other.socket_);
      waiter_heavy_ = other.waiter_heavy_;
      generation_ = other.generation_;
    }
    return *this;
  }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller() { leave(); }

  [[nodiscard]] int fd() const noexcept { return socket_.fd(); }
  // False in a forked child: the poller is its parent's.
  [[nodiscard]] bool ours() const noexcept { return park_ != nullptr && generation_ == platform::fork_generation(); }

  // Brings the descriptor up to date (see the protocol above): readable now
  // if ready() is true, else at the next notify. ready() reads S with
  // acquire loads, as a waiter's predicate does.
  template <class Ready>
  void rearm(Ready&& ready, BlockingStats& stats) noexcept {
    if (!ours()) return;
    const std::uint32_t bit = 1u << slot_;
    ++stats.poller_drains;
    socket_.drain();
    // SYNC(poll): seq_cst RMW + fence — the bit is visible before we read S,
    // paired with the notifier's fence between its store of S and its load
    // of `armed`.
    park_->armed.fetch_or(bit, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // SYNC(poll): heavy barrier — stands in for the fence light notifiers omit.
    if (waiter_heavy_) platform::heavy_barrier();
    if (!ready()) return;
    // Ready now. If our bit is still ours, no notifier will poke: poke
    // ourselves. If a notifier took it, its poke is on the way.
    if ((park_->armed.fetch_and(~bit, std::memory_order_acq_rel) & bit) != 0) {
      ++stats.pokes;
      socket_.poke_self();
    }
  }

 private:
  Poller(ParkingLayout& park, std::uint32_t slot, platform::PollSocket socket, BarrierPlan plan) noexcept
      : park_(&park),
        slot_(slot),
        socket_(std::move(socket)),
        waiter_heavy_(plan.waiter_heavy),
        generation_(platform::fork_generation()) {}

  // Gives the slot back (only in the process that took it).
  void leave() noexcept {
    if (!ours()) return;
    park_->armed.fetch_and(~(1u << slot_), std::memory_order_relaxed);
    std::uint64_t mine = socket_.token();
    // relaxed: a notifier that still reads our token pokes a closed socket
    // (refused: it frees nothing that is not ours, by the CAS).
    (void)park_->pollers[slot_].compare_exchange_strong(mine, 0, std::memory_order_relaxed);
    park_ = nullptr;
  }

  ParkingLayout* park_ = nullptr;
  std::uint32_t slot_ = 0;
  platform::PollSocket socket_;
  bool waiter_heavy_ = false;  // the object's plan: waiters (and pollers) issue the heavy barrier
  std::uint64_t generation_ = 0;
};

}  // namespace shmring
