// Queue::open on hostile and damaged files: every damage has its own Errc
// and nothing crashes. Damaged files are made from a valid queue by writing
// the layouts' fields directly (offsets from offsetof, never hard-coded).
// Also: records damaged after open, the producer/consumer roles across
// real processes (a separately started peer, and fork), unlink removing only
// a queue, and create under a file size limit.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/engine/spsc_ring_layout.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using platform::SegmentHeaderLayout;
using test::UniqueName;

constexpr std::uint64_t kCapacity = 4096;

// Where each field lives, from the layout structs.
constexpr std::uint64_t kHeaderMagic = offsetof(SegmentHeaderLayout, magic);
constexpr std::uint64_t kHeaderVersion = offsetof(SegmentHeaderLayout, header_version);
constexpr std::uint64_t kHeaderSize = offsetof(SegmentHeaderLayout, header_size);
constexpr std::uint64_t kHeaderKind = offsetof(SegmentHeaderLayout, kind);
constexpr std::uint64_t kHeaderLayoutVersion = offsetof(SegmentHeaderLayout, layout_version);
constexpr std::uint64_t kHeaderLayoutHash = offsetof(SegmentHeaderLayout, layout_hash);
constexpr std::uint64_t kHeaderFileSize = offsetof(SegmentHeaderLayout, file_size);
constexpr std::uint64_t kHeaderPayloadOffset = offsetof(SegmentHeaderLayout, payload_offset);
constexpr std::uint64_t kHeaderPayloadSize = offsetof(SegmentHeaderLayout, payload_size);
constexpr std::uint64_t kHeaderState = offsetof(SegmentHeaderLayout, state);

constexpr std::uint64_t kConfig = offsetof(QueueLayout, config);
constexpr std::uint64_t kCapacityField = kConfig + offsetof(QueueConfigLayout, capacity);
constexpr std::uint64_t kMaxMessageField = kConfig + offsetof(QueueConfigLayout, max_message);
constexpr std::uint64_t kDataOffsetField = kConfig + offsetof(QueueConfigLayout, data_offset);
constexpr std::uint64_t kTailField =
    offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, producer) + offsetof(SpscProducerLayout, tail);
constexpr std::uint64_t kPutCountField =
    offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, producer) + offsetof(SpscProducerLayout, put_count);
constexpr std::uint64_t kHeadField =
    offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, consumer) + offsetof(SpscConsumerLayout, head);
constexpr std::uint64_t kGetCountField =
    offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, consumer) + offsetof(SpscConsumerLayout, get_count);
constexpr std::uint64_t kClosedField = offsetof(QueueLayout, control) + offsetof(QueueControlLayout, closed);

// Reads and writes a file at byte offsets (pread/pwrite: no mapping to go stale).
class FileEditor {
 public:
  explicit FileEditor(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW)) {}
  FileEditor(const FileEditor&) = delete;
  FileEditor& operator=(const FileEditor&) = delete;
  ~FileEditor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] bool ok() const noexcept { return fd_ >= 0; }

  template <class T>
  T read(std::uint64_t offset) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    EXPECT_EQ(::pread(fd_, &v, sizeof(T), static_cast<off_t>(offset)), static_cast<ssize_t>(sizeof(T)));
    return v;
  }
  template <class T>
  void write(std::uint64_t offset, T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    EXPECT_EQ(::pwrite(fd_, &v, sizeof(T), static_cast<off_t>(offset)), static_cast<ssize_t>(sizeof(T)));
  }
  void truncate(std::uint64_t size) { EXPECT_EQ(::ftruncate(fd_, static_cast<off_t>(size)), 0); }

  // The queue's own fields and its ring bytes, where the header says they are.
  [[nodiscard]] std::uint64_t queue_at() const { return read<std::uint64_t>(kHeaderPayloadOffset); }
  template <class T>
  T read_queue(std::uint64_t field) const {
    return read<T>(queue_at() + field);
  }
  template <class T>
  void write_queue(std::uint64_t field, T v) {
    write(queue_at() + field, v);
  }
  [[nodiscard]] std::uint64_t ring_at(std::uint64_t position) const {
    const auto capacity = read_queue<std::uint64_t>(kCapacityField);
    return queue_at() + read_queue<std::uint64_t>(kDataOffsetField) + (position & (capacity - 1));
  }

 private:
  int fd_;
};

