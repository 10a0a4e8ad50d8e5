// Queue with fixed-size messages (QueueOptions::message_size): headerless
// slots (spsc_slot_ring.hpp) under the whole Queue API. Sizes, limits,
// blocking and closing in one process; order and content across real
// processes (fork, and the separately started shmring_queue_peer, which opens
// by name); a producer or consumer killed mid-stream; damaged files.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "traffic_run.hpp"

namespace shmring {
namespace {

using namespace test;

QueueOptions fixed(std::uint64_t size, std::uint64_t capacity_bytes, std::int64_t maxsize = 0) {
  QueueOptions o;
  o.engine = Engine::spsc;
  o.message_size = size;
  o.capacity_bytes = capacity_bytes;
  o.maxsize = maxsize;
  return o;
}

std::vector<std::byte> message(std::uint64_t seq, std::size_t size) {
  std::vector<std::byte> m(size);
  Traffic{9, static_cast<std::uint32_t>(size), static_cast<std::uint32_t>(size)}.fill(seq, m);
  return m;
}

// Under qemu-user (cross builds) the streams are shorter.
bool under_emulator() { return !emulator_command().empty(); }

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

// ---- one process ------------------------------------------------------------

TEST(QueueFixed, ShapeFollowsTheMessageSize) {
  UniqueName name("fixed-shape");
  // 1000 bytes of 24-byte messages: 42 slots, rounded up to 64.
  Queue q = create_or_throw(name, fixed(24, 1000));
  EXPECT_EQ(q.message_size(), 24u);
  EXPECT_EQ(q.max_message(), 24u);
  EXPECT_EQ(q.capacity_bytes(), 64u * 24u);
  EXPECT_EQ(q.engine(), Engine::spsc);
  // An opener sees the same shape.
  Queue other = open_or_throw(name);
  EXPECT_EQ(other.message_size(), 24u);
  EXPECT_EQ(other.capacity_bytes(), 64u * 24u);
  // A tiny capacity still makes two slots.
  UniqueName tiny("fixed-tiny");
  EXPECT_EQ(create_or_throw(tiny, fixed(64, 1)).capacity_bytes(), 128u);
  // Variable-size queues say 0.
  UniqueName bytes("fixed-bytes");
  EXPECT_EQ(create_or_throw(bytes, {.engine = Engine::spsc}).message_size(), 0u);
}

TEST(QueueFixed, OptionsThatCannotWorkAreRefusedAtCreate) {
  UniqueName name("fixed-refused");
  QueueOptions mpmc = fixed(64, 4096);
  mpmc.engine = Engine::mpmc;
  auto a = Queue::create(name, mpmc);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::invalid_argument);
  EXPECT_NE(std::string(a.error().message()).find("Engine::spsc"), std::string::npos) << a.error().message();
  QueueOptions other_max = fixed(64, 4096);
  other_max.max_message = 32;
  auto b = Queue::create(name, other_max);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::invalid_argument);
  auto c = Queue::create(name, fixed(std::uint64_t{1} << 40, 4096));  // two slots would be 2 TiB
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::invalid_argument);
  auto d = Queue::create(name, fixed(64, std::uint64_t{1} << 41));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::invalid_argument);
  // Equal max_message is accepted.
  QueueOptions same = fixed(64, 4096);
  same.max_message = 64;
  EXPECT_TRUE(Queue::create(name, same));
}

