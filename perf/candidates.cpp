// shmring_candidates: the bare protocols a new default engine could use
// (issue 16), between processes, against boost::lockfree::queue and today's
// MPMC Queue in the same binary and run. 64-byte messages, no blocking
// layer, no crash repair, no variable sizes: what each shape can reach at
// best, to choose one before building it. Not part of the suite.
//
//   BM_Candidate_Cas_Crowd/P/C       Vyukov's bounded queue: a CAS on a shared
//                                    position per put and per get, a turn per slot
//   BM_Candidate_Lanes_Crowd/P/C     a lane (SPSC ring) per producer: a put is
//                                    plain stores; a consumer copies up to 32
//                                    records and claims them with one CAS on
//                                    the lane's head
//   BM_BoostLfQueue_Crowd/P/C, BM_QueueMpmc_Crowd/P/C   the peer and today's engine
//
// Every candidate holds 16384 messages (1 MiB of payload), as the peer.
//
// Not here: tickets by fetch-add with a wait for the slot's turn (atomic_queue,
// the Disruptor). A get that takes a ticket waits inside the call until a put
// fills that slot, so a consumer cannot report what it has taken while it
// waits (the crowd loop would need a shared store per message), and a
// claimer that dies stalls its slot for good: no repair by liveness proof.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "crowd.hpp"
#include "harness.hpp"
#include "shmring/platform/cpu.hpp"

namespace shmring::perf {
namespace {

constexpr std::uint64_t kSlots = 16384;

// One message and the word that says whose turn it is.
struct alignas(64) Cell {
  std::atomic<std::uint64_t> turn;
  CrowdItem data;
};

// Vyukov's bounded MPMC queue: a cell at position p is free for the put of
// p when turn == p, full for the get of p when turn == p + 1; the get hands it
// to the put of p + kSlots. The positions are claimed with a CAS.
struct CasQueue {
  alignas(128) std::atomic<std::uint64_t> put_at{0};
  alignas(128) std::atomic<std::uint64_t> get_at{0};
  alignas(128) Cell cells[kSlots];
  CasQueue() {
    for (std::uint64_t i = 0; i < kSlots; ++i) cells[i].turn.store(i, std::memory_order_relaxed);
  }
  bool push(const CrowdItem& item) {
    std::uint64_t pos = put_at.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells[pos % kSlots];
      const auto diff = static_cast<std::int64_t>(c.turn.load(std::memory_order_acquire) - pos);
      if (diff == 0) {
        if (put_at.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.data = item;
          c.turn.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = put_at.load(std::memory_order_relaxed);
      }
    }
  }
  std::size_t pop(CrowdItem& out) {
    std::uint64_t pos = get_at.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells[pos % kSlots];
      const auto diff = static_cast<std::int64_t>(c.turn.load(std::memory_order_acquire) - (pos + 1));
      if (diff == 0) {
        if (get_at.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = c.data;
          c.turn.store(pos + kSlots, std::memory_order_release);
          return 1;
        }
      } else if (diff < 0) {
        return 0;  // empty
      } else {
        pos = get_at.load(std::memory_order_relaxed);
      }
    }
  }
};

// A lane per producer: an SPSC ring whose tail only its producer writes and
// whose head consumers advance by CAS. A consumer copies the records between
// head and tail (up to out.size()), then claims them by moving head past
// them; if the CAS fails another consumer took them first and the copy is
// dropped. Consumers start at the lane after the one they last took from.
// The copy is safe to make before the claim because the producer
// reuses a slot only after head has passed it, and head had not when the
// copy began. (A failed claim's copy can overlap the producer's rewrite: a
// torn copy, discarded. A real engine would read through relaxed atomics.)
constexpr int kMaxLanes = 8;
constexpr std::uint64_t kLaneBatch = 32;  // records claimed by one CAS, at most
struct Lane {
  alignas(128) std::atomic<std::uint64_t> tail{0};
  alignas(128) std::atomic<std::uint64_t> head{0};
};
struct LaneQueue {
  Lane lanes[kMaxLanes];
  std::uint64_t per_lane = 0;
  alignas(128) CrowdItem slots[kSlots];
  explicit LaneQueue(int producers) : per_lane(kSlots / static_cast<std::uint64_t>(producers)) {}
};
// Process-private after fork: each producer's view of its lane's head, each
// consumer's next lane to look at.
std::uint64_t g_head_seen[kMaxLanes];
int g_next_lane = 0;

bool lane_push(LaneQueue& q, int id, const CrowdItem& item) {
  Lane& l = q.lanes[id];
  const std::uint64_t t = l.tail.load(std::memory_order_relaxed);
  if (t - g_head_seen[id] >= q.per_lane) {
    g_head_seen[id] = l.head.load(std::memory_order_acquire);
    if (t - g_head_seen[id] >= q.per_lane) return false;
  }
  q.slots[static_cast<std::uint64_t>(id) * q.per_lane + t % q.per_lane] = item;
  l.tail.store(t + 1, std::memory_order_release);
  return true;
}

std::size_t lane_pop(LaneQueue& q, int producers, std::vector<CrowdItem>& out) {
  for (int k = 0; k < producers; ++k) {
    const int id = (g_next_lane + k) % producers;
    Lane& l = q.lanes[id];
    for (;;) {
      std::uint64_t h = l.head.load(std::memory_order_acquire);
      const std::uint64_t t = l.tail.load(std::memory_order_acquire);
      if (t <= h) break;
      const std::uint64_t n = std::min({t - h, kLaneBatch, static_cast<std::uint64_t>(out.size())});
      const CrowdItem* base = &q.slots[static_cast<std::uint64_t>(id) * q.per_lane];
      for (std::uint64_t i = 0; i < n; ++i) out[i] = base[(h + i) % q.per_lane];
      if (l.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) {
        g_next_lane = (id + 1) % producers;  // the next call starts at the next lane
        return n;
      }
    }
  }
  return 0;
}

template <class Q>
void single_slot_crowd(benchmark::State& state) {
  SharedMemory mem(sizeof(Q));
  auto* q = new (mem.get()) Q();
  spin_crowd(
      state, *q, [](Q& x, int, const CrowdItem& item) { return x.push(item); },
      [](Q& x, int, std::vector<CrowdItem>& out) { return x.pop(out[0]); });
}

void BM_Candidate_Lanes_Crowd(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  SharedMemory mem(sizeof(LaneQueue));
  auto* q = new (mem.get()) LaneQueue(producers);
  spin_crowd(
      state, *q, [](LaneQueue& x, int id, const CrowdItem& item) { return lane_push(x, id, item); },
      [producers](LaneQueue& x, int, std::vector<CrowdItem>& out) { return lane_pop(x, producers, out); });
}

void register_all() {
  using benchmark::RegisterBenchmark;
  for (auto* b : {RegisterBenchmark("BM_Candidate_Cas_Crowd", single_slot_crowd<CasQueue>),
                  RegisterBenchmark("BM_Candidate_Lanes_Crowd", BM_Candidate_Lanes_Crowd),
                  RegisterBenchmark("BM_BoostLfQueue_Crowd", boost_lf_crowd),
                  RegisterBenchmark("BM_QueueMpmc_Crowd", queue_crowd<Engine::mpmc>)}) {
    b->Args({1, 1})->Args({2, 2})->Args({4, 4})->Args({4, 1})->Args({1, 4})->UseRealTime();
  }
}

}  // namespace
}  // namespace shmring::perf

int main(int argc, char** argv) { return shmring::perf::benchmark_main(argc, argv, shmring::perf::register_all); }