// The damage below is written against the SPSC engine's layout (positions,
// record headers, role words); the MPMC engine's own damage tests follow them.
QueueOptions small_queue() {
  QueueOptions o;
  o.engine = Engine::spsc;
  o.capacity_bytes = kCapacity;
  return o;
}

// Errors must come back at once: nothing here is a creator still at work.
OpenOptions immediate(Role role = Role::none) {
  OpenOptions o;
  o.ready_timeout = 0ns;
  o.role = role;
  return o;
}

// Creates a valid queue holding `messages` short messages, and closes the handle.
void make_queue(const UniqueName& name, int messages = 0) {
  auto q = Queue::create(name, small_queue());
  ASSERT_TRUE(q) << q.error().message();
  for (int i = 0; i < messages; ++i) ASSERT_EQ(q->put_nowait("message " + std::to_string(i)), PutStatus::ok);
}

testing::AssertionResult open_fails_with(const UniqueName& name, Errc want) {
  auto q = Queue::open(name, immediate());
  if (q) return testing::AssertionFailure() << "open succeeded; expected '" << to_string(want) << "'";
  if (q.error().code != want) {
    return testing::AssertionFailure() << "open failed with '" << q.error().message() << "'; expected '"
                                       << to_string(want) << "'";
  }
  return testing::AssertionSuccess();
}

// A valid queue whose file `edit` changes (e.g. one field overwritten, or an
// edit that depends on the current contents) must then fail to open with `want`.
template <class Edit>
testing::AssertionResult edited_queue_fails_with(Edit edit, Errc want) {
  UniqueName name;
  make_queue(name, 1);
  {
    FileEditor f(name.path());
    if (!f.ok()) return testing::AssertionFailure() << "cannot open " << name.path();
    edit(f);
  }
  return open_fails_with(name, want);
}

// One field of the segment header overwritten.
template <class T>
testing::AssertionResult damaged_header_fails_with(std::uint64_t field, T value, Errc want) {
  return edited_queue_fails_with([&](FileEditor& f) { f.write(field, value); }, want);
}

// One field of the QueueLayout overwritten.
template <class T>
testing::AssertionResult damaged_queue_fails_with(std::uint64_t field, T value, Errc want) {
  return edited_queue_fails_with([&](FileEditor& f) { f.write_queue(field, value); }, want);
}

// ---- the baseline -----------------------------------------------------------

// The layout hash (sizes, alignments, offsets, byte order) recorded on x86_64.
// The cross builds (scripts/cross.sh: aarch64, armhf, riscv64) run this test
// too, so a layout that differs on any of them fails here. A deliberate
// layout change updates this number together with kQueueLayoutVersion.
TEST(QueueOpen, LayoutHashIsTheSameOnEveryLittleEndianTarget) {
  if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
    // Layout version 7 (the MPMC ring with hazards, on-demand memory,
    // fixed-size slots, lanes, pollers, the lane engine's consumer lease); a
    // layout change updates this value together with kQueueLayoutVersion.
    EXPECT_EQ(kQueueLayoutHash, 0xd80c028110aa6d29ULL);
  } else {
    GTEST_SKIP() << "big-endian target: its layout hash differs by design (byte order is part of it)";
  }
}

TEST(QueueOpen, UndamagedQueueOpens) {
  UniqueName name;
  make_queue(name, 2);
  auto q = Queue::open(name, immediate());
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->qsize(), 2u);
  EXPECT_EQ(q->get_nowait().text(), "message 0");
  // The layout sits where the header says and where the tests write.
  FileEditor f(name.path());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.queue_at(), sizeof(SegmentHeaderLayout));
  EXPECT_EQ(f.read_queue<std::uint64_t>(kCapacityField), kCapacity);
  EXPECT_EQ(f.read_queue<std::uint64_t>(kGetCountField), 1u);
}

// ---- the file itself ----------------------------------------------------------

