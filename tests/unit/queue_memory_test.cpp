// On-demand memory (rings above 4 MiB, queue.hpp): a large ("unbounded")
// queue holds memory for the bytes queued, not for its capacity; memory
// comes back after draining; a full tmpfs is an error at put, never SIGBUS.
// Memory is the file's allocated blocks (tmpfs pages are the memory).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring {
namespace {

constexpr std::uint64_t kMiB = 1u << 20;
constexpr std::uint64_t kCapacity = 256 * kMiB;
// What an idle on-demand queue may hold: the layout plus the chunks kept
// ahead of the tail and the partly used one behind it.
constexpr std::uint64_t kIdleBound = 4 * kOnDemandChunk;

class QueueMemory : public testing::TestWithParam<Engine> {};
const char* engine_name(Engine e);

TEST_P(QueueMemory, MemoryFollowsTheBytesQueuedAndComesBackAfterDraining) {
  test::UniqueName name("mem");
  // One producer queues 64 MiB: on the lane engine it writes one lane, half
  // the capacity with 2 lanes.
  const std::uint32_t lanes = GetParam() == Engine::lanes ? 2 : 0;
  Queue q =
      test::create_or_throw(name, {.maxsize = 0, .engine = GetParam(), .capacity_bytes = kCapacity, .lanes = lanes});
  EXPECT_LT(q.memory_bytes(), kIdleBound) << "a new queue holds no memory for its ring";
  constexpr std::size_t kMessage = 64 << 10;
  constexpr int kMessages = 1024;  // 64 MiB queued
  test::Child producer = test::fork_child([&](int) {
    Queue p = test::open_or_throw(name, Role::producer);
    const std::vector<std::byte> msg(kMessage, std::byte{0x3c});
    for (int i = 0; i < kMessages; ++i) {
      if (p.put(msg) != PutStatus::ok) return 1;
    }
    return 0;
  });
  ASSERT_EQ(producer.wait(std::chrono::seconds(60)), 0);
  const std::uint64_t queued = q.memory_bytes();
  EXPECT_GE(queued, kMessages * kMessage);
  EXPECT_LE(queued, kMessages * (kMessage + 64) + kIdleBound);
  std::vector<std::byte> buf;
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(q.get_into(buf, nowait), GetStatus::ok) << i;
  EXPECT_EQ(q.get_into(buf, nowait), GetStatus::empty);  // drained: memory goes back
  const std::uint64_t drained = q.memory_bytes();
  std::printf("%s queue of %.0f MiB: memory %.1f MiB with 64 MiB queued, %.2f MiB after draining\n",
              engine_name(GetParam()), static_cast<double>(q.capacity_bytes()) / kMiB,
              static_cast<double>(queued) / kMiB, static_cast<double>(drained) / kMiB);
  EXPECT_LE(drained, kIdleBound);
}

TEST_P(QueueMemory, StreamingMoreThanTheCapacityKeepsMemoryNearWhatIsInFlight) {
  test::UniqueName name("mem-stream");
  Queue q = test::create_or_throw(name, {.engine = GetParam(), .capacity_bytes = 64 * kMiB});
  constexpr std::size_t kMessage = 16 << 10;
  constexpr int kMessages = 20000;  // 320 MiB: five laps of the ring
  test::Child producer = test::fork_child([&](int) {
    Queue p = test::open_or_throw(name, Role::producer);
    std::vector<std::byte> msg(kMessage);
    for (int i = 0; i < kMessages; ++i) {
      std::memcpy(msg.data(), &i, sizeof(i));
      if (p.put(msg, std::chrono::seconds(30)) != PutStatus::ok) return 1;
    }
    return 0;
  });
  std::vector<std::byte> buf;
  std::uint64_t most = 0;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(q.get_into(buf, std::chrono::seconds(30)), GetStatus::ok) << i;
    int got = -1;
    std::memcpy(&got, buf.data(), sizeof(got));
    ASSERT_EQ(got, i);
    if (i % 64 == 0) most = std::max(most, q.memory_bytes());
  }
  ASSERT_EQ(producer.wait(), 0);
  EXPECT_EQ(q.get_into(buf, nowait), GetStatus::empty);
  EXPECT_LE(q.memory_bytes(), kIdleBound);
  EXPECT_LE(most, 64 * kMiB + kIdleBound);
  std::printf("320 MiB streamed through a 64 MiB ring: most memory seen %.1f MiB, %.2f MiB after\n",
              static_cast<double>(most) / kMiB, static_cast<double>(q.memory_bytes()) / kMiB);
}

// A real full tmpfs: a child process mounts a 16 MiB tmpfs in its own mount
// namespace and fills a 256 MiB queue there. The put that needs a chunk the
// tmpfs cannot give reports no_memory, and the process lives on (no SIGBUS).
// Skipped, with the reason, where mount namespaces are not allowed.
TEST_P(QueueMemory, AFullTmpfsIsNoMemoryAtPutNeverASignal) {
  test::Child child = test::fork_child([&](int out) {
    std::string why;
    if (!test::private_tmpfs("/tmp", 16 * kMiB, &why)) {
      test::write_line(out, "skip " + why);
      return 0;
    }
    const std::string path = why + "/queue";  // private_tmpfs puts the mount point in `why`
    auto q = Queue::create(path, {.engine = GetParam(), .capacity_bytes = kCapacity});
    if (!q) {
      test::write_line(out, "create " + q.error().message());
      return 0;
    }
    const std::vector<std::byte> msg(64 << 10, std::byte{1});
    int n = 0;
    PutStatus st = PutStatus::ok;
    while ((st = q->put(msg, nowait)) == PutStatus::ok) ++n;
    std::vector<std::byte> buf;
    int got = 0;
    while (q->get_into(buf, nowait) == GetStatus::ok) ++got;
    test::write_line(out, std::string(to_string(st)) + " " + std::to_string(n) + " " + std::to_string(got));
    q = Result<Queue>(Error{});  // unmaps before the mount goes
    ::umount2(why.c_str(), MNT_DETACH);
    ::rmdir(why.c_str());
    return 0;
  });
  const std::string line = child.read_line();
  EXPECT_EQ(child.wait(), 0) << "the producer must not die of a signal";
  if (line.rfind("skip ", 0) == 0) GTEST_SKIP() << "no private tmpfs here: " << line.substr(5);
  std::istringstream in(line);
  std::string status;
  int accepted = 0, delivered = 0;
  in >> status >> accepted >> delivered;
  EXPECT_EQ(status, "no_memory") << line;
  EXPECT_GT(accepted, 200) << "up to the tmpfs size, the messages went in";
  EXPECT_LT(accepted, 256) << "16 MiB holds fewer than 256 messages of 64 KiB";
  EXPECT_EQ(delivered, accepted) << "every accepted message is readable";
}

const char* engine_name(Engine e) { return e == Engine::spsc ? "Spsc" : e == Engine::mpmc ? "Mpmc" : "Lanes"; }

INSTANTIATE_TEST_SUITE_P(Engines, QueueMemory, testing::Values(Engine::spsc, Engine::mpmc, Engine::lanes),
                         [](const testing::TestParamInfo<Engine>& i) { return std::string(engine_name(i.param)); });

}  // namespace
}  // namespace shmring