TEST(QueueFixed, MessagesOfAnotherSizeAreWrongSizeAndNothingIsQueued) {
  UniqueName name("fixed-wrong");
  Queue q = create_or_throw(name, fixed(16, 4096));
  for (const std::size_t n : {0u, 1u, 15u, 17u, 64u}) {
    const std::vector<std::byte> m(n);
    EXPECT_EQ(q.put(m, forever), PutStatus::wrong_size) << n;  // at once, even waiting forever
    EXPECT_EQ(q.claim(n, forever).status, PutStatus::wrong_size) << n;
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_STREQ(to_string(PutStatus::wrong_size), "wrong_size");
  // get_value checks its type's size; the message stays queued.
  ASSERT_EQ(q.put_value(std::uint64_t{7} << 32 | 5u, nowait), PutStatus::wrong_size);
  const std::uint64_t pair[2] = {11, 12};
  ASSERT_EQ(q.put_value(pair, nowait), PutStatus::ok);
  std::uint64_t one = 0;
  EXPECT_EQ(q.get_value(one, nowait), GetStatus::wrong_size);
  std::uint64_t two[2] = {};
  ASSERT_EQ(q.get_value(two, nowait), GetStatus::ok);
  EXPECT_EQ(two[0], 11u);
  EXPECT_EQ(two[1], 12u);
}

TEST(QueueFixed, ManyLapsInOrderInOneProcess) {
  UniqueName name("fixed-laps");
  Queue q = create_or_throw(name, fixed(24, 8 * 24));  // 8 slots
  std::vector<std::byte> got;
  std::uint64_t next_get = 0;
  for (std::uint64_t seq = 0; seq < 1000; ++seq) {
    ASSERT_EQ(q.put_nowait(message(seq, 24)), PutStatus::ok) << seq;
    if (seq % 3 == 2) {  // keep a few queued so every slot position is used
      while (q.qsize() > 2) {
        ASSERT_EQ(q.get_into(got, nowait), GetStatus::ok);
        ASSERT_EQ(got, message(next_get, 24)) << next_get;
        ++next_get;
      }
    }
  }
  while (q.get_into(got, nowait) == GetStatus::ok) {
    ASSERT_EQ(got, message(next_get, 24)) << next_get;
    ++next_get;
  }
  EXPECT_EQ(next_get, 1000u);
  EXPECT_TRUE(q.empty());
}

TEST(QueueFixed, SlotsAndMaxsizeBoundTheCountFullTellsAndPutsWait) {
  UniqueName slots_name("fixed-slots");
  Queue s = create_or_throw(slots_name, fixed(8, 4 * 8));  // 4 slots
  for (std::uint64_t i = 0; i < 4; ++i) ASSERT_EQ(s.put_value(i, nowait), PutStatus::ok);
  EXPECT_TRUE(s.full());
  EXPECT_EQ(s.put_value(std::uint64_t{4}, nowait), PutStatus::full);

  UniqueName name("fixed-maxsize");
  Queue q = create_or_throw(name, fixed(8, 4096, 3));  // Python's Queue(3)
  for (std::uint64_t i = 0; i < 3; ++i) ASSERT_EQ(q.put_value(i, nowait), PutStatus::ok);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_EQ(q.put_value(std::uint64_t{3}, nowait), PutStatus::full);
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(q.put_value(std::uint64_t{3}, 100ms), PutStatus::full);
  EXPECT_GE(monotonic_ns() - t0, 100 * kMs);
  std::uint64_t v = 99;
  ASSERT_EQ(q.get_value(v, nowait), GetStatus::ok);
  EXPECT_EQ(v, 0u);
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.put_value(std::uint64_t{3}, nowait), PutStatus::ok);
}

TEST(QueueFixed, ZeroCopyClaimCommitReadRelease) {
  UniqueName name("fixed-zero-copy");
  Queue q = create_or_throw(name, fixed(64, 4096));
  const PutClaim c = q.claim(64, nowait);
  ASSERT_EQ(c.status, PutStatus::ok);
  ASSERT_EQ(c.bytes.size(), 64u);
  const std::vector<std::byte> m = message(1, 64);
  std::memcpy(c.bytes.data(), m.data(), 64);
  EXPECT_TRUE(q.empty());  // not published before commit
  q.commit(64);
  q.commit(64);  // no claim outstanding: nothing more is published
  EXPECT_EQ(q.qsize(), 1u);
  const GetView v = q.read(nowait);
  ASSERT_EQ(v.status, GetStatus::ok);
  EXPECT_EQ(std::vector<std::byte>(v.bytes.begin(), v.bytes.end()), m);
  q.release();
  q.release();  // nothing viewed: nothing more consumed
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.read(nowait).status, GetStatus::empty);
}

