// The MPMC engine through the Queue API, across real processes: several
// producers and consumers (forked, and separately started executables that
// open by name), every message checked for size, content, per-producer order
// and exactly-once delivery; a producer stopped (SIGSTOP) again and again for
// longer than the detection window is never taken for dead; the participant
// table's limit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <new>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/engine/mpmc_ring_layout.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "traffic_run.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::Tally;
using test::UniqueName;

const test::Traffic kTraffic{11, 8, 300};

Child forked_producer(const UniqueName& name, std::uint32_t id, std::uint64_t count) {
  return test::fork_child([&name, id, count](int) {
    Queue q = test::open_or_throw(name, Role::producer);
    return test::run_tagged_producer(q, kTraffic, id, count).messages == count ? 0 : 1;
  });
}

Child forked_consumer(const UniqueName& name) {
  return test::fork_child([&name](int out) {
    Queue q = test::open_or_throw(name, Role::consumer);
    test::write_line(out, test::run_tagged_consumer(q, kTraffic).to_line());
    return 0;
  });
}

// Waits for the producers, closes the queue, and adds up the consumers' tallies.
Tally finish(Queue& q, std::vector<Child>& producers, std::vector<Child>& consumers) {
  for (Child& p : producers) EXPECT_EQ(p.wait(std::chrono::seconds(120)), 0);
  q.close();
  Tally total;
  for (Child& c : consumers) {
    const Tally t = Tally::from_line(c.read_line(std::chrono::seconds(120)));
    EXPECT_STREQ(t.stopped, "closed") << "each consumer ends on close, after draining";
    total.add(t);
    EXPECT_EQ(c.wait(), 0);
  }
  return total;
}

// The tests every many-producer engine must pass (MPMC ring, lanes).
class ManyProducerQueue : public testing::TestWithParam<Engine> {
 protected:
  [[nodiscard]] QueueOptions options() const { return {.engine = GetParam(), .capacity_bytes = 64 << 10}; }
};

TEST_P(ManyProducerQueue, TwoForkedProducersAndTwoForkedConsumersDeliverEveryMessageOnceInProducerOrder) {
  UniqueName name("many-2x2");
  Queue q = test::create_or_throw(name, options());
  ASSERT_EQ(q.engine(), GetParam());
  constexpr std::uint64_t kEach = 500'000;
  std::vector<Child> producers, consumers;
  for (int i = 0; i < 2; ++i) consumers.push_back(forked_consumer(name));
  for (std::uint32_t i = 0; i < 2; ++i) producers.push_back(forked_producer(name, i, kEach));
  const Tally total = finish(q, producers, consumers);
  EXPECT_EQ(total.errors, 0u);
  EXPECT_EQ(total.reordered, 0u);
  EXPECT_EQ(total.messages, 2 * kEach);
  EXPECT_TRUE(test::exactly_once(total, 2, kEach));
  EXPECT_EQ(q.claims_repaired(), 0u);
  EXPECT_EQ(q.reads_lost(), 0u);
}

