// platform::Segment (shmring/platform/segment.hpp): what create leaves on
// disk (mode, header), names it refuses, symlinks it never follows, cleanup
// of unpublished files, the ready handshake with another process, the errors
// for a full file system, a file size limit and a file of another owner, the
// leftovers of creators that died (taken over) or stopped (kept), and unlink
// refusing what is not a segment of its kind.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"

namespace shmring::platform {
namespace {

using namespace std::chrono_literals;
using test::UniqueName;

constexpr std::uint32_t kTestKind = 0x54534554u;  // "TEST"
constexpr std::uint32_t kTestLayoutVersion = 3;
constexpr std::uint64_t kTestLayoutHash = 0x0123456789abcdefULL;
constexpr std::uint64_t kPayload = 4096;

SegmentSpec spec(std::uint32_t mode = 0600, std::uint64_t payload = kPayload) {
  SegmentSpec s;
  s.kind = kTestKind;
  s.layout_version = kTestLayoutVersion;
  s.layout_hash = kTestLayoutHash;
  s.payload_size = payload;
  s.mode = mode;
  return s;
}

SegmentExpect expect(std::chrono::nanoseconds ready_timeout = 0ns) {
  SegmentExpect e;
  e.kind = kTestKind;
  e.layout_version = kTestLayoutVersion;
  e.layout_hash = kTestLayoutHash;
  e.min_payload_size = kPayload;
  e.ready_timeout = ready_timeout;
  return e;
}

bool exists_no_follow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) st.st_mode = 0;
  return st;
}

// A directory under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/shmring-segment-test-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// Sets the umask for the scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(Segment, CreateMakesARegularFileWithMode0600) {
  ScopedUmask mask(022);
  UniqueName name;
  auto seg = Segment::create(name, spec());
  ASSERT_TRUE(seg) << seg.error().message();
  EXPECT_EQ(seg->path(), name.path());
  const struct stat st = lstat_of(name.path());
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777u, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
}

TEST(Segment, CreateAppliesMode0660DespiteUmask022) {
  ScopedUmask mask(022);
  UniqueName name;
  auto seg = Segment::create(name, spec(0660));
  ASSERT_TRUE(seg) << seg.error().message();
  EXPECT_EQ(lstat_of(name.path()).st_mode & 07777u, 0660u);
}

TEST(Segment, CreateRejectsAModeWithoutOwnerReadWrite) {
  UniqueName name;
  for (const std::uint32_t mode : {0400u, 0200u, 0000u, 01600u, 04600u}) {
    auto seg = Segment::create(name, spec(mode));
    ASSERT_FALSE(seg) << std::oct << mode;
    EXPECT_EQ(seg.error().code, Errc::invalid_argument) << std::oct << mode;
  }
  EXPECT_FALSE(exists_no_follow(name.path()));
}

TEST(Segment, CreateRejectsAZeroPayload) {
  UniqueName name;
  auto seg = Segment::create(name, spec(0600, 0));
  ASSERT_FALSE(seg);
  EXPECT_EQ(seg.error().code, Errc::invalid_argument);
  EXPECT_FALSE(exists_no_follow(name.path()));
}

TEST(Segment, CreateOnAnExistingNameFailsWithExistsAndKeepsTheFile) {
  UniqueName name;
  auto first = Segment::create(name, spec());
  ASSERT_TRUE(first) << first.error().message();
  first->payload()[0] = std::byte{42};
  first->publish();

  auto second = Segment::create(name, spec());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::exists);
  // The failed create neither removed nor changed the first file.
  auto opened = Segment::open(name, expect());
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->payload()[0], std::byte{42});
}

TEST(Segment, CreateWithASymlinkAtTheNameFailsWithExistsAndLeavesTheTargetUntouched) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string target = dir.path() + "/target";
  {
    const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "precious", 8), 8);
    ::close(fd);
  }
  UniqueName name;
  ASSERT_EQ(::symlink(target.c_str(), name.path().c_str()), 0) << std::strerror(errno);

  auto seg = Segment::create(name, spec());
  ASSERT_FALSE(seg);
  EXPECT_EQ(seg.error().code, Errc::exists);

  const struct stat st = lstat_of(target);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 8);
  EXPECT_EQ(st.st_mode & 07777u, 0644u);
  EXPECT_TRUE(S_ISLNK(lstat_of(name.path()).st_mode));  // the link itself is left alone too
}

