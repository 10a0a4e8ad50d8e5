// A Queue's life outside put and get: create, open (with the checks of a
// mapped file), unlink, moves, and the status names.
#include <bit>
#include <new>
#include <utility>

#include "embedded.hpp"
#include "engines.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/segment.hpp"
#include "state.hpp"

namespace shmring {

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

using detail::AnyEngine;

// Calls `f` with a value of the engine type whose file number is `stored`
// (a null pointer of that type: for its static members), or returns `none`.
template <class F, class R>
R with_engine_type(std::uint32_t stored, F&& f, R none) {
  switch (stored) {
    case detail::SpscBytesEngine::kStored: return f(static_cast<detail::SpscBytesEngine*>(nullptr));
    case detail::MpmcEngine::kStored: return f(static_cast<detail::MpmcEngine*>(nullptr));
    case detail::SpscSlotEngine::kStored: return f(static_cast<detail::SpscSlotEngine*>(nullptr));
    case detail::LanesEngine::kStored: return f(static_cast<detail::LanesEngine*>(nullptr));
    default: return none;
  }
}

// Checks a mapped queue before any index in it is used (each engine checks
// its own part, engines.cpp); then what every engine shares.
Result<void> validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload_size) {
  if (c.data_offset != sizeof(QueueLayout)) return fail(Errc::bad_size, "queue data offset");
  const auto engine_checks = [&]<class E>(E*) { return E::validate(c, q, payload_size); };
  if (auto ok = with_engine_type(c.engine, engine_checks, Result<void>(fail(Errc::corrupt, "queue engine"))); !ok) {
    return ok;
  }
  if (q.control.closed.load(std::memory_order_acquire) > 1) return fail(Errc::corrupt, "closed flag");
  if (c.barriers > 1) return fail(Errc::corrupt, "barrier mode");
  if (c.barriers == 1 && !platform::can_issue_heavy_barrier()) {
    return fail(Errc::unsupported, "queue uses asymmetric barriers; membarrier(GLOBAL_EXPEDITED) unavailable here");
  }
  return {};
}

Result<detail::RingShape> ring_shape(const QueueOptions& o) {
  if (o.capacity_bytes > detail::kMaxCapacity) return fail(Errc::invalid_argument, "capacity_bytes above 1 TiB");
  if (o.lanes != 0 && o.engine != Engine::lanes) return fail(Errc::invalid_argument, "lanes is for Engine::lanes");
  if (o.message_size != 0) return detail::SpscSlotEngine::shape(o);
  if (o.engine == Engine::mpmc) return detail::MpmcEngine::shape(o);
  if (o.engine == Engine::lanes) return detail::LanesEngine::shape(o);
  return detail::SpscBytesEngine::shape(o);
}

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

// The ring's memory comes on demand (chunk != 0) only for large rings of
// engines that support it, and never for a queue inside another segment.
std::uint64_t chunk_for(const detail::RingShape& shape, bool may_be_sparse) {
  if (!may_be_sparse) return 0;
  const bool on_demand = with_engine_type(
      shape.engine, []<class E>(E*) { return E::kOnDemand; }, false);
  if (!on_demand) return 0;
  if (shape.engine == detail::LanesEngine::kStored) {
    return detail::LanesEngine::chunk_for(shape.capacity, shape.capacity / shape.lanes);
  }
  return shape.capacity > kOnDemandAbove ? kOnDemandChunk : 0;
}

// Builds a queue's layout in zero-filled memory at `at`; returns the
// config it wrote (the creator's copy, never re-read from shared memory).
QueueConfigLayout build_layout(void* at, const detail::RingShape& shape, const QueueOptions& options,
                               std::uint64_t chunk) {
  auto* q = new (at) QueueLayout{};
  q->config.capacity = shape.capacity;
  q->config.max_message = shape.max_message;
  q->config.maxsize = options.maxsize;
  q->config.data_offset = sizeof(QueueLayout);
  q->config.barriers = options.barriers == Barriers::asymmetric && platform::can_issue_heavy_barrier() ? 1u : 0u;
  q->config.engine = shape.engine;
  q->config.chunk = chunk;
  q->config.lanes = shape.lanes;
  with_engine_type(
      shape.engine,
      [q]<class E>(E*) {
        E::initialize(*q, q->config);
        return 0;
      },
      0);
  return q->config;
}

}  // namespace

