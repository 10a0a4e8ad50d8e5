// The one-owner Pipe (PipeOptions::one_owner, pipe.hpp), across real
// processes: forked children and shmring_pipe_peer, a separately started
// executable that opens an end by name. Python's Pipe semantics: duplex and
// one-way pipes, EOF after the other end closed or died (SIGKILL, measured
// from the kill), BrokenPipe for a writer whose reader is gone, timeouts,
// recv_bytes_into too small, send_bytes ranges, one owner per end, hostile
// files. The default kind, shared ends, is tested in pipe_shared_test.cpp.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "process.hpp"
#include "queue_helpers.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using platform::monotonic_ns;
using platform::SegmentHeaderLayout;
using test::Child;
using test::kMs;
using test::UniqueName;

// Every pipe here is a one-owner pipe.
std::pair<Connection, Connection> make_pipe(const UniqueName& name, PipeOptions o = {}) {
  o.one_owner = true;
  return test::or_throw(Pipe::create(name, o));
}

Connection open_end(const UniqueName& name, End end) { return test::or_throw(Connection::open(name, end)); }

// A test's pipe: a new one under a unique name (removed at the end), its
// ends a and b.
struct TestPipe {
  explicit TestPipe(PipeOptions o = {}, const char* tag = "pipe") : name(tag), ends(make_pipe(name, o)) {}
  UniqueName name;
  std::pair<Connection, Connection> ends;
  Connection& a = ends.first;
  Connection& b = ends.second;
};

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// A message whose contents depend on (round, length): checked byte by byte.
std::string message(std::uint64_t round, std::size_t length) {
  std::string s = "ping " + std::to_string(round) + ":";
  while (s.size() < length) s.push_back(static_cast<char>('a' + (round + s.size()) % 26));
  return s;
}

// ---- a conversation ----------------------------------------------------------------

// `rounds` pings from `a` (of min_length + rng() % spread bytes, seeded),
// each answered by "pong <ping>" from the other end, checked byte by byte.
void ping_pong(Connection& a, int rounds, std::uint64_t seed, std::size_t min_length, std::size_t spread) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < rounds; ++i) {
    const std::string ping =
        message(static_cast<std::uint64_t>(i), min_length + static_cast<std::size_t>(rng() % spread));
    ASSERT_EQ(a.send(ping), ConnStatus::ok);
    ConnMessage m = a.recv(10s);
    ASSERT_EQ(m.status, ConnStatus::ok) << to_string(m.status) << " in round " << i;
    ASSERT_EQ(m.text(), "pong " + ping) << "round " << i;
  }
}

TEST(Pipe, DuplexConversationWithForkedChildChecksEveryByte) {
  TestPipe p({.capacity_bytes = 16384});
  constexpr int kRounds = 2000;
  Child child = test::fork_child([&p](int) {
    // The child uses its inherited copy of end b: it takes the end on first use.
    for (int i = 0;; ++i) {
      ConnMessage m = p.b.recv();
      if (m.status == ConnStatus::closed) return i == kRounds ? 0 : 10;
      if (!m) return 11;
      if (m.text().substr(0, 5) != "ping ") return 12;
      if (p.b.send("pong " + std::string(m.text())) != ConnStatus::ok) return 13;
    }
  });
  ASSERT_NO_FATAL_FAILURE(ping_pong(p.a, kRounds, 7, 8, 3000));
  EXPECT_FALSE(p.b.attached());  // the parent never used its copy of b
  p.a.close();                   // the child's recv drains, then sees EOF
  EXPECT_EQ(child.wait(), 0);
}

TEST(Pipe, DuplexConversationWithSeparatelyStartedPeer) {
  TestPipe p;
  p.b.close();  // never taken here: only this handle ends; the peer opens end b by name
  Child peer = test::spawn(test::pipe_peer_path(), {"echo", p.name.str(), "b"});
  ASSERT_EQ(peer.read_line(), "ready");
  constexpr int kRounds = 1000;
  ASSERT_NO_FATAL_FAILURE(ping_pong(p.a, kRounds, 11, 1, 5000));
  p.a.close();
  EXPECT_EQ(peer.read_line(), "done " + std::to_string(kRounds));
  EXPECT_EQ(peer.wait(), 0);
}

// ---- one-way pipes -------------------------------------------------------------------