TEST(Segment, CreateWithADanglingSymlinkAtTheNameFailsWithExistsAndCreatesNoTarget) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string target = dir.path() + "/would-be-created";
  UniqueName name;
  ASSERT_EQ(::symlink(target.c_str(), name.path().c_str()), 0) << std::strerror(errno);

  auto seg = Segment::create(name, spec());
  ASSERT_FALSE(seg);
  EXPECT_EQ(seg.error().code, Errc::exists);
  EXPECT_FALSE(exists_no_follow(target));
}

TEST(Segment, OpenOfASymlinkFailsWithIsSymlink) {
  UniqueName real;
  auto seg = Segment::create(real, spec());
  ASSERT_TRUE(seg) << seg.error().message();
  seg->publish();
  UniqueName link;
  ASSERT_EQ(::symlink(real.path().c_str(), link.path().c_str()), 0) << std::strerror(errno);

  auto opened = Segment::open(link, expect());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::is_symlink);
}

TEST(Segment, OpenOfAMissingNameFailsWithNotFound) {
  UniqueName name;
  auto opened = Segment::open(name, expect());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::not_found);
  EXPECT_EQ(opened.error().sys_errno, ENOENT);
}

TEST(Segment, OpenOfAMissingNameFailsAtOnceDespiteAReadyTimeout) {
  UniqueName name;
  const std::int64_t start = monotonic_ns();
  auto opened = Segment::open(name, expect(2s));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::not_found);
  EXPECT_LT(monotonic_ns() - start, 1'000'000'000);  // not a transient state: no waiting
}

TEST(Segment, InvalidNamesFailWithInvalidName) {
  const std::vector<std::string> names = {
      "",
      "a/b",
      ".",
      "..",
      std::string(300, 'a'),
      std::string(256, 'a'),
      "has space",
      "semi;colon",
      "star*",
      "tab\tname",
      "caf\xc3\xa9",
      std::string("nul\0byte", 8),
      "/",
      "/tmp/trailing/",
  };
  for (const std::string& n : names) {
    const std::string_view name(n);
    auto c = Segment::create(name, spec());
    ASSERT_FALSE(c) << "create accepted '" << n << "'";
    EXPECT_EQ(c.error().code, Errc::invalid_name) << "create '" << n << "'";
    auto o = Segment::open(name, expect());
    ASSERT_FALSE(o) << "open accepted '" << n << "'";
    EXPECT_EQ(o.error().code, Errc::invalid_name) << "open '" << n << "'";
    auto u = Segment::unlink(name, kTestKind);
    ASSERT_FALSE(u) << "unlink accepted '" << n << "'";
    EXPECT_EQ(u.error().code, Errc::invalid_name) << "unlink '" << n << "'";
  }
}

TEST(Segment, NameOf255CharactersIsValid) {
  std::string n(255, 'x');
  auto path = segment_path(n);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*path, "/dev/shm/" + n);
}

TEST(Segment, AbsolutePathOutsideDevShmWorks) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/segment";
  {
    auto seg = Segment::create(path, spec());
    ASSERT_TRUE(seg) << seg.error().message();
    EXPECT_EQ(seg->path(), path);
    seg->payload()[7] = std::byte{7};
    seg->publish();
  }
  EXPECT_TRUE(S_ISREG(lstat_of(path).st_mode));
  auto opened = Segment::open(path, expect());
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->payload()[7], std::byte{7});
  ASSERT_TRUE(Segment::unlink(path, kTestKind));
  EXPECT_FALSE(exists_no_follow(path));
}

TEST(Segment, UnlinkRemovesTheFileAndASecondUnlinkFailsWithNotFound) {
  UniqueName name;
  {
    auto seg = Segment::create(name, spec());
    ASSERT_TRUE(seg) << seg.error().message();
    seg->publish();
  }
  ASSERT_TRUE(exists_no_follow(name.path()));
  auto first = Segment::unlink(name, kTestKind);
  EXPECT_TRUE(first) << first.error().message();
  EXPECT_FALSE(exists_no_follow(name.path()));
  auto second = Segment::unlink(name, kTestKind);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::not_found);
}