// A get (inline in the caller) of the message a read() is viewing takes that
// message and ends the view: a release() after it consumes nothing more.
TEST(QueueFixed, GetAfterReadTakesTheViewedMessageAndEndsTheView) {
  UniqueName name("fixed-read-get");
  Queue q = create_or_throw(name, fixed(8, 4096));
  for (std::uint64_t i = 1; i <= 4; ++i) ASSERT_EQ(q.put_value(i, nowait), PutStatus::ok);
  std::uint64_t v = 0;
  ASSERT_EQ(q.get_value(v, nowait), GetStatus::ok);  // 1: the consumer role is now held
  ASSERT_EQ(q.read(nowait).status, GetStatus::ok);   // views 2
  ASSERT_EQ(q.get_value(v, nowait), GetStatus::ok);
  EXPECT_EQ(v, 2u);
  q.release();
  EXPECT_EQ(q.qsize(), 2u);
  // The same after a get_value of the wrong type, which leaves its view open.
  std::uint32_t small = 0;
  ASSERT_EQ(q.get_value(small, nowait), GetStatus::wrong_size);
  std::vector<std::byte> buf(8);
  ASSERT_EQ(q.get_into(buf, nowait), GetStatus::ok);
  std::memcpy(&v, buf.data(), 8);
  EXPECT_EQ(v, 3u);
  q.release();
  EXPECT_EQ(q.qsize(), 1u);
  ASSERT_EQ(q.get_value(v, nowait), GetStatus::ok);
  EXPECT_EQ(v, 4u);
}

TEST(QueueFixed, CommitOfFewerBytesPublishesTheSlotWithTheRestZeroed) {
  UniqueName name("fixed-short-commit");
  Queue q = create_or_throw(name, fixed(64, 2 * 64));  // 2 slots: reused every other message
  std::vector<std::byte> got;
  for (std::uint64_t i = 0; i < 2; ++i) {  // fill both slots with non-zero bytes, then drain
    ASSERT_EQ(q.put_nowait(std::vector<std::byte>(64, std::byte{0xee})), PutStatus::ok);
    ASSERT_EQ(q.get_into(got, nowait), GetStatus::ok);
  }
  const PutClaim c = q.claim(64, nowait);
  ASSERT_EQ(c.status, PutStatus::ok);
  std::memset(c.bytes.data(), 0x11, 40);
  q.commit(40);
  ASSERT_EQ(q.get_into(got, nowait), GetStatus::ok);
  std::vector<std::byte> want(64, std::byte{0});
  std::fill(want.begin(), want.begin() + 40, std::byte{0x11});
  EXPECT_EQ(got, want) << "the 24 bytes not written must be zero, not the previous message's";
}

TEST(QueueFixed, JoinableQueueCountsFixedSizeMessages) {
  UniqueName name("fixed-joinable");
  JoinableQueue q = create_or_throw<JoinableQueue>(name, fixed(8, 4096));
  ASSERT_EQ(q.put_value(std::uint64_t{1}, nowait), PutStatus::ok);
  ASSERT_EQ(q.put(std::string_view("x"), nowait), PutStatus::wrong_size);  // not counted
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  std::uint64_t v = 0;
  ASSERT_EQ(q.get_value(v, nowait), GetStatus::ok);
  EXPECT_EQ(q.join(nowait), JoinStatus::timed_out);
  EXPECT_EQ(q.task_done(), TaskDoneStatus::ok);
  EXPECT_EQ(q.join(nowait), JoinStatus::done);

  // A handle that takes the producer role at open counts too.
  UniqueName other("fixed-joinable-open");
  JoinableQueue creator = create_or_throw<JoinableQueue>(other, fixed(8, 4096));
  JoinableQueue p = open_or_throw<JoinableQueue>(other, Role::producer);
  ASSERT_EQ(p.put_value(std::uint64_t{2}, nowait), PutStatus::ok);
  ASSERT_EQ(p.put_value(std::uint64_t{3}, nowait), PutStatus::ok);
  EXPECT_EQ(creator.unfinished_tasks(), 2u);
  EXPECT_EQ(creator.join(nowait), JoinStatus::timed_out);
}

// ---- two processes ------------------------------------------------------------

TEST(QueueFixed, MillionsInOrderWithForkedProducerThroughASmallRing) {
  UniqueName name("fixed-fork");
  Queue q = create_or_throw(name, fixed(64, 64 * 64));  // 64 slots: many full/empty turns
  const Traffic t{0xf1, 64, 64};
  const std::uint64_t count = under_emulator() ? 200'000 : 3'000'000;
  Child producer = fork_child([&](int out) {
    Queue p = open_or_throw(name, Role::producer);
    const RunResult r = run_producer(p, t, count);
    write_line(out, std::to_string(r.messages) + " " + std::to_string(r.checksum));
    return 0;
  });
  const RunResult got = run_consumer(q, t, count);
  const auto w = words(producer.read_line(300s));
  ASSERT_EQ(producer.wait(), 0);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], std::to_string(count));
  EXPECT_EQ(got.messages, count);
  EXPECT_EQ(got.errors, 0u) << "first bad message: " << got.first_bad_seq;
  EXPECT_EQ(std::to_string(got.checksum), w[1]);
  EXPECT_TRUE(q.empty());
}

