// Pool (pool.hpp): Python's Pool API with forked workers — apply, async
// results, map/starmap/imap/imap_unordered with chunks, typed tasks, errors
// from tasks, initializer, maxtasksperchild, close/join/terminate — and the
// crash cases: a worker killed with SIGKILL mid-task is replaced and its
// task reports worker_died (or runs again when retries ask), never a hang.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/pool.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/platform/clock.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::kMs;

std::int64_t square(std::int64_t x) { return x * x; }
std::int64_t slow_square(std::int64_t x) {
  std::this_thread::sleep_for(200us);
  return x * x;
}
std::int32_t my_pid(std::int32_t) { return static_cast<std::int32_t>(::getpid()); }

Bytes shout(std::span<const std::byte> args) {
  std::string s(reinterpret_cast<const char*>(args.data()), args.size());
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  s += "!";
  return Bytes(reinterpret_cast<const std::byte*>(s.data()), reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

Bytes fail_on_negative(std::span<const std::byte> args) {
  std::int64_t v = 0;
  std::memcpy(&v, args.data(), sizeof v);
  if (v < 0) throw std::invalid_argument("negative input: " + std::to_string(v));
  const std::int64_t doubled = v * 2;
  const auto b = bytes_of(doubled);
  return Bytes(b.begin(), b.end());
}

Bytes bytes(std::string_view s) {
  return Bytes(reinterpret_cast<const std::byte*>(s.data()), reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

TEST(Pool, ApplyAsyncMapImapAndTypedTasks) {
  Pool pool = test::or_throw(Pool::create(2));
  EXPECT_EQ(pool.processes(), 2u);
  EXPECT_EQ(pool.apply(&shout, "hello").text(), "HELLO!");

  AsyncResult r = pool.apply_value_async(&square, std::int64_t{12});
  EXPECT_TRUE(r.wait(10s));
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(r.get().value<std::int64_t>(), 144);

  std::vector<std::int64_t> xs;
  for (std::int64_t i = 0; i < 1000; ++i) xs.push_back(i);
  const std::vector<PoolResult> squares = pool.map_values(&square, xs);
  ASSERT_EQ(squares.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(squares[i].value<std::int64_t>(), xs[i] * xs[i]) << i;

  const std::vector<Bytes> words = {bytes("a"), bytes("bb"), bytes("ccc"), bytes(""), bytes("e")};
  const std::vector<PoolResult> loud = pool.starmap(&shout, words, 2);
  ASSERT_EQ(loud.size(), 5u);
  EXPECT_EQ(loud[2].text(), "CCC!");
  EXPECT_EQ(loud[3].text(), "!");

  PoolIterator in_order = pool.imap(&shout, words);
  std::vector<std::string> got;
  while (auto res = in_order.next(10s)) got.emplace_back(res->text());
  EXPECT_EQ(got, (std::vector<std::string>{"A!", "BB!", "CCC!", "!", "E!"}));

  PoolIterator any_order = pool.imap_unordered(&shout, words);
  std::multiset<std::string> unordered;
  while (auto res = any_order.next(10s)) unordered.emplace(res->text());
  EXPECT_EQ(unordered, (std::multiset<std::string>{"A!", "BB!", "CCC!", "!", "E!"}));
  pool.close();
  pool.join();
}

TEST(Pool, ATaskThatThrowsComesBackAsAnErrorWithItsMessage) {
  Pool pool = test::or_throw(Pool::create(2));
  std::vector<Bytes> args;
  for (std::int64_t v : {1, -2, 3}) {
    const auto b = bytes_of(v);
    args.emplace_back(b.begin(), b.end());
  }
  const std::vector<PoolResult> out = pool.map(&fail_on_negative, args, 1);
  EXPECT_EQ(out[0].value<std::int64_t>(), 2);
  EXPECT_EQ(out[1].status, PoolStatus::error);
  EXPECT_EQ(out[1].error, "negative input: -2");
  EXPECT_EQ(out[2].value<std::int64_t>(), 6);
  EXPECT_EQ(pool.apply(&shout, Bytes(70000, std::byte{'x'})).status, PoolStatus::too_large);
  pool.close();
  pool.join();
}

// The task a test kills its worker in: records its pid, then sleeps (or,
// once `runs` says it ran before, answers at once).
struct KillBoard {
  std::atomic<int> pid;
  std::atomic<int> runs;
};
KillBoard* g_board = nullptr;  // set before the pool forks: the workers inherit it

Bytes sleep_until_killed(std::span<const std::byte>) {
  if (g_board->runs.fetch_add(1) == 0) {
    g_board->pid.store(static_cast<int>(::getpid()));
    for (;;) std::this_thread::sleep_for(1s);
  }
  return bytes("second run");
}

TEST(Pool, AWorkerKilledMidTaskIsReplacedAndItsTaskReportsWorkerDied) {
  test::SharedMemory<KillBoard> board;
  g_board = &*board;
  Pool pool = test::or_throw(Pool::create(2));
  AsyncResult doomed = pool.apply_async(&sleep_until_killed, "");
  while (board->pid.load() == 0) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(doomed.ready());
  const std::int64_t t0 = platform::monotonic_ns();
  ::kill(board->pid.load(), SIGKILL);
  const PoolResult r = doomed.get(30s);
  const double ms = static_cast<double>(platform::monotonic_ns() - t0) / 1e6;
  std::printf("worker_died reported %.1f ms after the kill: %s\n", ms, r.error.c_str());
  EXPECT_EQ(r.status, PoolStatus::worker_died);
  EXPECT_NE(r.error.find("signal 9"), std::string::npos) << r.error;
  EXPECT_LT(ms, 1000.0);
  EXPECT_EQ(pool.replacements(), 1u);
  // The pool goes on with a new worker.
  EXPECT_EQ(pool.apply(&shout, "still here").text(), "STILL HERE!");
  const std::vector<int> pids = pool.worker_pids();
  EXPECT_EQ(std::count(pids.begin(), pids.end(), board->pid.load()), 0);
  pool.close();
  pool.join();
}

TEST(Pool, WithRetriesTheKilledWorkersTaskRunsAgain) {
  test::SharedMemory<KillBoard> board;
  g_board = &*board;
  Pool pool = test::or_throw(Pool::create(2, {.retries = 1}));
  AsyncResult task = pool.apply_async(&sleep_until_killed, "");
  while (board->pid.load() == 0) std::this_thread::sleep_for(1ms);
  ::kill(board->pid.load(), SIGKILL);
  const PoolResult r = task.get(30s);
  EXPECT_EQ(r.status, PoolStatus::ok) << to_string(r.status) << " " << r.error;
  EXPECT_EQ(r.text(), "second run");
  EXPECT_EQ(board->runs.load(), 2);
  pool.close();
  pool.join();
}

// Every worker killed while many tasks are queued: each task either
// completes or reports worker_died, and get() never hangs.
TEST(Pool, KillingEveryWorkerRepeatedlyNeverHangsAGet) {
  Pool pool = test::or_throw(Pool::create(2));
  std::vector<std::int64_t> xs(2000);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<std::int64_t>(i);
  std::vector<AsyncResult> rs;
  for (const std::int64_t x : xs) rs.push_back(pool.apply_value_async(&slow_square, x));
  for (int k = 0; k < 10; ++k) {
    const std::vector<int> before = pool.worker_pids();
    for (const int pid : before) {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
    // Until the pool (inside its calls) has replaced both.
    const std::int64_t t0 = platform::monotonic_ns();
    for (;;) {
      (void)rs.back().get(1ms);
      const std::vector<int> now = pool.worker_pids();
      const bool replaced = std::none_of(
          now.begin(), now.end(), [&](int p) { return std::find(before.begin(), before.end(), p) != before.end(); });
      if (replaced) break;
      ASSERT_LT(platform::monotonic_ns() - t0, 10'000 * kMs) << "round " << k << ": workers not replaced";
    }
    std::this_thread::sleep_for(3ms);  // the new workers take tasks
  }
  std::size_t ok = 0, died = 0;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    const PoolResult r = rs[i].get(60s);
    ASSERT_NE(r.status, PoolStatus::timeout) << "task " << i << " hangs";
    if (r.status == PoolStatus::ok) {
      ASSERT_EQ(r.value<std::int64_t>(), xs[i] * xs[i]);
      ++ok;
    } else {
      ASSERT_EQ(r.status, PoolStatus::worker_died) << r.error;
      ++died;
    }
  }
  std::printf("2000 tasks, 10 rounds of killing every worker: %zu ok, %zu worker_died, %llu replacements\n", ok, died,
              static_cast<unsigned long long>(pool.replacements()));
  EXPECT_GE(pool.replacements(), 20u);
  EXPECT_GE(died, 1u) << "some kills landed mid-task";
  pool.close();
  pool.join();
}

// Workers retiring after each chunk while others' answers wait in the
// results queue: every chunk is answered once, none taken for a death.
TEST(Pool, WorkersRetiringAfterEveryChunkAreNeverTakenForDeaths) {
  Pool pool = test::or_throw(Pool::create(4, {.maxtasksperchild = 1}));
  std::vector<std::int64_t> xs(400);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<std::int64_t>(i);
  for (int round = 0; round < 3; ++round) {
    const std::vector<PoolResult> r = pool.map_values(&square, xs, 1);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      ASSERT_EQ(r[i].status, PoolStatus::ok) << "round " << round << " task " << i << ": " << r[i].error;
      ASSERT_EQ(r[i].value<std::int64_t>(), xs[i] * xs[i]);
    }
  }
  pool.close();
  pool.join();
}

// A child forked while the pool exists inherits a copy: using or destroying
// it there does nothing to the owner's workers.
TEST(Pool, AForkedChildsCopyOfThePoolLeavesTheOwnersWorkersAlone) {
  Pool pool = test::or_throw(Pool::create(2));
  EXPECT_EQ(pool.apply(&shout, "before").text(), "BEFORE!");
  Child child = test::fork_child([&pool](int) {
    const PoolResult r = pool.apply(&shout, "from the child");
    pool.terminate();
    { Pool gone = std::move(pool); }
    return r.status == PoolStatus::closed ? 0 : 10;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(pool.apply(&shout, "after").text(), "AFTER!");
  EXPECT_EQ(pool.replacements(), 0u);
  pool.close();
  pool.join();
}

int g_initialized = 0;
void initialize_worker() { g_initialized = 42; }
std::int32_t initialized_value(std::int32_t) { return g_initialized; }

TEST(Pool, InitializerAndMaxTasksPerChild) {
  Pool pool = test::or_throw(Pool::create(2, {.initializer = &initialize_worker, .maxtasksperchild = 2}));
  const std::vector<PoolResult> inits = pool.map_values(&initialized_value, std::vector<std::int32_t>(6, 0), 1);
  for (const PoolResult& r : inits) EXPECT_EQ(r.value<std::int32_t>(), 42);
  const std::vector<PoolResult> pids = pool.map_values(&my_pid, std::vector<std::int32_t>(12, 0), 1);
  std::set<std::int32_t> distinct;
  for (const PoolResult& r : pids) distinct.insert(r.value<std::int32_t>().value_or(-1));
  EXPECT_GE(distinct.size(), 6u) << "a worker runs at most two chunks";
  EXPECT_GE(pool.replacements(), 6u);
  pool.close();
  pool.join();
}

TEST(Pool, CloseJoinAndTerminate) {
  Pool pool = test::or_throw(Pool::create(2));
  AsyncResult before = pool.apply_value_async(&square, std::int64_t{3});
  pool.close();
  EXPECT_EQ(pool.apply(&shout, "late").status, PoolStatus::closed);
  pool.join();
  EXPECT_EQ(before.get(nowait).value<std::int64_t>(), 9) << "join waits for every submitted task";
  for (const int pid : pool.worker_pids()) EXPECT_LE(pid, 0) << "joined workers are gone";

  test::SharedMemory<KillBoard> board;
  g_board = &*board;
  Pool other = test::or_throw(Pool::create(1));
  AsyncResult stuck = other.apply_async(&sleep_until_killed, "");
  while (board->pid.load() == 0) std::this_thread::sleep_for(1ms);
  other.terminate();
  EXPECT_EQ(stuck.get(1s).status, PoolStatus::closed);
  EXPECT_EQ(::kill(board->pid.load(), 0), -1) << "terminate() stopped the worker";
}

// Tutorial scenario 3 with a Pool: one task writes a string letter by
// letter into a queue found by name; a later task reads it back.
std::string g_queue_name;
Bytes write_letters(std::span<const std::byte> text) {
  auto q = Queue::open(g_queue_name);
  if (!q) throw std::runtime_error(q.error().message());
  for (const std::byte b : text) {
    if (q->put(std::span<const std::byte>(&b, 1)) != PutStatus::ok) throw std::runtime_error("put");
  }
  q->close();
  return {};
}
Bytes read_letters(std::span<const std::byte>) {
  auto q = Queue::open(g_queue_name);
  if (!q) throw std::runtime_error(q.error().message());
  Bytes out;
  for (;;) {
    const Message m = q->get(10s);
    if (m.status == GetStatus::closed) return out;
    if (!m) throw std::runtime_error(to_string(m.status));
    out.insert(out.end(), m.bytes.begin(), m.bytes.end());
  }
}

TEST(Pool, ScenarioThreeATaskReadsBackWhatAnotherWroteThroughAQueueFoundByName) {
  test::UniqueName qname("pool-letters");
  g_queue_name = qname.str();
  Queue q = test::or_throw(Queue::create(qname));
  Pool pool = test::or_throw(Pool::create(2));
  EXPECT_EQ(pool.apply(&write_letters, "hello world").status, PoolStatus::ok);
  EXPECT_EQ(pool.apply(&read_letters, "").text(), "hello world");
  pool.close();
  pool.join();
}

}  // namespace
}  // namespace shmring
