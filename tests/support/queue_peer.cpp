// shmring_queue_peer: a separately started executable that opens a queue by
// name and plays one side of a cross-process test. It prints one result line
// on stdout. Usage: see usage() below.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "shmring/platform/clock.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/queue.hpp"
#include "traffic_run.hpp"

using namespace shmring;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: shmring_queue_peer produce NAME COUNT SEED MIN MAX\n"
               "       shmring_queue_peer consume NAME COUNT SEED MIN MAX\n"
               "       shmring_queue_peer produce-tagged NAME COUNT SEED MIN MAX ID   (MIN >= 8)\n"
               "       shmring_queue_peer consume-tagged NAME SEED MIN MAX   (until closed; prints a tally line)\n"
               "       shmring_queue_peer get NAME TIMEOUT_MS      (-1: forever)\n"
               "       shmring_queue_peer put NAME TIMEOUT_MS SIZE (-1: forever)\n"
               "       shmring_queue_peer hold NAME producer|consumer SECONDS\n"
               "       shmring_queue_peer open NAME                (prints the open error or 'ok')\n"
               "       shmring_queue_peer put-hex NAME HEX...      (puts each argument's bytes; prints 'ok N')\n"
               "       shmring_queue_peer get-hex NAME COUNT TIMEOUT_MS (prints each message as hex, one a line)\n"
               "       shmring_queue_peer poll NAME SECONDS        (Queue::fileno(); prints 'polling')\n"
               "       shmring_queue_peer poll-pipe NAME SECONDS   (creates a pipe; both ends' fileno())\n");
  return 2;
}

Wait wait_from_ms(long ms) {
  if (ms < 0) return forever;
  return std::chrono::milliseconds(ms);
}

Result<Queue> open_queue(const char* name, Role role = Role::none) {
  OpenOptions o;
  o.role = role;
  return Queue::open(name, o);
}

std::vector<std::byte> from_hex(const char* hex) {
  std::vector<std::byte> out;
  const std::size_t n = std::strlen(hex) / 2;
  for (std::size_t i = 0; i < n; ++i) {
    const char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
    out.push_back(static_cast<std::byte>(std::strtoul(pair, nullptr, 16)));
  }
  return out;
}

std::string to_hex(const std::vector<std::byte>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const std::byte b : bytes) {
    out.push_back(kDigits[std::to_integer<unsigned>(b) >> 4]);
    out.push_back(kDigits[std::to_integer<unsigned>(b) & 15]);
  }
  return out;
}