TEST(Pipe, OneWayPipeReceivesOnEndAAndSendsOnEndB) {
  UniqueName name("pipe");
  auto ends = make_pipe(name, {.duplex = false});
  Connection& r = ends.first;
  Connection& w = ends.second;
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  // Misuse: clear statuses, at once, and nothing is sent or taken.
  EXPECT_EQ(r.send("x"), ConnStatus::not_writable);
  EXPECT_EQ(r.send_value(std::uint64_t{1}), ConnStatus::not_writable);
  EXPECT_EQ(w.recv(nowait).status, ConnStatus::not_readable);
  EXPECT_EQ(w.recv(1s).status, ConnStatus::not_readable);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(w.recv_bytes_into(buf).status, ConnStatus::not_readable);
  EXPECT_TRUE(w.poll(1s)) << "a recv on the send end returns at once, so poll says so";
  EXPECT_FALSE(r.attached());
  EXPECT_FALSE(w.attached());

  Child writer = test::fork_child([&w](int) {
    for (int i = 0; i < 500; ++i) {
      if (w.send_value(static_cast<std::uint64_t>(i)) != ConnStatus::ok) return 10;
    }
    if (w.recv(nowait).status != ConnStatus::not_readable) return 11;
    w.close();
    return 0;
  });
  for (std::uint64_t i = 0; i < 500; ++i) {
    std::uint64_t v = ~0ull;
    ASSERT_EQ(r.recv_value(v, 10s), ConnStatus::ok) << i;
    ASSERT_EQ(v, i);
  }
  EXPECT_EQ(r.recv(10s).status, ConnStatus::closed);
  EXPECT_EQ(r.send("x"), ConnStatus::not_writable);
  EXPECT_EQ(writer.wait(), 0);
}

TEST(Pipe, OneWayEndsOpenedByNameKeepTheirDirection) {
  UniqueName name("pipe");
  { auto ends = make_pipe(name, {.duplex = false}); }
  Connection r = open_end(name, End::a);
  Connection w = open_end(name, End::b);
  EXPECT_EQ(w.send("one way"), ConnStatus::ok);
  EXPECT_EQ(w.recv(nowait).status, ConnStatus::not_readable);
  EXPECT_EQ(r.send("back"), ConnStatus::not_writable);
  EXPECT_EQ(r.recv(1s).text(), "one way");
}

// ---- EOF and BrokenPipe --------------------------------------------------------------

TEST(Pipe, RecvDrainsEverythingSentBeforeCloseThenReportsClosed) {
  TestPipe p;
  Child writer = test::fork_child([&p](int) {
    for (int i = 0; i < 5; ++i) {
      if (p.b.send("m" + std::to_string(i)) != ConnStatus::ok) return 10;
    }
    p.b.close();
    return p.b.send("late") == ConnStatus::handle_closed ? 0 : 11;
  });
  EXPECT_EQ(writer.wait(), 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.a.recv(1s).text(), "m" + std::to_string(i));
  EXPECT_EQ(p.a.recv(forever).status, ConnStatus::closed);
  EXPECT_EQ(p.a.recv(nowait).status, ConnStatus::closed);
  EXPECT_TRUE(p.a.poll()) << "poll is true at EOF: recv would not block";
  EXPECT_EQ(p.a.send("to nobody"), ConnStatus::closed) << "the other end is closed: BrokenPipe";
}

TEST(Pipe, CloseWakesABlockedReaderAtOnce) {
  TestPipe p;
  Child peer = test::spawn(test::pipe_peer_path(), {"recv", p.name.str(), "b", "-1"});
  ASSERT_EQ(peer.read_line(), "ready");
  std::this_thread::sleep_for(100ms);  // the peer parks in recv(forever)
  ASSERT_EQ(p.a.attach(), ConnStatus::ok);
  const std::int64_t t_close = monotonic_ns();
  p.a.close();
  const std::string line = peer.read_line();
  long long t0 = 0, t1 = 0;
  char status[32] = {0};
  ASSERT_EQ(std::sscanf(line.c_str(), "%31s %lld %lld", status, &t0, &t1), 3) << line;
  EXPECT_STREQ(status, "closed");
  std::printf("reader woken %.3f ms after close()\n", static_cast<double>(t1 - t_close) / 1e6);
  EXPECT_LT(t1 - t_close, 2000 * kMs);
  EXPECT_EQ(peer.wait(), 0);
}

