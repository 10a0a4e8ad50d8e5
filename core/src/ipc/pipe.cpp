#include "shmring/ipc/pipe.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <new>
#include <utility>

#include "shmring/blocking/intervals.hpp"
#include "role_slot.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/engine/spsc_ring.hpp"

namespace shmring {

using platform::Deadline;

const char* to_string(ConnStatus s) noexcept {
  switch (s) {
    case ConnStatus::ok: return "ok";
    case ConnStatus::empty: return "empty";
    case ConnStatus::full: return "full";
    case ConnStatus::closed: return "closed";
    case ConnStatus::handle_closed: return "handle_closed";
    case ConnStatus::too_large: return "too_large";
    case ConnStatus::too_short: return "too_short";
    case ConnStatus::wrong_size: return "wrong_size";
    case ConnStatus::out_of_range: return "out_of_range";
    case ConnStatus::not_readable: return "not_readable";
    case ConnStatus::not_writable: return "not_writable";
    case ConnStatus::end_taken: return "end_taken";
    case ConnStatus::corrupt: return "corrupt";
  }
  return "?";
}

namespace {

constexpr std::uint64_t kMinCapacity = 4096;
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 40;
constexpr std::int64_t kCheckNs = std::chrono::nanoseconds(kOwnerCheckInterval).count();

// Direction d carries end d's messages: a sends on 0, b on 1.
constexpr unsigned out_dir(unsigned end) noexcept { return end; }
constexpr unsigned in_dir(unsigned end) noexcept { return 1u - end; }

ConnStatus ring_status(RingStatus s) noexcept {
  switch (s) {
    case RingStatus::ok: return ConnStatus::ok;
    case RingStatus::full: return ConnStatus::full;
    case RingStatus::too_large: return ConnStatus::too_large;
    case RingStatus::empty: return ConnStatus::empty;
    case RingStatus::wrong_size: return ConnStatus::wrong_size;
    default: return ConnStatus::corrupt;
  }
}

// Checks a mapped pipe before any index in it is used: every value is read
// from memory another process controls. `c` is a private copy of the config,
// taken once: the checked values are the ones used.
Result<void> validate(const PipeConfigLayout& c, const PipeLayout& p, std::uint64_t payload_size) {
  if (c.duplex > 1) return fail(Errc::corrupt, "pipe duplex flag");
  if (c.capacity < kMinCapacity || c.capacity > kMaxCapacity || !std::has_single_bit(c.capacity)) {
    return fail(Errc::bad_size, "pipe capacity is not a power of two in [4 KiB, 1 TiB]");
  }
  const std::uint64_t directions = c.duplex != 0 ? 2 : 1;
  if (payload_size < sizeof(PipeLayout) || c.capacity > (payload_size - sizeof(PipeLayout)) / directions) {
    return fail(Errc::bad_size, "pipe capacity exceeds the file");
  }
  if (c.data_offset[1] != sizeof(PipeLayout) ||
      c.data_offset[0] != (c.duplex != 0 ? sizeof(PipeLayout) + c.capacity : 0)) {
    return fail(Errc::bad_size, "pipe data offsets");
  }
  if (c.max_message == 0 || c.max_message > SpscRing::max_payload_for(c.capacity)) {
    return fail(Errc::bad_size, "pipe max_message out of range");
  }
  for (unsigned d = c.duplex != 0 ? 0 : 1; d < 2; ++d) {
    if (!SpscRing::layout_sane(p.direction[d].ring, c.capacity)) {
      return fail(Errc::corrupt, "pipe ring positions out of range or more messages taken than sent");
    }
  }
  for (unsigned e = 0; e < 2; ++e) {
    if (p.control.closed[e].load(std::memory_order_acquire) > 1) return fail(Errc::corrupt, "pipe closed flag");
  }
  if (c.barriers > 1) return fail(Errc::corrupt, "pipe barrier mode");
  if (c.barriers == 1 && !platform::can_issue_heavy_barrier()) {
    return fail(Errc::unsupported, "pipe uses asymmetric barriers; membarrier(GLOBAL_EXPEDITED) unavailable here");
  }
  return {};
}

}  // namespace

struct Connection::State {
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