// put/get_into/get_value of a fixed-size queue run inline in the caller
// (queue.hpp, detail::QueueHot) once the handle holds the role: a forked
// child's copy of that handle must not take that path (the parent is the
// producer and consumer), a moved handle keeps it, and a handle that gave its
// roles back leaves them to the next one.
TEST(QueueFixed, InlineFastPathIsNotTakenByAForkCopyAndFollowsTheRoles) {
  UniqueName name("fixed-inline");
  std::optional<Queue> q(create_or_throw(name, fixed(8, 8 * 8)));
  ASSERT_EQ(q->put_value(std::uint64_t{1}, nowait), PutStatus::ok);
  std::uint64_t v = 0;
  ASSERT_EQ(q->get_value(v, nowait), GetStatus::ok);
  ASSERT_EQ(q->put_value(std::uint64_t{2}, nowait), PutStatus::ok);
  ASSERT_EQ(q->roles_held(), Role::both);

  Child child = fork_child([&](int out) {
    std::uint64_t got = 0;
    std::vector<std::byte> buf(8);
    const PutStatus put = q->put_value(std::uint64_t{99}, nowait);
    const GetStatus get = q->get_value(got, nowait);
    const GetStatus get_into = q->get_into(buf, nowait);
    write_line(out, std::string(to_string(put)) + " " + to_string(get) + " " + to_string(get_into) + " " +
                        std::to_string(q->qsize()));
    return 0;
  });
  EXPECT_EQ(child.read_line(10s), "role_taken role_taken role_taken 1");
  ASSERT_EQ(child.wait(), 0);

  Queue moved = std::move(*q);  // the fast path moves with the handle
  q.reset();
  ASSERT_EQ(moved.put_value(std::uint64_t{3}, nowait), PutStatus::ok);
  std::vector<std::byte> buf(8);
  ASSERT_EQ(moved.get_into(buf, nowait), GetStatus::ok);
  std::memcpy(&v, buf.data(), 8);
  EXPECT_EQ(v, 2u);
  { Queue gone = std::move(moved); }  // gives both roles back

  Queue next = open_or_throw(name);
  ASSERT_EQ(next.put_value(std::uint64_t{4}, nowait), PutStatus::ok);
  ASSERT_EQ(next.get_value(v, nowait), GetStatus::ok);
  EXPECT_EQ(v, 3u);
  ASSERT_EQ(next.get_value(v, nowait), GetStatus::ok);
  EXPECT_EQ(v, 4u);
  EXPECT_EQ(next.get_value(v, nowait), GetStatus::empty);
  EXPECT_EQ(next.roles_held(), Role::both);
}

