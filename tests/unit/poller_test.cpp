// Event-loop descriptors (Queue::fileno(), Connection::fileno(),
// blocking/poller.hpp): readable exactly when a get or recv would not block,
// woken from other processes (forked and separately started), re-armed by
// gets that find nothing, and free for a consumer that never runs dry.
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring {
namespace {

using namespace test;

// Whether `fd` is readable within `timeout_ms` (0: now).
bool readable(int fd, int timeout_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  const int n = ::poll(&p, 1, timeout_ms);
  return n == 1 && (p.revents & POLLIN) != 0;
}

QueueOptions with_engine(Engine e) {
  QueueOptions o;
  o.engine = e;
  o.capacity_bytes = 1u << 16;
  return o;
}

class PollerEngines : public ::testing::TestWithParam<Engine> {};

// Empty: not readable. A put from a forked process: readable. Drained with
// get_nowait until empty: not readable again. Closed: readable for good.
TEST_P(PollerEngines, ReadableExactlyWhenAGetWouldNotBlock) {
  UniqueName name("poll");
  Queue q = or_throw(Queue::create(name, with_engine(GetParam())));
  const int fd = or_throw(q.fileno());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(or_throw(q.fileno()), fd) << "the same descriptor on each call";
  EXPECT_FALSE(readable(fd)) << "an empty queue";

  Child producer = fork_child([&](int) {
    Queue p = or_throw(Queue::open(name));
    for (int i = 0; i < 3; ++i) {
      if (p.put("m" + std::to_string(i)) != PutStatus::ok) return 1;
    }
    return 0;
  });
  EXPECT_TRUE(readable(fd, 5000)) << "a put in another process wakes the descriptor";
  EXPECT_EQ(producer.wait(), 0);
  int taken = 0;
  for (;;) {
    const Message m = q.get_nowait();
    if (m.status == GetStatus::empty) break;
    ASSERT_EQ(m.status, GetStatus::ok);
    ++taken;
  }
  EXPECT_EQ(taken, 3);
  EXPECT_FALSE(readable(fd)) << "the empty get_nowait re-armed it";

  Child closer = fork_child([&](int) {
    Queue p = or_throw(Queue::open(name));
    p.close();
    return 0;
  });
  EXPECT_TRUE(readable(fd, 5000)) << "close() in another process wakes the descriptor";
  EXPECT_EQ(closer.wait(), 0);
  EXPECT_EQ(q.get_nowait().status, GetStatus::closed);
  EXPECT_TRUE(readable(fd)) << "a closed queue stays readable: a get returns at once";
}

// A message already there when fileno() is first asked for: readable at once.
TEST_P(PollerEngines, AMessageAlreadyThereIsReadableAtOnce) {
  UniqueName name("poll");
  Queue q = or_throw(Queue::create(name, with_engine(GetParam())));
  Queue p = or_throw(Queue::open(name));
  ASSERT_EQ(p.put("early"), PutStatus::ok);
  const int fd = or_throw(q.fileno());
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.get_nowait().text(), "early");
  EXPECT_EQ(q.get_nowait().status, GetStatus::empty);
  EXPECT_FALSE(readable(fd));
}

// A timed get that runs out re-arms too; a blocking get does not (the next
// empty get_nowait does).
TEST_P(PollerEngines, TimedOutGetRearmsAndBlockingGetLeavesItForTheNextEmptyOne) {
  UniqueName name("poll");
  Queue q = or_throw(Queue::create(name, with_engine(GetParam())));
  Queue p = or_throw(Queue::open(name));
  const int fd = or_throw(q.fileno());
  ASSERT_EQ(p.put("one"), PutStatus::ok);
  EXPECT_TRUE(readable(fd, 1000));
  EXPECT_EQ(q.get().text(), "one");
  EXPECT_TRUE(readable(fd)) << "a blocking get does not re-arm (documented)";
  EXPECT_EQ(q.get(std::chrono::milliseconds(5)).status, GetStatus::empty);
  EXPECT_FALSE(readable(fd)) << "the get that timed out re-armed it";
}

INSTANTIATE_TEST_SUITE_P(AllEngines, PollerEngines, ::testing::Values(Engine::lanes, Engine::mpmc, Engine::spsc),
                         [](const testing::TestParamInfo<Engine>& p) {
                           switch (p.param) {
                             case Engine::lanes: return std::string("Lanes");
                             case Engine::mpmc: return std::string("Mpmc");
                             default: return std::string("Spsc");
                           }
                         });

// Fixed-size messages take the inline put path; it notifies the poller too.
TEST(Poller, FixedSizeMessagesWakeTheDescriptor) {
  UniqueName name("poll");
  QueueOptions o;
  o.engine = Engine::spsc;
  o.message_size = 64;
  Queue q = or_throw(Queue::create(name, o));
  const int fd = or_throw(q.fileno());
  Child producer = fork_child([&](int) {
    Queue p = or_throw(Queue::open(name));
    const std::vector<std::byte> m(64, std::byte{7});
    return p.put(m) == PutStatus::ok ? 0 : 1;
  });
  EXPECT_TRUE(readable(fd, 5000));
  EXPECT_EQ(producer.wait(), 0);
  std::vector<std::byte> out(64);
  EXPECT_EQ(q.get_into(out, nowait), GetStatus::ok);
  EXPECT_EQ(q.get_into(out, nowait), GetStatus::empty);
  EXPECT_FALSE(readable(fd));
}

// Readable with nothing to get (another consumer took it) ends with one
// empty get_nowait: no spinning loop.
TEST(Poller, AMessageTakenByAnotherConsumerCostsOneEmptyGet) {
  UniqueName name("poll");
  Queue q = or_throw(Queue::create(name));
  Queue other = or_throw(Queue::open(name));
  const int fd = or_throw(q.fileno());
  ASSERT_EQ(other.put("x"), PutStatus::ok);
  EXPECT_TRUE(readable(fd, 1000));
  EXPECT_EQ(other.get_nowait().text(), "x");
  EXPECT_EQ(q.get_nowait().status, GetStatus::empty);
  EXPECT_FALSE(readable(fd));
}

// The cost: a consumer that keeps finding messages makes no system call for
// its registered descriptor, and producers send one poke per wake-up of the
// loop, not one per message.
TEST(Poller, StreamingWithADescriptorRegisteredMakesNoSystemCallPerMessage) {
  UniqueName name("poll");
  Queue q = or_throw(Queue::create(name, with_engine(Engine::lanes)));
  const int fd = or_throw(q.fileno());
  constexpr int kMessages = 20000;
  Child producer = fork_child([&](int out) {
    Queue p = or_throw(Queue::open(name));
    for (int i = 0; i < kMessages; ++i) {
      if (p.put("0123456789abcdef") != PutStatus::ok) return 1;
    }
    const std::string line = std::to_string(p.stats().pokes) + "\n";
    return ::write(out, line.data(), line.size()) == static_cast<ssize_t>(line.size()) ? 0 : 1;
  });
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(q.get().status, GetStatus::ok);
  const std::string pokes = producer.read_line();
  EXPECT_EQ(producer.wait(), 0);
  EXPECT_EQ(pokes, "1") << "one poke (the first message woke the armed descriptor), then none";
  EXPECT_EQ(q.stats().poller_drains, 1u) << "only fileno() re-armed: blocking gets never do";
  EXPECT_TRUE(readable(fd));
}

int value_of_fd(Connection& c) { return or_throw(c.fileno()); }

// An epoll loop over three queues and a Pipe, fed by forked producers and
// by separately started executables that open the objects by name.
TEST(Poller, EpollLoopOverThreeQueuesAndAPipe) {
  UniqueName n0("pollq0"), n1("pollq1"), n2("pollq2"), np("pollp");
  std::vector<Queue> queues;
  for (const UniqueName* n : {&n0, &n1, &n2}) queues.push_back(or_throw(Queue::create(*n)));
  auto [mine, theirs] = or_throw(Pipe::create(np));
  (void)theirs;

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  std::map<int, int> which;  // fd -> 0..2 queue, 3 the pipe
  for (int i = 0; i < 3; ++i) which[or_throw(queues[static_cast<std::size_t>(i)].fileno())] = i;
  which[or_throw(mine.fileno())] = 3;
  for (const auto& [fd, i] : which) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  }

  constexpr int kEach = 200;
  std::vector<Child> producers;
  for (const UniqueName* n : {&n0, &n1}) {  // forked producers
    producers.push_back(fork_child([&, n](int) {
      Queue p = or_throw(Queue::open(*n));
      for (int i = 0; i < kEach; ++i) {
        if (p.put("f" + std::to_string(i)) != PutStatus::ok) return 1;
        if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return 0;
    }));
  }
  // A separately started producer on the third queue (one message per
  // argument) and a separately started sender on the pipe's other end.
  std::vector<std::string> args = {"put-hex", n2.str()};
  for (int i = 0; i < kEach; ++i) args.push_back("6869");  // "hi"
  producers.push_back(spawn(queue_peer_path(), args));
  producers.push_back(spawn(pipe_peer_path(), {"send", np.str(), "b", std::to_string(kEach), "pipe"}));

  int got[4] = {0, 0, 0, 0};
  bool pipe_eof = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((got[0] + got[1] + got[2] + got[3] < 4 * kEach || !pipe_eof) && std::chrono::steady_clock::now() < give_up) {
    epoll_event evs[8];
    const int n = ::epoll_wait(ep, evs, 8, 1000);
    for (int k = 0; k < n; ++k) {
      const int i = which.at(evs[k].data.fd);
      if (i < 3) {
        for (;;) {
          const Message m = queues[static_cast<std::size_t>(i)].get_nowait();
          if (m.status != GetStatus::ok) break;
          ++got[i];
        }
      } else {
        for (;;) {
          const ConnMessage m = mine.recv(nowait);
          if (m.status == ConnStatus::closed) pipe_eof = true;
          if (m.status != ConnStatus::ok) break;
          // The sender has opened its end: ours of that end may go, so the
          // end closes when the sender closes it.
          if (++got[3] == 1) theirs.close();
        }
      }
    }
  }
  ::close(ep);
  for (auto& c : producers) EXPECT_EQ(c.wait(), 0);
  EXPECT_EQ(got[0], kEach);
  EXPECT_EQ(got[1], kEach);
  EXPECT_EQ(got[2], kEach);
  EXPECT_EQ(got[3], kEach);
  EXPECT_TRUE(pipe_eof) << "the sender's close() made the pipe's descriptor readable; now: readable "
                        << readable(value_of_fd(mine)) << ", recv " << to_string(mine.recv(nowait).status);
}

// A peer killed with SIGKILL sends no wake-up; the peer watch notices its
// death within kOwnerCheckInterval and the descriptor becomes readable: the
// loop sees EOF, as it would for a killed multiprocessing child.
TEST(Poller, APipePeerKilledMakesTheDescriptorReadable) {
  UniqueName name("pollp");
  auto [mine, theirs] = or_throw(Pipe::create(name));
  Child peer = spawn(pipe_peer_path(), {"hold", name.str(), "b", "60"});
  ASSERT_EQ(peer.read_line(), "held");
  theirs.close();  // the peer is now end b's only holder
  const int fd = or_throw(mine.fileno());
  EXPECT_FALSE(readable(fd, 100)) << "the peer lives: nothing to read";
  const std::int64_t killed = monotonic_ns();
  peer.kill(9);
  (void)peer.wait();
  ASSERT_TRUE(readable(fd, 5000)) << "the death made the descriptor readable";
  EXPECT_LT(monotonic_ns() - killed, 1000 * kMs);
  EXPECT_EQ(mine.recv(nowait).status, ConnStatus::closed);
}

// kPollerSlots descriptors at once; a slot whose poller died is taken back.
TEST(Poller, SlotsAreLimitedAndADeadPollersSlotIsTakenBack) {
  UniqueName name("poll");
  Queue q = or_throw(Queue::create(name));
  std::vector<Queue> handles;
  for (std::uint32_t i = 0; i + 1 < kPollerSlots; ++i) {
    handles.push_back(or_throw(Queue::open(name)));
    ASSERT_TRUE(handles.back().fileno().has_value()) << i;
  }
  // The last slot, taken by a process that is then killed.
  Child holder = fork_child([&](int out) {
    Queue mine = or_throw(Queue::open(name));
    if (!mine.fileno()) return 1;
    if (::write(out, "ready\n", 6) != 6) return 1;
    ::pause();
    return 0;
  });
  ASSERT_EQ(holder.read_line(), "ready");
  Queue extra = or_throw(Queue::open(name));
  holder.kill(9);
  (void)holder.wait();
  auto fd = extra.fileno();
  ASSERT_TRUE(fd.has_value()) << "the dead poller's slot is taken back: " << fd.error().message();
  Queue one_too_many = or_throw(Queue::open(name));
  auto refused = one_too_many.fileno();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::no_space);
  handles.pop_back();  // its poller leaves its slot
  EXPECT_TRUE(one_too_many.fileno().has_value());
}

