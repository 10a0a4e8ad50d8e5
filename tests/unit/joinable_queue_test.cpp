// JoinableQueue (queue.hpp): task_done/join across real processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::UniqueName;

using test::kMs;

JoinableQueue make_joinable(const UniqueName& name, QueueOptions o = {}) {
  return test::create_or_throw<JoinableQueue>(name, o);
}

TEST(JoinableQueue, JoinReturnsOnlyAfterAnotherProcessMarkedEveryItemDone) {
  UniqueName name("join");
  JoinableQueue q = make_joinable(name);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(q.put("task" + std::to_string(i)), PutStatus::ok);
  EXPECT_EQ(q.unfinished_tasks(), 5u);
  Child worker = test::fork_child([&](int out) {
    auto w = JoinableQueue::open(name);
    if (!w) return 1;
    std::int64_t last_done = 0;
    for (int i = 0; i < 5; ++i) {
      if (w->get(1s).text() != "task" + std::to_string(i)) return 2;
      ::usleep(40'000);  // the work
      last_done = platform::monotonic_ns();
      if (w->task_done() != TaskDoneStatus::ok) return 3;
    }
    test::write_line(out, std::to_string(last_done));
    return 0;
  });
  EXPECT_EQ(q.join(10s), JoinStatus::done);
  const std::int64_t joined_at = platform::monotonic_ns();
  const std::string last_done = worker.read_line();
  ASSERT_EQ(worker.wait(), 0);
  ASSERT_FALSE(last_done.empty());
  EXPECT_GE(joined_at, std::stoll(last_done)) << "join returned before the last task_done";
  EXPECT_EQ(q.unfinished_tasks(), 0u);
}

TEST(JoinableQueue, JoinWithTimeoutReturnsTimedOutNoEarlierThanTheTimeout) {
  UniqueName name("join-timeout");
  JoinableQueue q = make_joinable(name);
  ASSERT_EQ(q.put("never done"), PutStatus::ok);
  Child waiter = test::fork_child([&](int out) {
    auto w = JoinableQueue::open(name);
    if (!w) return 1;
    const std::int64_t t0 = platform::monotonic_ns();
    const JoinStatus s = w->join(200ms);
    test::write_line(out, std::string(s == JoinStatus::timed_out ? "timed_out " : "done ") +
                              std::to_string(platform::monotonic_ns() - t0) + " " +
                              std::to_string(w->stats().futex_waits));
    return 0;
  });
  const std::string line = waiter.read_line();
  ASSERT_EQ(waiter.wait(), 0);
  long long waited = 0;
  unsigned long long parks = 0;
  char status[16] = {0};
  ASSERT_EQ(std::sscanf(line.c_str(), "%15s %lld %llu", status, &waited, &parks), 3) << line;
  EXPECT_STREQ(status, "timed_out");
  EXPECT_GE(waited, 200 * kMs);
  EXPECT_LT(waited, 1200 * kMs);
  EXPECT_GE(parks, 1u) << "a 200 ms join should park, not spin";
}

TEST(JoinableQueue, JoinWithNothingPutReturnsAtOnce) {
  UniqueName name("join-empty");
  JoinableQueue q = make_joinable(name);
  EXPECT_EQ(q.join(nowait), JoinStatus::done);
  EXPECT_EQ(q.join(), JoinStatus::done);
}

TEST(JoinableQueue, MoreTaskDoneCallsThanPutsAreTooManyAndChangeNothing) {
  UniqueName name("too-many");
  JoinableQueue q = make_joinable(name);
  ASSERT_EQ(q.put("one"), PutStatus::ok);
  Child worker = test::fork_child([&](int out) {
    auto w = JoinableQueue::open(name);
    if (!w || !w->get(1s)) return 1;
    const TaskDoneStatus first = w->task_done();
    const TaskDoneStatus second = w->task_done();
    test::write_line(out, std::string(to_string(first)) + "|" + to_string(second));
    return 0;
  });
  EXPECT_EQ(worker.read_line(), "ok|task_done() called more times than items were put");
  ASSERT_EQ(worker.wait(), 0);
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_EQ(q.join(nowait), JoinStatus::done);
}

TEST(JoinableQueue, PutsThatFailAreNotCounted) {
  UniqueName name("failed-puts");
  JoinableQueue q = make_joinable(name, {.maxsize = 1, .max_message = 16});
  ASSERT_EQ(q.put("a"), PutStatus::ok);
  EXPECT_EQ(q.put_nowait("b"), PutStatus::full);
  EXPECT_EQ(q.put(std::string(17, 'x'), nowait), PutStatus::too_large);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  q.close();
  EXPECT_EQ(q.put("c"), PutStatus::closed);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
}

TEST(JoinableQueue, ZeroCopyPutsAndPutsThroughAQueueReferenceAreCounted) {
  UniqueName name("counted");
  JoinableQueue q = make_joinable(name);
  const PutClaim c = q.claim(4);
  ASSERT_EQ(c.status, PutStatus::ok);
  std::memcpy(c.bytes.data(), "abcd", 4);
  q.commit(4);
  q.commit(4);      // a second commit of the same claim publishes and counts nothing
  Queue& base = q;  // Python's JoinableQueue is a Queue too
  ASSERT_EQ(base.put("efgh"), PutStatus::ok);
  EXPECT_EQ(q.unfinished_tasks(), 2u);
  EXPECT_EQ(q.qsize(), 2u);
}

TEST(JoinableQueue, AJoinableQueueAndAPlainQueueRefuseToOpenAsEachOther) {
  UniqueName joinable("kind-j"), plain("kind-q");
  JoinableQueue j = make_joinable(joinable);
  auto p = Queue::create(plain);
  ASSERT_TRUE(p);
  OpenOptions o;
  o.ready_timeout = 0ms;
  auto as_plain = Queue::open(joinable, o);
  ASSERT_FALSE(as_plain);
  EXPECT_EQ(as_plain.error().code, Errc::wrong_kind);
  auto as_joinable = JoinableQueue::open(plain, o);
  ASSERT_FALSE(as_joinable);
  EXPECT_EQ(as_joinable.error().code, Errc::wrong_kind);
}

}  // namespace
}  // namespace shmring