TEST(QueueOpen, EmptyFileFailsWithEmptyFile) {
  UniqueName name;
  const int fd = ::open(name.path().c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ::close(fd);
  EXPECT_TRUE(open_fails_with(name, Errc::empty_file));
}

TEST(QueueOpen, FileShorterThanTheSegmentHeaderFailsWithTruncated) {
  UniqueName name;
  make_queue(name, 1);
  FileEditor(name.path()).truncate(64);
  EXPECT_TRUE(open_fails_with(name, Errc::truncated));
}

TEST(QueueOpen, FileShorterThanItsHeaderSaysFailsWithTruncated) {
  UniqueName name;
  make_queue(name, 1);
  FileEditor(name.path()).truncate(sizeof(SegmentHeaderLayout) + 64);
  EXPECT_TRUE(open_fails_with(name, Errc::truncated));
}

TEST(QueueOpen, FileCutInsideTheRingFailsWithTruncated) {
  UniqueName name;
  make_queue(name, 1);
  FileEditor f(name.path());
  f.truncate(f.read<std::uint64_t>(kHeaderFileSize) - 8);
  EXPECT_TRUE(open_fails_with(name, Errc::truncated));
}

TEST(QueueOpen, FileLongerThanItsHeaderSaysFailsWithBadSize) {
  UniqueName name;
  make_queue(name, 1);
  FileEditor f(name.path());
  f.truncate(f.read<std::uint64_t>(kHeaderFileSize) + 4096);
  EXPECT_TRUE(open_fails_with(name, Errc::bad_size));
}

TEST(QueueOpen, SymlinkAtTheNameFailsWithIsSymlink) {
  UniqueName real;
  make_queue(real, 1);
  UniqueName link;
  ASSERT_EQ(::symlink(real.path().c_str(), link.path().c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(open_fails_with(link, Errc::is_symlink));
}

TEST(QueueOpen, DirectoryAtTheNameFailsWithNotRegularFile) {
  UniqueName name;
  ASSERT_EQ(::mkdir(name.path().c_str(), 0700), 0) << std::strerror(errno);
  struct RemoveDir {
    std::string path;
    ~RemoveDir() { ::rmdir(path.c_str()); }  // UniqueName only unlinks files
  } remove_dir{name.path()};
  auto q = Queue::open(name, immediate());
  ASSERT_FALSE(q);
  // open(O_RDWR) of a directory fails with EISDIR before fstat can look.
  EXPECT_EQ(q.error().code, Errc::not_regular_file) << q.error().message();
}

TEST(QueueOpen, FifoAtTheNameFailsWithNotRegularFile) {
  UniqueName name;
  ASSERT_EQ(::mkfifo(name.path().c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_TRUE(open_fails_with(name, Errc::not_regular_file));
}

TEST(QueueOpen, CreateOnAnExistingNameFailsWithExists) {
  UniqueName name;
  make_queue(name, 1);
  auto again = Queue::create(name, small_queue());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::exists) << again.error().message();
  // The existing queue is untouched.
  auto q = Queue::open(name, immediate());
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->get_nowait().text(), "message 0");
}

// ---- the segment header -----------------------------------------------------

TEST(QueueOpen, WrongMagicFailsWithBadMagic) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderMagic, std::uint64_t{0x0102030405060708}, Errc::bad_magic));
  EXPECT_TRUE(damaged_header_fails_with(kHeaderMagic, std::uint64_t{0}, Errc::bad_magic));
}

// A file written on a machine of the other byte order.
TEST(QueueOpen, ByteSwappedMagicFailsWithBadLayout) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderMagic, __builtin_bswap64(platform::kSegmentMagic), Errc::bad_layout));
}

TEST(QueueOpen, WrongHeaderVersionFailsWithBadVersion) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderVersion, platform::kSegmentHeaderVersion + 1, Errc::bad_version));
  EXPECT_TRUE(damaged_header_fails_with(kHeaderVersion, std::uint32_t{0}, Errc::bad_version));
}

TEST(QueueOpen, WrongHeaderSizeFailsWithBadLayout) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderSize, std::uint32_t{64}, Errc::bad_layout));
}

TEST(QueueOpen, WrongKindFailsWithWrongKind) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderKind, std::uint32_t{0x4b434f4cu} /* "LOCK" */, Errc::wrong_kind));
}

TEST(QueueOpen, WrongLayoutVersionFailsWithBadVersion) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderLayoutVersion, kQueueLayoutVersion + 1, Errc::bad_version));
}

TEST(QueueOpen, WrongLayoutHashFailsWithBadLayout) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderLayoutHash, kQueueLayoutHash ^ 1u, Errc::bad_layout));
}

