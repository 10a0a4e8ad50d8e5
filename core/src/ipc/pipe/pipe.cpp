#include "shmring/ipc/pipe.hpp"

#include <algorithm>
#include <bit>
#include <new>
#include <optional>
#include <utility>
#include <variant>

#include "../queue/embedded.hpp"
#include "owned_end.hpp"
#include "shared_end.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/segment.hpp"

namespace shmring {

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

using detail::EmbeddedQueue;
using detail::OwnedEnd;
using detail::SharedEnd;

constexpr std::uint64_t kMinCapacity = 4096;
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 40;
constexpr std::uint64_t kBlock = platform::kFalseSharingRange;

constexpr std::uint64_t round_up(std::uint64_t n) noexcept { return (n + kBlock - 1) / kBlock * kBlock; }

// A one-owner pipe's rings and sizes (what validate() leaves to the kind).
Result<void> validate_owned(const PipeConfigLayout& c, const PipeLayout& p, std::uint64_t payload_size) {
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
  return {};
}

// A shared-ends pipe's sizes and offsets; each direction's queue is checked
// when a handle attaches to it (EmbeddedQueue::attach).
Result<void> validate_shared(const PipeConfigLayout& c, std::uint64_t payload_size) {
  const std::uint64_t bytes = c.direction_bytes;
  if (bytes < sizeof(QueueLayout) || bytes > 2 * kMaxCapacity) return fail(Errc::bad_size, "pipe direction size");
  const std::uint64_t step = round_up(bytes);
  if (c.data_offset[1] != sizeof(PipeLayout) || c.data_offset[0] != (c.duplex != 0 ? sizeof(PipeLayout) + step : 0)) {
    return fail(Errc::bad_size, "pipe data offsets");
  }
  const std::uint64_t directions = c.duplex != 0 ? 2 : 1;
  if (payload_size < sizeof(PipeLayout) || (payload_size - sizeof(PipeLayout)) / directions < step) {
    return fail(Errc::bad_size, "pipe directions exceed the file");
  }
  return {};
}

// Checks a mapped pipe before any index in it is used: every value is read
// from memory another process controls. `c` is a private copy of the config,
// taken once: the checked values are the ones used.
Result<void> validate(const PipeConfigLayout& c, const PipeLayout& p, std::uint64_t payload_size) {
  if (c.duplex > 1) return fail(Errc::corrupt, "pipe duplex flag");
  if (c.shared > 1) return fail(Errc::corrupt, "pipe kind");
  for (unsigned e = 0; e < 2; ++e) {
    if (p.control.closed[e].load(std::memory_order_acquire) > 1) return fail(Errc::corrupt, "pipe closed flag");
  }
  if (c.barriers > 1) return fail(Errc::corrupt, "pipe barrier mode");
  if (c.barriers == 1 && !platform::can_issue_heavy_barrier()) {
    return fail(Errc::unsupported, "pipe uses asymmetric barriers; membarrier(GLOBAL_EXPEDITED) unavailable here");
  }
  return c.shared != 0 ? validate_shared(c, payload_size) : validate_owned(c, p, payload_size);
}

// The queue of direction d of a shared-ends pipe, for one handle.
Result<Queue> direction_queue(const std::shared_ptr<platform::Segment>& seg, PipeLayout* p, const PipeConfigLayout& c,
                              unsigned d) {
  return EmbeddedQueue::attach(seg, reinterpret_cast<std::byte*>(p) + c.data_offset[d], c.direction_bytes);
}

// A handle on end `end` of a shared-ends pipe: its queues (the directions
// it sends and receives on), then the end, which joins.
Result<std::unique_ptr<SharedEnd>> shared_end(const std::shared_ptr<platform::Segment>& seg, PipeLayout* p,
                                              const PipeConfigLayout& c, unsigned end) {
  std::optional<Queue> out;
  std::optional<Queue> in;
  if (c.duplex != 0 || end == 1) {
    auto q = direction_queue(seg, p, c, detail::out_dir(end));
    if (!q) return q.error();
    out.emplace(std::move(*q));
  }
  if (c.duplex != 0 || end == 0) {
    auto q = direction_queue(seg, p, c, detail::in_dir(end));
    if (!q) return q.error();
    in.emplace(std::move(*q));
  }
  return std::make_unique<SharedEnd>(seg, p, c, end, std::move(out), std::move(in));
}

}  // namespace

// One end of either kind of pipe.
struct Connection::State {
  std::variant<std::unique_ptr<OwnedEnd>, std::unique_ptr<SharedEnd>> end;
  unsigned me;
  bool can_send;
  bool can_recv;
  std::uint64_t max_message;

