#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "shmring/platform/process.hpp"
#include "shmring/platform/syscall.hpp"

namespace shmring::platform {
namespace detail {
std::atomic<std::uint64_t> g_fork_generation{0};
}

namespace {

struct ProcStat {
  bool found = false;
  char state = '?';
  std::uint64_t start_time = 0;
};

// Reads the stat line of `pid`'s thread-group leader. Field 2 (comm) is in
// parentheses and may hold spaces or ')' itself, so parsing starts after the
// last ')'. Only open/read/close: safe in a fork child handler.
//
// The path is /proc/<pid>/task/<pid>/stat, not /proc/<pid>/stat: the kernel
// gives the same state and start time in both, but qemu-user answers a
// process's reads of its own /proc/self/stat and /proc/<getpid()>/stat with
// a synthesized line (start time rounded differently, state '0'), while
// every other process reads the kernel's. A process must name itself with
// the start time others will compare against, or a live role holder is
// taken for dead (pid "reused") and two processes hold one role.
ProcStat read_proc_stat(std::uint32_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%u/task/%u/stat", pid, pid);
  ProcStat out;
  auto fd = sys_call("open /proc/<pid>/task/<pid>/stat", [&] { return ::open(path, O_RDONLY | O_CLOEXEC); });
  if (!fd) return out;
  char buf[1024];
  auto n = sys_call("read /proc/<pid>/task/<pid>/stat", [&] { return ::read(*fd, buf, sizeof(buf) - 1); });
  ::close(*fd);
  if (!n || *n <= 0) return out;
  buf[*n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ') return out;
  p += 2;  // field 3: state
  out.state = *p;
  // Skip to field 22 (starttime): 19 more spaces after the state field.
  for (int field = 3; field < 22 && *p != '\0'; ++p) {
    if (*p == ' ') ++field;
  }
  std::uint64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<std::uint64_t>(*p++ - '0');
  out.start_time = v;
  out.found = true;
  return out;
}

// Threads in the process's thread group ("Threads:" of /proc/<pid>/status),
// 0 if unknown.
unsigned thread_count(std::uint32_t pid) noexcept {
  char path[48];
  std::snprintf(path, sizeof(path), "/proc/%u/status", pid);
  auto fd = sys_call("open /proc/<pid>/status", [&] { return ::open(path, O_RDONLY | O_CLOEXEC); });
  if (!fd) return 0;
  char buf[4096];
  auto n = sys_call("read /proc/<pid>/status", [&] { return ::read(*fd, buf, sizeof(buf) - 1); });
  ::close(*fd);
  if (!n || *n <= 0) return 0;
  buf[*n] = '\0';
  const char* p = std::strstr(buf, "\nThreads:");
  if (p == nullptr) return 0;
  p += 9;
  while (*p == ' ' || *p == '\t') ++p;
  unsigned v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<unsigned>(*p++ - '0');
  return v;
}

ProcessId g_self{};

void refresh_self() noexcept {
  const auto pid = static_cast<std::uint32_t>(::getpid());
  g_self = ProcessId{pid, read_proc_stat(pid).start_time};
}

void on_fork_child() noexcept {
  refresh_self();
  // relaxed: the child runs this alone (atfork), before any of its threads
  // compare generations.
  detail::g_fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct ForkHooks {
  void (*prepare)();
  void (*parent)();
  void (*child)();
};
constexpr int kMaxForkHooks = 8;
ForkHooks g_hooks[kMaxForkHooks];
std::atomic<int> g_hook_count{0};
// The sets the fork in progress prepared: read once in hooks_prepare, so a
// set registered meanwhile never gets a parent or child call without its
// prepare. Per thread: the forking thread's (and, in the child, its copy's).
thread_local int g_hooks_in_fork = 0;

void hooks_prepare() noexcept {
  g_hooks_in_fork = g_hook_count.load(std::memory_order_acquire);
  for (int i = g_hooks_in_fork - 1; i >= 0; --i) g_hooks[i].prepare();
}
void hooks_parent() noexcept {
  for (int i = 0; i < g_hooks_in_fork; ++i) g_hooks[i].parent();
}
void hooks_child() noexcept {
  for (int i = 0; i < g_hooks_in_fork; ++i) g_hooks[i].child();
}

// Runs before main(): this file is always linked because fork_generation()
// refers to g_fork_generation.
struct ForkHook {
  ForkHook() noexcept {
    refresh_self();
    ::pthread_atfork(nullptr, nullptr, &on_fork_child);
    // After on_fork_child: child hooks see the child's identity.
    ::pthread_atfork(&hooks_prepare, &hooks_parent, &hooks_child);
  }
};
const ForkHook g_fork_hook;

}  // namespace

int fork_process() noexcept { return static_cast<int>(::fork()); }

ChildExit reap_child(int pid, bool wait) noexcept {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(static_cast<pid_t>(pid), &status, wait ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return {ChildExit::State::running, 0};
  if (r < 0) return {ChildExit::State::unknown, errno};
  if (WIFEXITED(status)) return {ChildExit::State::exited, WEXITSTATUS(status)};
  if (WIFSIGNALED(status)) return {ChildExit::State::signaled, WTERMSIG(status)};
  return {ChildExit::State::unknown, 0};
}

void signal_process(int pid, int signal) noexcept {
  if (pid > 0) (void)::kill(static_cast<pid_t>(pid), signal);
}

void kill_process(int pid) noexcept { signal_process(pid, SIGKILL); }

void exit_now(int code) noexcept { ::_exit(code); }

void at_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept {
  static std::mutex m;
  const std::lock_guard<std::mutex> lock(m);
  const int n = g_hook_count.load(std::memory_order_relaxed);
  if (n == kMaxForkHooks) std::abort();  // a fixed set of callers in this library
  g_hooks[n] = ForkHooks{prepare, parent, child};
  // release: a fork that sees the count sees the entry.
  g_hook_count.store(n + 1, std::memory_order_release);
}

ProcessId current_process() noexcept { return g_self; }

ProcessId current_thread() noexcept {
  struct Cached {
    std::uint64_t generation = ~std::uint64_t{0};
    ProcessId id{};
  };
  thread_local Cached cached;
  const std::uint64_t generation = fork_generation();
  if (cached.generation != generation) {  // first use in this thread, or a forked child
    const auto tid = static_cast<std::uint32_t>(::syscall(SYS_gettid));
    cached.id = ProcessId{tid, read_proc_stat(tid).start_time};
    cached.generation = generation;
  }
  return cached.id;
}

std::uint64_t process_start_time(std::uint32_t pid) noexcept {
  const ProcStat st = read_proc_stat(pid);
  return st.found ? st.start_time : 0;
}

// Declaring a live process dead would let two processes hold one role, so
// every doubt resolves to "alive": that only refuses a role.
Liveness liveness(ProcessId id) noexcept {
  if (id.pid == 0) return Liveness::dead;
  const ProcStat st = read_proc_stat(id.pid);
  if (!st.found) {
    // No /proc entry: the process is gone, or /proc is not mounted or hides
    // other users' processes (hidepid). Ask the kernel; without a start time
    // we cannot tell a reused pid, so an existing pid counts as alive.
    if (::kill(static_cast<pid_t>(id.pid), 0) == 0 || errno == EPERM) return Liveness::alive;
    return Liveness::dead;  // ESRCH
  }
  // Compare only the bits that fit in an owner token.
  constexpr std::uint64_t kMask = (std::uint64_t{1} << (64 - kPidBits)) - 1;
  // A start time of 0: its owner could not read its own (read_proc_stat
  // failed: no descriptor left under RLIMIT_NOFILE, /proc hidden), so a
  // differing start time proves nothing and only the pid's state below
  // decides (a reused pid keeps such a holder's word until that pid is
  // gone: a doubt, so alive; never two holders). misuse_test:
  // MisuseLimits.ALockTakenWithNoFileDescriptorLeftIsNotTakenOverWhileItsHolderLives.
  const bool has_start_time = (id.start_time & kMask) != 0;
  if (has_start_time && (st.start_time & kMask) != (id.start_time & kMask)) return Liveness::dead;  // pid reused
  if (st.state == 'Z') {
    // A zombie thread-group leader whose other threads still run (its main
    // thread called pthread_exit) is alive.
    return thread_count(id.pid) > 1 ? Liveness::alive : Liveness::dead;
  }
  if (st.state == 'X' || st.state == 'x') return Liveness::dead;
  return Liveness::alive;  // includes 'T'/'t': a stopped process is not dead
}

}  // namespace shmring::platform