TEST(QueueOpen, UnpublishedStateFailsWithNotReady) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderState, static_cast<std::uint32_t>(platform::SegmentState::initializing),
                                        Errc::not_ready));
  EXPECT_TRUE(damaged_header_fails_with(kHeaderState, std::uint32_t{0xdeadbeef}, Errc::not_ready));
}

TEST(QueueOpen, PayloadSizeLargerThanTheFileFailsWithBadSize) {
  EXPECT_TRUE(edited_queue_fails_with(
      [](FileEditor& f) { f.write(kHeaderPayloadSize, f.read<std::uint64_t>(kHeaderPayloadSize) + 128); },
      Errc::bad_size));
  EXPECT_TRUE(damaged_header_fails_with(kHeaderPayloadSize, ~std::uint64_t{0}, Errc::bad_size));
}

TEST(QueueOpen, PayloadSizeSmallerThanTheQueueLayoutFailsWithBadSize) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderPayloadSize, std::uint64_t{sizeof(QueueLayout) - 8}, Errc::bad_size));
}

TEST(QueueOpen, PayloadSizeSmallerThanTheRingFailsWithBadSize) {
  // The header is consistent, but the queue's capacity no longer fits in the payload.
  EXPECT_TRUE(damaged_header_fails_with(kHeaderPayloadSize, std::uint64_t{sizeof(QueueLayout) + kCapacity / 2},
                                        Errc::bad_size));
}

TEST(QueueOpen, FileSizeFieldLargerThanTheFileFailsWithTruncated) {
  EXPECT_TRUE(edited_queue_fails_with(
      [](FileEditor& f) { f.write(kHeaderFileSize, f.read<std::uint64_t>(kHeaderFileSize) + 4096); }, Errc::truncated));
}

TEST(QueueOpen, FileSizeFieldSmallerThanTheFileFailsWithBadSize) {
  EXPECT_TRUE(edited_queue_fails_with(
      [](FileEditor& f) { f.write(kHeaderFileSize, f.read<std::uint64_t>(kHeaderFileSize) - 128); }, Errc::bad_size));
}

TEST(QueueOpen, DamagedPayloadOffsetFailsWithBadSize) {
  EXPECT_TRUE(damaged_header_fails_with(kHeaderPayloadOffset, std::uint64_t{0}, Errc::bad_size));
  EXPECT_TRUE(damaged_header_fails_with(kHeaderPayloadOffset, std::uint64_t{136}, Errc::bad_size));
  EXPECT_TRUE(damaged_header_fails_with(kHeaderPayloadOffset, std::uint64_t{1} << 40, Errc::bad_size));
  EXPECT_TRUE(
      damaged_header_fails_with(kHeaderPayloadOffset, std::uint64_t{256}, Errc::bad_size));  // payload past the end
}

// ---- the queue's configuration --------------------------------------------------

TEST(QueueOpen, CapacityNotAPowerOfTwoFailsWithBadSize) {
  EXPECT_TRUE(damaged_queue_fails_with(kCapacityField, kCapacity - 8, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kCapacityField, kCapacity + 8, Errc::bad_size));
}

TEST(QueueOpen, CapacityLargerThanTheFileFailsWithBadSize) {
  EXPECT_TRUE(damaged_queue_fails_with(kCapacityField, kCapacity * 2, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kCapacityField, std::uint64_t{1} << 40, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kCapacityField, std::uint64_t{1} << 63, Errc::bad_size));
}

TEST(QueueOpen, CapacityZeroOrBelowTheMinimumFailsWithBadSize) {
  EXPECT_TRUE(damaged_queue_fails_with(kCapacityField, std::uint64_t{0}, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kCapacityField, kCapacity / 2, Errc::bad_size));
}

TEST(QueueOpen, MaxMessageZeroFailsWithBadSize) {
  EXPECT_TRUE(damaged_queue_fails_with(kMaxMessageField, std::uint64_t{0}, Errc::bad_size));
}

TEST(QueueOpen, MaxMessageAboveHalfTheCapacityFailsWithBadSize) {
  // The largest valid value is capacity/2 minus one record header.
  EXPECT_TRUE(damaged_queue_fails_with(kMaxMessageField, kCapacity / 2 - sizeof(RecordHeader) + 1, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kMaxMessageField, kCapacity / 2 + 1, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kMaxMessageField, kCapacity, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kMaxMessageField, ~std::uint64_t{0}, Errc::bad_size));
}

