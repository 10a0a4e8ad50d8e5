// Test support shared by the tests of the IPC objects: the common names
// (one `using namespace test;` brings them all), milliseconds in the
// monotonic clock's nanoseconds, a create/open result unwrapped or the test
// failed with its reason, poke/peek at a file's bytes, and the sync peer's
// timed-wait line and check.
#pragma once

#include <fcntl.h>
#include <time.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "process.hpp"
#include "shmring/platform/clock.hpp"

namespace shmring::test {

// Using-directives are transitive: a test's `using namespace test;` also
// brings the chrono literals (200ms) and monotonic_ns.
using namespace std::chrono_literals;
using platform::monotonic_ns;

inline constexpr std::int64_t kMs = 1'000'000;  // nanoseconds per millisecond

// CPU time this thread has used, in nanoseconds: a wait that should sleep
// shows it used little of its wall time (not a performance measurement).
inline std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Runs `call` (one that should block) and returns how long it took and how
// much CPU this thread used meanwhile.
struct WaitCost {
  std::int64_t wall_ns;
  std::int64_t cpu_ns;
};
template <class F>
WaitCost measure_wait(F&& call) {
  const std::int64_t cpu = thread_cpu_ns();
  const std::int64_t wall = monotonic_ns();
  call();
  return {monotonic_ns() - wall, thread_cpu_ns() - cpu};
}

// The value of a create()/open() result; throws (failing the test) with the
// error's message.
template <class R>
auto or_throw(R r) {
  if (!r) throw std::runtime_error(r.error().message());
  return std::move(*r);
}

// Writes (poke) or reads (peek) a T at a byte offset of the file at `path`,
// as a hostile or careless process would: pread/pwrite, no mapping.
template <class T>
void poke(const std::string& path, std::uint64_t offset, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  ASSERT_GE(fd, 0) << path;
  EXPECT_EQ(::pwrite(fd, &value, sizeof(T), static_cast<off_t>(offset)), static_cast<ssize_t>(sizeof(T)));
  ::close(fd);
}
template <class T>
T peek(const std::string& path, std::uint64_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value{};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  EXPECT_GE(fd, 0) << path;
  EXPECT_EQ(::pread(fd, &value, sizeof(T), static_cast<off_t>(offset)), static_cast<ssize_t>(sizeof(T)));
  if (fd >= 0) ::close(fd);
  return value;
}

// "<status> <t0> <t1> [<word>]" as the sync peer reports a timed wait: the
// status, the monotonic clock before and after, and an optional last word
// (a Condition's "owned"/"not-owned"). An unparsable line leaves status empty.
struct Timed {
  std::string status, word;
  long long t0 = 0, t1 = 0;
};
inline Timed parse_timed(const std::string& line) {
  Timed t;
  char status[32] = {0}, word[32] = {0};
  if (std::sscanf(line.c_str(), "%31s %lld %lld %31s", status, &t.t0, &t.t1, word) >= 3) {
    t.status = status;
    t.word = word;
  }
  return t;
}

// The sync peer's `command` on `name` with a 200 ms timeout, in a separately
// started process that finds nothing to take: it reports `status` (and
// `word`, unless empty) after a wait of at least 200 ms and under 1.5 s, and
// exits 0.
inline void expect_peer_times_out(const char* command, const UniqueName& name, std::string_view status,
                                  std::string_view word = {}) {
  SCOPED_TRACE(command);
  Child peer = spawn(sync_peer_path(), {command, name.str(), "200"});
  ASSERT_EQ(peer.read_line().rfind("ready", 0), 0u);
  const Timed t = parse_timed(peer.read_line());
  EXPECT_EQ(t.status, status);
  if (!word.empty()) {
    EXPECT_EQ(t.word, word);
  }
  EXPECT_GE(t.t1 - t.t0, 200 * kMs);
  EXPECT_LT(t.t1 - t.t0, 1500 * kMs);
  EXPECT_EQ(peer.wait(), 0);
}

}  // namespace shmring::test