TEST(Pipe, WriterWhoseReaderClosedGetsClosedAlsoWhenBlockedOnAFullPipe) {
  TestPipe p({.capacity_bytes = 4096});
  test::SharedMemory<std::atomic<int>> phase;
  Child reader = test::fork_child([&](int) {
    if (p.a.attach() != ConnStatus::ok) return 10;
    phase->store(1);
    while (phase->load() != 2) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);  // the writer is blocked in send now
    p.a.close();
    return 0;
  });
  while (phase->load() != 1) std::this_thread::sleep_for(1ms);
  const std::string chunk(1000, 'z');
  int sent = 0;
  while (p.b.send(chunk, nowait) == ConnStatus::ok) ++sent;
  EXPECT_GT(sent, 0);
  EXPECT_EQ(p.b.send(chunk, nowait), ConnStatus::full);
  phase->store(2);
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(p.b.send(chunk, 10s), ConnStatus::closed);
  EXPECT_LT(monotonic_ns() - t0, 5000 * kMs);
  EXPECT_EQ(p.b.send("again"), ConnStatus::closed);
  EXPECT_EQ(reader.wait(), 0);
}

TEST(Pipe, WriterWhoseReaderWasKilledGetsClosed) {
  TestPipe p({.capacity_bytes = 4096});
  test::SharedMemory<std::atomic<int>> phase;
  Child reader = test::fork_child([&](int) {
    if (p.a.attach() != ConnStatus::ok) return 10;
    phase->store(1);
    for (;;) ::pause();
  });
  while (phase->load() != 1) std::this_thread::sleep_for(1ms);
  const std::string chunk(1000, 'z');
  while (p.b.send(chunk, nowait) == ConnStatus::ok) {
  }
  // Blocked on the full pipe when the reader dies: closed within a slice or so.
  Child killer = test::fork_child([&](int) {
    std::this_thread::sleep_for(100ms);
    ::kill(reader.pid(), SIGKILL);
    return 0;
  });
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(p.b.send(chunk, 10s), ConnStatus::closed);
  const double ms = static_cast<double>(monotonic_ns() - t0) / 1e6;
  std::printf("blocked writer got closed %.1f ms after it started waiting (kill at ~100 ms)\n", ms);
  EXPECT_GE(ms, 90.0);
  EXPECT_EQ(killer.wait(), 0);
  // A send with room is refused too, once the reader's death is noticed.
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(p.b.send("x", nowait), ConnStatus::closed);
}

// The must-show: a reader blocked in recv (or busy reading) when the writer
// is killed with SIGKILL returns closed within 100 ms of the kill, after
// every message the writer committed, in order. The 100 ms exclude the time
// the reader spent runnable but not running (its /proc schedstat run-queue
// delay), as in lock_death_test: at nice 19 on a loaded machine the
// scheduler alone can withhold the CPU for longer. Both figures are printed.
// (The run-queue figure counts a wait when it ends, so a wait that began
// before the kill can make the adjusted figure too small, even negative; the
// raw figure is the honest upper bound.)
TEST(Pipe, ReaderGetsClosedWithin100msOfTheWritersSigkill) {
  struct Report {
    std::atomic<std::int64_t> closed_at;
    std::atomic<std::int64_t> rq_at_close;
    std::atomic<std::uint64_t> received;
    std::atomic<std::uint64_t> bad;
    std::atomic<int> drained;
    std::atomic<int> last_status;
  };
  constexpr int kRounds = 16;
  std::int64_t worst_raw = 0, worst_adjusted = 0;
  std::mt19937_64 rng(2024);
  for (int round = 0; round < kRounds; ++round) {
    const bool streaming = round % 2 == 1;  // even rounds: the reader is parked in recv
    TestPipe p({.capacity_bytes = 65536}, "pipe-kill");
    test::SharedMemory<Report> rep;
    Child writer = test::fork_child([&p, streaming](int) {
      for (std::uint64_t i = 0;; ++i) {
        if (!streaming && i == 100) {
          for (;;) ::pause();
        }
        if (p.b.send_value(i) != ConnStatus::ok) return 10;
      }
    });
    Child reader = test::fork_child([&p, &rep](int) {
      for (std::uint64_t i = 0;; ++i) {
        if (i == 100) rep->drained.store(1);
        std::uint64_t v = 0;
        const ConnStatus st = p.a.recv_value(v, 30s);
        if (st != ConnStatus::ok) {
          rep->closed_at.store(monotonic_ns());
          rep->rq_at_close.store(test::runqueue_wait_ns(::getpid()));
          rep->received.store(i);
          rep->last_status.store(static_cast<int>(st));
          return 0;
        }
        if (v != i) rep->bad.fetch_add(1);
      }
    });
    while (rep->drained.load() == 0) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(streaming ? 1 + rng() % 20 : 40));
    const std::int64_t rq_before = test::runqueue_wait_ns(reader.pid());
    const std::int64_t t_kill = monotonic_ns();
    writer.kill(SIGKILL);
    ASSERT_EQ(reader.wait(60s), 0);
    ASSERT_EQ(static_cast<ConnStatus>(rep->last_status.load()), ConnStatus::closed)
        << to_string(static_cast<ConnStatus>(rep->last_status.load()));
    EXPECT_EQ(rep->bad.load(), 0u) << "messages out of order or damaged";
    EXPECT_GE(rep->received.load(), 100u);
    const std::int64_t raw = rep->closed_at.load() - t_kill;
    const std::int64_t rq = rep->rq_at_close.load() - rq_before;
    const std::int64_t adjusted = raw - (rq > 0 ? rq : 0);
    worst_raw = std::max(worst_raw, raw);
    worst_adjusted = std::max(worst_adjusted, adjusted);
    std::printf("round %2d (%s): closed %.2f ms after the kill (%.2f ms without run-queue delay), %llu messages\n",
                round, streaming ? "streaming" : "parked", static_cast<double>(raw) / 1e6,
                static_cast<double>(adjusted) / 1e6, static_cast<unsigned long long>(rep->received.load()));
    // Under qemu-user the reader drains what was queued several times slower
    // than natively: the bound there is a second.
    const std::int64_t bound = std::getenv("SHMRING_TEST_EMULATOR") == nullptr ? 100 * kMs : 1000 * kMs;
    EXPECT_LT(adjusted, bound) << "round " << round;
    EXPECT_LT(raw, 10'000 * kMs) << "round " << round << ": a hang, whatever the scheduler did";
  }
  std::printf("worst: %.2f ms after the kill, %.2f ms without run-queue delay\n", static_cast<double>(worst_raw) / 1e6,
              static_cast<double>(worst_adjusted) / 1e6);
}

