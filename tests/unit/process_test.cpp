// Process identity and liveness (shmring/platform/process.hpp), checked
// against /proc and against real child processes: stopped, killed and reaped,
// zombie, and a recycled pid (same pid, other start time).
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "process.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"

namespace shmring::platform {
namespace {

using namespace std::chrono_literals;

// Field 3 (state) and field 22 (starttime) of the thread-group leader's stat
// line, parsed here independently of the library's parser. Read from
// /proc/<pid>/task/<pid>/stat (the kernel's line; under qemu-user a process
// reading its own /proc/<pid>/stat gets a synthesized one).
struct StatFields {
  bool found = false;
  char state = '?';
  std::uint64_t start_time = 0;
};

StatFields read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/stat");
  std::string all;
  if (!in || !std::getline(in, all)) return {};
  const auto close_paren = all.rfind(')');
  if (close_paren == std::string::npos) return {};
  std::istringstream rest(all.substr(close_paren + 2));  // starts at field 3
  StatFields f;
  rest >> f.state;
  std::string skip;
  for (int field = 4; field < 22; ++field) rest >> skip;
  rest >> f.start_time;
  f.found = static_cast<bool>(rest);
  return f;
}

// A child that sleeps until it is killed.
test::Child sleeping_child() {
  return test::fork_child([](int) {
    for (;;) ::pause();
    return 0;
  });
}

TEST(Process, CurrentProcessMatchesGetpidAndProcStartTime) {
  const ProcessId self = current_process();
  EXPECT_EQ(self.pid, static_cast<std::uint32_t>(::getpid()));
  const StatFields st = read_stat(::getpid());
  ASSERT_TRUE(st.found);
  EXPECT_NE(self.start_time, 0u);
  EXPECT_EQ(self.start_time, st.start_time);
  EXPECT_EQ(process_start_time(self.pid), st.start_time);
}

TEST(Process, ForkedChildSeesItsOwnIdentityAndANewForkGeneration) {
  const ProcessId parent = current_process();
  const std::uint64_t parent_generation = fork_generation();
  test::Child child = test::fork_child([&](int out) {
    const ProcessId me = current_process();
    const StatFields st = read_stat(::getpid());
    test::write_line(out, std::to_string(me.pid) + " " + std::to_string(me.start_time) + " " +
                              std::to_string(st.start_time) + " " + std::to_string(fork_generation()));
    return 0;
  });
  std::istringstream line(child.read_line(10s));
  std::uint32_t pid = 0;
  std::uint64_t start_time = 0;
  std::uint64_t proc_start_time = 0;
  std::uint64_t generation = 0;
  line >> pid >> start_time >> proc_start_time >> generation;
  ASSERT_TRUE(static_cast<bool>(line)) << "the child did not report";
  EXPECT_EQ(pid, static_cast<std::uint32_t>(child.pid()));
  EXPECT_NE(pid, parent.pid);
  EXPECT_EQ(start_time, proc_start_time);
  // Another process (here the parent) must see the identity the child gave
  // itself: roles are claimed with it and checked by the other side.
  EXPECT_EQ(start_time, process_start_time(pid)) << "the child's identity differs from what other processes see";
  EXPECT_EQ(start_time, read_stat(child.pid()).start_time);
  EXPECT_NE(generation, parent_generation);
  EXPECT_EQ(child.wait(10s), 0);
  // The parent's own view is unchanged by the fork.
  EXPECT_EQ(current_process(), parent);
  EXPECT_EQ(fork_generation(), parent_generation);
}

TEST(Process, CurrentThreadIsTheTidWithItsOwnStartTimeAndDiesWithTheThread) {
  // The main thread's identity is the process's.
  EXPECT_EQ(current_thread(), current_process());
  ProcessId other{};
  StatFields proc{};
  Liveness while_running = Liveness::dead;
  std::thread t([&] {
    other = current_thread();
    proc = read_stat(static_cast<pid_t>(::syscall(SYS_gettid)));  // /proc/<tid>/stat
    while_running = liveness(other);
  });
  t.join();
  EXPECT_NE(other.pid, current_process().pid);
  ASSERT_TRUE(proc.found);
  EXPECT_EQ(other.start_time, proc.start_time);
  EXPECT_NE(other.start_time, 0u);
  EXPECT_EQ(while_running, Liveness::alive);
  // join() returns when the thread's tid word is cleared, a moment before
  // the kernel is done with the task (much longer under qemu-user): give it
  // up to a second to be gone.
  const std::int64_t give_up = platform::monotonic_ns() + 1'000'000'000;
  while (liveness(other) != Liveness::dead && platform::monotonic_ns() < give_up) {
    platform::sleep_until_ns(platform::monotonic_ns() + 1'000'000);
  }
  EXPECT_EQ(liveness(other), Liveness::dead) << "a joined thread is gone";
  EXPECT_EQ(liveness(current_thread()), Liveness::alive);
  // A forked child's thread is a new identity.
  const ProcessId parent_thread = current_thread();
  test::Child child = test::fork_child([&](int out) {
    const ProcessId me = current_thread();
    test::write_line(out, me == current_process() && me != parent_thread ? "new" : "stale");
    return 0;
  });
  EXPECT_EQ(child.read_line(10s), "new");
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(Process, SelfIsAlive) { EXPECT_EQ(liveness(current_process()), Liveness::alive); }

TEST(Process, PidZeroIsDead) { EXPECT_EQ(liveness(ProcessId{0, 12345}), Liveness::dead); }

TEST(Process, StoppedChildIsAlive) {
  test::Child child = sleeping_child();
  const ProcessId id{static_cast<std::uint32_t>(child.pid()),
                     process_start_time(static_cast<std::uint32_t>(child.pid()))};
  ASSERT_NE(id.start_time, 0u);
  child.kill(SIGSTOP);
  int status = 0;
  pid_t r = -1;
  do {
    r = ::waitpid(child.pid(), &status, WUNTRACED);  // reports the stop; does not reap
  } while (r < 0 && errno == EINTR);
  ASSERT_EQ(r, child.pid());
  ASSERT_TRUE(WIFSTOPPED(status));
  const char state = read_stat(child.pid()).state;
  EXPECT_TRUE(state == 'T' || state == 't') << "state " << state;
  EXPECT_EQ(liveness(id), Liveness::alive);
  child.kill(SIGKILL);
  EXPECT_EQ(child.wait(10s), 128 + SIGKILL);
}

TEST(Process, KilledAndReapedChildIsDead) {
  test::Child child = sleeping_child();
  const auto pid = static_cast<std::uint32_t>(child.pid());
  const ProcessId id{pid, process_start_time(pid)};
  ASSERT_NE(id.start_time, 0u);
  EXPECT_EQ(liveness(id), Liveness::alive);
  child.kill(SIGKILL);
  ASSERT_EQ(child.wait(10s), 128 + SIGKILL);
  EXPECT_EQ(liveness(id), Liveness::dead);
}

TEST(Process, ZombieChildIsDead) {
  test::Child child = sleeping_child();
  const auto pid = static_cast<std::uint32_t>(child.pid());
  const ProcessId id{pid, process_start_time(pid)};
  ASSERT_NE(id.start_time, 0u);
  child.kill(SIGKILL);
  // Wait for the exit without reaping: the child stays a zombie.
  siginfo_t info{};
  int r = -1;
  do {
    r = ::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WEXITED | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  ASSERT_EQ(r, 0);
  ASSERT_EQ(read_stat(child.pid()).state, 'Z');
  EXPECT_EQ(liveness(id), Liveness::dead);
  EXPECT_EQ(child.wait(10s), 128 + SIGKILL);  // reaped here
}

TEST(Process, ProcessWhoseMainThreadExitedWhileAnotherRunsIsAlive) {
  // The leader shows 'Z' in /proc/<pid>/stat, but the process still runs code.
  test::Child child = test::fork_child([](int out) {
    pthread_t worker;
    ::pthread_create(
        &worker, nullptr,
        [](void*) -> void* {
          ::sleep(30);
          return nullptr;
        },
        nullptr);
    test::write_line(out, "started");
    // The exit system call ends only the calling thread (what pthread_exit
    // does in the end), without unwinding through fork_child's catch(...).
    ::syscall(SYS_exit, 0);
    return 0;  // not reached
  });
  ASSERT_EQ(child.read_line(), "started");
  const auto pid = static_cast<std::uint32_t>(child.pid());
  const ProcessId id{pid, process_start_time(pid)};
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (read_stat(child.pid()).state != 'Z' && std::chrono::steady_clock::now() < until) ::usleep(1000);
  ASSERT_EQ(read_stat(child.pid()).state, 'Z') << "the main thread did not exit";
  EXPECT_EQ(liveness(id), Liveness::alive);
  child.kill(SIGKILL);
  EXPECT_EQ(child.wait(10s), 128 + SIGKILL);
}

TEST(Process, RightPidWithWrongStartTimeIsDead) {
  const ProcessId self = current_process();
  EXPECT_EQ(liveness(ProcessId{self.pid, self.start_time + 1}), Liveness::dead);
  EXPECT_EQ(liveness(ProcessId{self.pid, self.start_time - 1}), Liveness::dead);

  test::Child child = sleeping_child();
  const auto pid = static_cast<std::uint32_t>(child.pid());
  EXPECT_EQ(liveness(ProcessId{pid, process_start_time(pid) + 7}), Liveness::dead);
}

TEST(Process, StartTimeOfAMissingProcessIsZero) {
  test::Child child = sleeping_child();
  const auto pid = static_cast<std::uint32_t>(child.pid());
  child.kill(SIGKILL);
  ASSERT_EQ(child.wait(10s), 128 + SIGKILL);
  // The pid could be recycled in between; then it has another start time.
  if (read_stat(static_cast<pid_t>(pid)).found) GTEST_SKIP() << "pid " << pid << " was reused";
  EXPECT_EQ(process_start_time(pid), 0u);
}

TEST(Process, PackOwnerRoundTrips) {
  const ProcessId self = current_process();
  EXPECT_EQ(unpack_owner(pack_owner(self)), self);
  EXPECT_NE(pack_owner(self), 0u);
  const ProcessId cases[] = {
      {1, 1},
      {(1u << kPidBits) - 1, 0},
      {4242, (std::uint64_t{1} << (64 - kPidBits)) - 1},  // the largest start time a token holds
      {123456, 987654321},
  };
  for (const ProcessId& id : cases) {
    EXPECT_EQ(unpack_owner(pack_owner(id)), id) << "pid " << id.pid << " start " << id.start_time;
  }
  EXPECT_EQ(unpack_owner(0), ProcessId{});
}

TEST(Process, PidMaxFitsInAnOwnerToken) {
  std::ifstream in("/proc/sys/kernel/pid_max");
  std::uint64_t pid_max = 0;
  in >> pid_max;
  ASSERT_TRUE(static_cast<bool>(in));
  EXPECT_LE(pid_max, std::uint64_t{1} << kPidBits);
}

}  // namespace
}  // namespace shmring::platform