TEST_P(ManyProducerQueue, ProducersAndConsumersStartedAsSeparateExecutablesShareOneQueueByName) {
  UniqueName name("many-exec");
  Queue q = test::create_or_throw(name, options());
  constexpr std::uint64_t kEach = 300'000;
  const std::string seed = std::to_string(kTraffic.seed), lo = std::to_string(kTraffic.min_size),
                    hi = std::to_string(kTraffic.max_size);
  std::vector<Child> producers, consumers;
  for (int i = 0; i < 2; ++i) {
    consumers.push_back(test::spawn(test::queue_peer_path(), {"consume-tagged", name.str(), seed, lo, hi}));
  }
  for (int i = 0; i < 3; ++i) {
    producers.push_back(test::spawn(test::queue_peer_path(), {"produce-tagged", name.str(), std::to_string(kEach), seed,
                                                              lo, hi, std::to_string(i)}));
  }
  for (Child& p : producers) EXPECT_EQ(p.read_line(std::chrono::seconds(120)), "done " + std::to_string(kEach) + " ok");
  const Tally total = finish(q, producers, consumers);
  EXPECT_EQ(total.errors, 0u) << "first bad: producer " << (total.first_bad_tag >> test::kTagShift) << " index "
                              << (total.first_bad_tag & ((std::uint64_t{1} << test::kTagShift) - 1)) << ", "
                              << total.first_bad_size << " bytes (expected " << kTraffic.size_of(total.first_bad_tag)
                              << ")";
  EXPECT_EQ(total.reordered, 0u);
  EXPECT_TRUE(test::exactly_once(total, 3, kEach));
  EXPECT_EQ(q.claims_repaired(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, ManyProducerQueue, testing::Values(Engine::mpmc, Engine::lanes),
                         [](const testing::TestParamInfo<Engine>& i) {
                           return std::string(i.param == Engine::mpmc ? "Mpmc" : "Lanes");
                         });

// SIGSTOP lands at random instructions, often between a claim and its commit
// (then everyone behind that record waits). The producer streams until told
// to stop, so every SIGSTOP lands mid-stream: 20 stops of 3x the detection
// window each, and one of 1 s. Nobody takes it for dead, and every message of
// both producers arrives, in order, intact.
TEST(MpmcQueue, ProducerStoppedRepeatedlyForLongerThanTheDetectionWindowIsNeverTakenForDead) {
  UniqueName name("mpmc-stop");
  Queue q = test::create_or_throw(name, {.capacity_bytes = 16 << 10});
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* stop = new (mem) std::atomic<int>{0};
  const auto streaming_producer = [&](std::uint32_t id) {
    return test::fork_child([&, id](int out) {
      Queue p = test::open_or_throw(name, Role::producer);
      std::uint64_t i = 0;
      for (; stop->load() == 0; ++i) {
        const std::uint64_t tag = std::uint64_t{id} << test::kTagShift | i;
        const PutClaim c = p.claim(kTraffic.size_of(tag), 10s);
        if (c.status != PutStatus::ok) return 1;
        kTraffic.fill(tag, c.bytes);
        p.commit(c.bytes.size());
      }
      test::write_line(out, std::to_string(i));
      return 0;
    });
  };
  std::vector<Child> producers, consumers;
  consumers.push_back(forked_consumer(name));
  consumers.push_back(forked_consumer(name));
  producers.push_back(streaming_producer(0));
  producers.push_back(streaming_producer(1));
  const auto stop_for = [&](std::chrono::milliseconds d) {
    producers[0].kill(SIGSTOP);
    platform::sleep_until_ns(platform::monotonic_ns() + std::chrono::nanoseconds(d).count());
    producers[0].kill(SIGCONT);
  };
  for (int i = 0; i < 20; ++i) {
    stop_for(3 * kDeadOwnerCheck + 5ms);
    platform::sleep_until_ns(platform::monotonic_ns() + (1 + i % 3) * test::kMs);
  }
  stop_for(1000ms);
  platform::sleep_until_ns(platform::monotonic_ns() + 50 * test::kMs);
  stop->store(1);
  std::vector<std::uint64_t> counts;
  for (Child& p : producers) counts.push_back(std::stoull(p.read_line(std::chrono::seconds(60))));
  const Tally total = finish(q, producers, consumers);
  EXPECT_EQ(total.errors, 0u);
  EXPECT_EQ(total.reordered, 0u);
  EXPECT_GT(counts[0], 1000u);
  EXPECT_TRUE(test::exactly_once(total, counts)) << "a stopped producer's message was lost or overwritten";
  EXPECT_EQ(q.claims_repaired(), 0u) << "a stopped producer was taken for dead";
  ::munmap(mem, 4096);
}

// Many waiters on both sides: a put wakes one getter (the others stay
// parked), close() wakes every one of them at once.
TEST(MpmcQueue, CloseWakesEveryBlockedGetterAndPutterAtOnce) {
  UniqueName getters_q("mpmc-close-get"), putters_q("mpmc-close-put");
  Queue g = test::create_or_throw(getters_q);
  Queue p = test::create_or_throw(putters_q, {.maxsize = 1});
  ASSERT_EQ(p.put_nowait("fills it"), PutStatus::ok);
  std::vector<Child> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(test::spawn(test::queue_peer_path(), {"get", getters_q.str(), "-1"}));
    waiters.push_back(test::spawn(test::queue_peer_path(), {"put", putters_q.str(), "-1", "8"}));
  }
  for (Child& w : waiters) ASSERT_EQ(w.read_line(), "ready");
  platform::sleep_until_ns(platform::monotonic_ns() + 300 * test::kMs);  // all parked by now
  ASSERT_EQ(g.put_nowait("one"), PutStatus::ok);                         // wakes exactly one getter
  platform::sleep_until_ns(platform::monotonic_ns() + 200 * test::kMs);
  EXPECT_EQ(g.qsize(), 0u) << "one getter took it";
  const std::int64_t closed_at = platform::monotonic_ns();
  g.close();
  p.close();
  int ok = 0, closed = 0;
  for (Child& w : waiters) {
    std::istringstream in(w.read_line(std::chrono::seconds(5)));
    std::string status;
    std::int64_t started = 0, returned = 0;
    in >> status >> started >> returned;
    ok += status == "ok";
    if (status == "closed") {
      ++closed;
      EXPECT_LT(returned - closed_at, 500 * test::kMs) << "woken by close, promptly";
    }
    EXPECT_EQ(w.wait(), 0);
  }
  EXPECT_EQ(ok, 1) << "one message, one getter";
  EXPECT_EQ(closed, 5) << "the two other getters and the three putters end with closed";
}

TEST(MpmcQueue, MoreHandlesThanParticipantSlotsAreRefusedUntilOneLetsGo) {
  UniqueName name("mpmc-slots");
  Queue q = test::create_or_throw(name, {.engine = Engine::mpmc});
  std::vector<std::unique_ptr<Queue>> handles;
  for (std::uint32_t i = 0; i < kMpmcParticipants; ++i) {
    handles.push_back(std::make_unique<Queue>(test::open_or_throw(name)));
    ASSERT_EQ(handles.back()->put_nowait("x"), PutStatus::ok) << i;
  }
  EXPECT_EQ(q.put_nowait("one too many"), PutStatus::role_taken);
  EXPECT_EQ(q.get_nowait().status, GetStatus::role_taken);
  handles.pop_back();  // gives its slot back
  EXPECT_EQ(q.put_nowait("now there is room"), PutStatus::ok);
  EXPECT_EQ(q.qsize(), kMpmcParticipants + 1);
}

// A participant stalled between checking a header and its CAS holds a
// hazard (mpmc_ring.hpp, "Reuse"): producers must not reuse the bytes from
// there on while it stands, and the hazard of a participant proved dead is
// cleared by the producer it blocks. Set up by writing the hazard word of a
// forked child's participant slot directly, as a child stopped at that
// instruction would have left it.
constexpr std::uint64_t kParticipantsAt =
    sizeof(platform::SegmentHeaderLayout) + offsetof(QueueLayout, mpmc) + offsetof(MpmcRingLayout, participants);
std::uint64_t participant_at(std::uint32_t index) { return kParticipantsAt + index * sizeof(MpmcParticipantLayout); }

// The participant slot of process `pid` (its owner token names it).
std::uint32_t slot_of(const std::string& path, pid_t pid) {
  for (std::uint32_t i = 0; i < kMpmcParticipants; ++i) {
    const auto token = test::peek<std::uint64_t>(path, participant_at(i) + offsetof(MpmcParticipantLayout, owner));
    if (token != 0 && platform::unpack_owner(token).pid == static_cast<std::uint32_t>(pid)) return i;
  }
  return kMpmcParticipants;
}

// A child that attaches to the queue as a participant, says so, and waits
// for a line on its stdin pipe (or dies there when killed).
test::Child attached_child(const UniqueName& name) {
  return test::fork_child([&name](int out) {
    Queue q = test::open_or_throw(name, Role::consumer);
    test::write_line(out, "attached");
    ::pause();
    return 0;
  });
}

TEST(MpmcQueue, AStandingHazardKeepsProducersOffTheBytesBehindItUntilItsOwnerIsProvedDead) {
  UniqueName name("mpmc-hazard");
  Queue q = test::create_or_throw(name, {.engine = Engine::mpmc, .capacity_bytes = 4096});
  Child stalled = attached_child(name);
  ASSERT_EQ(stalled.read_line(10s), "attached");
  const std::uint32_t slot = slot_of(name.path(), stalled.pid());
  ASSERT_LT(slot, kMpmcParticipants);
  // One message, taken: the stalled child "checked" the header at position
  // 0 and stopped before its CAS.
  ASSERT_EQ(q.put_nowait("first"), PutStatus::ok);
  ASSERT_EQ(q.get_nowait().text(), "first");
  test::poke<std::uint64_t>(name.path(), participant_at(slot) + offsetof(MpmcParticipantLayout, hazard),
                            kHazardFlag | 0);
  const std::uint64_t ring_at = sizeof(platform::SegmentHeaderLayout) + sizeof(QueueLayout);
  const std::uint64_t word_at_0 = test::peek<std::uint64_t>(name.path(), ring_at);
  // Put and take 64-byte messages: the ring would wrap onto position 0 after
  // about 50; while the child lives, the producer finds no room there.
  const std::string msg(64, 'x');
  int put = 0;
  for (; put < 200; ++put) {
    if (q.put(msg, 30ms) != PutStatus::ok) break;
    ASSERT_EQ(q.get_nowait().status, GetStatus::ok);
  }
  EXPECT_LT(put, 200) << "the ring wrapped over a standing hazard";
  EXPECT_EQ(test::peek<std::uint64_t>(name.path(), ring_at), word_at_0) << "the bytes behind the hazard were reused";
  // Dead, the child's hazard is cleared by the producer waiting for room.
  stalled.kill(SIGKILL);
  EXPECT_EQ(stalled.wait(), 128 + SIGKILL);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(q.put(msg, 2s), PutStatus::ok) << "message " << i << " after the owner's death";
    ASSERT_EQ(q.get_nowait().status, GetStatus::ok);
  }
  EXPECT_EQ(test::peek<std::uint64_t>(name.path(), participant_at(slot) + offsetof(MpmcParticipantLayout, hazard)), 0u);
}

}  // namespace
}  // namespace shmring
