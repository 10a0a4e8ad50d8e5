// Barrier: a process-shared barrier with the semantics of Python's
// multiprocessing.Barrier / threading.Barrier(parties, action, timeout).
//
// wait(wait) blocks until `parties` callers have arrived, then every one of
// them returns passed with its arrival index (0 for the first to arrive,
// parties - 1 for the last; Python's return value), and the barrier is
// ready for the next generation. The last to arrive runs its handle's
// action (if any) first, before any waiter is released, as in Python.
//
// The broken state (Python's BrokenBarrierError). The barrier breaks when
// a waiter's wait ends first (that waiter gets timeout, every other waiter
// of the generation broken), when abort() is called, when the action throws
// (the exception propagates from the last arrival's wait(); the others get
// broken), or when the internal lock is taken over from a process that died
// holding it (its bookkeeping may be half-done). A broken barrier answers
// every wait() with broken at once until reset(). reset() releases the
// current waiters with broken and returns the barrier to empty.
//
// Generations. Every waiter owns a slot (waiter_slots.hpp) tagged with its
// generation and learns its own generation's outcome there, so a waiter that
// runs late still tells passed from broken or reset even after later
// generations have ended. A wait that times out just as the last party
// arrives is decided under the internal lock, as Python's final predicate
// check is: if the generation passed first, the waiter returns passed.
//
// Dying parties. A party killed while waiting has arrived: it was counted,
// the others pass when the rest arrive, and its slot is freed when needed.
// A party that dies before it arrives never arrives (nothing tells a slow
// party from a dead one that never came): the others wait forever with
// `forever` — as in Python — and get timeout/broken with a timeout. Use
// timeouts, or abort() from a supervisor, when parties may die.
//
// A moved-from (or default-constructed) handle holds no barrier: wait()
// returns handle_closed, reset() and abort() do nothing, parties(),
// n_waiting() and generation() are 0, broken() false, path() "".
//
// The internal lock is held only for bookkeeping and while the action runs.
// BarrierRef works on a BarrierLayout inside any segment (initialize() it
// before sharing); Barrier is the named object. 1 <= parties <= kWaiterSlots.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "shmring/platform/segment.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/ipc/sync_layout.hpp"
#include "shmring/blocking/waiter_slots.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {

inline constexpr std::uint32_t kBarrierKind = 0x52524142u;  // "BARR"

struct alignas(platform::kFalseSharingRange) BarrierLayout {
  LockLayout lock;                    // the internal lock: every field below changes under it
  std::uint32_t parties;              // written once, before the layout is shared
  std::atomic<std::uint32_t> count;   // arrivals in this generation
  std::atomic<std::uint32_t> broken;  // 1: broken until reset()
  std::uint32_t reserved0;
  std::atomic<std::uint64_t> generation;  // generations ended (passed or reset)
  alignas(platform::kFalseSharingRange) WaiterTableLayout waiters;
};

static_assert(std::is_standard_layout_v<BarrierLayout>, "shared layouts must be standard-layout");
static_assert(offsetof(BarrierLayout, parties) == sizeof(LockLayout) &&
                  offsetof(BarrierLayout, waiters) == sizeof(LockLayout) + platform::kFalseSharingRange &&
                  sizeof(BarrierLayout) == offsetof(BarrierLayout, waiters) + sizeof(WaiterTableLayout),
              "lock, header and slots each start a 128-byte block; offsets are the file format");

inline constexpr std::uint64_t kBarrierLayoutHash = platform::layout_hash(
    sizeof(BarrierLayout), offsetof(BarrierLayout, parties), offsetof(BarrierLayout, count),
    offsetof(BarrierLayout, broken), offsetof(BarrierLayout, generation), offsetof(BarrierLayout, waiters),
    sizeof(WaiterSlotLayout), offsetof(WaiterSlotLayout, state), kWaiterSlots, kLockLayoutHash);

enum class BarrierStatus : std::uint8_t {
  passed,         // all parties arrived; `index` is this caller's arrival index
  broken,         // the barrier is or became broken, or was reset while waiting (Python: BrokenBarrierError)
  timeout,        // this caller's wait ended first: it broke the barrier (Python: BrokenBarrierError)
  handle_closed,  // a moved-from (or default-constructed) handle: it holds no barrier; nothing happened
};

[[nodiscard]] const char* to_string(BarrierStatus s) noexcept;

struct BarrierResult {
  BarrierStatus status = BarrierStatus::broken;
  std::uint32_t index = 0;  // passed: 0 .. parties - 1
  [[nodiscard]] bool passed() const noexcept { return status == BarrierStatus::passed; }
};

class BarrierRef {
 public:
  using Action = std::function<void()>;
  BarrierRef() = default;
  // `action` runs in this process when this handle's wait() is the last arrival.
  explicit BarrierRef(BarrierLayout& layout, Action action = {}) : b_(&layout), action_(std::move(action)) {}

  // Before the layout is shared; 1 <= parties <= kWaiterSlots.
  static void initialize(BarrierLayout& layout, std::uint32_t parties) noexcept;

  // Python's wait(timeout=None). Throws only what the action throws.
  [[nodiscard]] BarrierResult wait(Wait wait = forever);
  // Python's reset(): current waiters get broken; the barrier is empty and unbroken.
  void reset() noexcept;
  // Python's abort(): broken (current and later waits get broken) until reset().
  void abort() noexcept;

  [[nodiscard]] std::uint32_t parties() const noexcept { return b_ != nullptr ? b_->parties : 0; }
  // Python's n_waiting: parties waiting in the current generation (0 if broken).
  [[nodiscard]] std::uint32_t n_waiting() const noexcept;
  [[nodiscard]] bool broken() const noexcept;
  [[nodiscard]] std::uint64_t generation() const noexcept;
  [[nodiscard]] BarrierLayout* layout() const noexcept { return b_; }
  // False for a moved-from or default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return b_ != nullptr; }

 private:
  BarrierLayout* b_ = nullptr;
  Action action_;
};

// A named Barrier. Moves, unlink() and path(): detail::NamedSync.
class Barrier : public detail::NamedSync<BarrierRef, kBarrierKind> {
 public:
  [[nodiscard]] static Result<Barrier> create(std::string_view name, std::uint32_t parties, Action action = {},
                                              const SyncOptions& options = {});
  [[nodiscard]] static Result<Barrier> open(std::string_view name, Action action = {},
                                            const SyncOpenOptions& options = {});

 private:
  Barrier(platform::Segment segment, BarrierLayout& layout, Action action)
      : NamedSync(std::move(segment), layout, std::move(action)) {}
};

}  // namespace shmring