TEST(QueueOpen, DamagedDataOffsetFailsWithBadSize) {
  EXPECT_TRUE(damaged_queue_fails_with(kDataOffsetField, std::uint64_t{0}, Errc::bad_size));
  EXPECT_TRUE(damaged_queue_fails_with(kDataOffsetField, std::uint64_t{sizeof(QueueLayout) + 128}, Errc::bad_size));
}

// ---- the ring positions -----------------------------------------------------------

TEST(QueueOpen, HeadBeyondTailFailsWithCorrupt) {
  EXPECT_TRUE(edited_queue_fails_with(
      [](FileEditor& f) { f.write_queue(kHeadField, f.read_queue<std::uint64_t>(kTailField) + 8); }, Errc::corrupt));
}

TEST(QueueOpen, TailMoreThanACapacityAheadOfHeadFailsWithCorrupt) {
  EXPECT_TRUE(damaged_queue_fails_with(kTailField, kCapacity + 8, Errc::corrupt));
  EXPECT_TRUE(damaged_queue_fails_with(kTailField, ~std::uint64_t{7}, Errc::corrupt));
}

TEST(QueueOpen, UnalignedPositionsFailWithCorrupt) {
  EXPECT_TRUE(damaged_queue_fails_with(kTailField, std::uint64_t{19}, Errc::corrupt));
  EXPECT_TRUE(damaged_queue_fails_with(kHeadField, std::uint64_t{3}, Errc::corrupt));
}

TEST(QueueOpen, MoreMessagesTakenThanPutFailsWithCorrupt) {
  EXPECT_TRUE(damaged_queue_fails_with(kGetCountField, std::uint64_t{1000}, Errc::corrupt));
}

TEST(QueueOpen, ClosedFlagSevenFailsWithCorrupt) {
  EXPECT_TRUE(damaged_queue_fails_with(kClosedField, std::uint32_t{7}, Errc::corrupt));
}

TEST(QueueOpen, ClosedFlagOneOpensAsAClosedQueue) {
  UniqueName name;
  make_queue(name, 1);
  FileEditor(name.path()).write_queue(kClosedField, std::uint32_t{1});
  auto q = Queue::open(name, immediate());
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(q->put_nowait("x"), PutStatus::closed);
  EXPECT_EQ(q->get_nowait().text(), "message 0");  // drains first
  EXPECT_EQ(q->get_nowait().status, GetStatus::closed);
}

// ---- random damage --------------------------------------------------------------

// 200 seeded cases: a few random bytes of the first KiB (segment header, queue
// layout and the first ring records) overwritten. Each case runs in its own
// child, so a crash or a hang fails the test with the seed that caused it.
TEST(QueueOpen, RandomDamageToTheFirstKilobyteNeverCrashes) {
  constexpr int kCases = 200;
  constexpr std::uint64_t kSeed = 0x5eed'0001;
  std::map<std::string, int> outcomes;
  for (int c = 0; c < kCases; ++c) {
    UniqueName name("rnd");
    ASSERT_NO_FATAL_FAILURE(make_queue(name, 3));
    std::mt19937_64 rng(kSeed + static_cast<std::uint64_t>(c));
    std::string damage;
    {
      FileEditor f(name.path());
      ASSERT_TRUE(f.ok());
      const int bytes = 1 + static_cast<int>(rng() % 4);
      for (int b = 0; b < bytes; ++b) {
        const std::uint64_t offset = rng() % 1024;
        const auto value = static_cast<std::uint8_t>(rng());
        f.write(offset, value);
        damage += " [" + std::to_string(offset) + "]=" + std::to_string(value);
      }
    }
    test::Child child = test::fork_child([&](int out) {
      auto q = Queue::open(name, immediate());
      if (!q) {
        test::write_line(out, std::string("open: ") + to_string(q.error().code));
        return 0;
      }
      const Message m = q->get_nowait();
      const PutStatus p = q->put_nowait("after damage");
      test::write_line(out, std::string("get ") + to_string(m.status) + ", put " + to_string(p));
      return 0;
    });
    const std::string outcome = child.read_line(10s);
    const int rc = child.wait(10s);
    ASSERT_EQ(rc, 0) << "case " << c << " (seed " << kSeed + static_cast<std::uint64_t>(c) << ", damage" << damage
                     << "): the child crashed or hung (rc " << rc << ", 128+n is signal n)";
    ASSERT_FALSE(outcome.empty()) << "case " << c << ": no outcome reported";
    ++outcomes[outcome];
  }
  std::string summary;
  for (const auto& [outcome, count] : outcomes) summary += "  " + std::to_string(count) + " x " + outcome + "\n";
  std::printf("outcomes of %d random damages:\n%s", kCases, summary.c_str());
}