TEST(Pipe, AStoppedWriterIsNotDead) {
  TestPipe p;
  test::SharedMemory<std::atomic<int>> phase;
  Child writer = test::fork_child([&](int) {
    if (p.b.send("hello") != ConnStatus::ok) return 10;
    phase->store(1);
    for (;;) ::pause();
  });
  while (phase->load() != 1) std::this_thread::sleep_for(1ms);
  writer.kill(SIGSTOP);
  EXPECT_EQ(p.a.recv(1s).text(), "hello");
  EXPECT_EQ(p.a.recv(200ms).status, ConnStatus::empty) << "SIGSTOP is not death";
  EXPECT_FALSE(p.a.poll(100ms));
  writer.kill(SIGCONT);
}

// ---- timeouts ---------------------------------------------------------------------------

TEST(Pipe, PollRecvAndSendTimeOutNoEarlierThanAsked) {
  TestPipe p({.capacity_bytes = 4096});
  ASSERT_EQ(p.b.attach(), ConnStatus::ok);  // a live writer: no EOF
  for (const auto wait : {0ms, 30ms, 150ms}) {
    std::int64_t t0 = monotonic_ns();
    EXPECT_FALSE(p.a.poll(wait));
    EXPECT_GE(monotonic_ns() - t0, wait.count() * kMs);
    t0 = monotonic_ns();
    EXPECT_EQ(p.a.recv(wait).status, ConnStatus::empty);
    EXPECT_GE(monotonic_ns() - t0, wait.count() * kMs);
  }
  const std::string chunk(500, 'q');
  while (p.b.send(chunk, nowait) == ConnStatus::ok) {
  }
  for (const auto wait : {0ms, 30ms, 150ms}) {
    const std::int64_t t0 = monotonic_ns();
    EXPECT_EQ(p.b.send(chunk, wait), ConnStatus::full);
    EXPECT_GE(monotonic_ns() - t0, wait.count() * kMs);
  }
  EXPECT_TRUE(p.a.poll(nowait));
}

TEST(Pipe, RecvTimeoutInASeparatelyStartedPeer) {
  TestPipe p;
  ASSERT_EQ(p.a.attach(), ConnStatus::ok);
  Child peer = test::spawn(test::pipe_peer_path(), {"recv", p.name.str(), "b", "150"});
  ASSERT_EQ(peer.read_line(), "ready");
  const std::string line = peer.read_line();
  long long t0 = 0, t1 = 0;
  char status[32] = {0};
  ASSERT_EQ(std::sscanf(line.c_str(), "%31s %lld %lld", status, &t0, &t1), 3) << line;
  EXPECT_STREQ(status, "empty");
  EXPECT_GE(t1 - t0, 150 * kMs);
  EXPECT_EQ(peer.wait(), 0);
}

// ---- buffers and ranges ---------------------------------------------------------------

