// shmring-demo: the quick-start demo. Creates a named queue, starts this same
// executable twice as two separate processes — a producer that puts N
// messages of mixed sizes and a consumer that opens the queue by name, gets
// and checks every message — and prints messages/s and MB/s.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "shmring/platform/cpu.hpp"
#include "shmring/ipc/queue.hpp"
#include "traffic_run.hpp"

extern char** environ;

using namespace shmring;

namespace {

struct Config {
  std::uint64_t count = 10'000'000;
  std::uint32_t min_size = 1;
  std::uint32_t max_size = 1024;
  std::uint64_t capacity = 4u << 20;
  std::uint64_t seed = 2026;
  bool pin = true;
  Engine engine = Engine::lanes;  // the library's default
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: shmring-demo [options]\n"
               "\n"
               "Creates a named queue in /dev/shm, starts a producer and a consumer as two\n"
               "separate processes (this executable again), streams messages of mixed sizes\n"
               "through it, checks every message's order and content, and prints the rates.\n"
               "\n"
               "options:\n"
               "  --count N        messages to send (default 10000000)\n"
               "  --min-size B     smallest message in bytes (default 1)\n"
               "  --max-size B     largest message in bytes (default 1024)\n"
               "  --capacity B     ring bytes, a power of two (default 4194304)\n"
               "  --seed S         traffic seed (default 2026)\n"
               "  --engine E       lanes (the default: any number of producers and consumers,\n"
               "                   a lane per producer), mpmc (any number, one shared ring)\n"
               "                   or spsc (one producer, one consumer: the fastest ring)\n"
               "  --no-pin         do not pin producer and consumer to separate CPUs\n"
               "  -h, --help       this text\n"
               "\n"
               "exit status: 0 when every message arrived intact and in order.\n");
}

bool parse_u64(const char* s, std::uint64_t& out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  out = v;
  return true;
}

// Parses options; returns false (after printing why) on bad input.
bool parse(int argc, char** argv, int first, Config& c) {
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::uint64_t& out) {
      if (i + 1 >= argc || !parse_u64(argv[i + 1], out)) {
        std::fprintf(stderr, "shmring-demo: %s needs a non-negative integer\n", a.c_str());
        return false;
      }
      ++i;
      return true;
    };
    std::uint64_t v = 0;
    if (a == "--count") {
      if (!value(c.count)) return false;
    } else if (a == "--min-size") {
      if (!value(v)) return false;
      c.min_size = static_cast<std::uint32_t>(v);
    } else if (a == "--max-size") {
      if (!value(v)) return false;
      c.max_size = static_cast<std::uint32_t>(v);
    } else if (a == "--capacity") {
      if (!value(c.capacity)) return false;
    } else if (a == "--seed") {
      if (!value(c.seed)) return false;
    } else if (a == "--engine") {
      const char* e = i + 1 < argc ? argv[i + 1] : "";
      if (std::strcmp(e, "lanes") != 0 && std::strcmp(e, "mpmc") != 0 && std::strcmp(e, "spsc") != 0) {
        std::fprintf(stderr, "shmring-demo: --engine takes lanes, mpmc or spsc\n");
        return false;
      }
      ++i;
      c.engine = std::strcmp(e, "spsc") == 0   ? Engine::spsc
                 : std::strcmp(e, "mpmc") == 0 ? Engine::mpmc
                                               : Engine::lanes;
    } else if (a == "--no-pin") {
      c.pin = false;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "shmring-demo: unknown option '%s' (see --help)\n", a.c_str());
      return false;
    }
  }
  if (c.count == 0 || c.min_size == 0 || c.min_size > c.max_size || c.max_size > (1u << 30)) {
    std::fprintf(stderr, "shmring-demo: need count >= 1 and 1 <= min-size <= max-size <= 1 GiB\n");
    return false;
  }
  return true;
}

std::vector<std::string> side_args(const char* self, const char* side, const std::string& name, const Config& c) {
  return {self,
          side,
          name,
          "--count",
          std::to_string(c.count),
          "--min-size",
          std::to_string(c.min_size),
          "--max-size",
          std::to_string(c.max_size),
          "--seed",
          std::to_string(c.seed),
          c.pin ? "--pin" : "--no-pin"};
}

// One side, in its own process: prints "result MESSAGES BYTES ERRORS CHECKSUM NS STOPPED".
int run_side(bool producer, int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string name = argv[2];
  Config c;
  std::vector<char*> rest{argv[0]};
  bool pin = false;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--pin") == 0) {
      pin = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!parse(static_cast<int>(rest.size()), rest.data(), 1, c)) return 2;
  if (pin && platform::available_cpus() >= 2) (void)platform::pin_to_cpu(producer ? 0 : 1);

  OpenOptions o;
  o.role = producer ? Role::producer : Role::consumer;
  auto q = Queue::open(name, o);
  if (!q) {
    std::fprintf(stderr, "shmring-demo %s: cannot open '%s': %s\n", producer ? "producer" : "consumer", name.c_str(),
                 q.error().message().c_str());
    return 3;
  }
  const test::Traffic t{c.seed, c.min_size, c.max_size};
  test::Progress progress;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (!producer) {
    // On a terminal one line that updates in place; otherwise a line per ~10%.
    std::uint64_t next_line = c.count / 10;
    progress = [&, next_line](std::uint64_t done) mutable {
      if (tty) {
        std::fprintf(stderr, "\r  %5.1f%%  %" PRIu64 " / %" PRIu64 " messages checked",
                     100.0 * double(done) / double(c.count), done, c.count);
      } else if (done >= next_line) {
        std::fprintf(stderr, "  %5.1f%%  %" PRIu64 " / %" PRIu64 " messages checked\n",
                     100.0 * double(done) / double(c.count), done, c.count);
        next_line += c.count / 10;
      }
    };
  }
  const test::RunResult r =
      producer ? test::run_producer(*q, t, c.count) : test::run_consumer(*q, t, c.count, progress);
  if (!producer && tty) std::fprintf(stderr, "\r%60s\r", "");
  std::printf("result %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %s %" PRIu64 " %" PRIu64 "\n",
              r.messages, r.bytes, r.errors, r.checksum, r.elapsed_ns, r.stopped, q->stats().futex_waits,
              q->stats().futex_wakes);
  return r.errors == 0 && r.messages == c.count ? 0 : 1;
}

