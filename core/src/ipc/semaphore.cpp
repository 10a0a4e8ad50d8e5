#include "shmring/ipc/semaphore.hpp"

#include <new>
#include <utility>

#include "shmring/blocking/blocking.hpp"

namespace shmring {

void SemaphoreRef::initialize(SemaphoreLayout& layout, std::uint32_t value, bool bounded) noexcept {
  // relaxed: the layout is not shared yet; publishing it (Segment::publish,
  // or the embedder's own release) orders these stores.
  layout.value.store(value, std::memory_order_relaxed);
  layout.bounded = bounded ? 1u : 0u;
  layout.bound = bounded ? value : 0u;
}

// A null s_: a moved-from or default-constructed handle (semaphore.hpp).
AcquireStatus SemaphoreRef::acquire(Wait wait) noexcept {
  if (s_ == nullptr) [[unlikely]]
    return AcquireStatus::handle_closed;
  std::atomic<std::uint32_t>& value = s_->value;
  // relaxed: only a first guess; the compare-exchange decides.
  std::uint32_t v = value.load(std::memory_order_relaxed);
  platform::Deadline deadline = platform::Deadline::expired();
  bool deadline_set = false;
  AdaptiveSpin spin;  // per call: a handle is shared by threads
  BlockingStats stats;
  for (;;) {
    while (v > 0) {
      // SYNC(sem): acquire — pairs with release()'s compare-exchange: what the
      // releaser wrote before it is visible to us.
      if (value.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        return AcquireStatus::acquired;
      }
    }
    if (wait.is_nowait()) return AcquireStatus::timeout;
    if (!deadline_set) {  // the clock is read once, and only when we must wait
      deadline = wait.deadline();
      deadline_set = true;
    }
    // SYNC(sem): acquire in the predicate; blocking.hpp's protocol pairs the
    // releaser's compare-exchange + fence with our flag + fence.
    if (!wait_until(
            s_->park, [&] { return value.load(std::memory_order_acquire) > 0; }, deadline, spin, stats)) {
      return AcquireStatus::timeout;
    }
    v = value.load(std::memory_order_relaxed);  // relaxed: a first guess again
  }
}

ReleaseStatus SemaphoreRef::release() noexcept {
  if (s_ == nullptr) [[unlikely]]
    return ReleaseStatus::handle_closed;
  std::atomic<std::uint32_t>& value = s_->value;
  const std::uint32_t limit = bounded_ ? bound_ : kSemaphoreValueMax;
  // relaxed: a first guess; the compare-exchange decides.
  std::uint32_t v = value.load(std::memory_order_relaxed);
  do {
    if (v >= limit) return ReleaseStatus::too_many;
    // SYNC(sem): release — pairs with the acquirer's compare-exchange.
  } while (!value.compare_exchange_weak(v, v + 1, std::memory_order_release, std::memory_order_relaxed));
  BlockingStats stats;
  notify(s_->park, stats);
  return ReleaseStatus::ok;
}

// relaxed: an observer's snapshot.
std::uint32_t SemaphoreRef::get_value() const noexcept {
  return s_ != nullptr ? s_->value.load(std::memory_order_relaxed) : 0;
}

namespace {

// The named forms: one segment holding one SemaphoreLayout.
Result<platform::Segment> create_semaphore(std::string_view name, std::uint32_t kind, std::uint32_t value,
                                           const SyncOptions& options, SemaphoreLayout*& out) {
  if (value > kSemaphoreValueMax) return fail(Errc::invalid_argument, "semaphore value above SEM_VALUE_MAX");
  auto seg = detail::create_sync_segment(name, kind, kSemaphoreLayoutHash, sizeof(SemaphoreLayout), options);
  if (!seg) return seg.error();
  out = new (seg->payload()) SemaphoreLayout{};
  SemaphoreRef::initialize(*out, value, kind == kBoundedSemaphoreKind);
  seg->publish();  // SYNC(publish): release — the layout is visible to openers
  return std::move(*seg);
}

// Every field is another process's word: checked before the bound is trusted.
Result<platform::Segment> open_semaphore(std::string_view name, std::uint32_t kind, const SyncOpenOptions& options,
                                         SemaphoreLayout*& out) {
  auto seg = detail::open_sync_segment(name, kind, kSemaphoreLayoutHash, sizeof(SemaphoreLayout), options);
  if (!seg) return seg.error();
  auto* s = std::launder(platform::layout_at<SemaphoreLayout>(seg->payload()));
  const bool bounded = kind == kBoundedSemaphoreKind;
  if (s->bounded != (bounded ? 1u : 0u)) return fail(Errc::corrupt, "semaphore bounded flag vs segment kind");
  if (s->bound > kSemaphoreValueMax || (!bounded && s->bound != 0)) return fail(Errc::corrupt, "semaphore bound");
  // relaxed: the segment's acquire of the ready state ordered this; a check only.
  const std::uint32_t v = s->value.load(std::memory_order_relaxed);
  if (v > (bounded ? s->bound : kSemaphoreValueMax)) return fail(Errc::corrupt, "semaphore value above its bound");
  out = s;
  return std::move(*seg);
}

}  // namespace

Result<Semaphore> Semaphore::create(std::string_view name, std::uint32_t value, const SyncOptions& options) {
  SemaphoreLayout* s = nullptr;
  auto seg = create_semaphore(name, kSemaphoreKind, value, options, s);
  if (!seg) return seg.error();
  return Semaphore(std::move(*seg), *s);
}

Result<Semaphore> Semaphore::open(std::string_view name, const SyncOpenOptions& options) {
  SemaphoreLayout* s = nullptr;
  auto seg = open_semaphore(name, kSemaphoreKind, options, s);
  if (!seg) return seg.error();
  return Semaphore(std::move(*seg), *s);
}

Result<BoundedSemaphore> BoundedSemaphore::create(std::string_view name, std::uint32_t value,
                                                  const SyncOptions& options) {
  SemaphoreLayout* s = nullptr;
  auto seg = create_semaphore(name, kBoundedSemaphoreKind, value, options, s);
  if (!seg) return seg.error();
  return BoundedSemaphore(std::move(*seg), *s);
}

Result<BoundedSemaphore> BoundedSemaphore::open(std::string_view name, const SyncOpenOptions& options) {
  SemaphoreLayout* s = nullptr;
  auto seg = open_semaphore(name, kBoundedSemaphoreKind, options, s);
  if (!seg) return seg.error();
  return BoundedSemaphore(std::move(*seg), *s);
}

}  // namespace shmring