// ---- damage after open ------------------------------------------------------------

// A small queue and two handles on it in this process: the producer (the
// creator) and a consumer. Fails the test (by exception) if either fails.
struct Handles {
  Queue producer;
  Queue consumer;
};
Handles producer_and_consumer(const UniqueName& name) {
  Queue p = test::create_or_throw(name, small_queue());
  return Handles{std::move(p), test::open_or_throw(name, Role::consumer)};
}

TEST(QueueOpen, DamagedRecordLengthMakesGetReturnCorrupt) {
  UniqueName name;
  auto [producer, consumer] = producer_and_consumer(name);
  ASSERT_EQ(producer.put_nowait("hello"), PutStatus::ok);

  FileEditor f(name.path());
  const std::uint64_t head = f.read_queue<std::uint64_t>(kHeadField);
  const auto at = f.ring_at(head) + offsetof(RecordHeader, length);
  for (const std::uint32_t length : {0x7fffff00u, static_cast<std::uint32_t>(kCapacity), 64u}) {
    f.write(at, length);
    EXPECT_EQ(consumer.get_nowait().status, GetStatus::corrupt) << "length " << length;
    EXPECT_EQ(consumer.get_nowait().status, GetStatus::corrupt) << "length " << length << ", asked again";
  }
  // The producer side still answers with a status.
  const PutStatus p = producer.put_nowait("more");
  EXPECT_TRUE(p == PutStatus::ok || p == PutStatus::corrupt) << to_string(p);
}

TEST(QueueOpen, DamagedRecordSequenceMakesGetReturnCorrupt) {
  UniqueName name;
  auto [producer, consumer] = producer_and_consumer(name);
  ASSERT_EQ(producer.put_nowait("one"), PutStatus::ok);
  ASSERT_EQ(consumer.get_nowait().text(), "one");
  ASSERT_EQ(producer.put_nowait("two"), PutStatus::ok);

  FileEditor f(name.path());
  const auto at = f.ring_at(f.read_queue<std::uint64_t>(kHeadField)) + offsetof(RecordHeader, seq);
  f.write(at, f.read<std::uint32_t>(at) + 5);
  EXPECT_EQ(consumer.get_nowait().status, GetStatus::corrupt);
}

TEST(QueueOpen, DamagedPaddingRecordMakesGetReturnCorrupt) {
  UniqueName name;
  auto [producer, consumer] = producer_and_consumer(name);
  ASSERT_EQ(producer.put_nowait("hello"), PutStatus::ok);

  // A padding record at head that does not reach the end of the ring.
  FileEditor f(name.path());
  const auto at = f.ring_at(f.read_queue<std::uint64_t>(kHeadField)) + offsetof(RecordHeader, length);
  f.write(at, kPaddingFlag | 8u);
  EXPECT_EQ(consumer.get_nowait().status, GetStatus::corrupt);
}

TEST(QueueOpen, TailMovedBehindHeadAfterOpenMakesGetReturnCorrupt) {
  UniqueName name;
  auto [producer, consumer] = producer_and_consumer(name);
  ASSERT_EQ(producer.put_nowait("hello"), PutStatus::ok);
  ASSERT_EQ(consumer.get_nowait().text(), "hello");

  FileEditor f(name.path());
  const std::uint64_t head = f.read_queue<std::uint64_t>(kHeadField);
  ASSERT_GE(head, 8u);
  f.write_queue(kTailField, head - 8);
  EXPECT_EQ(consumer.get_nowait().status, GetStatus::corrupt);
}

TEST(QueueOpen, HeadMovedPastTailAfterOpenMakesAPutOnAFullRingReturnCorrupt) {
  UniqueName name;
  auto producer = Queue::create(name, small_queue());
  ASSERT_TRUE(producer) << producer.error().message();
  const std::string chunk(200, 'x');
  PutStatus s = PutStatus::ok;
  for (int i = 0; i < 1000 && s == PutStatus::ok; ++i) s = producer->put_nowait(chunk);
  ASSERT_EQ(s, PutStatus::full);

  FileEditor f(name.path());
  f.write_queue(kHeadField, f.read_queue<std::uint64_t>(kTailField) + 64);
  EXPECT_EQ(producer->put_nowait(chunk), PutStatus::corrupt);
}