void say(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  const char* name = argv[2];

  if (mode == "produce" || mode == "consume") {
    if (argc != 7) return usage();
    const std::uint64_t count = std::strtoull(argv[3], nullptr, 10);
    test::Traffic t{std::strtoull(argv[4], nullptr, 10), static_cast<std::uint32_t>(std::atoi(argv[5])),
                    static_cast<std::uint32_t>(std::atoi(argv[6]))};
    auto q = open_queue(name, mode == "produce" ? Role::producer : Role::consumer);
    if (!q) {
      say("error " + q.error().message());
      return 3;
    }
    const test::RunResult r = mode == "produce" ? test::run_producer(*q, t, count) : test::run_consumer(*q, t, count);
    say("done " + std::to_string(r.messages) + " " + std::to_string(r.errors) + " " + std::to_string(r.checksum) + " " +
        std::to_string(r.first_bad_seq) + " " + r.stopped);
    return 0;
  }
  if (mode == "produce-tagged") {
    if (argc != 8) return usage();
    test::Traffic t{std::strtoull(argv[4], nullptr, 10), static_cast<std::uint32_t>(std::atoi(argv[5])),
                    static_cast<std::uint32_t>(std::atoi(argv[6]))};
    auto q = open_queue(name, Role::producer);
    if (!q) {
      say("error " + q.error().message());
      return 3;
    }
    const test::RunResult r = test::run_tagged_producer(*q, t, static_cast<std::uint32_t>(std::atoi(argv[7])),
                                                        std::strtoull(argv[3], nullptr, 10));
    say("done " + std::to_string(r.messages) + " " + r.stopped);
    return 0;
  }
  if (mode == "consume-tagged") {
    if (argc != 6) return usage();
    test::Traffic t{std::strtoull(argv[3], nullptr, 10), static_cast<std::uint32_t>(std::atoi(argv[4])),
                    static_cast<std::uint32_t>(std::atoi(argv[5]))};
    auto q = open_queue(name, Role::consumer);
    if (!q) {
      say("error " + q.error().message());
      return 3;
    }
    say(test::run_tagged_consumer(*q, t).to_line());
    return 0;
  }
  if (mode == "get" || mode == "put") {
    if (argc < 4 || (mode == "put" && argc != 5)) return usage();
    auto q = open_queue(name, mode == "get" ? Role::consumer : Role::producer);
    if (!q) {
      say("error " + q.error().message());
      return 3;
    }
    const Wait w = wait_from_ms(std::atol(argv[3]));
    say("ready");
    const std::int64_t t0 = platform::monotonic_ns();
    const char* status = nullptr;
    if (mode == "get") {
      status = to_string(q->get(w).status);
    } else {
      const std::string msg(static_cast<std::size_t>(std::atol(argv[4])), 'x');
      status = to_string(q->put(msg, w));
    }
    const std::int64_t t1 = platform::monotonic_ns();
    say(std::string(status) + " " + std::to_string(t0) + " " + std::to_string(t1) + " " +
        std::to_string(q->stats().futex_waits));
    return 0;
  }
  if (mode == "put-hex" || mode == "get-hex") {
    auto q = open_queue(name);
    if (!q) {
      say("error " + q.error().message());
      return 3;
    }
    if (mode == "put-hex") {
      int n = 0;
      for (int i = 3; i < argc; ++i) {
        const std::vector<std::byte> msg = from_hex(argv[i]);
        const PutStatus st = q->put(std::span<const std::byte>(msg), std::chrono::seconds(10));
        if (st != PutStatus::ok) {
          say(std::string("error ") + to_string(st));
          return 4;
        }
        ++n;
      }
      say("ok " + std::to_string(n));
      return 0;
    }
    if (argc != 5) return usage();
    const long count = std::atol(argv[3]);
    const Wait w = wait_from_ms(std::atol(argv[4]));
    for (long i = 0; i < count; ++i) {
      const Message m = q->get(w);
      if (!m) {
        say(std::string("error ") + to_string(m.status));
        return 4;
      }
      say(to_hex(m.bytes));
    }
    return 0;
  }
  if (mode == "hold") {
    if (argc != 5) return usage();
    const bool producer = std::strcmp(argv[3], "producer") == 0;
    auto q = open_queue(name, producer ? Role::producer : Role::consumer);
    if (!q) {
      say("error " + q.error().message());
      return 3;
    }
    say("held");
    ::sleep(static_cast<unsigned>(std::atoi(argv[4])));
    return 0;
  }
  // An event-loop descriptor held open: Queue::fileno(), or for a pipe it
  // creates (shared ends: the command cannot make one that outlives it),
  // Connection::fileno() of both ends.
  if (mode == "poll" || mode == "poll-pipe") {
    if (argc != 4) return usage();
    const auto seconds = static_cast<unsigned>(std::atoi(argv[3]));
    auto hold = [&](std::initializer_list<Result<int>> fds) {
      for (const auto& fd : fds) {
        if (!fd) {
          say("error " + fd.error().message());
          return 3;
        }
      }
      say("polling");
      ::sleep(seconds);
      return 0;
    };
    if (mode == "poll-pipe") {
      auto p = Pipe::create(name);
      if (!p) {
        say("error " + p.error().message());
        return 3;
      }
      return hold({p->first.fileno(), p->second.fileno()});
    }
    auto q = open_queue(name);
    if (!q) {
      say("error " + q.error().message());
      return 3;
    }
    return hold({q->fileno()});
  }
  if (mode == "open") {
    OpenOptions o;
    o.ready_timeout = std::chrono::milliseconds(0);
    auto q = Queue::open(name, o);
    say(q ? std::string("ok") : "error " + std::string(to_string(q.error().code)));
    return 0;
  }
  return usage();
}