struct Side {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Side start(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Side s;
  const int rc = ::posix_spawn(&s.pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    std::fprintf(stderr, "shmring-demo: cannot start %s: %s\n", args[1].c_str(), std::strerror(rc));
    return {};
  }
  s.out = ::fdopen(fds[0], "r");
  return s;
}

struct SideResult {
  bool ok = false;
  std::uint64_t messages = 0, bytes = 0, errors = 0, checksum = 0, waits = 0, wakes = 0;
  std::int64_t ns = 0;
  char stopped[32] = "?";
};

// Waits for both sides. When one fails (a crash, a bad message), the queue is
// closed so the other wakes up with `closed` instead of blocking forever.
void wait_both(Side& a, Side& b, Queue& q, int status[2]) {
  int left = (a.pid > 0) + (b.pid > 0);
  status[0] = status[1] = 1 << 8;  // "exited 1" for a side that never started
  while (left > 0) {
    int st = 0;
    const pid_t pid = ::waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pid != a.pid && pid != b.pid) continue;
    status[pid == a.pid ? 0 : 1] = st;
    --left;
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) q.close();
  }
}

SideResult finish(Side& s, int status) {
  SideResult r;
  if (s.out != nullptr) {
    char line[512];
    while (std::fgets(line, sizeof(line), s.out) != nullptr) {
      if (std::sscanf(line,
                      "result %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNd64 " %31s %" SCNu64 " %" SCNu64,
                      &r.messages, &r.bytes, &r.errors, &r.checksum, &r.ns, r.stopped, &r.waits, &r.wakes) == 8) {
        r.ok = true;
      }
    }
    std::fclose(s.out);
  }
  r.ok = r.ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return r;
}

// Ctrl-C or a termination signal: remove the queue file, then die of the
// signal as usual (the two sides, in our process group, get it too).
char g_queue_path[512];
void on_signal(int sig) {
  if (g_queue_path[0] != '\0') ::unlink(g_queue_path);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void report(const char* who, const SideResult& r) {
  const double s = double(r.ns) / 1e9;
  std::printf("  %-8s %12.0f messages/s  %9.1f MB/s  (%.2f s, futex waits %" PRIu64 ", wakes %" PRIu64 ")\n", who,
              double(r.messages) / s, double(r.bytes) / 1e6 / s, s, r.waits, r.wakes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "produce") == 0) return run_side(true, argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "consume") == 0) return run_side(false, argc, argv);

  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep our lines in order with the consumer's progress
  Config c;
  if (!parse(argc, argv, 1, c)) return 2;
  const std::string name = "shmring-demo-" + std::to_string(::getpid());
  QueueOptions qo;
  qo.capacity_bytes = c.capacity;
  qo.max_message = c.max_size;
  qo.engine = c.engine;
  auto q = Queue::create(name, qo);
  if (!q) {
    std::fprintf(stderr, "shmring-demo: cannot create queue '%s': %s\n", name.c_str(), q.error().message().c_str());
    return 1;
  }
  std::printf("shmring-demo: %" PRIu64 " messages of %u..%u bytes through /dev/shm/%s (%" PRIu64
              " KiB %s ring), producer and consumer in separate processes%s\n",
              c.count, c.min_size, c.max_size, name.c_str(), q->capacity_bytes() >> 10,
              c.engine == Engine::spsc   ? "SPSC"
              : c.engine == Engine::mpmc ? "MPMC"
                                         : "lane",
              c.pin && platform::available_cpus() >= 2 ? ", pinned to CPUs 0 and 1" : "");
  std::fflush(stdout);
  std::snprintf(g_queue_path, sizeof(g_queue_path), "%s", q->path().c_str());
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  ::signal(SIGHUP, on_signal);
  Side consumer = start(side_args(argv[0], "consume", name, c));
  Side producer = start(side_args(argv[0], "produce", name, c));
  int status[2];
  wait_both(producer, consumer, *q, status);
  const SideResult pr = finish(producer, status[0]);
  const SideResult cr = finish(consumer, status[1]);
  (void)Queue::unlink(name);

  if (!pr.ok || !cr.ok) {
    std::printf("FAILED: producer %s (%s), consumer %s (%s), %" PRIu64 " bad messages\n", pr.ok ? "ok" : "failed",
                pr.stopped, cr.ok ? "ok" : "failed", cr.stopped, cr.errors);
    return 1;
  }
  report("producer", pr);
  report("consumer", cr);
  const bool same = pr.checksum == cr.checksum && pr.messages == cr.messages;
  std::printf("%s: %" PRIu64 " messages (%.1f MB) arrived in order, every byte checked; checksums %s\n",
              same ? "OK" : "FAILED", cr.messages, double(cr.bytes) / 1e6, same ? "match" : "DIFFER");
  return same ? 0 : 1;
}
