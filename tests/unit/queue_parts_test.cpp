// The Queue's parts on their own (core/src/ipc): the role slot (shared with
// Pipe), on-demand memory, the dead-participant watch and JoinableQueue's
// task count. The Queue tests cover them in use; these pin each part's own
// contract, with real processes and real files in /dev/shm.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "helpers.hpp"
#include "ipc/queue/on_demand_memory.hpp"
#include "ipc/queue/participant_watch.hpp"
#include "ipc/queue/task_count.hpp"
#include "ipc/role_slot.hpp"
#include "shmring/ipc/lock.hpp"  // my_token
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring {
namespace {

using namespace test;

// ---- role slot --------------------------------------------------------------

// One shared owner word, in a real segment so a forked child writes the
// same memory.
struct SharedWord {
  UniqueName name{"roleslot"};
  platform::Segment seg = or_throw(platform::Segment::create(name, {.kind = 0x7e57, .payload_size = 4096}));
  std::atomic<std::uint64_t>& word = *platform::layout_at<std::atomic<std::uint64_t>>(seg.payload());
};

TEST(RoleSlot, TakenOnceGivenBackThenFree) {
  SharedWord w;
  const std::uint64_t me = detail::my_token();
  ASSERT_TRUE(detail::take_role_slot(w.word, me));
  EXPECT_FALSE(detail::take_role_slot(w.word, me));  // our own, through another handle
  detail::give_back_role_slot(w.word, me);
  EXPECT_EQ(w.word.load(), 0u);
  EXPECT_TRUE(detail::take_role_slot(w.word, me));
}

TEST(RoleSlot, GiveBackLeavesAnotherHoldersWord) {
  SharedWord w;
  const std::uint64_t me = detail::my_token();
  Child child = fork_child([&](int out) {
    const bool took = detail::take_role_slot(w.word, detail::my_token());
    write_line(out, took ? "took" : "refused");
    ::pause();  // alive until killed
    return 0;
  });
  ASSERT_EQ(child.read_line(), "took");
  EXPECT_FALSE(detail::take_role_slot(w.word, me));  // a live process holds it
  detail::give_back_role_slot(w.word, me);           // not ours: unchanged
  EXPECT_NE(w.word.load(), 0u);
  child.kill(SIGKILL);
  child.wait();
  EXPECT_TRUE(detail::take_role_slot(w.word, me));  // proved dead: taken over
  EXPECT_EQ(w.word.load(), me);
}

TEST(RoleSlot, DropFreesAWordTakenByMistake) {
  SharedWord w;
  ASSERT_TRUE(detail::take_role_slot(w.word, detail::my_token()));
  detail::drop_role_slot(w.word);
  EXPECT_EQ(w.word.load(), 0u);
}

// ---- on-demand memory -------------------------------------------------------

// A sparse segment: a backing layout, then a ring of kCapacity bytes of
// which only the layout is reserved at create.
struct SparseRing {
  static constexpr std::uint64_t kChunk = 1 << 20;
  static constexpr std::uint64_t kCapacity = 8 * kChunk;
  static constexpr std::uint64_t kDataOffset = 4096;
  UniqueName name{"ondemand"};
  platform::Segment seg = or_throw(platform::Segment::create(
      name, {.kind = 0x7e57, .payload_size = kDataOffset + kCapacity, .reserved_payload = kDataOffset}));
  QueueBackingLayout& backing = *new (seg.payload()) QueueBackingLayout{};
  detail::OnDemandMemory memory{seg, backing, kChunk, kDataOffset, kCapacity};
};

TEST(OnDemandMemory, ReservesAheadOfTheTargetOneChunkMore) {
  SparseRing r;
  const std::uint64_t before = r.seg.allocated_bytes();
  ASSERT_EQ(r.memory.ensure_backed(100), PutStatus::ok);
  // The chunk holding the target and one more.
  EXPECT_EQ(r.backing.backed_end.load(), 2 * SparseRing::kChunk);
  EXPECT_GE(r.seg.allocated_bytes(), before + 2 * SparseRing::kChunk);
  EXPECT_TRUE(r.memory.known_backed(2 * SparseRing::kChunk));
  EXPECT_FALSE(r.memory.known_backed(2 * SparseRing::kChunk + 1));
}

TEST(OnDemandMemory, ReturnsChunksBehindTheOldestByteInUse) {
  SparseRing r;
  ASSERT_EQ(r.memory.ensure_backed(4 * SparseRing::kChunk), PutStatus::ok);
  const std::uint64_t held = r.seg.allocated_bytes();
  // The queue ran dry at position 3 chunks: the three chunks below go back.
  r.memory.after_get(true, [] { return 3 * SparseRing::kChunk; });
  EXPECT_EQ(r.backing.unbacked_below.load(), 3 * SparseRing::kChunk);
  // The file's blocks drop by the three chunks (within a few pages: tmpfs
  // counts blocks of its own around a punched hole).
  EXPECT_LE(r.seg.allocated_bytes(), held - 3 * SparseRing::kChunk + 64 * 1024);
}

TEST(OnDemandMemory, NextLapReusesTheMemoryNotYetReturned) {
  SparseRing r;
  // A whole ring reserved, nothing returned: the next lap's first chunk
  // takes the memory of this lap's first chunk instead of reserving more.
  ASSERT_EQ(r.memory.ensure_backed(SparseRing::kCapacity - 1), PutStatus::ok);
  const std::uint64_t held = r.seg.allocated_bytes();
  ASSERT_EQ(r.memory.ensure_backed(SparseRing::kCapacity + 100), PutStatus::ok);
  EXPECT_EQ(r.seg.allocated_bytes(), held);
  EXPECT_LE(r.backing.backed_end.load() - r.backing.unbacked_below.load(), SparseRing::kCapacity);
}

TEST(OnDemandMemory, DamagedFrontiersAreCorruptNotAWalk) {
  SparseRing r;
  r.backing.backed_end.store(1);  // below unbacked_below: no sound file has that
  r.backing.unbacked_below.store(SparseRing::kCapacity * 4);
  EXPECT_EQ(r.memory.ensure_backed(SparseRing::kCapacity * 8), PutStatus::corrupt);
  EXPECT_EQ(r.backing.lock.load(), 0u);  // the lock was given back
}

TEST(OnDemandMemory, LockOfADeadHolderIsTakenOver) {
  SparseRing r;
  Child child = fork_child([&](int) {
    // Dies holding the lock word (as if killed inside fallocate).
    r.backing.lock.store(detail::my_token());
    return 0;
  });
  ASSERT_EQ(child.wait(), 0);
  ASSERT_NE(r.backing.lock.load(), 0u);
  EXPECT_EQ(r.memory.ensure_backed(100), PutStatus::ok);
  EXPECT_EQ(r.backing.lock.load(), 0u);
}

// ---- the dead-participant watch ----------------------------------------------

TEST(ParticipantWatch, DueAfterAWholeWindowOfTheSameBlocker) {
  detail::ParticipantWatch watch;
  const Blocker b{3, 4096};
  EXPECT_FALSE(watch.due(b));  // first seen: the window starts
  EXPECT_FALSE(watch.due(b));
  std::this_thread::sleep_for(kDeadOwnerCheck + 2ms);
  EXPECT_TRUE(watch.due(b));
  EXPECT_FALSE(watch.due(b));  // the next check one window later
  std::this_thread::sleep_for(kDeadOwnerCheck + 2ms);
  EXPECT_TRUE(watch.due(b));
}

TEST(ParticipantWatch, AnotherBlockerOrNoneStartsOver) {
  detail::ParticipantWatch watch;
  EXPECT_FALSE(watch.due({3, 4096}));
  std::this_thread::sleep_for(kDeadOwnerCheck + 2ms);
  EXPECT_FALSE(watch.due({3, 8192}));  // moved on: progress, a new window
  std::this_thread::sleep_for(kDeadOwnerCheck + 2ms);
  EXPECT_FALSE(watch.due({}));  // nobody blocks us: reset
  EXPECT_FALSE(watch.due({3, 8192}));
}

// ---- JoinableQueue's task count ----------------------------------------------

struct Tasks {
  UniqueName name{"tasks"};
  platform::Segment seg =
      or_throw(platform::Segment::create(name, {.kind = 0x7e57, .payload_size = sizeof(QueueLayout)}));
  QueueLayout& layout = *new (seg.payload()) QueueLayout{};
  BlockingStats stats;
};

TEST(TaskCount, CountsOnlyForAJoinableQueue) {
  Tasks t;
  detail::TaskCount plain(t.layout, false);
  plain.count();
  EXPECT_EQ(plain.unfinished(), 0u);
  detail::TaskCount joinable(t.layout, true);
  joinable.count();
  joinable.count();
  EXPECT_EQ(joinable.unfinished(), 2u);
}

TEST(TaskCount, FinishNeverGoesBelowZero) {
  Tasks t;
  detail::TaskCount tasks(t.layout, true);
  tasks.count();
  EXPECT_TRUE(tasks.finish(t.stats, BarrierPlan{}));
  EXPECT_FALSE(tasks.finish(t.stats, BarrierPlan{}));  // one too many: refused, unchanged
  EXPECT_EQ(tasks.unfinished(), 0u);
}

TEST(TaskCount, JoinWaitsForAnotherProcessesTaskDone) {
  Tasks t;
  detail::TaskCount tasks(t.layout, true);
  tasks.count();
  EXPECT_FALSE(tasks.join(nowait, t.stats, BarrierPlan{}));
  EXPECT_FALSE(tasks.join(Wait(20ms), t.stats, BarrierPlan{}));
  Child child = fork_child([&](int) {
    std::this_thread::sleep_for(50ms);
    BlockingStats stats;
    detail::TaskCount theirs(t.layout, true);
    return theirs.finish(stats, BarrierPlan{}) ? 0 : 1;
  });
  EXPECT_TRUE(tasks.join(Wait(10s), t.stats, BarrierPlan{}));
  EXPECT_EQ(child.wait(), 0);
}

}  // namespace
}  // namespace shmring