  State(std::shared_ptr<platform::Segment> seg, PipeLayout* p, const PipeConfigLayout& c, unsigned end) noexcept
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
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() { close(); }

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
    next_peer_check = now + kCheckNs;
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
};

namespace {
const std::string kNoPath;
const BlockingStats kNoStats{};
}  // namespace

Connection::Connection(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;  // State's destructor closes

// ---- create / open -------------------------------------------------------------

Result<std::pair<Connection, Connection>> Pipe::create(std::string_view name, const PipeOptions& options) {
  if (options.capacity_bytes > kMaxCapacity) return fail(Errc::invalid_argument, "capacity_bytes above 1 TiB");
  const std::uint64_t capacity = std::bit_ceil(std::max(options.capacity_bytes, kMinCapacity));
  const std::uint64_t largest = SpscRing::max_payload_for(capacity);
  if (options.max_message > largest) {
    return fail(Errc::invalid_argument, "max_message must fit in half the capacity minus a record header");
  }
  const std::uint64_t directions = options.duplex ? 2 : 1;

  auto seg = platform::Segment::create(name, {.kind = kPipeKind,
                                              .layout_version = kPipeLayoutVersion,
                                              .layout_hash = kPipeLayoutHash,
                                              .payload_size = sizeof(PipeLayout) + directions * capacity,
                                              .mode = options.mode});
  if (!seg) return seg.error();

  // The file is zero-filled; construct the layout's objects in place.
  auto* p = new (seg->payload()) PipeLayout{};
  p->config.capacity = capacity;
  p->config.max_message = options.max_message == 0 ? largest : options.max_message;
  p->config.data_offset[1] = sizeof(PipeLayout);
  p->config.data_offset[0] = options.duplex ? sizeof(PipeLayout) + capacity : 0;
  p->config.duplex = options.duplex ? 1u : 0u;
  p->config.barriers = options.barriers == Barriers::asymmetric && platform::can_issue_heavy_barrier() ? 1u : 0u;
  SpscRing::initialize(p->direction[0].ring);
  SpscRing::initialize(p->direction[1].ring);
  const PipeConfigLayout config = p->config;
  seg->publish();  // SYNC(publish): release — everything above is visible to openers
  auto shared = std::make_shared<platform::Segment>(std::move(*seg));
  Connection a(std::make_unique<Connection::State>(shared, p, config, 0));
  Connection b(std::make_unique<Connection::State>(shared, p, config, 1));
  return std::pair<Connection, Connection>(std::move(a), std::move(b));
}

Result<Connection> Connection::open(std::string_view name, End end, const ConnectionOpenOptions& options) {
  if (end != End::a && end != End::b) return fail(Errc::invalid_argument, "pipe end is neither a nor b");
  auto seg = platform::Segment::open(name, {.kind = kPipeKind,
                                            .layout_version = kPipeLayoutVersion,
                                            .layout_hash = kPipeLayoutHash,
                                            .min_payload_size = sizeof(PipeLayout),
                                            .ready_timeout = options.ready_timeout,
                                            .allow_foreign_owner = options.allow_foreign_owner});
  if (!seg) return seg.error();
  auto* p = std::launder(platform::layout_at<PipeLayout>(seg->payload()));
  const PipeConfigLayout config = p->config;  // one copy; only it is checked and used
  if (auto ok = validate(config, *p, seg->payload_size()); !ok) return ok.error();
  Connection c(std::make_unique<State>(std::make_shared<platform::Segment>(std::move(*seg)), p, config,
                                       static_cast<unsigned>(end)));
  if (options.attach) {
    switch (c.s_->take()) {
      case ConnStatus::end_taken: return fail(Errc::role_taken, "pipe end held by another live process");
      case ConnStatus::corrupt: return fail(Errc::corrupt, "pipe ring records out of range");
      default: break;  // ok, or a closed end: every call on the handle says handle_closed
    }
  }
  return c;
}

Result<void> Pipe::unlink(std::string_view name) { return platform::Segment::unlink(name, kPipeKind); }

// ---- a moved-from handle (s_ null): see "A moved-from handle" in pipe.hpp.

ConnStatus Connection::attach() noexcept { return s_ ? s_->take() : ConnStatus::handle_closed; }

// ---- sending --------------------------------------------------------------------

// Fast path: this handle holds the end, the reader is there and the ring has
// room: the checks, the copy, the publication, the notify.
ConnStatus Connection::send(std::span<const std::byte> bytes, Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return ConnStatus::handle_closed;
  State& s = *s_;
  if (!s.holds() || !s.can_send) [[unlikely]] {  // held or not, a receive-only end never sends
    if (const ConnStatus st = s.ready_to(true); st != ConnStatus::ok) return st;
  }
  Deadline deadline = Deadline::expired();
  bool deadline_set = false;
  for (;;) {
    if (s.peer_closed() || s.peer_dead_due()) return ConnStatus::closed;
    const RingStatus r = s.out.try_push(bytes);
    if (r == RingStatus::ok) [[likely]] {
      notify(s.out_layout().not_empty, s.stats, s.plan);
      return ConnStatus::ok;
    }
    if (r != RingStatus::full) return ring_status(r);
    if (wait.is_nowait()) return ConnStatus::full;
    if (!deadline_set) {  // the clock is read once, and only when we must wait
      deadline = wait.deadline();
      deadline_set = true;
    } else if (deadline.passed()) {
      return ConnStatus::full;
    }
    const std::uint64_t size = bytes.size();
    // SYNC(close): the predicate's acquire of the closed flag pairs with close().
    const auto room = [&] { return s.out.producer_can_claim(size) || s.peer_closed(); };
    (void)wait_until(s.out_layout().not_full, room, State::slice(deadline), s.send_spin, s.stats, s.plan);
  }
}

ConnStatus Connection::send_bytes(std::span<const std::byte> buf, std::size_t offset, std::size_t size,
                                  Wait wait) noexcept {
  if (offset > buf.size()) return ConnStatus::out_of_range;
  if (size == npos) size = buf.size() - offset;
  if (size > buf.size() - offset) return ConnStatus::out_of_range;
  return send(buf.subspan(offset, size), wait);
}

// ---- receiving ------------------------------------------------------------------

Connection::View Connection::read(Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return {ConnStatus::handle_closed, {}};
  State& s = *s_;
  if (!s.holds() || !s.can_recv) [[unlikely]] {  // held or not, a send-only end never receives
    if (const ConnStatus st = s.ready_to(false); st != ConnStatus::ok) return {st, {}};
  }
  Deadline deadline = Deadline::expired();
  bool deadline_set = false;
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
    if (wait.is_nowait()) return {ConnStatus::empty, {}};
    if (!deadline_set) {
      deadline = wait.deadline();
      deadline_set = true;
    } else if (deadline.passed()) {
      return {ConnStatus::empty, {}};
    }
    const auto ready = [&] { return s.in.consumer_can_read() || s.peer_closed(); };
    (void)wait_until(s.in_layout().not_empty, ready, State::slice(deadline), s.recv_spin, s.stats, s.plan);
  }
}

void Connection::release() noexcept {
  if (!s_) [[unlikely]]
    return;
  State& s = *s_;
  s.in.pop();
  notify(s.in_layout().not_full, s.stats, s.plan);
}

ConnStatus Connection::recv_into(std::vector<std::byte>& out, Wait wait) {
  const View v = read(wait);
  if (v.status != ConnStatus::ok) return v.status;
  if (out.size() != v.bytes.size()) out.resize(v.bytes.size());
  if (!v.bytes.empty()) std::memcpy(out.data(), v.bytes.data(), v.bytes.size());
  release();
  return ConnStatus::ok;
}

ConnMessage Connection::recv(Wait wait) {
  ConnMessage m;
  m.status = recv_into(m.bytes, wait);
  return m;
}

RecvInto Connection::recv_bytes_into(std::span<std::byte> buffer, std::size_t offset, Wait wait) noexcept {
  if (offset > buffer.size()) return {ConnStatus::out_of_range, 0};
  const View v = read(wait);
  if (v.status != ConnStatus::ok) return {v.status, 0};
  if (v.bytes.size() > buffer.size() - offset) return {ConnStatus::too_short, v.bytes.size()};
  if (!v.bytes.empty()) std::memcpy(buffer.data() + offset, v.bytes.data(), v.bytes.size());
  const std::size_t n = v.bytes.size();
  release();
  return {ConnStatus::ok, n};
}

bool Connection::poll(Wait wait) noexcept { return read(wait).status != ConnStatus::empty; }

void Connection::close() noexcept {
  if (s_) s_->close();
}

// ---- observers -------------------------------------------------------------------

End Connection::end() const noexcept { return s_ ? static_cast<End>(s_->me) : End::a; }
bool Connection::readable() const noexcept { return s_ && s_->can_recv; }
bool Connection::writable() const noexcept { return s_ && s_->can_send; }
bool Connection::closed() const noexcept { return !s_ || s_->closed; }
bool Connection::attached() const noexcept { return s_ && s_->holds(); }
std::uint64_t Connection::max_message() const noexcept { return s_ ? s_->max_message : 0; }
std::uint64_t Connection::capacity_bytes() const noexcept { return s_ ? s_->out.capacity() : 0; }
const std::string& Connection::path() const noexcept { return s_ ? s_->segment->path() : kNoPath; }
const BlockingStats& Connection::stats() const noexcept { return s_ ? s_->stats : kNoStats; }

}  // namespace shmring
