// Chaos: a producer and a consumer process stream through one queue while
// the test kills one of them with SIGKILL at random (seeded) moments and
// starts a replacement, again and again. Then it checks, per producer
// incarnation: no committed message lost, none duplicated, none out of order
// (a consumer killed while holding a message may take that one with it,
// counted separately), and reports the longest time any survivor was blocked.
//
// Bookkeeping lives in MAP_SHARED memory that survives the kills:
//   producer incarnation p: after put(m) returns ok it records committed[p] = seq + 1
//     (a kill between the two leaves committed one short: that message may
//     arrive anyway and is then "committed, not yet recorded");
//   consumer: it reads the message (zero-copy read()), records it as "in hand",
//     and only then releases it from the ring; then marks it received (dup if
//     already marked, reorder if seq < last seen of p) and clears "in hand". So
//     no message leaves the ring unrecorded: a kill with something in hand
//     excuses that message (if it was not released, it is delivered again and
//     the excuse goes unused).
//
// SHMRING_CHAOS_KILLS (default 1000) and SHMRING_CHAOS_SEED set the run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "process.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/queue.hpp"

namespace shmring {
namespace {

constexpr int kMaxIncarnations = 4096;
constexpr std::uint64_t kMaxSeq = 1u << 17;  // messages per producer incarnation, at most

struct Message {
  std::uint32_t incarnation;
  std::uint32_t seq;
  std::uint64_t check;  // derived from the two: catches torn or foreign bytes
};
constexpr std::uint64_t check_of(std::uint32_t p, std::uint32_t s) {
  return (std::uint64_t{p} << 32 | s) * 0x9e3779b97f4a7c15ULL ^ 0x5bd1e995;
}

struct Ledger {
  std::atomic<std::uint32_t> committed[kMaxIncarnations];  // per producer incarnation
  std::atomic<std::uint32_t> last_seen[kMaxIncarnations];  // last seq + 1 received, per incarnation
  std::atomic<std::uint64_t> in_hand;                      // (p << 32 | seq) + 1, 0 = nothing
  std::atomic<std::uint64_t> excused;                      // how many excuse_ids are set
  std::atomic<std::uint64_t> excuse_ids[kMaxIncarnations];  // (p << 32 | seq) of each message in a killed consumer's hands
  std::atomic<std::uint64_t> duplicated;
  std::atomic<std::uint64_t> reordered;
  std::atomic<std::uint64_t> corrupt;
  std::atomic<std::int64_t> longest_block_ns;
  std::atomic<std::uint32_t> stop;  // producers finish their incarnation and exit
  // 32-bit words: RISC-V has no byte-wide atomic OR (GCC 12 calls libatomic
  // for one), every target has a 32-bit one.
  std::atomic<std::uint32_t> received[kMaxIncarnations][kMaxSeq / 32];
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free && std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<std::int64_t>::is_always_lock_free,
              "the ledger is shared between processes: its atomics must not take process-local locks");

void note_block(Ledger& l, std::int64_t ns) {
  std::int64_t cur = l.longest_block_ns.load();
  while (ns > cur && !l.longest_block_ns.compare_exchange_weak(cur, ns)) {
  }
}

int producer_main(const char* name, Ledger& l, std::uint32_t incarnation) {
  auto q = Queue::open(name, {.role = Role::producer});
  if (!q) {
    std::fprintf(stderr, "producer %u: %s\n", incarnation, q.error().message().c_str());
    return 1;
  }
  for (std::uint32_t seq = 0; seq < kMaxSeq && l.stop.load() == 0; ++seq) {
    const Message m{incarnation, seq, check_of(incarnation, seq)};
    const std::int64_t t0 = platform::monotonic_ns();
    const PutStatus s = q->put_value(m, std::chrono::seconds(10));
    note_block(l, platform::monotonic_ns() - t0);
    if (s != PutStatus::ok) return 2;
    l.committed[incarnation].store(seq + 1);
  }
  return 0;
}

int consumer_main(const char* name, Ledger& l) {
  auto q = Queue::open(name, {.role = Role::consumer});
  if (!q) {
    std::fprintf(stderr, "consumer: %s\n", q.error().message().c_str());
    return 1;
  }
  // A predecessor killed with a message in hand: that one is excused.
  if (const std::uint64_t h = l.in_hand.exchange(0); h != 0) {
    const std::uint64_t i = l.excused.fetch_add(1);
    if (i < kMaxIncarnations) l.excuse_ids[i].store(h - 1);
  }
  for (;;) {
    Message m{};
    const std::int64_t t0 = platform::monotonic_ns();
    const GetView v = q->read(std::chrono::seconds(10));
    note_block(l, platform::monotonic_ns() - t0);
    if (v.status == GetStatus::closed) return 0;
    if (v.status != GetStatus::ok || v.bytes.size() != sizeof(Message)) return 2;
    std::memcpy(&m, v.bytes.data(), sizeof(m));
    l.in_hand.store((std::uint64_t{m.incarnation} << 32 | m.seq) + 1);
    q->release();
    if (m.incarnation >= kMaxIncarnations || m.seq >= kMaxSeq || m.check != check_of(m.incarnation, m.seq)) {
      l.corrupt.fetch_add(1);
    } else {
      auto& word = l.received[m.incarnation][m.seq / 32];
      const std::uint32_t bit = 1u << (m.seq % 32);
      if ((word.fetch_or(bit) & bit) != 0) l.duplicated.fetch_add(1);
      if (m.seq + 1 <= l.last_seen[m.incarnation].load()) l.reordered.fetch_add(1);
      l.last_seen[m.incarnation].store(m.seq + 1);
    }
    l.in_hand.store(0);
  }
}

TEST(Chaos, SpscQueueSurvivesRandomKillsOfProducerAndConsumer) {
  const char* env_kills = std::getenv("SHMRING_CHAOS_KILLS");
  const char* env_seed = std::getenv("SHMRING_CHAOS_SEED");
  const int kills_wanted = env_kills ? std::atoi(env_kills) : 1000;
  const std::uint64_t seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : 20261122;
  ASSERT_LT(kills_wanted, kMaxIncarnations - 2);

  test::UniqueName name("chaos");
  auto created = Queue::create(name, {.capacity_bytes = 16 << 10});  // small: many wraps, full and empty often
  ASSERT_TRUE(created) << created.error().message();
  void* mem = ::mmap(nullptr, sizeof(Ledger), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* ledger = new (mem) Ledger{};

  std::mt19937_64 rng(seed);
  std::uint32_t producer_incarnations = 0;
  auto start_producer = [&] {
    const std::uint32_t p = producer_incarnations++;
    return test::fork_child([&, p](int) { return producer_main(name.c_str(), *ledger, p); });
  };
  auto start_consumer = [&] { return test::fork_child([&](int) { return consumer_main(name.c_str(), *ledger); }); };

  test::Child producer = start_producer();
  test::Child consumer = start_consumer();
  int kills = 0, producer_kills = 0, consumer_kills = 0;
  const auto t_start = std::chrono::steady_clock::now();
  while (kills < kills_wanted) {
    // A random moment: most short (mid-operation), some long (mid-stream, full, empty).
    const auto delay_us = static_cast<useconds_t>(rng() % 8 == 0 ? rng() % 20'000 : rng() % 2'000);
    ::usleep(delay_us);
    const bool kill_producer = (rng() & 1) != 0;
    test::Child& victim = kill_producer ? producer : consumer;
    victim.kill(SIGKILL);
    const int rc = victim.wait(std::chrono::seconds(30));
    if (rc != 128 + SIGKILL) {
      // It ended by itself before the kill: only a finished producer may do that.
      ASSERT_TRUE(kill_producer && rc == 0) << (kill_producer ? "producer" : "consumer") << " exited with " << rc;
    }
    ++kills;
    (kill_producer ? producer_kills : consumer_kills)++;
    victim = kill_producer ? start_producer() : start_consumer();
  }
  // Let the last producer finish, then the consumer drain and stop.
  ledger->stop.store(1);
  EXPECT_EQ(producer.wait(std::chrono::seconds(60)), 0);
  auto closer = Queue::open(name);
  ASSERT_TRUE(closer);
  closer->close();
  EXPECT_EQ(consumer.wait(std::chrono::seconds(60)), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  // Every committed message must have arrived, except exactly those that
  // were in a killed consumer's hands.
  // At most kMaxIncarnations: fits a size_t on 32-bit targets too.
  const auto excused = static_cast<std::size_t>(std::min<std::uint64_t>(ledger->excused.load(), kMaxIncarnations));
  std::vector<std::uint64_t> excuses(excused);
  for (std::size_t i = 0; i < excused; ++i) excuses[i] = ledger->excuse_ids[i].load();
  std::sort(excuses.begin(), excuses.end());
  std::uint64_t committed = 0, lost = 0, lost_excused = 0, beyond = 0;
  for (std::uint32_t p = 0; p < producer_incarnations; ++p) {
    const std::uint32_t c = ledger->committed[p].load();
    committed += c;
    for (std::uint32_t s = 0; s < c; ++s) {
      if ((ledger->received[p][s / 32].load() & (1u << (s % 32))) != 0) continue;
      ++lost;
      if (std::binary_search(excuses.begin(), excuses.end(), std::uint64_t{p} << 32 | s)) ++lost_excused;
    }
    // At most one message beyond the recorded count: committed, then killed.
    if (c < kMaxSeq && (ledger->received[p][c / 32].load() & (1u << (c % 32))) != 0) ++beyond;
  }
  std::printf(
      "chaos (seed %llu): %d kills (%d producers, %d consumers) in %.1f s; %llu messages committed "
      "(+%llu committed but not yet recorded at the kill); lost %llu (of which %llu excused: in the hands of a killed "
      "consumer); duplicated %llu; out of order %llu; corrupt %llu; longest block %.1f ms\n",
      static_cast<unsigned long long>(seed), kills, producer_kills, consumer_kills, seconds,
      static_cast<unsigned long long>(committed), static_cast<unsigned long long>(beyond),
      static_cast<unsigned long long>(lost), static_cast<unsigned long long>(lost_excused),
      static_cast<unsigned long long>(ledger->duplicated.load()),
      static_cast<unsigned long long>(ledger->reordered.load()), static_cast<unsigned long long>(ledger->corrupt.load()),
      static_cast<double>(ledger->longest_block_ns.load()) / 1e6);
  EXPECT_EQ(lost, lost_excused) << "committed messages lost that were not in a killed consumer's hands";
  EXPECT_EQ(ledger->duplicated.load(), 0u);
  EXPECT_EQ(ledger->reordered.load(), 0u);
  EXPECT_EQ(ledger->corrupt.load(), 0u);
  EXPECT_GT(committed, 1000u) << "the run moved too little to mean anything";
  ::munmap(mem, sizeof(Ledger));
}

}  // namespace
}  // namespace shmring