TEST(QueueFixed, InOrderBetweenSeparateExecutablesThatOpenByName) {
  UniqueName name("fixed-exec");
  Queue q = create_or_throw(name, fixed(56, 256 * 56));
  expect_peers_stream(name, under_emulator() ? 100'000 : 1'000'000, 31, 56, 56);
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(QueueFixed, BlockedGetIsWokenByAPutAndBlockedCallsByClose) {
  UniqueName name("fixed-wake");
  Queue q = create_or_throw(name, fixed(8, 2 * 8));
  Child getter = fork_child([&](int out) {
    Queue c = open_or_throw(name, Role::consumer);
    std::uint64_t v = 0;
    write_line(out, "ready");
    const GetStatus first = c.get_value(v, forever);
    write_line(out, std::string(to_string(first)) + " " + std::to_string(v));
    const GetStatus second = c.get_value(v, forever);  // woken by close
    write_line(out, to_string(second));
    return 0;
  });
  ASSERT_EQ(getter.read_line(), "ready");
  ::usleep(50'000);  // let it park
  ASSERT_EQ(q.put_value(std::uint64_t{42}, nowait), PutStatus::ok);
  EXPECT_EQ(getter.read_line(10s), "ok 42");
  ::usleep(50'000);
  q.close();
  EXPECT_EQ(getter.read_line(10s), "closed");
  EXPECT_EQ(getter.wait(), 0);
  EXPECT_EQ(q.put_value(std::uint64_t{1}, forever), PutStatus::closed);
}

TEST(QueueFixed, ProducerKilledMidStreamIsReplacedWithoutLosingCommittedMessages) {
  UniqueName name("fixed-kill-producer");
  Queue q = create_or_throw(name, fixed(64, 1024 * 64));
  const Traffic t{5, 64, 64};
  Child first = fork_child([&](int) {
    Queue p = open_or_throw(name, Role::producer);
    (void)run_producer(p, t, ~0ull >> 1);
    return 0;
  });
  std::uint64_t seq = 0;
  std::vector<std::byte> buf;
  const std::int64_t stop_at = monotonic_ns() + 150 * kMs;
  while (monotonic_ns() < stop_at) {
    ASSERT_EQ(q.get_into(buf, 5s), GetStatus::ok);
    ASSERT_TRUE(t.check(seq, buf)) << seq;
    ++seq;
  }
  first.kill(SIGKILL);
  EXPECT_EQ(first.wait(), 128 + SIGKILL);
  while (q.get_into(buf, nowait) == GetStatus::ok) {  // everything it committed, in order
    ASSERT_TRUE(t.check(seq, buf)) << seq;
    ++seq;
  }
  EXPECT_GT(seq, 0u);
  // A new producer (another process) takes the role over and continues.
  Child second = fork_child([&](int) {
    Queue p = open_or_throw(name, Role::producer);
    const std::vector<std::byte> m = message(77, 64);
    return p.put(m, 5s) == PutStatus::ok ? 0 : 1;
  });
  ASSERT_EQ(second.wait(), 0);
  ASSERT_EQ(q.get_into(buf, 5s), GetStatus::ok);
  EXPECT_EQ(buf, message(77, 64));
  EXPECT_TRUE(q.empty());
}

TEST(QueueFixed, ConsumerKilledMidStreamIsReplacedLosingAtMostTheMessageItHeld) {
  UniqueName name("fixed-kill-consumer");
  Queue q = create_or_throw(name, fixed(32, 1024 * 32));
  expect_consumer_replaced_after_kill(q, name, Traffic{6, 32, 32}, under_emulator() ? 60'000 : 300'000);
}

// ---- damaged files --------------------------------------------------------------

constexpr std::uint64_t kTailField =
    offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, producer) + offsetof(SpscProducerLayout, tail);
constexpr std::uint64_t kHeadField =
    offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, consumer) + offsetof(SpscConsumerLayout, head);
constexpr std::uint64_t kCapacityField = offsetof(QueueLayout, config) + offsetof(QueueConfigLayout, capacity);
constexpr std::uint64_t kMaxMessageField = offsetof(QueueLayout, config) + offsetof(QueueConfigLayout, max_message);
constexpr std::uint64_t kChunkField = offsetof(QueueLayout, config) + offsetof(QueueConfigLayout, chunk);

std::uint64_t queue_at(const UniqueName& name) {
  return peek<std::uint64_t>(name.path(), offsetof(platform::SegmentHeaderLayout, payload_offset));
}

template <class T>
testing::AssertionResult damage_fails_open_with(std::uint64_t field, T value, Errc want) {
  UniqueName name("fixed-damage");
  {
    Queue q = create_or_throw(name, fixed(64, 16 * 64));  // 16 slots
    for (std::uint64_t i = 0; i < 3; ++i) (void)q.put_nowait(message(i, 64));
  }
  poke(name.path(), queue_at(name) + field, value);
  OpenOptions o;
  o.ready_timeout = 0ns;
  auto q = Queue::open(name, o);
  if (q) return testing::AssertionFailure() << "opened";
  if (q.error().code != want) return testing::AssertionFailure() << q.error().message();
  return testing::AssertionSuccess();
}

TEST(QueueFixed, DamagedShapeOrPositionsFailToOpen) {
  EXPECT_TRUE(damage_fails_open_with(kCapacityField, std::uint64_t{16 * 64 + 1}, Errc::bad_size));  // not a multiple
  EXPECT_TRUE(damage_fails_open_with(kCapacityField, std::uint64_t{12 * 64}, Errc::bad_size));      // 12 slots
  EXPECT_TRUE(damage_fails_open_with(kCapacityField, std::uint64_t{64}, Errc::bad_size));           // 1 slot
  EXPECT_TRUE(damage_fails_open_with(kCapacityField, std::uint64_t{32 * 64}, Errc::bad_size));      // beyond the file
  EXPECT_TRUE(damage_fails_open_with(kMaxMessageField, std::uint64_t{0}, Errc::bad_size));
  EXPECT_TRUE(damage_fails_open_with(kChunkField, std::uint64_t{4096}, Errc::bad_size));
  EXPECT_TRUE(damage_fails_open_with(kHeadField, std::uint64_t{4}, Errc::corrupt));   // head past tail (3)
  EXPECT_TRUE(damage_fails_open_with(kTailField, std::uint64_t{17}, Errc::corrupt));  // 17 queued in 16 slots
}

TEST(QueueFixed, PositionsDamagedAfterOpenMakeCallsReturnCorruptNotSpin) {
  UniqueName name("fixed-damage-open");
  Queue q = create_or_throw(name, fixed(64, 16 * 64));
  ASSERT_EQ(q.put_nowait(message(0, 64)), PutStatus::ok);
  std::vector<std::byte> buf;
  ASSERT_EQ(q.get_into(buf, nowait), GetStatus::ok);
  // Tail far beyond head: a consumer that looks sees damage.
  poke(name.path(), queue_at(name) + kTailField, std::uint64_t{1000});
  EXPECT_EQ(q.get_into(buf, 1s), GetStatus::corrupt);
  // Head beyond the producer's tail: the producer, once its cached room runs
  // out (16 slots), sees damage instead of waiting for room.
  poke(name.path(), queue_at(name) + kTailField, std::uint64_t{1});
  poke(name.path(), queue_at(name) + kHeadField, std::uint64_t{500});
  PutStatus st = PutStatus::ok;
  for (int i = 0; i < 40 && st == PutStatus::ok; ++i) st = q.put(message(1, 64), 1s);
  EXPECT_EQ(st, PutStatus::corrupt);
}

// A producer killed between publishing a message and waking the consumer
// (here: the slot and the tail written into the file, no wake at all): the
// parked consumer finds the message within a park slice (intervals.hpp,
// kParkSlice) instead of sleeping with a message queued.
TEST(QueueFixed, AParkedGetSeesAMessageWhoseProducerDiedBeforeWaking) {
  UniqueName name("fixed-lost-wake");
  Queue q = create_or_throw(name, fixed(8, 8 * 8));
  Child getter = fork_child([&](int out) {
    Queue c = open_or_throw(name, Role::consumer);
    write_line(out, "waiting");
    std::uint64_t v = 0;
    const GetStatus st = c.get_value(v, forever);
    write_line(out, std::string(to_string(st)) + " " + std::to_string(v));
    return 0;
  });
  ASSERT_EQ(getter.read_line(10s), "waiting");
  ::usleep(100'000);                                                           // let it park
  poke(name.path(), queue_at(name) + sizeof(QueueLayout), std::uint64_t{77});  // slot 0
  poke(name.path(), queue_at(name) + kTailField, std::uint64_t{1});
  EXPECT_EQ(getter.read_line(5s), "ok 77");
  EXPECT_EQ(getter.wait(10s), 0);
}

// Damage before a handle's first put or get: taking the role fails (the
// positions are checked as it attaches), every time, and nothing is moved.
TEST(QueueFixed, PositionsDamagedBeforeFirstUseMakePutAndGetReturnCorrupt) {
  UniqueName name("fixed-damage-lazy");
  Queue creator = create_or_throw(name, fixed(64, 16 * 64));
  Queue q = open_or_throw(name);  // no role yet
  poke(name.path(), queue_at(name) + kTailField, std::uint64_t{1000});
  std::vector<std::byte> buf(64);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(q.put(message(0, 64), nowait), PutStatus::corrupt) << i;
    EXPECT_EQ(q.get_into(buf, nowait), GetStatus::corrupt) << i;
  }
  EXPECT_EQ(q.roles_held(), Role::none);
  EXPECT_EQ(peek<std::uint64_t>(name.path(), queue_at(name) + kTailField), 1000u);
}

}  // namespace
}  // namespace shmring
