// Queue semantics (docs/contract.md, "Semantics"), each row across real processes: forked children
// and the separately started shmring_queue_peer, which opens by name.
#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/ipc/queue.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/engine/spsc_ring_layout.hpp"
#include "traffic_run.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::UniqueName;

using test::kMs;

Queue make_queue(const UniqueName& name, QueueOptions o = {}) { return test::create_or_throw(name, o); }
Queue open_queue(const UniqueName& name, Role role = Role::none) { return test::open_or_throw(name, role); }

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

// The peer's "STATUS T0 T1 FUTEX_WAITS" line after a blocking put/get.
struct Outcome {
  std::string status;
  std::int64_t started_ns = 0;
  std::int64_t returned_ns = 0;
  std::uint64_t futex_waits = 0;
};

Outcome parse_outcome(const std::string& line) {
  const auto w = words(line);
  if (w.size() != 4) return Outcome{"unparsed: " + line};
  return Outcome{w[0], std::stoll(w[1]), std::stoll(w[2]), std::stoull(w[3])};
}

// A wait that ended by its timeout: not a nanosecond early (strict), and not
// much late (loose: the machine is shared and noisy); it parked, not spun.
void expect_timed_out(const Outcome& o, const char* status, std::int64_t timeout_ns) {
  EXPECT_EQ(o.status, status);
  EXPECT_GE(o.returned_ns - o.started_ns, timeout_ns);
  EXPECT_LT(o.returned_ns - o.started_ns, timeout_ns + 1000 * kMs);
  EXPECT_GE(o.futex_waits, 1u) << "a long wait should park, not spin";
}

// A parked wait that another process ended at `since`: after it, and promptly.
void expect_woken_by(const Outcome& o, const char* status, std::int64_t since) {
  EXPECT_EQ(o.status, status);
  EXPECT_GE(o.returned_ns, since);
  EXPECT_LT(o.returned_ns - since, 500 * kMs);
  EXPECT_GE(o.futex_waits, 1u) << "the waiter should have been parked";
}

Child spawn_peer(const std::vector<std::string>& args) {
  Child c = test::spawn(test::queue_peer_path(), args);
  EXPECT_GT(c.pid(), 0);
  return c;
}

// ---- FIFO order of 10^7 messages of random sizes ------------------------------

constexpr std::uint64_t kFifoCount = 10'000'000;

TEST(QueueFifo, TenMillionRandomSizesInOrderWithForkedProducer) {
  UniqueName name("fifo-fork");
  QueueOptions o;
  o.capacity_bytes = 1 << 20;  // ~20 GB through a 1 MiB ring: ~20,000 wraps
  Queue q = make_queue(name, o);
  const test::Traffic t{0x5eed, 1, 4096};
  Child producer = test::fork_child([&](int out) {
    Queue p = open_queue(name, Role::producer);
    const test::RunResult r = test::run_producer(p, t, kFifoCount);
    test::write_line(out, std::to_string(r.messages) + " " + std::to_string(r.checksum));
    return 0;
  });
  const test::RunResult got = test::run_consumer(q, t, kFifoCount);
  const auto w = words(producer.read_line(300s));
  ASSERT_EQ(producer.wait(), 0);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(got.messages, kFifoCount);
  EXPECT_EQ(got.errors, 0u) << "first bad message: " << got.first_bad_seq;
  EXPECT_EQ(std::to_string(got.checksum), w[1]) << "checksums differ";
  EXPECT_EQ(std::to_string(kFifoCount), w[0]);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(QueueFifo, TenMillionRandomSizesInOrderBetweenSeparateExecutables) {
  UniqueName name("fifo-exec");
  QueueOptions o;
  o.capacity_bytes = 256 << 10;  // a smaller ring: more wraps, more full/empty turns
  Queue q = make_queue(name, o);
  test::expect_peers_stream(name, kFifoCount, 77, 1, 4096);
  EXPECT_EQ(q.qsize(), 0u);
}

// ---- put on a full queue / get on an empty queue ------------------------------

// Fills a maxsize-3 queue from a forked producer that then exits (its role is
// freed), so the process under test can take the producer role.
void fill_from_child(const UniqueName& name, int count) {
  Child filler = test::fork_child([&](int) {
    Queue p = open_queue(name);
    for (int i = 0; i < count; ++i) {
      if (p.put_nowait("m" + std::to_string(i)) != PutStatus::ok) return 1;
    }
    return 0;
  });
  ASSERT_EQ(filler.wait(), 0);
}

TEST(QueueFull, PutNowaitOnFullQueueReturnsFullAtOnce) {
  UniqueName name("full-nowait");
  Queue q = make_queue(name, {.maxsize = 3});
  fill_from_child(name, 3);
  Child c = test::fork_child([&](int out) {
    Queue p = open_queue(name);
    const std::int64_t t0 = platform::monotonic_ns();
    const PutStatus s = p.put_nowait("x");
    const std::int64_t t1 = platform::monotonic_ns();
    test::write_line(out, std::string(to_string(s)) + " " + std::to_string(t1 - t0));
    return 0;
  });
  const auto w = words(c.read_line());
  ASSERT_EQ(c.wait(), 0);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], "full");
  EXPECT_LT(std::stoll(w[1]), 500 * kMs);  // "at once", loosely: no wait happened
  EXPECT_EQ(q.qsize(), 3u);
}