TEST(Pipe, RecvBytesIntoATooSmallBufferLeavesTheMessageAndSaysWhatItNeeds) {
  TestPipe p;
  const std::string msg = "twenty-one bytes long";
  ASSERT_EQ(msg.size(), 21u);
  ASSERT_EQ(p.a.send(msg), ConnStatus::ok);
  std::array<std::byte, 32> buf{};
  RecvInto r = p.b.recv_bytes_into(std::span(buf).first(20));
  EXPECT_EQ(r.status, ConnStatus::too_short);
  EXPECT_EQ(r.size, 21u);
  r = p.b.recv_bytes_into(buf, 12);  // 20 bytes after the offset: still too short
  EXPECT_EQ(r.status, ConnStatus::too_short);
  EXPECT_EQ(r.size, 21u);
  EXPECT_EQ(p.b.recv_bytes_into(buf, 33).status, ConnStatus::out_of_range);
  EXPECT_TRUE(p.b.poll()) << "the message is still queued";
  r = p.b.recv_bytes_into(buf, 11);
  ASSERT_EQ(r.status, ConnStatus::ok);
  EXPECT_EQ(r.size, 21u);
  EXPECT_EQ(std::memcmp(buf.data() + 11, msg.data(), msg.size()), 0);
  EXPECT_EQ(buf[10], std::byte{0}) << "nothing written before the offset";
  // An empty message fits anywhere, also at offset == size.
  ASSERT_EQ(p.a.send(std::span<const std::byte>{}), ConnStatus::ok);
  r = p.b.recv_bytes_into(buf, buf.size());
  EXPECT_EQ(r.status, ConnStatus::ok);
  EXPECT_EQ(r.size, 0u);
}

TEST(Pipe, SendBytesChecksOffsetAndSizeAndSendsExactlyTheRange) {
  TestPipe p;
  const std::string s = "0123456789";
  const auto buf = bytes_of(s);
  EXPECT_EQ(p.a.send_bytes(buf, 11), ConnStatus::out_of_range);
  EXPECT_EQ(p.a.send_bytes(buf, 0, 11), ConnStatus::out_of_range);
  EXPECT_EQ(p.a.send_bytes(buf, 5, 6), ConnStatus::out_of_range);
  EXPECT_EQ(p.a.send_bytes(buf, 1, Connection::npos - 1), ConnStatus::out_of_range) << "no overflow";
  EXPECT_FALSE(p.b.poll()) << "nothing was sent";
  EXPECT_EQ(p.a.send_bytes(buf, 3, 4), ConnStatus::ok);
  EXPECT_EQ(p.a.send_bytes(buf, 7), ConnStatus::ok);
  EXPECT_EQ(p.a.send_bytes(buf, 10), ConnStatus::ok);
  EXPECT_EQ(p.a.send_bytes(buf), ConnStatus::ok);
  EXPECT_EQ(p.b.recv(nowait).text(), "3456");
  EXPECT_EQ(p.b.recv(nowait).text(), "789");
  EXPECT_EQ(p.b.recv(nowait).text(), "");
  EXPECT_EQ(p.b.recv(nowait).text(), s);
}

TEST(Pipe, TypedValuesAndWrongSize) {
  struct Point {
    double x, y;
    std::int32_t tag;
  };
  TestPipe p;
  ASSERT_EQ(p.a.send_value(Point{1.5, -2.5, 42}), ConnStatus::ok);
  std::uint32_t small = 0;
  EXPECT_EQ(p.b.recv_value(small, nowait), ConnStatus::wrong_size);
  Point pt{};
  ASSERT_EQ(p.b.recv_value(pt, nowait), ConnStatus::ok) << "the message stayed queued";
  EXPECT_EQ(pt.x, 1.5);
  EXPECT_EQ(pt.y, -2.5);
  EXPECT_EQ(pt.tag, 42);
  // And the other way round, in the same pipe.
  ASSERT_EQ(p.b.send_value(std::uint64_t{7}), ConnStatus::ok);
  std::uint64_t v = 0;
  EXPECT_EQ(p.a.recv_value(v, 1s), ConnStatus::ok);
  EXPECT_EQ(v, 7u);
}

TEST(Pipe, TooLargeMessagesAreRefusedAtOnce) {
  TestPipe p({.capacity_bytes = 4096, .max_message = 100});
  EXPECT_EQ(p.a.max_message(), 100u);
  EXPECT_EQ(p.a.send(std::string(101, 'x'), forever), ConnStatus::too_large);
  EXPECT_EQ(p.a.send(std::string(100, 'x'), nowait), ConnStatus::ok);
  EXPECT_FALSE(
      Pipe::create(UniqueName("pipe").str(), {.capacity_bytes = 4096, .max_message = 4096, .one_owner = true}));
}

// ---- ownership -----------------------------------------------------------------------------

