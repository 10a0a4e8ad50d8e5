// The default Pipe, with ends shared by any number of handles (pipe.hpp),
// across real processes: forked children (whose inherited handles count as
// the child's from the fork on) and shmring_pipe_peer processes that open an
// end by name. Python's semantics for many processes on one end: many
// senders never corrupt and never refuse, many receivers each get distinct
// whole messages, a handle's close() closes that handle only, EOF once
// every handle of the sending end is closed or dead (after everything it
// sent), and what a killed sender or receiver costs. The one-owner kind is
// tested in pipe_test.cpp.
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using platform::monotonic_ns;
using test::Child;
using test::kMs;
using test::UniqueName;

struct SharedPipe {
  explicit SharedPipe(PipeOptions o = {}) : name("spipe"), ends(test::or_throw(Pipe::create(name, o))) {}
  UniqueName name;
  std::pair<Connection, Connection> ends;
  Connection& a = ends.first;
  Connection& b = ends.second;
};

// Receives on `c` until closed; returns every message's text, in arrival order.
std::vector<std::string> drain(Connection& c, Wait each = 30s) {
  std::vector<std::string> got;
  for (;;) {
    ConnMessage m = c.recv(each);
    if (m.status == ConnStatus::closed) return got;
    if (!m) {
      ADD_FAILURE() << "recv: " << to_string(m.status) << " after " << got.size() << " messages";
      return got;
    }
    got.emplace_back(m.text());
  }
}

// Tutorial scenario 6: ten processes send through one end; the parent
// closes its own copy of that end right after the forks (the careful
// tutorial) and receives until EOF: all ten, whole, then closed. Repeated:
// a child that has not run yet when the parent closes still counts.
TEST(SharedPipe, TenForkedSendersThroughOneEndAndTheParentReceivesAllTen) {
  EXPECT_TRUE(SharedPipe().a.shared_ends());
  for (int round = 0; round < 20; ++round) {
    SharedPipe p;
    std::vector<Child> children;
    for (int i = 0; i < 10; ++i) {
      children.push_back(
          test::fork_child([&p, i](int) { return p.b.send("hello " + std::to_string(i)) == ConnStatus::ok ? 0 : 10; }));
    }
    p.b.close();  // the parent's copy only: the children's copies keep the end open
    const std::vector<std::string> got = drain(p.a);
    const std::set<std::string> distinct(got.begin(), got.end());
    ASSERT_EQ(got.size(), 10u) << "round " << round;
    ASSERT_EQ(distinct.size(), 10u) << "round " << round;
    for (int i = 0; i < 10; ++i) EXPECT_EQ(distinct.count("hello " + std::to_string(i)), 1u);
    for (Child& c : children) EXPECT_EQ(c.wait(), 0);
  }
}

// A daemon's double fork: a child forks a grandchild and exits at once,
// before the grandchild has run. The grandchild's inherited handle counts
// from the fork on, so the end stays open until the grandchild is done.
TEST(SharedPipe, AGrandchildKeepsTheEndOpenWhenItsParentExitsRightAfterTheFork) {
  for (int round = 0; round < 30; ++round) {
    SharedPipe p;
    Child middle = test::fork_child([&p](int) {
      const int grandchild = platform::fork_process();
      if (grandchild == 0) {
        std::this_thread::sleep_for(30ms);
        platform::exit_now(p.b.send("from the grandchild") == ConnStatus::ok ? 0 : 1);
      }
      return grandchild > 0 ? 0 : 10;  // exits holding its copy; the grandchild runs on
    });
    EXPECT_EQ(middle.wait(), 0);
    p.b.close();
    ConnMessage m = p.a.recv(5s);
    ASSERT_EQ(m.status, ConnStatus::ok) << "round " << round << ": " << to_string(m.status);
    EXPECT_EQ(m.text(), "from the grandchild");
    EXPECT_EQ(p.a.recv(5s).status, ConnStatus::closed) << "EOF once the grandchild exits";
  }
}