TEST(Segment, SegmentDestroyedBeforePublishRemovesItsFile) {
  UniqueName name;
  {
    auto seg = Segment::create(name, spec());
    ASSERT_TRUE(seg) << seg.error().message();
    ASSERT_TRUE(exists_no_follow(name.path()));
  }
  EXPECT_FALSE(exists_no_follow(name.path()));
}

TEST(Segment, MovedUnpublishedSegmentRemovesItsFileOnce) {
  UniqueName name;
  {
    auto seg = Segment::create(name, spec());
    ASSERT_TRUE(seg) << seg.error().message();
    Segment moved = std::move(*seg);
    ASSERT_TRUE(exists_no_follow(name.path()));
  }
  EXPECT_FALSE(exists_no_follow(name.path()));
}

TEST(Segment, PublishedSegmentOutlivesItsCreatorHandle) {
  UniqueName name;
  {
    auto seg = Segment::create(name, spec());
    ASSERT_TRUE(seg) << seg.error().message();
    seg->publish();
  }
  EXPECT_TRUE(exists_no_follow(name.path()));
  EXPECT_TRUE(Segment::open(name, expect()));
}

TEST(Segment, OpenBeforePublishFailsWithNotReady) {
  UniqueName name;
  auto seg = Segment::create(name, spec());
  ASSERT_TRUE(seg) << seg.error().message();
  auto opened = Segment::open(name, expect(0ns));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::not_ready);
}

TEST(Segment, OpenWaitsForACreatorInAnotherProcessToPublish) {
  UniqueName name;
  test::Child creator = test::fork_child([&](int out) {
    auto seg = Segment::create(name, spec());
    if (!seg) return 1;
    test::write_line(out, "created");
    sleep_until_ns(monotonic_ns() + 200'000'000);
    seg->payload()[0] = std::byte{0x5a};
    const std::int64_t published_at = monotonic_ns();
    seg->publish();
    test::write_line(out, std::to_string(published_at));
    return 0;
  });
  ASSERT_EQ(creator.read_line(10s), "created");

  auto opened = Segment::open(name, expect(2s));
  const std::int64_t opened_at = monotonic_ns();
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->payload()[0], std::byte{0x5a});  // what the creator wrote before publish
  EXPECT_EQ(opened->header().creator_pid, static_cast<std::uint64_t>(creator.pid()));
  const std::string published_at = creator.read_line(10s);
  ASSERT_FALSE(published_at.empty());
  EXPECT_GE(opened_at, std::stoll(published_at));  // it did wait for the publish
  EXPECT_EQ(creator.wait(10s), 0);
}

TEST(Segment, CreateFailsWithNoSpaceWhenTheFileCannotBeReservedAndLeavesNoFile) {
  UniqueName name;
  // A small file size limit in a child (it cannot be raised again): the
  // reservation fails with EFBIG instead of killing the process with SIGXFSZ.
  test::Child child = test::fork_child([&](int out) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit small{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) return 10;
    auto seg = Segment::create(name, spec(0600, 1u << 20));
    if (seg) return 11;
    test::write_line(out, std::string(to_string(seg.error().code)) + " " + std::to_string(seg.error().sys_errno));
    if (seg.error().code != Errc::no_space) return 12;
    return exists_no_follow(name.path()) ? 13 : 0;
  });
  const std::string line = child.read_line(10s);
  EXPECT_EQ(child.wait(10s), 0) << "child reported: " << line;
  EXPECT_EQ(line, std::string(to_string(Errc::no_space)) + " " + std::to_string(EFBIG));
  EXPECT_FALSE(exists_no_follow(name.path()));
}

TEST(Segment, OpenOfAFileOwnedByAnotherUserFailsWithForeignOwnerUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown the file";
  UniqueName name;
  {
    auto seg = Segment::create(name, spec());
    ASSERT_TRUE(seg) << seg.error().message();
    seg->publish();
  }
  ASSERT_EQ(::chown(name.path().c_str(), 12345, 12345), 0) << std::strerror(errno);

  auto refused = Segment::open(name, expect());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::foreign_owner);

  SegmentExpect allow = expect();
  allow.allow_foreign_owner = true;
  auto opened = Segment::open(name, allow);
  EXPECT_TRUE(opened) << opened.error().message();
}

