// A handle on one end of a shared-ends Pipe (the default): any number of
// handles on each end, in any number of processes.
//
// Each direction is a lane-engine queue embedded in the pipe's segment
// (embedded.hpp): many senders never corrupt each other (each writes its
// own lane) and many receivers each take distinct whole messages; order is
// kept per sender. The end's handles are counted in its EndTable
// (end_table.hpp): a handle joins when made (Pipe::create, open, or a
// fork that copies it) and leaves at close(). When the last live handle of
// an end leaves, or dies, the end closes for good and both directions'
// queues are closed: the other side's recv drains what was sent and then
// gets closed (EOF); its send gets closed (a broken pipe).
//
// Fork. A child inherits the parent's handles, as it inherits descriptors
// in Python, and each counts as a handle of the child from the fork on:
// just before a fork the parent takes a slot on the end for each of its
// joined handles, the child takes those slots over, and the parent's fork()
// returns once it has (platform::at_fork hooks, shared_end.cpp). So the
// parent may close its copy, or exit, right after the fork without the
// other side seeing EOF before the child has even run. A slot the child
// has not taken within a second (a failed fork; a child killed or stopped
// before its first instruction) is given back. A child that exec()s keeps
// its inherited handles counted until it exits (an end is not closed on
// exec, unlike Python's descriptors); a table without a free slot at the
// fork (256 handles) leaves the child's copy to join on first use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "end_table.hpp"
#include "end_view.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/platform/segment.hpp"

namespace shmring::detail {

class SharedEnd {
 public:
  // A handle on end `end` (0: a, 1: b); it joins the end now. `out`/`in`:
  // the handle's queues on the directions it sends and receives on (none
  // for the direction a one-way end does not use).
  SharedEnd(std::shared_ptr<platform::Segment> segment, PipeLayout* p, const PipeConfigLayout& c, unsigned end,
            std::optional<Queue> out, std::optional<Queue> in) noexcept;
  SharedEnd(const SharedEnd&) = delete;
  SharedEnd& operator=(const SharedEnd&) = delete;
  ~SharedEnd();

  // A Connection::open whose join found no free slot (Errc::role_taken).
  [[nodiscard]] bool no_slot() const noexcept { return no_slot_; }

  [[nodiscard]] ConnStatus attach() noexcept;
  [[nodiscard]] ConnStatus send(std::span<const std::byte> bytes, Wait wait) noexcept;
  [[nodiscard]] EndView read(Wait wait) noexcept;
  void release() noexcept;
  [[nodiscard]] bool poll(Wait wait) noexcept;
  // The receive direction's event-loop descriptor (Queue::fileno()).
  [[nodiscard]] Result<int> fileno() noexcept;
  void close() noexcept;

  [[nodiscard]] bool is_closed() const noexcept { return closed_; }
  [[nodiscard]] bool holds() const noexcept;
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept;
  [[nodiscard]] std::uint64_t max_message() const noexcept;
  [[nodiscard]] const BlockingStats& blocking_stats() const noexcept;
  [[nodiscard]] const std::string& path() const noexcept { return segment_->path(); }

  // The fork hooks (shared_end.cpp), for every handle of this process.
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

 private:
  [[nodiscard]] ConnStatus ready(bool sending) noexcept;
  [[nodiscard]] ConnStatus join_here() noexcept;
  [[nodiscard]] bool joined_here() const noexcept;
  // The other end: closed, or no handle of it left in a live process (then
  // both directions are closed). Looked at once per kOwnerCheckInterval.
  [[nodiscard]] bool peer_gone_due() noexcept;
  [[nodiscard]] bool peer_gone() noexcept;
  void close_directions() noexcept;

  std::shared_ptr<platform::Segment> segment_;
  EndTable mine_;
  EndTable peer_;
  bool can_send_;
  bool can_recv_;
  std::optional<Queue> out_;
  std::optional<Queue> in_;
  // Our slot in mine_, valid in the process of fork generation
  // slot_generation_ (a fork copy not handed its slot joins on first use).
  std::uint32_t slot_ = kPipeHolders;
  std::uint64_t slot_generation_ = 0;
  std::uint32_t child_slot_ = kPipeHolders;  // kept for the child of a fork in progress...
  std::uint64_t parent_ = 0;                 // ...in the name of the parent, this process
  bool closed_ = false;
  bool no_slot_ = false;
  std::int64_t next_peer_check_ = 0;  // monotonic ns
  // fileno(): where the receive direction lives (for the peer watch's own
  // handle on it), and the watch's ticket, valid in the process of fork
  // generation watch_generation_ (peer_watch.hpp).
  std::byte* in_at_ = nullptr;
  std::uint64_t in_bytes_ = 0;
  std::uint64_t watch_ticket_ = 0;
  std::uint64_t watch_generation_ = ~std::uint64_t{0};  // none yet
  mutable BlockingStats stats_;                         // both directions' stats, summed when asked
};

}  // namespace shmring::detail