TEST(QueueFull, PutWithTimeoutOnFullQueueReturnsFullNoEarlierThanTheTimeout) {
  UniqueName name("full-timeout");
  Queue q = make_queue(name, {.maxsize = 3});
  fill_from_child(name, 3);
  Child peer = spawn_peer({"put", name.str(), "300", "8"});
  ASSERT_EQ(peer.read_line(), "ready");
  const Outcome o = parse_outcome(peer.read_line());
  ASSERT_EQ(peer.wait(), 0);
  expect_timed_out(o, "full", 300 * kMs);
}

TEST(QueueFull, BlockedPutCompletesWhenAnotherProcessGets) {
  UniqueName name("full-unblock");
  Queue q = make_queue(name, {.maxsize = 1});
  fill_from_child(name, 1);
  Child peer = spawn_peer({"put", name.str(), "-1", "8"});
  ASSERT_EQ(peer.read_line(), "ready");
  ::usleep(100'000);
  EXPECT_EQ(q.get().text(), "m0");
  const Outcome o = parse_outcome(peer.read_line());
  ASSERT_EQ(peer.wait(), 0);
  EXPECT_EQ(o.status, "ok");
  EXPECT_EQ(q.get().text(), "xxxxxxxx");
}

TEST(QueueEmpty, GetNowaitOnEmptyQueueReturnsEmptyAtOnce) {
  UniqueName name("empty-nowait");
  Queue q = make_queue(name);
  Child c = test::fork_child([&](int out) {
    Queue g = open_queue(name);
    const std::int64_t t0 = platform::monotonic_ns();
    const Message m = g.get_nowait();
    const std::int64_t t1 = platform::monotonic_ns();
    test::write_line(out, std::string(to_string(m.status)) + " " + std::to_string(t1 - t0));
    return 0;
  });
  const auto w = words(c.read_line());
  ASSERT_EQ(c.wait(), 0);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], "empty");
  EXPECT_LT(std::stoll(w[1]), 500 * kMs);
}

TEST(QueueEmpty, GetWithTimeoutOnEmptyQueueReturnsEmptyNoEarlierThanTheTimeout) {
  UniqueName name("empty-timeout");
  Queue q = make_queue(name);
  Child peer = spawn_peer({"get", name.str(), "300"});
  ASSERT_EQ(peer.read_line(), "ready");
  const Outcome o = parse_outcome(peer.read_line());
  ASSERT_EQ(peer.wait(), 0);
  expect_timed_out(o, "empty", 300 * kMs);
}

