// Process identity and liveness. A process is named by its pid plus its start
// time (clock ticks since boot, /proc/<pid>/stat field 22), so a recycled pid
// is never mistaken for the process that used it before.
#pragma once

#include <atomic>
#include <cstdint>

namespace shmring::platform {

struct ProcessId {
  std::uint32_t pid = 0;
  std::uint64_t start_time = 0;  // clock ticks since boot
  friend bool operator==(const ProcessId&, const ProcessId&) = default;
};

// The calling process (re-read in a forked child).
[[nodiscard]] ProcessId current_process() noexcept;

// The calling thread, named the same way: its thread id (a task id in the
// pid space, <= pid_max like a pid) and its own start time (/proc/<tid>/stat
// field 22). liveness() accepts it: a thread that exited — alone or with its
// process — is dead, and a recycled tid is told apart by its start time.
// Cached per thread; re-read in a forked child (the child's thread has a new
// tid). Owner words of locks hold pack_owner(current_thread()).
[[nodiscard]] ProcessId current_thread() noexcept;

// Start time of `pid`, or 0 when there is no such process.
[[nodiscard]] std::uint64_t process_start_time(std::uint32_t pid) noexcept;

enum class Liveness : std::uint8_t {
  alive,  // running, sleeping or stopped (SIGSTOP is not death)
  dead,   // gone, a zombie, or the pid now belongs to another process
};

// An id whose start time is 0 (its process could not read its own, e.g.
// with no file descriptor left) is judged by its pid alone: never proved
// dead by a start time that differs.
[[nodiscard]] Liveness liveness(ProcessId id) noexcept;

// A process identity packed in one 64-bit word, so an owner slot in shared
// memory can be claimed with a single compare-exchange: pid in the low 22 bits
// (Linux pid_max <= 2^22), start time in the high 42 bits (2^42 ticks at 100 Hz
// is about 1,400 years of uptime). 0 means "nobody".
inline constexpr unsigned kPidBits = 22;
[[nodiscard]] constexpr std::uint64_t pack_owner(ProcessId id) noexcept {
  return (id.start_time << kPidBits) | (id.pid & ((1u << kPidBits) - 1u));
}
[[nodiscard]] constexpr ProcessId unpack_owner(std::uint64_t token) noexcept {
  return ProcessId{static_cast<std::uint32_t>(token & ((1u << kPidBits) - 1u)), token >> kPidBits};
}

// An owner word's holder is proved dead (liveness() says dead). 0, nobody,
// is not dead: callers that treat an empty word as free say so themselves.
[[nodiscard]] inline bool is_dead(std::uint64_t token) noexcept {
  return token != 0 && liveness(unpack_owner(token)) == Liveness::dead;
}
// An owner word's holder lives (running, sleeping or stopped).
[[nodiscard]] inline bool is_alive(std::uint64_t token) noexcept {
  return token != 0 && liveness(unpack_owner(token)) == Liveness::alive;
}

namespace detail {
extern std::atomic<std::uint64_t> g_fork_generation;
}

// Bumped in every child of fork(2). A handle that recorded the generation when
// it claimed a role sees a different number after a fork, and so knows it is a
// copy living in another process. A relaxed load: cheap enough for hot paths.
[[nodiscard]] inline std::uint64_t fork_generation() noexcept {
  // relaxed: only the forked child writes it, before any of its threads exist.
  return detail::g_fork_generation.load(std::memory_order_relaxed);
}

// Child processes (the Pool's workers). fork_process(): the child's pid in
// the parent, 0 in the child, -1 when fork failed. reap_child(): how child
// `pid` stands, collecting its exit status when it has ended (`wait`:
// block until it ends). signal_process(): kill(2) for a pid this process
// started. exit_now(): _exit(2), no atexit handlers, no flushing.
[[nodiscard]] int fork_process() noexcept;
struct ChildExit {
  enum class State : std::uint8_t { running, exited, signaled, unknown } state = State::unknown;
  int code = 0;  // exited: the exit code; signaled: the signal
};
[[nodiscard]] ChildExit reap_child(int pid, bool wait) noexcept;
void signal_process(int pid, int signal) noexcept;
void kill_process(int pid) noexcept;  // SIGKILL
[[noreturn]] void exit_now(int code) noexcept;

// Hooks around fork(2) for objects whose handles a child inherits (a shared
// Pipe end counts each process's handles): `prepare` runs in the parent just
// before the fork, then `parent()` in the parent (also when fork failed) or
// `child()` in the child, after the child's identity and fork_generation()
// are renewed. Registered once per call, for the life of the process (at
// most 8 sets); hooks registered later prepare first and finish last, as
// pthread_atfork orders them; a fork runs the sets registered before its
// prepare step, all three hooks of each. fork() runs them; clone()-based
// spawns (posix_spawn, vfork) do not, and their children inherit no handles.
void at_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept;

}  // namespace shmring::platform
