#include "shmring/ipc/event.hpp"

#include <new>
#include <utility>

#include "shmring/blocking/blocking.hpp"

namespace shmring {

namespace {
constexpr std::uint32_t kFlag = 1;
[[nodiscard]] constexpr std::uint32_t sets_of(std::uint32_t state) noexcept { return state >> 1; }
}  // namespace

// A null e_: a moved-from or default-constructed handle (event.hpp).
void EventRef::set() noexcept {
  if (e_ == nullptr) [[unlikely]]
    return;
  // relaxed: a first guess; the compare-exchange decides.
  std::uint32_t s = e_->state.load(std::memory_order_relaxed);
  std::uint32_t raised = 0;
  do {
    if ((s & kFlag) != 0) return;              // already set: its waiters were woken by that set()
    raised = ((sets_of(s) + 1) << 1) | kFlag;  // one more set() (mod 2^31), flag up
    // SYNC(event): release — what the setter wrote before set() is visible to
    // a waiter that sees the new state (its acquire in is_set/wait).
  } while (!e_->state.compare_exchange_weak(s, raised, std::memory_order_release, std::memory_order_relaxed));
  BlockingStats stats;
  notify(e_->park, stats);
}

void EventRef::clear() noexcept {
  if (e_ == nullptr) [[unlikely]]
    return;
  // release: a clear is ordered after what this process did before it.
  e_->state.fetch_and(~kFlag, std::memory_order_release);
}

bool EventRef::is_set() const noexcept {
  if (e_ == nullptr) [[unlikely]]
    return false;
  // SYNC(event): acquire — pairs with set()'s release.
  return (e_->state.load(std::memory_order_acquire) & kFlag) != 0;
}

bool EventRef::wait(Wait wait) const noexcept {
  if (e_ == nullptr) [[unlikely]]
    return false;
  // SYNC(event): acquire — pairs with set()'s release.
  const std::uint32_t start = e_->state.load(std::memory_order_acquire);
  if ((start & kFlag) != 0) return true;
  if (wait.is_nowait()) return false;
  // Set now, or set (and maybe cleared again) since we started.
  const auto was_set = [&] {
    const std::uint32_t s = e_->state.load(std::memory_order_acquire);  // SYNC(event): as above
    return (s & kFlag) != 0 || sets_of(s) != sets_of(start);
  };
  AdaptiveSpin spin;
  BlockingStats stats;
  return wait_until(e_->park, was_set, wait.deadline(), spin, stats);
}

Result<Event> Event::create(std::string_view name, const SyncOptions& options) {
  auto seg = detail::create_sync_segment(name, kEventKind, kEventLayoutHash, sizeof(EventLayout), options);
  if (!seg) return seg.error();
  auto* e = new (seg->payload()) EventLayout{};  // clear, no set() yet
  seg->publish();                                // SYNC(publish): release — the layout is visible to openers
  return Event(std::move(*seg), *e);
}

// Every state value is meaningful (a flag bit and a count), so nothing more to check.
Result<Event> Event::open(std::string_view name, const SyncOpenOptions& options) {
  auto seg = detail::open_sync_segment(name, kEventKind, kEventLayoutHash, sizeof(EventLayout), options);
  if (!seg) return seg.error();
  auto* e = std::launder(platform::layout_at<EventLayout>(seg->payload()));
  return Event(std::move(*seg), *e);
}

}  // namespace shmring