TEST(Pipe, ASecondLiveOwnerOfAnEndIsRefused) {
  UniqueName name("pipe");
  { auto ends = make_pipe(name); }
  Child holder = test::spawn(test::pipe_peer_path(), {"hold", name.str(), "b", "60"});
  ASSERT_EQ(holder.read_line(), "held");
  auto second = Connection::open(name, End::b);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::role_taken);
  // Not attaching at open: the handle exists, its first use is refused.
  auto lazy = Connection::open(name, End::b, {.attach = false});
  ASSERT_TRUE(lazy) << lazy.error().message();
  EXPECT_EQ(lazy->send("x"), ConnStatus::end_taken);
  EXPECT_EQ(lazy->recv(nowait).status, ConnStatus::end_taken);
  // The other end is free; a second handle on it in the same process is refused.
  Connection a = open_end(name, End::a);
  auto again = Connection::open(name, End::a);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::role_taken);
  // Another separately started process is refused too.
  Child third = test::spawn(test::pipe_peer_path(), {"open", name.str(), "b"});
  EXPECT_EQ(third.read_line(), std::string("error ") + to_string(Errc::role_taken));
  EXPECT_EQ(third.wait(), 0);
}

TEST(Pipe, ADeadOwnersEndIsTakenOverAndItsMessagesKept) {
  TestPipe p;
  test::SharedMemory<std::atomic<int>> phase;
  Child writer = test::fork_child([&](int) {
    for (int i = 0; i < 3; ++i) {
      if (p.b.send("from the first " + std::to_string(i)) != ConnStatus::ok) return 10;
    }
    phase->store(1);
    for (;;) ::pause();
  });
  while (phase->load() != 1) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(Connection::open(p.name, End::b)) << "its owner lives";
  EXPECT_EQ(p.b.send("parent's copy"), ConnStatus::end_taken);
  writer.kill(SIGKILL);
  EXPECT_EQ(writer.wait(), 128 + SIGKILL);
  Connection b2 = open_end(p.name, End::b);  // the dead owner's end, taken over
  ASSERT_EQ(b2.send("from the second"), ConnStatus::ok);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(p.a.recv(1s).text(), "from the first " + std::to_string(i));
  EXPECT_EQ(p.a.recv(1s).text(), "from the second");
}