TEST(Segment, HeaderFieldsAreAsDocumented) {
  UniqueName name;
  timespec before{};
  ::clock_gettime(CLOCK_REALTIME, &before);
  auto seg = Segment::create(name, spec(0600, kPayload));
  ASSERT_TRUE(seg) << seg.error().message();
  const SegmentHeaderLayout& h = seg->header();
  EXPECT_EQ(h.state.load(), static_cast<std::uint32_t>(SegmentState::initializing));
  EXPECT_EQ(h.magic, kSegmentMagic);
  EXPECT_EQ(h.header_version, kSegmentHeaderVersion);
  EXPECT_EQ(h.header_size, sizeof(SegmentHeaderLayout));
  EXPECT_EQ(h.kind, kTestKind);
  EXPECT_EQ(h.layout_version, kTestLayoutVersion);
  EXPECT_EQ(h.layout_hash, kTestLayoutHash);
  EXPECT_EQ(h.payload_offset, 128u);
  EXPECT_EQ(h.payload_size, kPayload);
  EXPECT_EQ(h.file_size, 128u + kPayload);
  EXPECT_EQ(h.creator_pid, static_cast<std::uint64_t>(::getpid()));
  EXPECT_EQ(h.creator_start_time, current_process().start_time);
  const std::int64_t before_ns = static_cast<std::int64_t>(before.tv_sec) * 1'000'000'000 + before.tv_nsec;
  EXPECT_GE(h.created_realtime_ns, before_ns);
  EXPECT_LT(h.created_realtime_ns, before_ns + 60'000'000'000);
  EXPECT_EQ(seg->payload(), reinterpret_cast<const std::byte*>(&h) + 128);
  EXPECT_EQ(seg->payload_size(), kPayload);

  // The magic spells "SHMRING\x01" in file byte order.
  unsigned char magic_bytes[8];
  std::memcpy(magic_bytes, &h.magic, sizeof(magic_bytes));
  EXPECT_EQ(std::memcmp(magic_bytes, "SHMRING\x01", 8), 0);

  const struct stat st = lstat_of(name.path());
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), h.file_size);
  EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512u, h.file_size);  // reserved, not sparse

  seg->publish();
  EXPECT_EQ(h.state.load(), static_cast<std::uint32_t>(SegmentState::ready));
  auto opened = Segment::open(name, expect());
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->payload_size(), kPayload);
  EXPECT_EQ(opened->header().file_size, h.file_size);
  EXPECT_EQ(opened->header().creator_pid, h.creator_pid);
}

TEST(Segment, OpenerSeesThePayloadTheCreatorWroteBeforePublish) {
  UniqueName name;
  auto seg = Segment::create(name, spec());
  ASSERT_TRUE(seg) << seg.error().message();
  for (std::uint64_t i = 0; i < kPayload; ++i) seg->payload()[i] = static_cast<std::byte>(i * 7);
  seg->publish();
  auto opened = Segment::open(name, expect());
  ASSERT_TRUE(opened) << opened.error().message();
  for (std::uint64_t i = 0; i < kPayload; ++i) {
    ASSERT_EQ(opened->payload()[i], static_cast<std::byte>(i * 7)) << "byte " << i;
  }
  // Both handles map the same memory.
  opened->payload()[1] = std::byte{0xee};
  EXPECT_EQ(seg->payload()[1], std::byte{0xee});
}

// ---- a name only ever holds a complete file; dead creators lose it ----------

// The names in `dir` that start with `prefix`.
std::vector<std::string> names_in(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string leaf = e.path().filename().string();
    if (leaf.compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(leaf));
  }
  EXPECT_FALSE(ec) << dir << ": " << ec.message();
  return out;
}

// The identity of a process that existed and is now dead (reaped).
ProcessId dead_process() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  const ProcessId id{static_cast<std::uint32_t>(pid), process_start_time(static_cast<std::uint32_t>(pid))};
  ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return id;
}

// A child that creates `name` (payload bytes) and then, before publishing,
// does `then` to itself: SIGKILL (a creator dying mid-create) or SIGSTOP (a
// creator stopped mid-create). It reports "created" first.
test::Child creator_that(const UniqueName& name, int then, std::uint64_t payload = kPayload) {
  return test::fork_child([&name, then, payload](int out) {
    auto seg = Segment::create(name, spec(0600, payload));
    if (!seg) return 1;
    test::write_line(out, "created");
    ::raise(then);
    return 2;
  });
}

