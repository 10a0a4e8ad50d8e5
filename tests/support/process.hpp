// Test support: real processes (fork, and separately started executables),
// segment names that are unique and always removed, and a pipe for results.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <chrono>
#include <thread>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shmring::test {

// A segment name unique to this process and call; the file is unlinked when
// the object goes out of scope, also when the test failed.
class UniqueName {
 public:
  explicit UniqueName(const char* tag = "t");
  UniqueName(const UniqueName&) = delete;
  UniqueName& operator=(const UniqueName&) = delete;
  ~UniqueName();
  [[nodiscard]] const std::string& str() const noexcept { return name_; }
  [[nodiscard]] const char* c_str() const noexcept { return name_.c_str(); }
  [[nodiscard]] std::string path() const { return "/dev/shm/" + name_; }
  operator std::string_view() const noexcept { return name_; }  // NOLINT: convenience

 private:
  std::string name_;
};

// A child process we started: killed (SIGKILL, this pid only) and reaped if
// the test ends before it was waited for.
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid, int out_fd = -1) : pid_(pid), out_fd_(out_fd) {}
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Waits for the exit; returns the exit code, 128+signal if killed, -1 on timeout
  // (the child is then killed).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(120));
  void kill(int sig);
  // Reads one line of the child's stdout (spawned children) or result pipe
  // (forked children); empty string at EOF or timeout.
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Everything the child writes until it closes its end.
  std::string read_all(std::chrono::milliseconds timeout = std::chrono::seconds(120));

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffered_;
};

// Runs `body` in a forked child, which exits with its return value (uncaught
// exceptions: 99). `body` may write lines to `out` (a pipe read by read_line).
Child fork_child(const std::function<int(int out_fd)>& body);

// Kills `victim` with SIGKILL and reaps it, then waits until `progress()`
// (a counter other processes raise) moves on. False: it did not move for
// `limit` — the others stalled behind the dead process.
template <class Progress>
bool others_go_on_after_kill(Child& victim, Progress&& progress,
                             std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto before = progress();
  victim.kill(9);  // SIGKILL
  (void)victim.wait();
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (progress() == before) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// Starts a separate executable (posix_spawn) with its stdout on a pipe;
// through the emulator when the tests run under one.
Child spawn(const std::string& path, const std::vector<std::string>& args);

// The emulator the tests run under (cross builds: ctest sets
// SHMRING_TEST_EMULATOR, e.g. "qemu-arm -L /usr/arm-linux-gnueabihf"), split
// into words; empty when they run natively.
std::vector<std::string> emulator_command();

// Writes a line to a file descriptor (child side of the result pipe).
void write_line(int fd, const std::string& line);

// Time the task `tid` (a pid names its main thread) has spent runnable but
// not running, in ns (/proc/<tid>/schedstat field 2); 0 if unknown. Latency
// tests subtract the growth of this number, so a scheduler that starves the
// measured process (a nice 19 test on a loaded machine) is not blamed on the
// code under test.
std::int64_t runqueue_wait_ns(pid_t tid);

// Path of the queue peer executable (tests/support/queue_peer.cpp).
std::string queue_peer_path();

// In this (forked) process: a new mount namespace (and user namespace if
// needed) with a tmpfs of `size` bytes mounted on a fresh directory under
// `parent`. True: `where` holds the mount point; false: `where` says why not.
bool private_tmpfs(const std::string& parent, std::uint64_t size, std::string* where);

// Path of the synchronization-primitive peer (tests/support/sync_peer.cpp).
std::string sync_peer_path();

// Path of the pipe peer (tests/support/pipe_peer.cpp).
std::string pipe_peer_path();

// Restores this process's CPU mask (a test pins it) however the test ends;
// children forked meanwhile inherit the pinned mask.
class AffinityGuard {
 public:
  AffinityGuard() { saved_ok_ = ::sched_getaffinity(0, sizeof(saved_), &saved_) == 0; }
  AffinityGuard(const AffinityGuard&) = delete;
  AffinityGuard& operator=(const AffinityGuard&) = delete;
  ~AffinityGuard() {
    if (saved_ok_) (void)::sched_setaffinity(0, sizeof(saved_), &saved_);
  }
  [[nodiscard]] bool saved() const noexcept { return saved_ok_; }

 private:
  cpu_set_t saved_{};
  bool saved_ok_ = false;
};

}  // namespace shmring::test
