// Benchmark harness: the measured side runs in this process (pinned to CPU 0)
// and its partner in a forked child (pinned to CPU 1), sharing a control
// block in MAP_SHARED memory. The child is killed by pid when the benchmark
// ends. Every contestant goes through the same harness.
#pragma once

#include <benchmark/benchmark.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <new>
#include <utility>
#include <vector>

#include "shmring/platform/cpu.hpp"

namespace shmring::perf {

// Anonymous shared memory that survives fork: where the peers' rings live too.
class SharedMemory {
 public:
  explicit SharedMemory(std::size_t size) : size_(size) {
    base_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (base_ == MAP_FAILED) std::abort();
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory() { ::munmap(base_, size_); }
  [[nodiscard]] void* get() const noexcept { return base_; }

 private:
  void* base_;
  std::size_t size_;
};

// A consumer publishes its count this often, and whenever it runs dry.
inline constexpr std::uint64_t kFlushEvery = 64;

// The main() of a benchmark binary: registers its benchmarks, then runs
// Google Benchmark with the command line.
inline int benchmark_main(int argc, char** argv, void (*register_benchmarks)()) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// What parent and child tell each other, each word on its own block.
struct Control {
  alignas(128) std::atomic<std::uint64_t> consumed{0};  // written by the consumer only
  alignas(128) std::atomic<std::uint32_t> ready{0};     // the child is set up
  alignas(128) std::atomic<std::uint64_t> child_syscalls{0};
};

// Pins by the machine's CPU count, not the current affinity: a child forked
// after the parent pinned itself to CPU 0 inherits that one-CPU mask.
inline void pin_self(int cpu) {
  if (::sysconf(_SC_NPROCESSORS_ONLN) >= 2) (void)platform::pin_to_cpu(cpu);
}

// Lets this process run on every CPU again (for peers that start their own
// processes, such as Python's, which must not inherit our pinning).
inline void unpin_self() {
  cpu_set_t all;
  CPU_ZERO(&all);
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  for (long i = 0; i < n; ++i) CPU_SET(static_cast<unsigned>(i), &all);
  (void)::sched_setaffinity(0, sizeof(all), &all);
}

// The CPU time a process has used so far, in ns: this one (pid 0) or another
// (its CPU clock, clock_getcpuclockid(3)); -1 when it cannot be read.
inline std::int64_t process_cpu_ns(pid_t pid) {
  clockid_t id = CLOCK_PROCESS_CPUTIME_ID;
  if (pid != 0 && ::clock_getcpuclockid(pid, &id) != 0) return -1;
  timespec ts{};
  if (::clock_gettime(id, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The CPU that this process and the given others (partners, a crowd) spend
// from construction to stop(): what the speed of a row costs. Reported as
// the counter cpu_ns_per_op: CPU ns, all processes together, per message
// (streams) or per round trip (ping-pong).
class CpuMeter {
 public:
  explicit CpuMeter(std::vector<pid_t> others) : pids_(std::move(others)) {
    pids_.push_back(0);
    start_ = total();
  }
  // Sets cpu_ns_per_op for `ops` operations (not set if a clock could not be read).
  void stop(benchmark::State& state, std::uint64_t ops) const {
    const std::int64_t end = total();
    if (start_ < 0 || end < 0 || ops == 0) return;
    state.counters["cpu_ns_per_op"] = static_cast<double>(end - start_) / static_cast<double>(ops);
  }

 private:
  [[nodiscard]] std::int64_t total() const {
    std::int64_t sum = 0;
    for (pid_t p : pids_) {
      const std::int64_t ns = process_cpu_ns(p);
      if (ns < 0) return -1;
      sum += ns;
    }
    return sum;
  }
  std::vector<pid_t> pids_;
  std::int64_t start_ = 0;
};

// A forked partner process, pinned to CPU 1, killed and reaped on destruction.
class Partner {
 public:
  explicit Partner(const std::function<void(Control&)>& body) : mem_(sizeof(Control)) {
    ctl_ = new (mem_.get()) Control{};
    pid_ = ::fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      pin_self(1);
      body(*ctl_);
      ::_exit(0);
    }
    pin_self(0);
    while (ctl_->ready.load(std::memory_order_acquire) == 0) platform::cpu_relax();
  }
  Partner(const Partner&) = delete;
  Partner& operator=(const Partner&) = delete;
  ~Partner() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  [[nodiscard]] Control& control() const noexcept { return *ctl_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Waits for the child to exit by itself; returns its rusage CPU seconds.
  double join_cpu_seconds() {
    int st = 0;
    rusage ru{};
    ::wait4(pid_, &st, 0, &ru);
    pid_ = -1;
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }

 private:
  SharedMemory mem_;
  Control* ctl_;
  pid_t pid_ = -1;
};

// Messages per benchmark iteration (about 1 MiB of payload, 64..8192
// messages): the granularity at which the stream's progress is read.
inline std::uint64_t batch_for(std::size_t size) {
  const std::uint64_t b = (1u << 20) / (size == 0 ? 1 : size);
  return b < 64 ? 64 : (b > 8192 ? 8192 : b);
}

// Streams messages from this process to the partner, continuously: `send()`
// one message here; the partner's loop (given to Partner) counts what it
// receives in Control::consumed. Nobody waits for a drain between
// iterations: the channel's capacity alone bounds how far the producer runs
// ahead, so the channel fills and both sides run coupled through it, as in a
// long stream (not in bursts into a channel that never fills, where the
// consumer runs at the producer's heels). Counted: the messages the partner
// had received when the last iteration ended. Those still in flight then (at
// most one channel's worth) were sent in the timed span but are not counted,
// so the figure errs low, by at most capacity / messages.
template <class Send>
void stream(benchmark::State& state, const Partner& partner, std::size_t size, Send&& send) {
  const std::uint64_t batch = batch_for(size);
  std::uint64_t delivered = 0;
  const CpuMeter cpu({partner.pid()});
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < batch; ++i) send();
    delivered = partner.control().consumed.load(std::memory_order_acquire);
  }
  cpu.stop(state, delivered);
  state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
  state.SetBytesProcessed(static_cast<std::int64_t>(delivered * size));
}

// ---- many producers and consumers ------------------------------------------------

// What a crowd's processes and the coordinator tell each other.
struct CrowdControl {
  alignas(128) std::atomic<std::uint64_t> go{0};        // bumped by the coordinator: one batch per producer
  alignas(128) std::atomic<std::uint64_t> consumed{0};  // messages received, added in chunks by consumers
  alignas(128) std::atomic<std::uint32_t> ready{0};     // children set up
};

// P producer and C consumer processes, forked and unpinned (more processes
// than cores: the scheduler places them, as it would for a user), killed on
// destruction. The benchmark process only coordinates, sleeping while it
// waits, so it takes no core from them.
class Crowd {
 public:
  using Body = std::function<void(CrowdControl&, int id)>;
  Crowd(int producers, int consumers, const Body& producer, const Body& consumer) : mem_(sizeof(CrowdControl)) {
    ctl_ = new (mem_.get()) CrowdControl{};
    unpin_self();
    for (int i = 0; i < consumers + producers; ++i) {
      const pid_t pid = ::fork();
      if (pid < 0) std::abort();
      if (pid == 0) {
        if (i < consumers) {
          consumer(*ctl_, i);
        } else {
          producer(*ctl_, i - consumers);
        }
        ::_exit(0);
      }
      pids_.push_back(pid);
    }
    while (ctl_->ready.load(std::memory_order_acquire) < static_cast<std::uint32_t>(producers + consumers)) {
      ::usleep(100);
    }
  }
  Crowd(const Crowd&) = delete;
  Crowd& operator=(const Crowd&) = delete;
  ~Crowd() {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
  }
  [[nodiscard]] CrowdControl& control() const noexcept { return *ctl_; }
  [[nodiscard]] const std::vector<pid_t>& pids() const noexcept { return pids_; }

 private:
  SharedMemory mem_;
  CrowdControl* ctl_;
  std::vector<pid_t> pids_;
};

// Each producer sends `batch` messages per go; a consumer adds what it
// received to `consumed` every `flush` messages and whenever it runs dry.
inline void crowd_producer_loop(CrowdControl& ctl, std::uint64_t batch, const std::function<void()>& send) {
  ctl.ready.fetch_add(1, std::memory_order_acq_rel);
  std::uint64_t done = 0;
  for (;;) {
    const std::uint64_t go = ctl.go.load(std::memory_order_acquire);
    if (go == done) {
      ::sched_yield();
      continue;
    }
    for (std::uint64_t i = 0; i < batch; ++i) send();
    ++done;
  }
}

// Runs one iteration per `go`: every producer sends its batch; the time
// covers delivery to the consumers. A batch (kCrowdBatch per producer) is
// more than a channel holds, so each one runs the channel full: a stream,
// with one drain per batch.
inline void crowd_stream(benchmark::State& state, const Crowd& crowd, int producers, std::uint64_t batch,
                         std::size_t size) {
  CrowdControl& ctl = crowd.control();
  std::uint64_t target = ctl.consumed.load(std::memory_order_acquire);
  std::uint64_t sent = 0;
  const CpuMeter cpu(crowd.pids());
  for (auto _ : state) {
    target += batch * static_cast<std::uint64_t>(producers);
    sent += batch * static_cast<std::uint64_t>(producers);
    ctl.go.fetch_add(1, std::memory_order_acq_rel);
    while (ctl.consumed.load(std::memory_order_acquire) < target) ::usleep(20);
  }
  cpu.stop(state, sent);
  state.SetItemsProcessed(static_cast<std::int64_t>(sent));
  state.SetBytesProcessed(static_cast<std::int64_t>(sent * size));
}

}  // namespace shmring::perf