// A creator killed after its file got the name and before it published: the
// next open proves it dead, removes the file and says so at once (it used to
// wait out its ready timeout and say not_ready, and the name stayed blocked).
TEST(Segment, OpenRemovesTheFileOfACreatorThatDiedBeforePublishingAndSaysCreatorDied) {
  UniqueName name;
  test::Child creator = creator_that(name, SIGKILL);
  ASSERT_EQ(creator.read_line(10s), "created");
  ASSERT_EQ(creator.wait(10s), 128 + SIGKILL);
  ASSERT_TRUE(exists_no_follow(name.path()));

  const std::int64_t start = monotonic_ns();
  auto opened = Segment::open(name, expect(5s));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::creator_died) << opened.error().message();
  EXPECT_LT(monotonic_ns() - start, 1'000'000'000);  // proven dead: no waiting for a ready timeout
  EXPECT_FALSE(exists_no_follow(name.path()));

  auto created = Segment::create(name, spec());
  ASSERT_TRUE(created) << created.error().message();
}

// The same leftover is taken over by the next create (it used to say exists).
TEST(Segment, CreateTakesTheNameFromACreatorThatDiedBeforePublishing) {
  UniqueName name;
  test::Child creator = creator_that(name, SIGKILL);
  ASSERT_EQ(creator.read_line(10s), "created");
  ASSERT_EQ(creator.wait(10s), 128 + SIGKILL);

  auto created = Segment::create(name, spec());
  ASSERT_TRUE(created) << created.error().message();
  created->payload()[0] = std::byte{0x77};
  created->publish();
  EXPECT_EQ(created->header().creator_pid, static_cast<std::uint64_t>(::getpid()));
  auto opened = Segment::open(name, expect());
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->payload()[0], std::byte{0x77});
}

// A stopped process is alive: its file keeps the name (create: exists; open:
// waits its ready timeout, then not_ready) until it is proven dead.
TEST(Segment, ACreatorStoppedBeforePublishingKeepsTheNameUntilItDies) {
  UniqueName name;
  test::Child creator = creator_that(name, SIGSTOP);
  ASSERT_EQ(creator.read_line(10s), "created");
  int st = 0;
  ASSERT_EQ(::waitpid(creator.pid(), &st, WUNTRACED), creator.pid());
  ASSERT_TRUE(WIFSTOPPED(st));

  auto second = Segment::create(name, spec());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::exists);
  const std::int64_t start = monotonic_ns();
  auto waited = Segment::open(name, expect(200ms));
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, Errc::not_ready);
  EXPECT_GE(monotonic_ns() - start, 200'000'000);
  EXPECT_TRUE(exists_no_follow(name.path()));

  creator.kill(SIGKILL);
  EXPECT_EQ(creator.wait(10s), 128 + SIGKILL);
  auto after = Segment::open(name, expect(2s));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Errc::creator_died);
}

// Openers hammering a name while a creator makes 128 MiB segments: each open
// finds nothing (not yet linked, or unlinked) or a complete file it waits for.
// It never sees the file being sized (it used to fail at once with
// bad_magic for the whole fallocate, about 20 ms per create).
TEST(Segment, OpenDuringTheCreateOfALargeSegmentWaitsForItOrFindsNothing) {
  UniqueName name;
  constexpr int kRounds = 4;
  constexpr std::uint64_t kLarge = std::uint64_t{128} << 20;
  test::SharedMemory<std::atomic<int>> done;
  test::Child creator = test::fork_child([&](int out) {
    test::write_line(out, "start");
    int rc = 0;
    for (int i = 0; i < kRounds && rc == 0; ++i) {
      auto seg = Segment::create(name, spec(0600, kLarge));
      if (!seg) {
        test::write_line(out, "create: " + seg.error().message());
        rc = 1;
        break;
      }
      seg->payload()[kLarge - 1] = std::byte{0x5a};
      seg->publish();
      sleep_until_ns(monotonic_ns() + 20'000'000);  // published long enough to be found
      if (auto u = Segment::unlink(name, kTestKind); !u) {
        test::write_line(out, "unlink: " + u.error().message());
        rc = 2;
      }
    }
    done->store(1, std::memory_order_relaxed);  // relaxed: a stop request for the opener loop
    return rc;
  });
  ASSERT_EQ(creator.read_line(10s), "start");
  std::map<std::string, int> seen;
  int opened = 0;
  while (done->load(std::memory_order_relaxed) == 0) {
    auto o = Segment::open(name, expect(5s));
    if (o) {
      ++opened;
      EXPECT_EQ(o->payload()[kLarge - 1], std::byte{0x5a});
    } else if (o.error().code != Errc::not_found) {
      ++seen[o.error().message()];
    }
  }
  EXPECT_EQ(creator.wait(30s), 0) << creator.read_line(1s);
  for (const auto& [what, count] : seen) ADD_FAILURE() << count << " opens failed with: " << what;
  EXPECT_GT(opened, 0);
}