// The same end opened by name in ten separately started processes, each
// sending 300 messages: every one arrives whole, in order per sender, and
// EOF comes once the last of them and the creator's handle are closed.
TEST(SharedPipe, TenSeparatelyStartedSendersOpenOneEndByName) {
  SharedPipe p({.capacity_bytes = 65536});
  constexpr int kSenders = 10;
  constexpr int kEach = 300;
  std::vector<Child> peers;
  for (int i = 0; i < kSenders; ++i) {
    peers.push_back(test::spawn(test::pipe_peer_path(),
                                {"send", p.name.str(), "b", std::to_string(kEach), "s" + std::to_string(i)}));
  }
  std::map<std::string, int> next;  // per sender: the number expected next
  std::size_t total = 0;
  std::vector<bool> sent(kSenders, false);
  bool closed_b = false;
  bool idle = true;  // the last recv found nothing: look at the peers' lines
  for (;;) {
    // The creator keeps end b open until every peer has sent and closed: an
    // end whose every handle is gone is closed for good.
    if (!closed_b && idle) {
      int finished = 0;
      for (int i = 0; i < kSenders; ++i) {
        if (!sent[static_cast<std::size_t>(i)]) {
          const std::string line =
              peers[static_cast<std::size_t>(i)].read_line(2ms);  // (whole ms: 1 ms may not poll at all)
          ASSERT_TRUE(line.empty() || line == "sent") << "peer " << i << ": " << line;
          sent[static_cast<std::size_t>(i)] = line == "sent";
        }
        finished += sent[static_cast<std::size_t>(i)] ? 1 : 0;
      }
      if (finished == kSenders) {
        p.b.close();
        closed_b = true;
      }
    }
    ConnMessage m = p.a.recv(closed_b ? Wait(30s) : Wait(10ms));
    idle = m.status == ConnStatus::empty;
    if (idle && !closed_b) continue;
    if (m.status == ConnStatus::closed) break;
    ASSERT_TRUE(m) << to_string(m.status);
    const std::string text(m.text());
    const auto space = text.find(' ');
    ASSERT_NE(space, std::string::npos) << text;
    const std::string tag = text.substr(0, space);
    ASSERT_EQ(std::stoi(text.substr(space + 1)), next[tag]) << "sender " << tag << " out of order";
    ++next[tag];
    ++total;
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kSenders * kEach));
  for (Child& c : peers) EXPECT_EQ(c.wait(), 0);
}

// Four receivers on one end (forked), one sender: each message (an id and a
// checksum over its varied-size body) reaches exactly one receiver, whole.
TEST(SharedPipe, ManyReceiversOnOneEndEachGetDistinctWholeMessages) {
  constexpr std::uint32_t kMessages = 20000;
  struct Seen {
    std::atomic<std::uint8_t> times[kMessages];
    std::atomic<std::uint64_t> torn;
    std::atomic<std::uint64_t> per_receiver[4];
  };
  SharedPipe p({.capacity_bytes = 65536});
  test::SharedMemory<Seen> seen;
  std::vector<Child> receivers;
  for (int r = 0; r < 4; ++r) {
    receivers.push_back(test::fork_child([&p, &seen, r](int) {
      p.b.close();  // the receivers' copies of the sending end would keep EOF away
      for (;;) {
        ConnMessage m = p.a.recv(30s);
        if (m.status == ConnStatus::closed) return 0;
        if (!m) return 10;
        std::uint32_t id = 0;
        if (m.bytes.size() < 5) return 11;
        std::memcpy(&id, m.bytes.data(), 4);
        std::uint8_t sum = 0;
        for (std::size_t i = 5; i < m.bytes.size(); ++i)
          sum = static_cast<std::uint8_t>(sum + std::to_integer<int>(m.bytes[i]));
        if (id >= kMessages || std::to_integer<std::uint8_t>(m.bytes[4]) != sum) {
          seen->torn.fetch_add(1);
          continue;
        }
        seen->times[id].fetch_add(1);
        seen->per_receiver[r].fetch_add(1);
      }
    }));
  }
  p.a.close();  // the parent only sends
  std::vector<std::byte> msg;
  for (std::uint32_t id = 0; id < kMessages; ++id) {
    msg.assign(5 + id % 300, std::byte{0});
    std::memcpy(msg.data(), &id, 4);
    std::uint8_t sum = 0;
    for (std::size_t i = 5; i < msg.size(); ++i) {
      msg[i] = static_cast<std::byte>(id * 31 + i);
      sum = static_cast<std::uint8_t>(sum + std::to_integer<int>(msg[i]));
    }
    msg[4] = static_cast<std::byte>(sum);
    ASSERT_EQ(p.b.send(msg, 30s), ConnStatus::ok) << id;
  }
  p.b.close();  // the last handle of the sending end: the receivers drain, then see EOF
  for (Child& c : receivers) EXPECT_EQ(c.wait(), 0);
  std::uint64_t missing = 0, doubled = 0;
  for (std::uint32_t id = 0; id < kMessages; ++id) {
    const int t = seen->times[id].load();
    missing += t == 0 ? 1 : 0;
    doubled += t > 1 ? 1 : 0;
  }
  std::printf("receivers took %llu %llu %llu %llu messages\n",
              static_cast<unsigned long long>(seen->per_receiver[0].load()),
              static_cast<unsigned long long>(seen->per_receiver[1].load()),
              static_cast<unsigned long long>(seen->per_receiver[2].load()),
              static_cast<unsigned long long>(seen->per_receiver[3].load()));
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(doubled, 0u);
  EXPECT_EQ(seen->torn.load(), 0u);
}