TEST(Pipe, AForkedCopyOfAnAttachedHandleHoldsNothingInTheChild) {
  TestPipe p;
  ASSERT_EQ(p.a.attach(), ConnStatus::ok);
  Child child = test::fork_child([&p](int) {
    if (p.a.attached()) return 10;
    if (p.a.send("from the child") != ConnStatus::end_taken) return 11;
    return 0;  // exits without closing the parent's end
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_TRUE(p.a.attached());
  EXPECT_EQ(p.a.send("from the parent"), ConnStatus::ok);
  EXPECT_EQ(p.b.recv(1s).text(), "from the parent");
}

TEST(Pipe, ClosingAnUnattachedCopyOnlyEndsThatHandle) {
  TestPipe p;
  test::SharedMemory<std::atomic<int>> phase;
  Child child = test::fork_child([&](int) {
    if (p.b.attach() != ConnStatus::ok) return 10;
    phase->store(1);
    while (phase->load() != 2) std::this_thread::sleep_for(1ms);
    return p.b.send("still open") == ConnStatus::ok ? 0 : 11;
  });
  while (phase->load() != 1) std::this_thread::sleep_for(1ms);
  p.b.close();  // Python's child_conn.close() in the parent: this copy only
  EXPECT_TRUE(p.b.closed());
  EXPECT_EQ(p.b.send("x"), ConnStatus::handle_closed);
  EXPECT_EQ(p.b.recv(nowait).status, ConnStatus::handle_closed);
  phase->store(2);
  EXPECT_EQ(p.a.recv(5s).text(), "still open");
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(p.a.recv(5s).status, ConnStatus::closed) << "the child's exit ended its end b";
}

TEST(Pipe, AClosedEndStaysClosedForLaterOpeners) {
  UniqueName name("pipe");
  {
    auto ends = make_pipe(name);
    Connection& a = ends.first;
    (void)ends.second;
    ASSERT_EQ(a.send("before"), ConnStatus::ok);
    a.close();
  }
  Connection a = open_end(name, End::a);
  EXPECT_TRUE(a.closed());
  EXPECT_EQ(a.send("x"), ConnStatus::handle_closed);
  Connection b = open_end(name, End::b);
  EXPECT_EQ(b.recv(1s).text(), "before");
  EXPECT_EQ(b.recv(1s).status, ConnStatus::closed);
}

// ---- hostile and damaged files ---------------------------------------------------------------

constexpr std::uint64_t kPayload = sizeof(SegmentHeaderLayout);  // where PipeLayout starts
constexpr std::uint64_t kConfig = kPayload + offsetof(PipeLayout, config);

testing::AssertionResult open_fails_with(const UniqueName& name, Errc want) {
  auto c = Connection::open(name, End::a, {.ready_timeout = 0ns});
  if (c) return testing::AssertionFailure() << "open succeeded; expected '" << to_string(want) << "'";
  if (c.error().code != want) {
    return testing::AssertionFailure() << "open failed with '" << c.error().message() << "'; expected '"
                                       << to_string(want) << "'";
  }
  return testing::AssertionSuccess();
}

// A fresh 4 KiB duplex pipe holding one message each way, then `edit`ed.
template <class Edit>
testing::AssertionResult edited_pipe_fails_with(Edit edit, Errc want) {
  UniqueName name("pipe-bad");
  {
    auto ends = make_pipe(name, {.capacity_bytes = 4096});
    if (ends.first.send("to b") != ConnStatus::ok || ends.second.send("to a") != ConnStatus::ok) {
      return testing::AssertionFailure() << "setup";
    }
  }
  edit(name.path());
  return open_fails_with(name, want);
}

TEST(PipeOpen, UndamagedPipeOpensAndTheLayoutIsWhereTheTestsWrite) {
  UniqueName name("pipe");
  { auto ends = make_pipe(name, {.capacity_bytes = 4096}); }
  auto c = Connection::open(name, End::a, {.ready_timeout = 0ns});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->capacity_bytes(), 4096u);
  const int fd = ::open(name.path().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::uint64_t v = 0;
  EXPECT_EQ(::pread(fd, &v, 8, kConfig + offsetof(PipeConfigLayout, capacity)), 8);
  EXPECT_EQ(v, 4096u);
  EXPECT_EQ(::pread(fd, &v, 8, offsetof(SegmentHeaderLayout, payload_offset)), 8);
  EXPECT_EQ(v, kPayload);
  ::close(fd);
}

TEST(PipeOpen, AQueueFileOpensAsNoPipeAndAPipeFileAsNoQueue) {
  UniqueName q("pipe-q");
  { auto queue = test::create_or_throw(q); }
  EXPECT_TRUE(open_fails_with(q, Errc::wrong_kind));
  Child peer = test::spawn(test::pipe_peer_path(), {"open", q.str(), "a"});
  EXPECT_EQ(peer.read_line(), std::string("error ") + to_string(Errc::wrong_kind));
  EXPECT_EQ(peer.wait(), 0);
  UniqueName p("pipe");
  { auto ends = make_pipe(p); }
  auto queue = Queue::open(p, {.ready_timeout = 0ns});
  ASSERT_FALSE(queue);
  EXPECT_EQ(queue.error().code, Errc::wrong_kind);
}

TEST(PipeOpen, TruncatedFilesFailWithTruncated) {
  for (const std::uint64_t size : {std::uint64_t{64}, kPayload + 512, kPayload + sizeof(PipeLayout) + 4096}) {
    EXPECT_TRUE(edited_pipe_fails_with(
        [size](const std::string& path) { ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0); },
        Errc::truncated))
        << "size " << size;
  }
}

TEST(PipeOpen, AFileNotYetReadyFailsWithNotReady) {
  EXPECT_TRUE(edited_pipe_fails_with(
      [](const std::string& path) { test::poke(path, offsetof(SegmentHeaderLayout, state), std::uint32_t{0}); },
      Errc::not_ready));
  // And an empty file, as a creator leaves it before its header is written.
  UniqueName name("pipe-empty");
  const int fd = ::open(name.path().c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_TRUE(open_fails_with(name, Errc::empty_file));
}

TEST(PipeOpen, DamagedConfigFailsWithAClearError) {
  const auto field = [](std::uint64_t offset, auto value, Errc want) {
    return edited_pipe_fails_with([&](const std::string& path) { test::poke(path, offset, value); }, want);
  };
  const std::uint64_t cap = kConfig + offsetof(PipeConfigLayout, capacity);
  const std::uint64_t maxmsg = kConfig + offsetof(PipeConfigLayout, max_message);
  const std::uint64_t off0 = kConfig + offsetof(PipeConfigLayout, data_offset);
  const std::uint64_t off1 = off0 + sizeof(std::uint64_t);
  const std::uint64_t duplex = kConfig + offsetof(PipeConfigLayout, duplex);
  const std::uint64_t barriers = kConfig + offsetof(PipeConfigLayout, barriers);
  EXPECT_TRUE(field(cap, std::uint64_t{5000}, Errc::bad_size));     // not a power of two
  EXPECT_TRUE(field(cap, std::uint64_t{1} << 20, Errc::bad_size));  // larger than the file
  EXPECT_TRUE(field(cap, std::uint64_t{0}, Errc::bad_size));
  EXPECT_TRUE(field(maxmsg, std::uint64_t{0}, Errc::bad_size));
  EXPECT_TRUE(field(maxmsg, std::uint64_t{4096}, Errc::bad_size));  // more than half the ring
  EXPECT_TRUE(field(off0, std::uint64_t{0}, Errc::bad_size));       // duplex without direction 0
  EXPECT_TRUE(field(off1, std::uint64_t{1} << 40, Errc::bad_size));
  EXPECT_TRUE(field(duplex, std::uint32_t{7}, Errc::corrupt));
  EXPECT_TRUE(field(duplex, std::uint32_t{0}, Errc::bad_size));  // one-way, yet direction 0 has bytes
  EXPECT_TRUE(field(barriers, std::uint32_t{9}, Errc::corrupt));
  const std::uint64_t closed = kPayload + offsetof(PipeLayout, control) + offsetof(PipeControlLayout, closed);
  EXPECT_TRUE(field(closed, std::uint32_t{5}, Errc::corrupt));
}

TEST(PipeOpen, DamagedRingPositionsFailWithCorrupt) {
  for (unsigned d = 0; d < 2; ++d) {
    const std::uint64_t ring = kPayload + offsetof(PipeLayout, direction) + d * sizeof(PipeDirectionLayout);
    const std::uint64_t tail = ring + offsetof(SpscRingLayout, producer) + offsetof(SpscProducerLayout, tail);
    const std::uint64_t head = ring + offsetof(SpscRingLayout, consumer) + offsetof(SpscConsumerLayout, head);
    const std::uint64_t got = ring + offsetof(SpscRingLayout, consumer) + offsetof(SpscConsumerLayout, get_count);
    const auto field = [](std::uint64_t offset, std::uint64_t value) {
      return edited_pipe_fails_with([&](const std::string& path) { test::poke(path, offset, value); }, Errc::corrupt);
    };
    EXPECT_TRUE(field(tail, 1u << 20)) << "direction " << d;  // beyond head + capacity
    EXPECT_TRUE(field(tail, 12)) << "direction " << d;        // misaligned
    EXPECT_TRUE(field(head, 4096)) << "direction " << d;      // head past tail
    EXPECT_TRUE(field(got, 1000)) << "direction " << d;       // more taken than sent
  }
}

// As QueueOpen.ADamagedConsumerCountDoesNotMakeAWaitingPutSpin: a pipe has
// no message limit, so a receiver's count above the sender's is not checked,
// and a send waiting for room must sleep, not spin.
TEST(PipeOpen, ADamagedReceiverCountDoesNotMakeAWaitingSendSpin) {
  TestPipe p({.capacity_bytes = 4096});
  const std::string m(100, 'x');
  while (p.a.send(m, nowait) == ConnStatus::ok) {
  }
  const std::uint64_t got = kPayload + offsetof(PipeLayout, direction) + offsetof(SpscRingLayout, consumer) +
                            offsetof(SpscConsumerLayout, get_count);  // direction 0: a -> b
  test::poke(p.name.path(), got, std::uint64_t{1} << 40);
  const test::WaitCost c = test::measure_wait([&] { EXPECT_EQ(p.a.send(m, 300ms), ConnStatus::full); });
  EXPECT_GE(c.wall_ns, 290 * test::kMs);
  EXPECT_LT(c.cpu_ns, c.wall_ns / 3) << "the waiting send used " << c.cpu_ns / test::kMs << " ms of CPU in "
                                     << c.wall_ns / test::kMs << " ms";
}

TEST(PipeOpen, AHostileRecordGivesCorruptNotACrash) {
  TestPipe p({.capacity_bytes = 4096});
  ASSERT_EQ(p.a.send("hello"), ConnStatus::ok);
  // Direction 0's first record header: claim a length far beyond the ring.
  const std::uint64_t data = kPayload + sizeof(PipeLayout) + 4096;  // direction 0 follows direction 1
  test::poke(p.name.path(), data, RecordHeader{0x7fff0000u, 0});
  EXPECT_EQ(p.b.recv(nowait).status, ConnStatus::corrupt);
  EXPECT_TRUE(p.b.poll()) << "recv returns at once (corrupt)";
}

}  // namespace
}  // namespace shmring
