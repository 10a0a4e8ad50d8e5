// Queue::State: what one Queue handle holds — its mapping, the engine it
// opened (engines.hpp), the roles it took, its on-demand memory and task
// count. The fast path's fields (detail::QueueHot: the slot ring, stats,
// barrier plan) come first, as the base; the handle points at them.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "engines.hpp"
#include "on_demand_memory.hpp"
#include "shmring/blocking/blocking.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/blocking/poller.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "task_count.hpp"

namespace shmring {

namespace detail {
// The engine `any` holds, as type E or type number N: the caller knows
// (a visit chose it), so no check is made.
template <class E, class Any>
E& engine_as(Any& any) noexcept {
  E* e = std::get_if<E>(&any);
  if (e == nullptr) __builtin_unreachable();
  return *e;
}
template <std::size_t N, class Any>
auto& engine_at(Any& any) noexcept {
  return engine_as<std::variant_alternative_t<N, AnyEngine>>(any);
}
// Calls `f` with the engine `any` holds: a switch on the index instead of
// std::visit (whose valueless check and table the fast paths pay; an
// engine is never valueless: constructed once, never assigned).
template <class Any, class F>
[[gnu::always_inline]] inline decltype(auto) visit_engine(Any& any, F& f) {
  static_assert(std::variant_size_v<AnyEngine> == 4, "one case per engine");
  switch (any.index()) {
    case 1: return f(engine_at<1>(any));
    case 2: return f(engine_at<2>(any));
    case 3: return f(engine_at<3>(any));
    default: return f(engine_at<0>(any));
  }
}
}  // namespace detail

struct Queue::State : detail::QueueHot {
  // The mapping: the queue's own, or shared with the object the queue lives
  // in (a Pipe's directions, embedded.hpp).
  std::shared_ptr<platform::Segment> segment;
  QueueLayout* layout;
  std::int64_t maxsize;
  std::optional<detail::OnDemandMemory> memory;  // config.chunk != 0; before `engine`, which points at it
  detail::AnyEngine engine;
  detail::TaskCount tasks;
  Role held = Role::none;
  std::uint64_t held_generation = 0;  // the fork generation in which `held` was taken
  AdaptiveSpin put_spin;
  AdaptiveSpin get_spin;
  // fileno(): this handle's event-loop descriptor (poller.hpp). Last, so it
  // leaves its slot before anything it points into goes.
  std::optional<Poller> poller;

  // `config` is the creator's values or the opener's validated copy, never
  // re-read from shared memory.
  State(std::shared_ptr<platform::Segment> seg, QueueLayout* q, const QueueConfigLayout& config, bool joinable) noexcept
      : QueueHot(detail::SpscSlotEngine::hot_ring(*q, config), q->not_empty, q->not_full, q->control.closed),
        segment(std::move(seg)),
        layout(q),
        maxsize(config.maxsize),
        memory(memory_for(*segment, *q, config)),
        engine(make_engine(*q, config, joinable)),
        tasks(*q, joinable) {
    plan.waiter_heavy = config.barriers == 1;
    refresh_plan();
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() { give_back_roles(); }

  // Calls `f` with this handle's engine (one of engines.hpp's types).
  template <class F>
  decltype(auto) visit(F&& f) {
    return detail::visit_engine(engine, f);
  }
  template <class F>
  decltype(auto) visit(F&& f) const {
    return detail::visit_engine(engine, f);
  }

  // A process may use the light barrier only once registered (redone in a
  // forked child, which take() runs in before its first put or get).
  void refresh_plan() noexcept { plan.notifier_light = plan.waiter_heavy && platform::register_for_heavy_barriers(); }

  // Fast check on every put/get: a role taken by this handle in this process.
  [[nodiscard]] bool holds(Role r) const noexcept {
    return detail::has_role(held, r) && held_generation == platform::fork_generation();
  }

  // Takes role `r` (producer or consumer) for this handle, as the engine
  // admits it (SPSC: the role's owner word, taken over from a dead holder;
  // MPMC: a participant slot for both roles). A handle copied by fork holds
  // nothing in the child: the parent's roles stay the parent's.
  [[nodiscard]] Errc take(Role r) noexcept {
    if (held_generation != platform::fork_generation()) {
      held = Role::none;
      put_generation = get_generation = kOff;
      held_generation = platform::fork_generation();
      visit([](auto& e) { e.forget_after_fork(); });
      refresh_plan();
    }
    if (detail::has_role(held, r)) return Errc{};
    const std::uint64_t me = platform::pack_owner(platform::current_process());
    const Errc e = visit([&](auto& eng) { return eng.attach(r, me, *this); });
    if (e == Errc{}) held = detail::with_role(held, r);
    return e;
  }

  void give_back_roles() noexcept {
    if (held_generation != platform::fork_generation()) return;  // not ours: a fork copy
    put_generation = get_generation = kOff;
    const std::uint64_t me = platform::pack_owner(platform::current_process());
    visit([&](auto& e) { e.detach(held, me); });
    held = Role::none;
  }

  // A get would not block: a message is there or the queue is closed (the
  // poller's predicate; any handle may ask, with or without a role).
  [[nodiscard]] bool readable() noexcept {
    return !visit([](auto& e) { return e.empty(); }) || is_closed();
  }
  // A get of this handle found the queue empty without waiting: its
  // descriptor, if it has one, is brought up to date (no system call when
  // it has none).
  void rearm_poller() noexcept {
    if (poller) [[unlikely]]
      poller->rearm([this] { return readable(); }, stats);
  }

  [[nodiscard]] bool is_closed() const noexcept {
    // SYNC(close): acquire — pairs with close(); records published before the
    // close are visible to the drain that follows.
    return layout->control.closed.load(std::memory_order_acquire) != 0;
  }

 private:
  static std::optional<detail::OnDemandMemory> memory_for(platform::Segment& seg, QueueLayout& q,
                                                          const QueueConfigLayout& c) noexcept {
    if (c.chunk == 0) return std::nullopt;
    return detail::OnDemandMemory(seg, q.backing, c.chunk, c.data_offset, c.capacity);
  }
  detail::AnyEngine make_engine(QueueLayout& q, const QueueConfigLayout& c, bool joinable) noexcept {
    detail::OnDemandMemory* mem = memory ? &*memory : nullptr;
    switch (c.engine) {
      case detail::MpmcEngine::kStored: return detail::AnyEngine(std::in_place_type<detail::MpmcEngine>, q, c, mem);
      case detail::LanesEngine::kStored:
        return detail::AnyEngine(std::in_place_type<detail::LanesEngine>, q, c, *segment);
      case detail::SpscSlotEngine::kStored:
        return detail::AnyEngine(std::in_place_type<detail::SpscSlotEngine>, q, *this, joinable);
      default: return detail::AnyEngine(std::in_place_type<detail::SpscBytesEngine>, q, c, mem);
    }
  }
};

}  // namespace shmring