// The creator's mapping is of the named file, as an opener's is: tools that
// read /proc/<pid>/maps find the creator, not an unnamed or "(deleted)" file.
TEST(Segment, TheCreatorMapsTheFileThroughItsName) {
  for (const bool named_temp : {false, true}) {
    detail::use_named_temp_files(named_temp);
    UniqueName name;
    auto seg = Segment::create(name, spec());
    detail::use_named_temp_files(false);
    ASSERT_TRUE(seg) << seg.error().message();
    std::FILE* maps = std::fopen("/proc/self/maps", "r");
    ASSERT_NE(maps, nullptr);
    int found = 0;
    char line[4096];
    while (std::fgets(line, sizeof(line), maps) != nullptr) {
      std::string l(line);
      if (!l.empty() && l.back() == '\n') l.pop_back();
      const std::string& path = name.path();
      if (l.size() >= path.size() && l.compare(l.size() - path.size(), path.size(), path) == 0) ++found;
      EXPECT_EQ(l.find("shmring-tmp"), std::string::npos) << l;
    }
    std::fclose(maps);
    EXPECT_EQ(found, 1) << (named_temp ? "temporary names" : "O_TMPFILE");
  }
}

// Restores O_TMPFILE for the next test.
struct NamedTempFiles {
  NamedTempFiles() { detail::use_named_temp_files(true); }
  NamedTempFiles(const NamedTempFiles&) = delete;
  NamedTempFiles& operator=(const NamedTempFiles&) = delete;
  ~NamedTempFiles() { detail::use_named_temp_files(false); }
};

// Where a file system has no O_TMPFILE, create makes the file under a
// temporary name that carries its pid and start time: the next create in
// that directory removes those of dead creators and keeps a live one's.
TEST(Segment, CreateWithTemporaryNamesRemovesOnlyThoseOfDeadCreators) {
  NamedTempFiles mode;
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const ProcessId dead = dead_process();
  const ProcessId self = current_process();
  const auto temp_name = [](const ProcessId& p, const char* seq) {
    return ".shmring-tmp." + std::to_string(p.pid) + "." + std::to_string(p.start_time) + "." + seq;
  };
  const std::string dead_temp = temp_name(dead, "0");
  const std::string live_temp = temp_name(self, "999999");
  for (const std::string& leaf : {dead_temp, live_temp}) {
    const int fd = ::open((dir.path() + "/" + leaf).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
    ::close(fd);
  }

  const std::string path = dir.path() + "/segment";
  auto seg = Segment::create(path, spec());
  ASSERT_TRUE(seg) << seg.error().message();
  seg->publish();
  EXPECT_EQ(names_in(dir.path(), ".shmring-tmp."), std::vector<std::string>{live_temp});
  auto opened = Segment::open(path, expect());
  EXPECT_TRUE(opened) << opened.error().message();
  EXPECT_TRUE(Segment::unlink(path, kTestKind));
}

// The same leftovers on the temporary-name path: a creator killed before
// publishing loses the name to the next create, and leaves no temporary name.
TEST(Segment, CreateWithTemporaryNamesTakesTheNameFromACreatorThatDied) {
  NamedTempFiles mode;
  UniqueName name;
  test::Child creator = creator_that(name, SIGKILL);
  ASSERT_EQ(creator.read_line(10s), "created");
  ASSERT_EQ(creator.wait(10s), 128 + SIGKILL);
  const std::string prefix = ".shmring-tmp." + std::to_string(creator.pid()) + ".";
  auto created = Segment::create(name, spec());
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_TRUE(names_in("/dev/shm", prefix).empty());
}

// RLIMIT_FSIZE below the file size: create says no_space (EFBIG) before it
// grows anything, instead of the process dying of SIGXFSZ (left at its
// default action here) with a 0-byte file at the name.
TEST(Segment, CreateUnderAFileSizeLimitFailsWithNoSpaceInsteadOfSIGXFSZAndLeavesNothing) {
  UniqueName name;
  test::Child child = test::fork_child([&](int out) {
    const rlimit small{1 << 20, 1 << 20};
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) return 10;
    auto seg = Segment::create(name, spec(0600, 4u << 20));
    if (seg) return 11;
    test::write_line(out, std::string(to_string(seg.error().code)) + " " + std::to_string(seg.error().sys_errno));
    // Below the limit it still works.
    auto fits = Segment::create(name, spec(0600, 512u << 10));
    if (!fits) return 12;
    return 0;
  });
  const std::string line = child.read_line(10s);
  EXPECT_EQ(child.wait(10s), 0) << "child reported: " << line;
  EXPECT_EQ(line, std::string(to_string(Errc::no_space)) + " " + std::to_string(EFBIG));
  EXPECT_FALSE(exists_no_follow(name.path()));
  EXPECT_TRUE(names_in("/dev/shm", ".shmring-tmp." + std::to_string(child.pid()) + ".").empty());
}