TEST(QueueEmpty, BlockedGetReturnsTheMessageAnotherProcessPuts) {
  UniqueName name("empty-unblock");
  Queue q = make_queue(name);
  Child peer = spawn_peer({"get", name.str(), "-1"});
  ASSERT_EQ(peer.read_line(), "ready");
  ::usleep(100'000);
  ASSERT_EQ(q.put("hello"), PutStatus::ok);
  const Outcome o = parse_outcome(peer.read_line());
  ASSERT_EQ(peer.wait(), 0);
  EXPECT_EQ(o.status, "ok");
}

// ---- maxsize counts messages; too_large ----------------------------------------

TEST(QueueMaxsize, MaxsizeCountsMessagesNotBytes) {
  UniqueName name("maxsize");
  Queue q = make_queue(name, {.maxsize = 3});
  Child producer = test::fork_child([&](int out) {
    Queue p = open_queue(name);
    for (int i = 0; i < 3; ++i) {
      if (p.put_nowait("a") != PutStatus::ok) return 1;
    }
    // Three one-byte messages use 48 of 1 MiB, yet the queue is full.
    test::write_line(out, std::string(to_string(p.put_nowait("a"))) + " " + (p.full() ? "full" : "not-full"));
    // Wait until the parent took one, then one more fits, and only one.
    if (p.put("b", 10s) != PutStatus::ok) return 2;
    return p.put_nowait("c") == PutStatus::full ? 0 : 3;
  });
  EXPECT_EQ(producer.read_line(), "full full");
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.get().text(), "a");
  EXPECT_EQ(producer.wait(), 0);
  EXPECT_EQ(q.qsize(), 3u);
}

TEST(QueueMaxsize, NonPositiveMaxsizeLimitsOnlyByBytes) {
  UniqueName name("maxsize-none");
  Queue q = make_queue(name, {.maxsize = 0, .capacity_bytes = 4096});
  Child producer = test::fork_child([&](int out) {
    Queue p = open_queue(name);
    int n = 0;
    while (p.put_nowait(std::string_view("12345678")) == PutStatus::ok) ++n;
    test::write_line(out, std::to_string(n) + (p.full() ? " full" : " not-full"));
    return 0;
  });
  const std::string line = producer.read_line();
  ASSERT_EQ(producer.wait(), 0);
  // The ring's bytes (the lane engine: the producer's lane, 4 KiB), in
  // records of 8 payload bytes; the MPMC ring keeps one header's room for
  // the record after the last.
  const std::uint64_t fit =
      q.engine() != Engine::mpmc ? 4096 / record_size(8) : (4096 - MpmcRing::kHeader) / MpmcRing::record_bytes(8);
  EXPECT_EQ(line, std::to_string(fit) + " full") << "full() for the producer whose put would wait";
  EXPECT_EQ(q.qsize(), fit);
  // Another handle: the lane engine would give its puts a lane of their own.
  EXPECT_EQ(q.full(), q.engine() != Engine::lanes);
}

TEST(QueueTooLarge, MessageLargerThanMaxMessageIsTooLargeAtOnceEvenWhenWaitingForever) {
  UniqueName name("too-large");
  Queue q = make_queue(name, {.max_message = 100});
  Child c = test::fork_child([&](int out) {
    Queue p = open_queue(name);
    const std::string big(101, 'x');
    const std::string fits(100, 'y');
    test::write_line(out, std::string(to_string(p.put(big, forever))) + " " + to_string(p.put(fits, forever)));
    return 0;
  });
  EXPECT_EQ(c.read_line(10s), "too_large ok");
  ASSERT_EQ(c.wait(), 0);
  EXPECT_EQ(q.get().bytes.size(), 100u);
}

TEST(QueueTooLarge, MaxMessageThatCannotFitIsRefusedAtCreate) {
  UniqueName name("too-large-create");
  auto q = Queue::create(name, {.capacity_bytes = 4096, .max_message = 4000});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, Errc::invalid_argument);
}