// ---- roles across processes ---------------------------------------------------------

// `hold` opens the queue with the role and sleeps; a SIGKILL leaves its owner
// token in the slot, and the next opener takes the role over.
void role_is_refused_while_held_and_taken_over_after_the_holder_dies(Role role, const char* role_name) {
  UniqueName name;
  auto creator = Queue::create(name, small_queue());
  ASSERT_TRUE(creator) << creator.error().message();
  test::Child peer = test::spawn(test::queue_peer_path(), {"hold", name.str(), role_name, "30"});
  ASSERT_GT(peer.pid(), 0) << "could not start " << test::queue_peer_path();
  ASSERT_EQ(peer.read_line(10s), "held");

  auto refused = Queue::open(name, immediate(role));
  ASSERT_FALSE(refused) << "the role was granted while the peer holds it";
  EXPECT_EQ(refused.error().code, Errc::role_taken) << refused.error().message();
  // The other role is free.
  const Role other = role == Role::producer ? Role::consumer : Role::producer;
  {
    auto other_side = Queue::open(name, immediate(other));
    EXPECT_TRUE(other_side) << other_side.error().message();
  }

  peer.kill(SIGKILL);
  ASSERT_EQ(peer.wait(10s), 128 + SIGKILL);

  auto taken = Queue::open(name, immediate(role));
  ASSERT_TRUE(taken) << "no takeover after the holder died: " << taken.error().message();
  EXPECT_EQ(taken->roles_held(), role);
  // Now this process holds it through `taken`: another handle is refused.
  auto second = Queue::open(name, immediate(role));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::role_taken);
}

TEST(QueueOpen, ProducerRoleOfALivePeerIsRefusedAndTakenOverAfterItIsKilled) {
  role_is_refused_while_held_and_taken_over_after_the_holder_dies(Role::producer, "producer");
}

TEST(QueueOpen, ConsumerRoleOfALivePeerIsRefusedAndTakenOverAfterItIsKilled) {
  role_is_refused_while_held_and_taken_over_after_the_holder_dies(Role::consumer, "consumer");
}

TEST(QueueOpen, PeerProcessReportsTheSameErrorForADamagedFile) {
  UniqueName name;
  make_queue(name, 1);
  FileEditor(name.path()).write(kHeaderMagic, std::uint64_t{42});
  test::Child peer = test::spawn(test::queue_peer_path(), {"open", name.str()});
  EXPECT_EQ(peer.read_line(10s), std::string("error ") + to_string(Errc::bad_magic));
  EXPECT_EQ(peer.wait(10s), 0);
}

// A consumer's count above the producer's is damage only where the count
// limits the queue (maxsize); without maxsize, the producer's wait predicate
// once answered "room" while claim() answered "full", and a put waiting for
// room spun at full CPU instead of sleeping (a retry-loop review found it).
TEST(QueueOpen, ADamagedConsumerCountDoesNotMakeAWaitingPutSpin) {
  UniqueName name;
  Queue q = test::or_throw(Queue::create(name, small_queue()));
  const std::string m(100, 'x');
  while (q.put_nowait(m) == PutStatus::ok) {
  }
  FileEditor(name.path()).write_queue(kGetCountField, std::uint64_t{1} << 40);
  const test::WaitCost c = test::measure_wait([&] { EXPECT_EQ(q.put(m, 300ms), PutStatus::full); });
  EXPECT_GE(c.wall_ns, 290 * test::kMs);
  EXPECT_LT(c.cpu_ns, c.wall_ns / 3) << "the waiting put used " << c.cpu_ns / test::kMs << " ms of CPU in "
                                     << c.wall_ns / test::kMs << " ms";
}