// A child's close() ends the child's handle only: the parent's handle on the
// same end still sends, the other side sees no EOF until it is closed too.
TEST(SharedPipe, ClosingOneHandleClosesThatHandleOnly) {
  SharedPipe p;
  Child child = test::fork_child([&p](int) {
    if (p.b.send("from the child") != ConnStatus::ok) return 10;
    p.b.close();
    return p.b.send("after close") == ConnStatus::handle_closed ? 0 : 11;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(p.a.recv(5s).text(), "from the child");
  EXPECT_EQ(p.a.recv(100ms).status, ConnStatus::empty) << "the parent's handle of end b is open";
  EXPECT_FALSE(p.a.poll(50ms));
  EXPECT_EQ(p.b.send("from the parent"), ConnStatus::ok);
  EXPECT_EQ(p.a.recv(5s).text(), "from the parent");
  // A second handle in this process, opened by name: closing it leaves the first.
  Connection b2 = test::or_throw(Connection::open(p.name.str(), End::b));
  EXPECT_TRUE(b2.attached());
  b2.close();
  EXPECT_EQ(p.b.send("still open"), ConnStatus::ok);
  EXPECT_EQ(p.a.recv(5s).text(), "still open");
  const std::int64_t t0 = monotonic_ns();
  p.b.close();
  EXPECT_TRUE(p.a.poll(5s)) << "EOF: a recv would not wait";
  EXPECT_EQ(p.a.recv(5s).status, ConnStatus::closed);
  EXPECT_LT(monotonic_ns() - t0, 1000 * kMs);
  EXPECT_EQ(p.a.send("to nobody"), ConnStatus::closed) << "end b is gone: a broken pipe";
  // EOF is final: the end cannot be opened again.
  Connection late = test::or_throw(Connection::open(p.name.str(), End::b));
  EXPECT_TRUE(late.closed());
  EXPECT_EQ(late.send("x"), ConnStatus::handle_closed);
}

// Three senders on end b: one closes, one exits without closing, one is
// killed with SIGKILL while streaming. Nothing a sender completed is lost,
// order per sender is kept, and the receiver sees EOF soon after the kill.
TEST(SharedPipe, EofOnceEverySenderClosedExitedOrWasKilledAndNothingCompletedIsLost) {
  for (int round = 0; round < 8; ++round) {
    struct Progress {
      std::atomic<std::uint64_t> completed;  // the killed sender's sends that returned ok
    };
    SharedPipe p({.capacity_bytes = 16384});
    test::SharedMemory<Progress> progress;
    Child closer = test::fork_child([&p](int) {
      for (int i = 0; i < 100; ++i) {
        if (p.b.send("c " + std::to_string(i)) != ConnStatus::ok) return 10;
      }
      p.b.close();
      return 0;
    });
    Child leaver = test::fork_child([&p](int) {
      for (int i = 0; i < 100; ++i) {
        if (p.b.send("l " + std::to_string(i)) != ConnStatus::ok) return 10;
      }
      return 0;  // exits holding its handle
    });
    Child victim = test::fork_child([&p, &progress](int) {
      for (std::uint64_t i = 0;; ++i) {
        if (p.b.send("k " + std::to_string(i)) != ConnStatus::ok) return 10;
        progress->completed.store(i + 1);
      }
    });
    p.b.close();
    std::map<char, std::uint64_t> next;
    std::int64_t t_kill = 0;
    std::uint64_t completed_at_kill = 0;
    for (;;) {
      if (t_kill == 0 && next['k'] >= 200 + static_cast<std::uint64_t>(round) * 50) {
        victim.kill(SIGKILL);
        t_kill = monotonic_ns();
        (void)victim.wait();
        completed_at_kill = progress->completed.load();
      }
      ConnMessage m = p.a.recv(30s);
      if (m.status == ConnStatus::closed) break;
      ASSERT_TRUE(m) << to_string(m.status);
      const std::string text(m.text());
      const char who = text[0];
      ASSERT_EQ(std::stoull(text.substr(2)), next[who]) << text;
      ++next[who];
    }
    const double after_kill_ms = static_cast<double>(monotonic_ns() - t_kill) / 1e6;
    EXPECT_EQ(closer.wait(), 0);
    EXPECT_EQ(leaver.wait(), 0);
    EXPECT_EQ(next['c'], 100u);
    EXPECT_EQ(next['l'], 100u);
    EXPECT_GE(next['k'], completed_at_kill) << "a message the killed sender completed was lost";
    EXPECT_LE(next['k'], completed_at_kill + 1) << "more than its completed sends and the one in flight";
    std::printf("round %d: killed sender completed %llu, %llu arrived; EOF %.1f ms after the kill\n", round,
                static_cast<unsigned long long>(completed_at_kill), static_cast<unsigned long long>(next['k']),
                after_kill_ms);
    EXPECT_LT(after_kill_ms, 2000.0);
  }
}

// Two receivers on end a; one is killed with SIGKILL mid-stream. The other
// gets the rest: what is missing is at most the message the killed one was
// taking (and one it had taken but not yet counted).
TEST(SharedPipe, AReceiverKilledMidRecvLosesAtMostThatMessage) {
  constexpr std::uint64_t kMessages = 50000;
  struct Counts {
    std::atomic<std::uint64_t> got[2];
  };
  SharedPipe p({.capacity_bytes = 16384});
  test::SharedMemory<Counts> counts;
  std::vector<Child> receivers;
  for (int r = 0; r < 2; ++r) {
    receivers.push_back(test::fork_child([&p, &counts, r](int) {
      p.b.close();
      for (;;) {
        std::uint64_t v = 0;
        const ConnStatus st = p.a.recv_value(v, 30s);
        if (st == ConnStatus::closed) return 0;
        if (st != ConnStatus::ok) return 10;
        counts->got[r].fetch_add(1);
      }
    }));
  }
  p.a.close();
  for (std::uint64_t i = 0; i < kMessages; ++i) {
    if (i == kMessages / 3) receivers[0].kill(SIGKILL);
    ASSERT_EQ(p.b.send_value(i, 30s), ConnStatus::ok) << i;
  }
  p.b.close();
  EXPECT_EQ(receivers[1].wait(), 0);
  (void)receivers[0].wait();
  const std::uint64_t got = counts->got[0].load() + counts->got[1].load();
  std::printf("killed receiver counted %llu, the other %llu; missing %llu\n",
              static_cast<unsigned long long>(counts->got[0].load()),
              static_cast<unsigned long long>(counts->got[1].load()), static_cast<unsigned long long>(kMessages - got));
  EXPECT_LE(got, kMessages);
  EXPECT_LE(kMessages - got, 2u);
}

// A blocked reader whose only sender is killed sees EOF within 100 ms (the
// liveness look runs every kOwnerCheckInterval, 20 ms, while it waits).
TEST(SharedPipe, ABlockedReaderSeesEofSoonAfterTheOnlySenderIsKilled) {
  SharedPipe p;
  test::SharedMemory<std::atomic<int>> phase;
  Child sender = test::fork_child([&p, &phase](int) {
    if (p.b.send("last words") != ConnStatus::ok) return 10;
    phase->store(1);
    for (;;) ::pause();
  });
  p.b.close();
  while (phase->load() != 1) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(p.a.recv(5s).text(), "last words");
  std::thread killer([&] {
    std::this_thread::sleep_for(50ms);
    sender.kill(SIGKILL);
  });
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(p.a.recv(30s).status, ConnStatus::closed);
  const double ms = static_cast<double>(monotonic_ns() - t0) / 1e6;
  killer.join();
  std::printf("EOF %.1f ms after the reader started waiting (kill at ~50 ms)\n", ms);
  EXPECT_GE(ms, 45.0);
  EXPECT_LT(ms, std::getenv("SHMRING_TEST_EMULATOR") == nullptr ? 150.0 : 1500.0);
}

TEST(SharedPipe, AStoppedSenderIsNotDead) {
  SharedPipe p;
  test::SharedMemory<std::atomic<int>> phase;
  Child sender = test::fork_child([&](int) {
    if (p.b.send("hello") != ConnStatus::ok) return 10;
    phase->store(1);
    for (;;) ::pause();
  });
  p.b.close();
  while (phase->load() != 1) std::this_thread::sleep_for(1ms);
  sender.kill(SIGSTOP);
  EXPECT_EQ(p.a.recv(1s).text(), "hello");
  EXPECT_EQ(p.a.recv(200ms).status, ConnStatus::empty) << "SIGSTOP is not death";
  EXPECT_FALSE(p.a.poll(100ms));
  sender.kill(SIGCONT);
}

TEST(SharedPipe, DuplexConversationWithAForkedChildAndOneWayDirections) {
  SharedPipe p({.capacity_bytes = 65536});
  Child child = test::fork_child([&p](int) {
    p.a.close();
    for (int i = 0;; ++i) {
      ConnMessage m = p.b.recv(30s);
      if (m.status == ConnStatus::closed) return i == 1000 ? 0 : 10;
      if (!m) return 11;
      if (p.b.send("pong " + std::string(m.text())) != ConnStatus::ok) return 12;
    }
  });
  p.b.close();
  for (int i = 0; i < 1000; ++i) {
    const std::string ping = "ping " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 700), 'x');
    ASSERT_EQ(p.a.send(ping), ConnStatus::ok);
    ASSERT_EQ(p.a.recv(10s).text(), "pong " + ping);
  }
  p.a.close();
  EXPECT_EQ(child.wait(), 0);

  SharedPipe one({.duplex = false});
  EXPECT_EQ(one.a.send("x"), ConnStatus::not_writable);
  EXPECT_EQ(one.b.recv(nowait).status, ConnStatus::not_readable);
  EXPECT_TRUE(one.b.poll()) << "a recv on the send end returns at once";
  EXPECT_EQ(one.b.send("one way"), ConnStatus::ok);
  EXPECT_EQ(one.a.recv(1s).text(), "one way");
  EXPECT_EQ(one.a.recv(nowait).status, ConnStatus::empty);
}

