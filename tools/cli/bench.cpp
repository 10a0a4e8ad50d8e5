// `shmring bench`: throughput of 64-byte messages from a forked producer
// process to this one through a lane queue for about a second, then a
// round trip between two processes over two SPSC queues, every payload
// checked.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring::cli {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void progress(const char* what, double fraction) {
  std::fprintf(stderr, "\rbench: %-12s %3.0f%%", what, fraction * 100);
  std::fflush(stderr);
}

// fork() with stdio flushed first: a child gets a copy of the parent's
// unwritten stdout buffer, and whoever flushes it (some runtimes do at
// _exit, ThreadSanitizer's among them) prints those lines twice.
pid_t fork_flushed() {
  std::fflush(stdout);
  std::fflush(stderr);
  return ::fork();
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int run_bench(const BenchOptions& o) {
  const std::string base = "shmring-bench-" + std::to_string(::getpid());
  const std::string tput = base + "-tput", ping = base + "-ping", pong = base + "-pong";
  const std::size_t size = static_cast<std::size_t>(o.size);

  // ---- throughput ----
  {
    auto q = Queue::create(tput, {.maxsize = 0, .capacity_bytes = 1u << 22});
    if (!q) return report(tput, q.error());
    const pid_t child = fork_flushed();
    if (child < 0) return report("fork", Error{Errc::system, errno, "fork"});
    if (child == 0) {
      auto p = Queue::open(tput);
      if (!p) ::_exit(3);
      std::vector<std::byte> msg(size);
      const auto start = Clock::now();
      std::uint64_t seq = 0;
      while (since(start) < o.seconds) {
        for (int i = 0; i < 1024; ++i, ++seq) {
          std::memcpy(msg.data(), &seq, std::min(sizeof(seq), size));
          if (p->put(std::span<const std::byte>(msg)) != PutStatus::ok) ::_exit(4);
        }
      }
      p->close();
      ::_exit(0);
    }
    std::vector<std::byte> out;
    std::uint64_t got = 0, bad = 0;
    const auto start = Clock::now();
    auto next_report = start;
    for (;;) {
      const GetStatus s = q->get_into(out, std::chrono::seconds(10));
      if (s != GetStatus::ok) break;
      std::uint64_t seq = 0;
      std::memcpy(&seq, out.data(), std::min(sizeof(seq), out.size()));
      if (out.size() != size || (size >= sizeof(seq) && seq != got)) ++bad;
      ++got;
      if ((got & 0xffff) == 0 && Clock::now() >= next_report) {
        progress("throughput", std::min(1.0, since(start) / o.seconds));
        next_report = Clock::now() + std::chrono::milliseconds(200);
      }
    }
    const double secs = since(start);
    const int rc = reap(child);
    (void)Queue::unlink(tput);
    std::fprintf(stderr, "\r%40s\r", "");
    if (rc != 0 || bad != 0) {
      std::fprintf(stderr, "bench: throughput run failed (producer exit %d, %llu messages out of order)\n", rc,
                   static_cast<unsigned long long>(bad));
      return kExitOther;
    }
    std::printf(
        "throughput: %.2f M msgs/s, %.0f MB/s (%zu-byte messages, lanes queue, 1 producer process -> 1 "
        "consumer process, %llu messages in %.2f s, order checked)\n",
        static_cast<double>(got) / secs / 1e6, static_cast<double>(got * size) / secs / 1e6, size,
        static_cast<unsigned long long>(got), secs);
  }

  // ---- round trip ----
  {
    QueueOptions so;
    so.engine = Engine::spsc;
    so.capacity_bytes = 1u << 16;
    auto a = Queue::create(ping, so);
    if (!a) return report(ping, a.error());
    auto b = Queue::create(pong, so);
    if (!b) {
      (void)Queue::unlink(ping);
      return report(pong, b.error());
    }
    const pid_t child = fork_flushed();
    if (child < 0) return report("fork", Error{Errc::system, errno, "fork"});
    if (child == 0) {  // echo every message back until ping closes
      auto in = Queue::open(ping);
      auto out = Queue::open(pong);
      if (!in || !out) ::_exit(3);
      std::vector<std::byte> m;
      while (in->get_into(m, std::chrono::seconds(10)) == GetStatus::ok) {
        if (out->put(std::span<const std::byte>(m)) != PutStatus::ok) ::_exit(4);
      }
      ::_exit(0);
    }
    std::vector<std::byte> msg(size), back;
    std::uint64_t n = 0, bad = 0;
    const auto start = Clock::now();
    const double budget = o.seconds / 2;
    auto next_report = start;
    while (since(start) < budget) {
      std::memcpy(msg.data(), &n, std::min(sizeof(n), size));
      if (a->put(std::span<const std::byte>(msg)) != PutStatus::ok) break;
      if (b->get_into(back, std::chrono::seconds(10)) != GetStatus::ok) {
        ++bad;
        break;
      }
      if (back != msg) ++bad;
      if ((++n & 0x3ff) == 0 && Clock::now() >= next_report) {
        progress("round trip", std::min(1.0, since(start) / budget));
        next_report = Clock::now() + std::chrono::milliseconds(200);
      }
    }
    const double secs = since(start);
    a->close();
    const int rc = reap(child);
    (void)Queue::unlink(ping);
    (void)Queue::unlink(pong);
    std::fprintf(stderr, "\r%40s\r", "");
    if (rc != 0 || bad != 0 || n == 0) {
      std::fprintf(stderr, "bench: round trip failed (echo exit %d, %llu bad replies)\n", rc,
                   static_cast<unsigned long long>(bad));
      return kExitOther;
    }
    std::printf("round trip: %.2f us mean over %llu messages (two SPSC queues, 2 processes, every reply checked)\n",
                secs / static_cast<double>(n) * 1e6, static_cast<unsigned long long>(n));
  }
  return kExitOk;
}

}  // namespace shmring::cli