TEST(QueueOpen, ForkedChildCannotPutThroughAnInheritedHandleWhileTheParentIsProducer) {
  UniqueName name;
  auto q = Queue::create(name, small_queue());
  ASSERT_TRUE(q) << q.error().message();
  ASSERT_EQ(q->put_nowait("from parent"), PutStatus::ok);
  ASSERT_EQ(q->roles_held(), Role::producer);

  test::Child child = test::fork_child([&](int out) {
    const Role inherited = q->roles_held();  // a fork copy holds nothing
    const PutStatus s = q->put_nowait("from child");
    test::write_line(out, std::string(to_string(s)) + " " + std::to_string(static_cast<int>(inherited)));
    return 0;
  });
  EXPECT_EQ(child.read_line(10s), std::string(to_string(PutStatus::role_taken)) + " 0");
  EXPECT_EQ(child.wait(10s), 0);

  // The parent still produces; only its own message is queued.
  EXPECT_EQ(q->put_nowait("again"), PutStatus::ok);
  EXPECT_EQ(q->qsize(), 2u);
  EXPECT_EQ(q->get_nowait().text(), "from parent");
  EXPECT_EQ(q->get_nowait().text(), "again");
}

// Queue::unlink removes a queue and nothing else: a Lock, a JoinableQueue, a
// Pipe and a file that is not a segment are refused and stay (it used to
// delete any file at any path).
TEST(QueueOpen, UnlinkRemovesOnlyAQueue) {
  UniqueName lock_name("unlink-lock");
  UniqueName joinable_name("unlink-joinable");
  UniqueName pipe_name("unlink-pipe");
  UniqueName queue_name("unlink-queue");
  UniqueName plain_name("unlink-plain");
  auto lock = Lock::create(lock_name);
  ASSERT_TRUE(lock) << lock.error().message();
  auto joinable = JoinableQueue::create(joinable_name, {.capacity_bytes = kCapacity});
  ASSERT_TRUE(joinable) << joinable.error().message();
  auto pipe = Pipe::create(pipe_name);
  ASSERT_TRUE(pipe) << pipe.error().message();
  auto queue = Queue::create(queue_name, {.capacity_bytes = kCapacity});
  ASSERT_TRUE(queue) << queue.error().message();
  {
    const int fd = ::open(plain_name.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::string text(200, 'p');
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
  }

  for (const UniqueName* other : {&lock_name, &joinable_name, &pipe_name}) {
    auto r = Queue::unlink(*other);
    ASSERT_FALSE(r) << other->str();
    EXPECT_EQ(r.error().code, Errc::wrong_kind) << other->str();
  }
  auto plain = Queue::unlink(plain_name);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, Errc::bad_magic);
  auto lock_on_queue = Lock::unlink(queue_name);
  ASSERT_FALSE(lock_on_queue);
  EXPECT_EQ(lock_on_queue.error().code, Errc::wrong_kind);
  EXPECT_TRUE(Lock::open(lock_name));
  EXPECT_TRUE(JoinableQueue::open(joinable_name));
  EXPECT_TRUE(Connection::open(pipe_name, End::a));
  EXPECT_TRUE(Queue::open(queue_name));
  struct stat st {};
  EXPECT_EQ(::stat(plain_name.path().c_str(), &st), 0);

  EXPECT_TRUE(Queue::unlink(queue_name));
  EXPECT_TRUE(JoinableQueue::unlink(joinable_name));
  EXPECT_TRUE(Lock::unlink(lock_name));
  EXPECT_TRUE(Pipe::unlink(pipe_name));
  for (const UniqueName* gone : {&queue_name, &joinable_name, &lock_name, &pipe_name}) {
    auto r = Queue::open(*gone);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::not_found) << gone->str();
  }
}

// A 4 MiB queue under a 1 MiB RLIMIT_FSIZE: no_space, no signal, no file
// (it used to die of SIGXFSZ and leave a 0-byte file at the name).
TEST(QueueOpen, CreateUnderAFileSizeLimitFailsWithNoSpaceAndLeavesNoFile) {
  UniqueName name;
  test::Child child = test::fork_child([&](int) {
    const rlimit small{1 << 20, 1 << 20};
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) return 10;
    QueueOptions o;
    o.engine = Engine::spsc;
    o.capacity_bytes = 4u << 20;
    o.message_size = 64;
    auto q = Queue::create(name, o);
    if (q) return 11;
    return q.error().code == Errc::no_space ? 0 : 12;
  });
  EXPECT_EQ(child.wait(10s), 0);
  struct stat st {};
  EXPECT_NE(::lstat(name.path().c_str(), &st), 0);
  EXPECT_TRUE(Queue::create(name, {.capacity_bytes = kCapacity}));
}

}  // namespace
}  // namespace shmring
