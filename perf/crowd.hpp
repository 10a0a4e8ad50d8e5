// Many producers and consumers, 64-byte messages: the contestants that
// shmring_bench (the suite) and shmring_candidates (the engine candidates of
// issue 16) both run, and the loop every non-blocking contestant shares.
#pragma once

#include <benchmark/benchmark.h>
#include <sched.h>

#include <array>
#include <boost/lockfree/queue.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "channels.hpp"
#include "harness.hpp"

namespace shmring::perf {

inline constexpr std::size_t kCrowdMessage = 64;
inline constexpr std::uint64_t kCrowdBatch = 16384;  // per producer per iteration
using CrowdItem = std::array<std::byte, kCrowdMessage>;

// The Queue, blocking API: producers put, consumers get (park when dry);
// kGetRun > 1: consumers take up to that many at a time with get_many.
template <Engine kEngine, std::size_t kGetRun = 1>
void queue_crowd(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  const int consumers = static_cast<int>(state.range(1));
  QueueChannel ch(kCrowdMessage, 1u << 20, kEngine);
  const std::vector<std::byte> msg(kCrowdMessage, std::byte{0x5a});
  Crowd crowd(
      producers, consumers,
      [&](CrowdControl& ctl, int) { crowd_producer_loop(ctl, kCrowdBatch, [&] { ch.send(msg.data()); }); },
      [&](CrowdControl& ctl, int) {
        Queue& q = ch.queue();
        QueueTaker<kGetRun> taker(kCrowdMessage);
        const auto take = [&](Wait w) { return taker.take(q, w); };
        ctl.ready.fetch_add(1, std::memory_order_acq_rel);
        for (std::uint64_t pending = 0;;) {
          std::uint64_t got = take(nowait);
          if (got == 0) {
            ctl.consumed.fetch_add(pending, std::memory_order_acq_rel);
            pending = 0;
            if ((got = take(forever)) == 0) std::abort();
          }
          pending += got;
          if (pending >= kFlushEvery) {
            ctl.consumed.fetch_add(pending, std::memory_order_acq_rel);
            pending = 0;
          }
        }
      });
  crowd_stream(state, crowd, producers, kCrowdBatch, kCrowdMessage);
}

// A non-blocking contestant placed in MAP_SHARED memory, driven by the same
// loops as every other: `push(q, producer, item)` -> bool (false: full, the
// producer yields the CPU and retries); `pop(q, consumer, out)` -> how many
// items it took into `out` (at most out.size(); 0: none, the consumer spins
// 64 times, then yields between tries).
template <class Q, class Push, class Pop>
void spin_crowd(benchmark::State& state, Q& q, Push push, Pop pop) {
  const int producers = static_cast<int>(state.range(0));
  const int consumers = static_cast<int>(state.range(1));
  const CrowdItem item{};
  Crowd crowd(
      producers, consumers,
      [&](CrowdControl& ctl, int id) {
        crowd_producer_loop(ctl, kCrowdBatch, [&] {
          while (!push(q, id, item)) ::sched_yield();
        });
      },
      [&](CrowdControl& ctl, int id) {
        ctl.ready.fetch_add(1, std::memory_order_acq_rel);
        std::vector<CrowdItem> out(64);
        for (std::uint64_t pending = 0;;) {
          std::size_t n = pop(q, id, out);
          if (n == 0) {
            ctl.consumed.fetch_add(pending, std::memory_order_acq_rel);
            pending = 0;
            for (int spins = 0; (n = pop(q, id, out)) == 0; ++spins) {
              if (spins > 64) ::sched_yield();
            }
          }
          benchmark::DoNotOptimize(out.data());
          pending += n;
          if (pending >= kFlushEvery) {
            ctl.consumed.fetch_add(pending, std::memory_order_acq_rel);
            pending = 0;
          }
        }
      });
  crowd_stream(state, crowd, producers, kCrowdBatch, kCrowdMessage);
}

// boost::lockfree::queue, fixed-sized (index-based nodes, compile-time
// capacity: no pointers, so it works placed in shared memory); one item per pop.
inline void boost_lf_crowd(benchmark::State& state) {
  using Q = boost::lockfree::queue<CrowdItem, boost::lockfree::fixed_sized<true>, boost::lockfree::capacity<16384>>;
  SharedMemory mem(sizeof(Q));
  auto* q = new (mem.get()) Q();
  spin_crowd(
      state, *q, [](Q& b, int, const CrowdItem& item) { return b.push(item); },
      [](Q& b, int, std::vector<CrowdItem>& out) -> std::size_t { return b.pop(out[0]) ? 1 : 0; });
}

}  // namespace shmring::perf