  template <class E>
  State(std::unique_ptr<E> e, unsigned end_index, const PipeConfigLayout& c) noexcept
      : end(std::move(e)),
        me(end_index),
        can_send(c.duplex != 0 || end_index == 1),
        can_recv(c.duplex != 0 || end_index == 0),
        max_message(c.max_message) {}

  // Calls `f` with the end (OwnedEnd& or SharedEnd&).
  template <class F>
  decltype(auto) with(F&& f) {
    if (auto* shared = std::get_if<std::unique_ptr<SharedEnd>>(&end)) [[likely]]
      return f(**shared);
    return f(*std::get<std::unique_ptr<OwnedEnd>>(end));
  }
  template <class F>
  decltype(auto) with(F&& f) const {
    if (const auto* shared = std::get_if<std::unique_ptr<SharedEnd>>(&end)) [[likely]]
      return f(static_cast<const SharedEnd&>(**shared));
    return f(static_cast<const OwnedEnd&>(*std::get<std::unique_ptr<OwnedEnd>>(end)));
  }
};

namespace {
const std::string kNoPath;
const BlockingStats kNoStats{};
}  // namespace

Connection::Connection(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;  // the end's destructor closes

// ---- create / open -------------------------------------------------------------

Result<std::pair<Connection, Connection>> Pipe::create(std::string_view name, const PipeOptions& options) {
  if (options.capacity_bytes > kMaxCapacity) return fail(Errc::invalid_argument, "capacity_bytes above 1 TiB");
  const std::uint64_t capacity = std::bit_ceil(std::max(options.capacity_bytes, kMinCapacity));
  const std::uint64_t directions = options.duplex ? 2 : 1;
  const bool shared = !options.one_owner;

  // Shared ends: each direction is a lane-engine queue of this capacity.
  const QueueOptions queue_options{.engine = Engine::lanes,
                                   .capacity_bytes = capacity,
                                   .max_message = options.max_message,
                                   .barriers = options.barriers};
  std::uint64_t direction_bytes = capacity;
  if (shared) {
    auto bytes = EmbeddedQueue::bytes_for(queue_options);
    if (!bytes) return bytes.error();
    direction_bytes = *bytes;
  } else if (options.max_message > SpscRing::max_payload_for(capacity)) {
    return fail(Errc::invalid_argument, "max_message must fit in half the capacity minus a record header");
  }
  const std::uint64_t step = shared ? round_up(direction_bytes) : capacity;

  auto seg = platform::Segment::create(name, {.kind = kPipeKind,
                                              .layout_version = kPipeLayoutVersion,
                                              .layout_hash = kPipeLayoutHash,
                                              .payload_size = sizeof(PipeLayout) + directions * step,
                                              .mode = options.mode});
  if (!seg) return seg.error();

  // The file is zero-filled; construct the layout's objects in place.
  auto* p = new (seg->payload()) PipeLayout{};
  p->config.capacity = capacity;
  p->config.data_offset[1] = sizeof(PipeLayout);
  p->config.data_offset[0] = options.duplex ? sizeof(PipeLayout) + step : 0;
  p->config.duplex = options.duplex ? 1u : 0u;
  p->config.barriers = options.barriers == Barriers::asymmetric && platform::can_issue_heavy_barrier() ? 1u : 0u;
  p->config.shared = shared ? 1u : 0u;
  SpscRing::initialize(p->direction[0].ring);
  SpscRing::initialize(p->direction[1].ring);
  if (shared) {
    p->config.direction_bytes = direction_bytes;
    for (unsigned d = options.duplex ? 0 : 1; d < 2; ++d) {
      auto made = EmbeddedQueue::initialize(reinterpret_cast<std::byte*>(p) + p->config.data_offset[d], direction_bytes,
                                            queue_options);
      if (!made) return made.error();  // the segment's destructor removes the unpublished file
    }
    // The largest message is the direction queue's (a lane's half).
    p->config.max_message =
        platform::layout_at<QueueLayout>(reinterpret_cast<std::byte*>(p) + sizeof(PipeLayout))->config.max_message;
  } else {
    p->config.max_message = options.max_message == 0 ? SpscRing::max_payload_for(capacity) : options.max_message;
  }
  const PipeConfigLayout config = p->config;
  auto segment = std::make_shared<platform::Segment>(std::move(*seg));
  if (!shared) {
    segment->publish();  // SYNC(publish): release — everything above is visible to openers
    Connection a(std::make_unique<Connection::State>(std::make_unique<OwnedEnd>(segment, p, config, 0), 0, config));
    Connection b(std::make_unique<Connection::State>(std::make_unique<OwnedEnd>(segment, p, config, 1), 1, config));
    return std::pair<Connection, Connection>(std::move(a), std::move(b));
  }
  // The creator's two handles join their ends before anyone can open the
  // pipe: an opener must never find an end without handles (closed).
  auto a = shared_end(segment, p, config, 0);
  if (!a) return a.error();
  auto b = shared_end(segment, p, config, 1);
  if (!b) return b.error();
  segment->publish();  // SYNC(publish): release — everything above is visible to openers
  return std::pair<Connection, Connection>(Connection(std::make_unique<Connection::State>(std::move(*a), 0, config)),
                                           Connection(std::make_unique<Connection::State>(std::move(*b), 1, config)));
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
  auto segment = std::make_shared<platform::Segment>(std::move(*seg));
  const auto index = static_cast<unsigned>(end);
  if (config.shared != 0) {
    auto e = shared_end(segment, p, config, index);
    if (!e) return e.error();
    if ((*e)->no_slot()) return fail(Errc::role_taken, "pipe end has no free handle slot (256 handles per end)");
    PipeConfigLayout c = config;
    c.max_message = std::min(config.max_message, (*e)->max_message());
    return Connection(std::make_unique<State>(std::move(*e), index, c));
  }
  Connection c(std::make_unique<State>(std::make_unique<OwnedEnd>(segment, p, config, index), index, config));
  if (options.attach) {
    switch (c.attach()) {
      case ConnStatus::end_taken: return fail(Errc::role_taken, "pipe end held by another live process");
      case ConnStatus::corrupt: return fail(Errc::corrupt, "pipe ring records out of range");
      default: break;  // ok, or a closed end: every call on the handle says handle_closed
    }
  }
  return c;
}

Result<void> Pipe::unlink(std::string_view name) { return platform::Segment::unlink(name, kPipeKind); }

// ---- a moved-from handle (s_ null): see "A moved-from handle" in pipe.hpp.

ConnStatus Connection::attach() noexcept {
  return s_ ? s_->with([](auto& e) { return e.attach(); }) : ConnStatus::handle_closed;
}

ConnStatus Connection::send(std::span<const std::byte> bytes, Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return ConnStatus::handle_closed;
  return s_->with([&](auto& e) { return e.send(bytes, wait); });
}

ConnStatus Connection::send_bytes(std::span<const std::byte> buf, std::size_t offset, std::size_t size,
                                  Wait wait) noexcept {
  if (offset > buf.size()) return ConnStatus::out_of_range;
  if (size == npos) size = buf.size() - offset;
  if (size > buf.size() - offset) return ConnStatus::out_of_range;
  return send(buf.subspan(offset, size), wait);
}

Connection::View Connection::read(Wait wait) noexcept {
  if (!s_) [[unlikely]]
    return {ConnStatus::handle_closed, {}};
  const detail::EndView v = s_->with([&](auto& e) { return e.read(wait); });
  return {v.status, v.bytes};
}

void Connection::release() noexcept {
  if (s_) s_->with([](auto& e) { e.release(); });
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

bool Connection::poll(Wait wait) noexcept {
  return !s_ || s_->with([&](auto& e) { return e.poll(wait); });
}

Result<int> Connection::fileno() noexcept {
  if (!s_) return fail(Errc::invalid_argument, "fileno() on a moved-from Connection");
  if (auto* shared = std::get_if<std::unique_ptr<detail::SharedEnd>>(&s_->end)) return (*shared)->fileno();
  return fail(Errc::unsupported, "fileno() needs a pipe with shared ends (PipeOptions::one_owner false, the default)");
}

void Connection::close() noexcept {
  if (s_) s_->with([](auto& e) { e.close(); });
}

// ---- observers -------------------------------------------------------------------

End Connection::end() const noexcept { return s_ ? static_cast<End>(s_->me) : End::a; }
bool Connection::readable() const noexcept { return s_ && s_->can_recv; }
bool Connection::writable() const noexcept { return s_ && s_->can_send; }
bool Connection::closed() const noexcept {
  return !s_ || s_->with([](const auto& e) { return e.is_closed(); });
}
bool Connection::attached() const noexcept {
  return s_ && s_->with([](const auto& e) { return e.holds(); });
}
std::uint64_t Connection::max_message() const noexcept { return s_ ? s_->max_message : 0; }
std::uint64_t Connection::capacity_bytes() const noexcept {
  return s_ ? s_->with([](const auto& e) { return e.capacity_bytes(); }) : 0;
}
const std::string& Connection::path() const noexcept {
  return s_ ? s_->with([](const auto& e) -> const std::string& { return e.path(); }) : kNoPath;
}
const BlockingStats& Connection::stats() const noexcept {
  return s_ ? s_->with([](const auto& e) -> const BlockingStats& { return e.blocking_stats(); }) : kNoStats;
}
bool Connection::shared_ends() const noexcept {
  return s_ && std::holds_alternative<std::unique_ptr<SharedEnd>>(s_->end);
}

}  // namespace shmring