// ---- unlink removes only a segment of its kind ------------------------------

TEST(Segment, UnlinkRefusesASegmentOfAnotherKindAndLeavesIt) {
  UniqueName name;
  {
    auto seg = Segment::create(name, spec());
    ASSERT_TRUE(seg) << seg.error().message();
    seg->publish();
  }
  auto refused = Segment::unlink(name, kTestKind + 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::wrong_kind);
  EXPECT_TRUE(Segment::open(name, expect()));
  EXPECT_TRUE(Segment::unlink(name, kTestKind));
  EXPECT_FALSE(exists_no_follow(name.path()));
}

TEST(Segment, UnlinkRefusesWhatIsNotASegmentAndLeavesItUntouched) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const auto write_file = [&](const std::string& leaf, const std::string& bytes) {
    const std::string path = dir.path() + "/" + leaf;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    return path;
  };
  const std::string text = write_file("text", std::string(4096, 'x'));
  const std::string empty = write_file("empty", "");
  const std::string short_file = write_file("short", "SHMRING");
  const std::string subdir = dir.path() + "/dir";
  ASSERT_EQ(::mkdir(subdir.c_str(), 0700), 0);
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(::symlink(text.c_str(), link.c_str()), 0);

  const std::vector<std::pair<std::string, Errc>> cases = {
      {text, Errc::bad_magic},          {empty, Errc::empty_file}, {short_file, Errc::truncated},
      {subdir, Errc::not_regular_file}, {link, Errc::is_symlink},
  };
  for (const auto& [path, code] : cases) {
    auto r = Segment::unlink(path, kTestKind);
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code, code) << path << ": " << r.error().message();
    EXPECT_TRUE(exists_no_follow(path)) << path;
  }
  EXPECT_EQ(lstat_of(text).st_size, 4096);
}

// A dead creator's leftover of the asked kind is a segment like any other.
TEST(Segment, UnlinkRemovesTheFileOfACreatorThatDiedBeforePublishing) {
  UniqueName name;
  test::Child creator = creator_that(name, SIGKILL);
  ASSERT_EQ(creator.read_line(10s), "created");
  ASSERT_EQ(creator.wait(10s), 128 + SIGKILL);
  EXPECT_TRUE(Segment::unlink(name, kTestKind));
  EXPECT_FALSE(exists_no_follow(name.path()));
}

// A creator that drops its unpublished file removes only its own: a file
// another creator made after an unlink keeps the name.
TEST(Segment, AnUnpublishedSegmentRemovesOnlyItsOwnFile) {
  UniqueName name;
  auto first = Segment::create(name, spec());
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_TRUE(Segment::unlink(name, kTestKind));
  auto second = Segment::create(name, spec());
  ASSERT_TRUE(second) << second.error().message();
  second->publish();
  { Segment dropped = std::move(*first); }
  EXPECT_TRUE(Segment::open(name, expect()));
}

}  // namespace
}  // namespace shmring::platform