// ---- close ------------------------------------------------------------------------

TEST(QueueClose, CloseWakesABlockedGetterAtOnce) {
  UniqueName name("close-get");
  Queue q = make_queue(name);
  Child peer = spawn_peer({"get", name.str(), "-1"});
  ASSERT_EQ(peer.read_line(), "ready");
  ::usleep(200'000);  // let it park
  const std::int64_t closed_at = platform::monotonic_ns();
  q.close();
  const Outcome o = parse_outcome(peer.read_line());
  ASSERT_EQ(peer.wait(), 0);
  expect_woken_by(o, "closed", closed_at);
}

TEST(QueueClose, CloseWakesABlockedPutterAtOnce) {
  UniqueName name("close-put");
  Queue q = make_queue(name, {.maxsize = 1});
  fill_from_child(name, 1);
  Child peer = spawn_peer({"put", name.str(), "-1", "8"});
  ASSERT_EQ(peer.read_line(), "ready");
  ::usleep(200'000);
  const std::int64_t closed_at = platform::monotonic_ns();
  q.close();
  const Outcome o = parse_outcome(peer.read_line());
  ASSERT_EQ(peer.wait(), 0);
  expect_woken_by(o, "closed", closed_at);
}

TEST(QueueClose, GetDrainsWhatIsLeftThenReportsClosed) {
  UniqueName name("close-drain");
  Queue q = make_queue(name);
  Child producer = test::fork_child([&](int) {
    Queue p = open_queue(name);
    for (int i = 0; i < 5; ++i) {
      if (p.put("m" + std::to_string(i)) != PutStatus::ok) return 1;
    }
    p.close();
    return p.put("late") == PutStatus::closed ? 0 : 2;
  });
  ASSERT_EQ(producer.wait(), 0);
  EXPECT_TRUE(q.closed());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.get(1s).text(), "m" + std::to_string(i));
  EXPECT_EQ(q.get(forever).status, GetStatus::closed);  // never blocks once closed and drained
  EXPECT_EQ(q.get_nowait().status, GetStatus::closed);
}

TEST(QueueClose, PutAfterCloseIsClosedInEveryProcess) {
  UniqueName name("close-put-later");
  Queue q = make_queue(name);
  q.close();
  Child c = test::fork_child([&](int out) {
    Queue p = open_queue(name);
    test::write_line(out, to_string(p.put("x", forever)));
    return 0;
  });
  EXPECT_EQ(c.read_line(), "closed");
  ASSERT_EQ(c.wait(), 0);
}

// ---- qsize / empty / full when quiescent -------------------------------------------

TEST(QueueObservers, QsizeEmptyFullAreExactWhenQuiescent) {
  UniqueName name("observers");
  Queue q = make_queue(name, {.maxsize = 10});
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 0u);
  fill_from_child(name, 7);
  EXPECT_EQ(q.qsize(), 7u);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  fill_from_child(name, 3);
  EXPECT_EQ(q.qsize(), 10u);
  EXPECT_TRUE(q.full());
  Child consumer = test::fork_child([&](int) {
    Queue g = open_queue(name);
    for (int i = 0; i < 10; ++i) {
      if (g.get(1s).status != GetStatus::ok) return 1;
    }
    return 0;
  });
  ASSERT_EQ(consumer.wait(), 0);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
}

// ---- blocking layer: no system calls while nobody sleeps ------------------------------

TEST(QueueBlocking, StreamingWithNobodyAsleepMakesNoWakeCalls) {
  UniqueName name("no-syscalls");
  Queue q = make_queue(name);
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 100; ++i) ASSERT_EQ(q.put_value(i), PutStatus::ok);
    for (int i = 0; i < 100; ++i) {
      int v = -1;
      ASSERT_EQ(q.get_value(v), GetStatus::ok);
      ASSERT_EQ(v, i);
    }
  }
  EXPECT_EQ(q.stats().futex_wakes, 0u);
  EXPECT_EQ(q.stats().futex_waits, 0u);
}