// A handle inherited through fork() gets its own descriptor in the child;
// the parent's keeps working.
TEST(Poller, AForkedChildsHandleMakesItsOwnDescriptor) {
  UniqueName name("poll");
  Queue q = or_throw(Queue::create(name));
  const int parent_fd = or_throw(q.fileno());
  Child child = fork_child([&](int) {
    auto fd = q.fileno();
    if (!fd || *fd == parent_fd) return 1;
    Queue p = or_throw(Queue::open(name));
    if (p.put("to both") != PutStatus::ok) return 2;
    return readable(*fd, 5000) ? 0 : 3;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_TRUE(readable(parent_fd, 5000));
}

// A one-owner pipe has no descriptor (yet): a clear error, not a silent one.
TEST(Poller, OneOwnerPipesAndSendOnlyEndsRefuseClearly) {
  UniqueName name("poll");
  PipeOptions o;
  o.one_owner = true;
  auto [a, b] = or_throw(Pipe::create(name, o));
  auto fd = a.fileno();
  ASSERT_FALSE(fd.has_value());
  EXPECT_EQ(fd.error().code, Errc::unsupported);
  UniqueName oneway("poll");
  PipeOptions w;
  w.duplex = false;
  auto [r, s] = or_throw(Pipe::create(oneway, w));
  EXPECT_TRUE(r.fileno().has_value());
  auto send_fd = s.fileno();
  ASSERT_FALSE(send_fd.has_value());
  EXPECT_EQ(send_fd.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace shmring