TEST(SharedPipe, TimeoutsTooLargeTooShortAndTypedValues) {
  SharedPipe p({.capacity_bytes = 4096});
  EXPECT_GT(p.a.max_message(), 0u);
  EXPECT_LT(p.a.max_message(), 4096u);
  const std::string huge(static_cast<std::size_t>(p.a.max_message()) + 1, 'h');
  EXPECT_EQ(p.a.send(huge), ConnStatus::too_large);
  std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(p.a.recv(150ms).status, ConnStatus::empty);
  EXPECT_GE(monotonic_ns() - t0, 150 * kMs);
  t0 = monotonic_ns();
  EXPECT_FALSE(p.a.poll(120ms));
  EXPECT_GE(monotonic_ns() - t0, 120 * kMs);
  const std::string chunk(static_cast<std::size_t>(p.b.max_message()), 'c');
  while (p.b.send(chunk, nowait) == ConnStatus::ok) {
  }
  t0 = monotonic_ns();
  EXPECT_EQ(p.b.send(chunk, 100ms), ConnStatus::full);
  EXPECT_GE(monotonic_ns() - t0, 100 * kMs);

  SharedPipe q;
  ASSERT_EQ(q.a.send("twelve bytes"), ConnStatus::ok);
  std::array<std::byte, 4> small{};
  const RecvInto r = q.b.recv_bytes_into(small);
  EXPECT_EQ(r.status, ConnStatus::too_short);
  EXPECT_EQ(r.size, 12u);
  EXPECT_EQ(q.b.recv(1s).text(), "twelve bytes") << "the message stays with this handle";
  ASSERT_EQ(q.a.send_value(std::uint32_t{7}), ConnStatus::ok);
  std::uint64_t wide = 0;
  EXPECT_EQ(q.b.recv_value(wide, 1s), ConnStatus::wrong_size);
  std::uint32_t narrow = 0;
  EXPECT_EQ(q.b.recv_value(narrow, 1s), ConnStatus::ok);
  EXPECT_EQ(narrow, 7u);
}

}  // namespace
}  // namespace shmring