Result<Queue> Queue::create_kind(std::string_view name, const QueueOptions& options, std::uint32_t kind) {
  auto shape = ring_shape(options);
  if (!shape) return shape.error();
  const std::uint64_t capacity = shape->capacity;
  const std::uint64_t chunk = chunk_for(*shape, true);
  // On demand (chunk != 0): only the layout (and the lane table) is
  // reserved; the ring's memory comes as it fills.
  auto seg = platform::Segment::create(
      name, {.kind = kind,
             .layout_version = kQueueLayoutVersion,
             .layout_hash = kQueueLayoutHash,
             .payload_size = sizeof(QueueLayout) + data_bytes(*shape),
             .mode = options.mode,
             .reserved_payload = chunk != 0 ? sizeof(QueueLayout) + data_bytes(*shape) - capacity : ~std::uint64_t{0}});
  if (!seg) return seg.error();

  // The file is zero-filled; construct the layout's objects in place.
  const QueueConfigLayout config = build_layout(seg->payload(), *shape, options, chunk);
  auto* q = std::launder(platform::layout_at<QueueLayout>(seg->payload()));
  seg->publish();  // SYNC(publish): release — everything above is visible to openers
  return Queue(std::make_unique<State>(std::make_shared<platform::Segment>(std::move(*seg)), q, config,
                                       kind == kJoinableQueueKind));
}

Result<Queue> Queue::open_kind(std::string_view name, const OpenOptions& options, std::uint32_t kind) {
  auto seg = platform::Segment::open(name, {.kind = kind,
                                            .layout_version = kQueueLayoutVersion,
                                            .layout_hash = kQueueLayoutHash,
                                            .min_payload_size = sizeof(QueueLayout),
                                            .ready_timeout = options.ready_timeout,
                                            .allow_foreign_owner = options.allow_foreign_owner});
  if (!seg) return seg.error();
  auto* q = std::launder(platform::layout_at<QueueLayout>(seg->payload()));
  const QueueConfigLayout config = q->config;  // one copy; only it is checked and used
  if (auto ok = validate(config, *q, seg->payload_size()); !ok) return ok.error();
  Queue queue(std::make_unique<State>(std::make_shared<platform::Segment>(std::move(*seg)), q, config,
                                      kind == kJoinableQueueKind));
  for (const Role r : {Role::producer, Role::consumer}) {
    if (!detail::has_role(options.role, r)) continue;
    if (const Errc e = queue.s_->take(r); e != Errc{}) {
      return fail(e, r == Role::producer ? "producer role" : "consumer role");
    }
  }
  return queue;
}

// ---- queues inside another object's segment (embedded.hpp) ----

Result<std::uint64_t> detail::EmbeddedQueue::bytes_for(const QueueOptions& options) {
  auto shape = ring_shape(options);
  if (!shape) return shape.error();
  return sizeof(QueueLayout) + data_bytes(*shape);
}

Result<void> detail::EmbeddedQueue::initialize(void* at, std::uint64_t bytes, const QueueOptions& options) {
  auto shape = ring_shape(options);
  if (!shape) return shape.error();
  if (bytes != sizeof(QueueLayout) + data_bytes(*shape)) return fail(Errc::bad_size, "embedded queue size");
  (void)build_layout(at, *shape, options, chunk_for(*shape, false));
  return {};
}

Result<Queue> detail::EmbeddedQueue::attach(std::shared_ptr<platform::Segment> segment, void* at, std::uint64_t bytes) {
  if (bytes < sizeof(QueueLayout)) return fail(Errc::truncated, "embedded queue smaller than its layout");
  auto* q = std::launder(platform::layout_at<QueueLayout>(static_cast<std::byte*>(at)));
  const QueueConfigLayout config = q->config;  // one copy; only it is checked and used
  if (config.chunk != 0) return fail(Errc::corrupt, "embedded queue with on-demand memory");
  if (auto ok = validate(config, *q, bytes); !ok) return ok.error();
  return Queue(std::make_unique<Queue::State>(std::move(segment), q, config, false));
}

Result<void> Queue::unlink(std::string_view name) { return platform::Segment::unlink(name, kQueueKind); }

Result<void> JoinableQueue::unlink(std::string_view name) {
  return platform::Segment::unlink(name, kJoinableQueueKind);
}

}  // namespace shmring