// ---- roles: one producer and one consumer process at a time ------------------------------

TEST(QueueRoles, InheritedHandleWorksInChildrenThatTakeTheRoles) {
  // Tutorial scenario 2: the parent creates the queue; a writer child and a
  // reader child use the handle they inherited.
  UniqueName name("roles-inherit");
  Queue q = make_queue(name);
  Child writer = test::fork_child([&](int) {
    for (const char* s : {"A", "B", "C"}) {
      if (q.put(s) != PutStatus::ok) return 1;
      ::usleep(10'000);
    }
    return 0;
  });
  ASSERT_EQ(writer.wait(), 0);
  Child reader = test::fork_child([&](int out) {
    std::string all;
    while (!q.empty()) all += q.get_nowait().text();
    test::write_line(out, all);
    return 0;
  });
  EXPECT_EQ(reader.read_line(), "ABC");
  ASSERT_EQ(reader.wait(), 0);
}

TEST(QueueRoles, SecondLiveProducerIsRefusedAndTheRoleIsFreedWhenTheFirstLetsGo) {
  UniqueName name("roles-second");
  Queue q = make_queue(name, {.engine = Engine::spsc});
  auto try_to_produce = [&] {
    Child c = test::fork_child([&](int out) {
      Queue p = open_queue(name);
      const PutStatus put = p.put_nowait("theirs");
      OpenOptions o;
      o.role = Role::producer;
      auto again = Queue::open(name, o);
      test::write_line(out, std::string(to_string(put)) + " " +
                                (again ? "opened" : (again.error() == Errc::role_taken ? "role_taken" : "other")));
      return 0;
    });
    std::string line = c.read_line();
    EXPECT_EQ(c.wait(), 0);
    return line;
  };
  {
    Queue mine = open_queue(name);
    ASSERT_EQ(mine.put("mine"), PutStatus::ok);  // this process is the producer now
    EXPECT_EQ(mine.roles_held(), Role::producer);
    EXPECT_EQ(try_to_produce(), "role_taken role_taken");
  }  // the handle gives the role back
  // Now the child's first handle takes the role, so its second handle is
  // refused too: two handles of one process must not both produce.
  EXPECT_EQ(try_to_produce(), "ok role_taken");
  EXPECT_EQ(q.get().text(), "mine");
  EXPECT_EQ(q.get().text(), "theirs");
}

TEST(QueueRoles, ProducerKilledMidStreamIsReplacedWithoutLosingCommittedMessages) {
  UniqueName name("roles-kill");
  Queue q = make_queue(name, {.capacity_bytes = 64 << 10});
  const test::Traffic t{3, 1, 512};
  // The first producer streams until it is killed at a random point.
  Child first = test::fork_child([&](int) {
    Queue p = open_queue(name, Role::producer);
    (void)test::run_producer(p, t, ~0ull >> 1);
    return 0;
  });
  std::uint64_t seq = 0;
  std::vector<std::byte> buf;
  const std::int64_t stop_at = platform::monotonic_ns() + 150 * kMs;
  while (platform::monotonic_ns() < stop_at) {
    ASSERT_EQ(q.get_into(buf, 5s), GetStatus::ok);
    ASSERT_TRUE(t.check(seq, buf)) << seq;
    ++seq;
  }
  first.kill(SIGKILL);
  EXPECT_EQ(first.wait(), 128 + SIGKILL);
  // Everything it committed is still delivered, in order.
  while (q.get_into(buf, nowait) == GetStatus::ok) {
    ASSERT_TRUE(t.check(seq, buf)) << seq;
    ++seq;
  }
  // A new producer takes the role over and the sequence of records continues.
  Queue p = open_queue(name, Role::producer);
  ASSERT_EQ(p.put("after"), PutStatus::ok);
  EXPECT_EQ(q.get(1s).text(), "after");
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(QueueRoles, StoppedProducerIsNeverTakenForDeadAndLosesNothing) {
  UniqueName name("roles-stop");
  Queue q = make_queue(name, {.engine = Engine::spsc, .capacity_bytes = 64 << 10});
  const test::Traffic t{8, 1, 512};
  constexpr std::uint64_t kCount = 200'000;
  Child producer = test::fork_child([&](int) {
    Queue p = open_queue(name, Role::producer);
    return test::run_producer(p, t, kCount).messages == kCount ? 0 : 1;
  });
  std::vector<std::byte> buf;
  std::uint64_t seq = 0;
  for (; seq < 10'000; ++seq) {
    ASSERT_EQ(q.get_into(buf, 5s), GetStatus::ok);
    ASSERT_TRUE(t.check(seq, buf)) << seq;
  }
  producer.kill(SIGSTOP);
  // Stopped for 1.5 s (a stop may last any time): the role stays its own.
  const std::int64_t resume_at = platform::monotonic_ns() + 1500 * kMs;
  while (q.get_into(buf, nowait) == GetStatus::ok) {  // drain what it had put
    ASSERT_TRUE(t.check(seq, buf)) << seq;
    ++seq;
  }
  Child usurper = test::fork_child([&](int out) {
    OpenOptions o;
    o.role = Role::producer;
    auto other = Queue::open(name, o);
    test::write_line(out, other ? "took the role" : (other.error() == Errc::role_taken ? "role_taken" : "other"));
    return 0;
  });
  EXPECT_EQ(usurper.read_line(), "role_taken");
  EXPECT_EQ(usurper.wait(), 0);
  EXPECT_EQ(q.get_into(buf, 300ms), GetStatus::empty);  // nobody else wrote meanwhile
  platform::sleep_until_ns(resume_at);
  producer.kill(SIGCONT);
  for (; seq < kCount; ++seq) {
    ASSERT_EQ(q.get_into(buf, 5s), GetStatus::ok) << seq;
    ASSERT_TRUE(t.check(seq, buf)) << seq;
  }
  EXPECT_EQ(producer.wait(), 0);
  EXPECT_TRUE(q.empty());
}

TEST(QueueRoles, ConsumerKilledMidStreamIsReplacedLosingAtMostTheMessageItHeld) {
  UniqueName name("roles-kill-consumer");
  Queue q = make_queue(name, {.capacity_bytes = 64 << 10});
  test::expect_consumer_replaced_after_kill(q, name, test::Traffic{4, 1, 512}, 300'000);
}

// The identity the JetStream bridge names messages by (read_seq/put_seq): a
// consumer killed between read() and release() leaves its message queued,
// and the next consumer reads it under the same number.
TEST(QueueSeq, ReadSeqOfAnUnreleasedMessageSurvivesTheConsumersKill) {
  UniqueName name("seq-kill");
  Queue q = make_queue(name, {.engine = Engine::spsc});
  EXPECT_EQ(q.put_seq(), std::nullopt);  // no role yet
  for (int i = 0; i < 5; ++i) ASSERT_EQ(q.put("m" + std::to_string(i)), PutStatus::ok);
  EXPECT_EQ(q.put_seq(), 5u);
  EXPECT_EQ(q.read_seq(), std::nullopt);
  Child c = test::fork_child([&](int out) {
    Queue r = open_queue(name);
    for (int i = 0; i < 2; ++i) {
      if (r.read(nowait).status != GetStatus::ok) return 1;
      r.release();
    }
    const GetView v = r.read(nowait);
    if (v.status != GetStatus::ok) return 1;
    test::write_line(out, std::string(reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size()) + " " +
                              std::to_string(r.read_seq().value_or(99)));
    ::pause();  // killed holding m2
    return 0;
  });
  EXPECT_EQ(c.read_line(), "m2 2");
  c.kill(SIGKILL);
  (void)c.wait();
  Queue r = open_queue(name);
  const GetView v = r.read(nowait);
  ASSERT_EQ(v.status, GetStatus::ok);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size()), "m2");
  EXPECT_EQ(r.read_seq(), 2u);
  r.release();
  EXPECT_EQ(r.read_seq(), 3u);
}

TEST(QueueSeq, OtherEnginesAndFixedSizeQueuesHaveNoSeq) {
  for (const QueueOptions& o : {QueueOptions{.engine = Engine::lanes}, QueueOptions{.engine = Engine::mpmc},
                                QueueOptions{.engine = Engine::spsc, .message_size = 8}}) {
    UniqueName name("seq-none");
    Queue q = make_queue(name, o);
    ASSERT_EQ(q.put_value(std::uint64_t{7}), PutStatus::ok);
    ASSERT_EQ(q.read(nowait).status, GetStatus::ok);
    EXPECT_EQ(q.put_seq(), std::nullopt);
    EXPECT_EQ(q.read_seq(), std::nullopt);
    q.release();
  }
}

std::string text_of(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Read-ahead: a window of messages shown, none taken until release_ahead;
// the ring wraps (padding records) many times under it.
TEST(QueueAhead, ShowsMessagesInOrderAndTakesOnlyWhatIsReleased) {
  UniqueName name("ahead-wrap");
  Queue q = make_queue(name, {.engine = Engine::spsc, .capacity_bytes = 4096});
  Queue r = open_queue(name);
  std::uint64_t next_put = 0, next_read = 0, released = 0;
  std::vector<std::string> shown;
  for (int round = 0; round < 2000; ++round) {
    // Sizes that do not divide the ring: records land across its end.
    while (q.put_nowait("m" + std::to_string(next_put) + std::string(static_cast<std::size_t>(next_put % 37), 'x')) ==
           PutStatus::ok) {
      ++next_put;
    }
    for (int k = 0; k < 5; ++k) {
      const AheadView v = r.read_ahead();
      if (v.status == AheadStatus::empty) break;
      ASSERT_EQ(v.status, AheadStatus::ok);
      ASSERT_EQ(v.seq, next_read);
      ASSERT_EQ(text_of(v.bytes),
                "m" + std::to_string(next_read) + std::string(static_cast<std::size_t>(next_read % 37), 'x'));
      ++next_read;
    }
    const std::uint64_t n = (next_read - released + 1) / 2;
    r.release_ahead(static_cast<std::size_t>(n));
    released += n;
    ASSERT_EQ(r.read_seq(), released);
    ASSERT_EQ(q.qsize(), next_put - released);
  }
  EXPECT_GT(next_put, 10000u);
}

TEST(QueueAhead, AConsumerKilledWithAWindowLeavesItQueuedUnderTheSameNumbers) {
  UniqueName name("ahead-kill");
  Queue q = make_queue(name, {.engine = Engine::spsc});
  for (int i = 0; i < 10; ++i) ASSERT_EQ(q.put("m" + std::to_string(i)), PutStatus::ok);
  Child c = test::fork_child([&](int out) {
    Queue r = open_queue(name);
    for (int i = 0; i < 6; ++i) {
      if (r.read_ahead().status != AheadStatus::ok) return 1;
    }
    r.release_ahead(2);  // m0, m1 taken; m2..m5 shown
    test::write_line(out, "ready");
    ::pause();
    return 0;
  });
  EXPECT_EQ(c.read_line(), "ready");
  c.kill(SIGKILL);
  (void)c.wait();
  Queue r = open_queue(name);
  for (std::uint64_t i = 2; i < 10; ++i) {
    const AheadView v = r.read_ahead();
    ASSERT_EQ(v.status, AheadStatus::ok);
    EXPECT_EQ(v.seq, i);
    EXPECT_EQ(text_of(v.bytes), "m" + std::to_string(i));
  }
  EXPECT_EQ(r.read_ahead().status, AheadStatus::empty);
  r.release_ahead(100);  // more than shown: the 8 shown
  EXPECT_EQ(q.qsize(), 0u);
  q.close();
  EXPECT_EQ(r.read_ahead().status, AheadStatus::closed);
}

// The same with the window across the ring's end (a padding record among
// the shown ones), released in part and then whole before the kill.
TEST(QueueAhead, AKilledWindowAcrossTheRingsEndStaysQueuedInOrder) {
  UniqueName name("ahead-kill-wrap");
  Queue q = make_queue(name, {.engine = Engine::spsc, .capacity_bytes = 4096});
  const auto text = [](std::uint64_t i) {
    return "m" + std::to_string(i) + std::string(static_cast<std::size_t>(100 + i % 29), 'y');
  };
  std::uint64_t next = 0;
  {
    // Move the head on (a handle of its own: the consumer role goes with it).
    Queue g = open_queue(name);
    for (int i = 0; i < 30; ++i) {
      ASSERT_EQ(q.put(text(next++)), PutStatus::ok);
      ASSERT_EQ(g.get().status, GetStatus::ok);
    }
  }
  const std::uint64_t first = next;
  while (q.put_nowait(text(next)) == PutStatus::ok) ++next;
  ASSERT_GT(next - first, 20u);
  Child c = test::fork_child([&](int out) {
    Queue r = open_queue(name);
    for (std::uint64_t i = first; i < next; ++i) {
      const AheadView v = r.read_ahead();
      if (v.status != AheadStatus::ok || v.seq != i || text_of(v.bytes) != text(i)) return 1;
    }
    r.release_ahead(3);  // in part: the headers are walked
    for (int k = 0; k < 3; ++k) {
      if (r.read_ahead().status != AheadStatus::empty) return 2;
    }
    test::write_line(out, "ready");
    ::pause();
    return 0;
  });
  EXPECT_EQ(c.read_line(), "ready");
  c.kill(SIGKILL);
  (void)c.wait();
  Queue r = open_queue(name);
  for (std::uint64_t i = first + 3; i < next; ++i) {
    const AheadView v = r.read_ahead();
    ASSERT_EQ(v.status, AheadStatus::ok);
    ASSERT_EQ(v.seq, i);
    ASSERT_EQ(text_of(v.bytes), text(i));
  }
  r.release_ahead(static_cast<std::size_t>(next - first - 3));  // whole: the head goes to the end of the last shown
  EXPECT_EQ(r.read_seq(), next);
  EXPECT_EQ(q.qsize(), 0u);
  ASSERT_EQ(q.put(text(next)), PutStatus::ok);
  const AheadView v = r.read_ahead();
  ASSERT_EQ(v.status, AheadStatus::ok);
  EXPECT_EQ(v.seq, next);
  EXPECT_EQ(text_of(v.bytes), text(next));
}

TEST(QueueAhead, AGetTakesTheOldestShownAndOtherEnginesAreUnsupported) {
  UniqueName name("ahead-mix");
  Queue q = make_queue(name, {.engine = Engine::spsc});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(q.put("m" + std::to_string(i)), PutStatus::ok);
  ASSERT_EQ(q.read_ahead().seq, 0u);
  ASSERT_EQ(q.read_ahead().seq, 1u);
  EXPECT_EQ(q.get_nowait().text(), "m0");  // the oldest shown
  q.release_ahead(1);                      // m1
  const AheadView v = q.read_ahead();
  EXPECT_EQ(v.seq, 2u);
  EXPECT_EQ(text_of(v.bytes), "m2");
  UniqueName lanes("ahead-lanes");
  Queue l = make_queue(lanes);
  ASSERT_EQ(l.put("x"), PutStatus::ok);
  EXPECT_EQ(l.read_ahead().status, AheadStatus::unsupported);
  l.release_ahead(1);  // does nothing
  EXPECT_EQ(l.qsize(), 1u);
  Queue moved = std::move(l);
  EXPECT_EQ(l.read_ahead().status, AheadStatus::handle_closed);  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace shmring
