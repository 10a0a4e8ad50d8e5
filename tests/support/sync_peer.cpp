// shmring_sync_peer: a separately started executable that opens a
// synchronization primitive by name and plays one side of a cross-process
// test. It prints result lines on stdout. Usage: see usage() below.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "shmring/ipc/barrier.hpp"
#include "shmring/ipc/condition.hpp"
#include "shmring/ipc/dict.hpp"
#include "shmring/ipc/list.hpp"
#include "shmring/ipc/event.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/ipc/semaphore.hpp"
#include "shmring/ipc/value.hpp"

using namespace shmring;

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: shmring_sync_peer lock|rlock NAME HOLD_MS   (acquire, print, hold, release; -1: hold forever)\n"
      "       shmring_sync_peer sem-acquire NAME TIMEOUT_MS (-1: forever)\n"
      "       shmring_sync_peer sem-release NAME\n"
      "       shmring_sync_peer event-wait NAME TIMEOUT_MS  (-1: forever)\n"
      "       shmring_sync_peer event-set NAME\n"
      "       shmring_sync_peer cond-wait NAME TIMEOUT_MS   (acquire, wait, print, release; -1: forever)\n"
      "       shmring_sync_peer cond-notify NAME N          (acquire, notify(N) (-1: all), release)\n"
      "       shmring_sync_peer barrier-wait NAME ROUNDS TIMEOUT_MS (waits ROUNDS times; -1: forever)\n"
      "       shmring_sync_peer value-add NAME TIMES        (Value<double>: +1 under its lock, TIMES times)\n"
      "       shmring_sync_peer array-set NAME INDEX VALUE  (Array<int32_t>: a[INDEX] = VALUE)\n"
      "       shmring_sync_peer dict-square NAME I          (Dict: d[I] = I * I, int32 key and value)\n"
      "       shmring_sync_peer list-append NAME I          (List: append the int32 I)\n"
      "       shmring_sync_peer open lock|rlock|sem|bsem|event|cond|barrier NAME (prints the open error or 'ok')\n");
  return 2;
}

Wait wait_from_ms(long ms) {
  if (ms < 0) return forever;
  return std::chrono::milliseconds(ms);
}

void say(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

std::string now() { return std::to_string(platform::monotonic_ns()); }

template <class L>
int hold(Result<L> l, long hold_ms) {
  if (!l) {
    say("error " + l.error().message());
    return 3;
  }
  say("ready " + now());
  const AcquireStatus st = l->acquire(forever);
  say(std::string(to_string(st)) + " " + now());
  if (hold_ms < 0) {
    for (;;) ::pause();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  const std::string t = now();
  const ReleaseStatus r = l->release();
  say(std::string("released ") + to_string(r) + " " + t);
  return 0;
}

template <class T>
std::string open_verdict(const char* name) {
  SyncOpenOptions o;
  o.ready_timeout = std::chrono::milliseconds(0);
  auto r = T::open(name, o);
  return r ? std::string("ok") : "error " + std::string(to_string(r.error().code));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  if (mode == "open") {
    if (argc != 4) return usage();
    const std::string kind = argv[2];
    const char* name = argv[3];
    if (kind == "lock") say(open_verdict<Lock>(name));
    else if (kind == "rlock") say(open_verdict<RLock>(name));
    else if (kind == "sem") say(open_verdict<Semaphore>(name));
    else if (kind == "bsem") say(open_verdict<BoundedSemaphore>(name));
    else if (kind == "event") say(open_verdict<Event>(name));
    else if (kind == "cond") say(open_verdict<Condition>(name));
    else if (kind == "barrier") {
      SyncOpenOptions o;
      o.ready_timeout = std::chrono::milliseconds(0);
      auto r = Barrier::open(name, {}, o);
      say(r ? std::string("ok") : "error " + std::string(to_string(r.error().code)));
    } else return usage();
    return 0;
  }
  const char* name = argv[2];
  if (mode == "lock" || mode == "rlock") {
    if (argc != 4) return usage();
    const long hold_ms = std::atol(argv[3]);
    return mode == "lock" ? hold(Lock::open(name), hold_ms) : hold(RLock::open(name), hold_ms);
  }
  if (mode == "sem-acquire" || mode == "sem-release") {
    auto s = Semaphore::open(name);
    if (!s) {
      say("error " + s.error().message());
      return 3;
    }
    if (mode == "sem-release") {
      say(to_string(s->release()));
      return 0;
    }
    if (argc != 4) return usage();
    say("ready " + now());
    const std::int64_t t0 = platform::monotonic_ns();
    const AcquireStatus st = s->acquire(wait_from_ms(std::atol(argv[3])));
    say(std::string(to_string(st)) + " " + std::to_string(t0) + " " + now());
    return 0;
  }
  if (mode == "event-wait" || mode == "event-set") {
    auto e = Event::open(name);
    if (!e) {
      say("error " + e.error().message());
      return 3;
    }
    if (mode == "event-set") {
      const std::string t = now();  // before the set: nobody can wake earlier
      e->set();
      say("set " + t);
      return 0;
    }
    if (argc != 4) return usage();
    say("ready " + now());
    const std::int64_t t0 = platform::monotonic_ns();
    const bool got = e->wait(wait_from_ms(std::atol(argv[3])));
    say(std::string(got ? "true " : "false ") + std::to_string(t0) + " " + now());
    return 0;
  }
  if (mode == "value-add") {
    if (argc != 4) return usage();
    auto v = Value<double>::open(name);
    if (!v) {
      say("error " + v.error().message());
      return 3;
    }
    for (long i = 0, n = std::atol(argv[3]); i < n; ++i) {
      std::scoped_lock g(v->get_lock());
      v->set(v->get() + 1.0);
    }
    say("done");
    return 0;
  }
  if (mode == "array-set") {
    if (argc != 5) return usage();
    auto a = Array<std::int32_t>::open(name);
    if (!a) {
      say("error " + a.error().message());
      return 3;
    }
    say(a->set(static_cast<std::size_t>(std::atol(argv[3])), static_cast<std::int32_t>(std::atol(argv[4])))
            ? "ok"
            : "out-of-range");
    return 0;
  }
  if (mode == "dict-square") {
    if (argc != 4) return usage();
    auto d = Dict::open(name);
    if (!d) {
      say("error " + d.error().message());
      return 3;
    }
    const auto i = static_cast<std::int32_t>(std::atol(argv[3]));
    say(to_string(d->set(bytes_of(i), bytes_of(i * i))));
    return 0;
  }
  if (mode == "list-append") {
    if (argc != 4) return usage();
    auto l = List::open(name);
    if (!l) {
      say("error " + l.error().message());
      return 3;
    }
    say(to_string(l->append_value(static_cast<std::int32_t>(std::atol(argv[3])))));
    return 0;
  }
  if (mode == "barrier-wait") {
    if (argc != 5) return usage();
    auto b = Barrier::open(name);
    if (!b) {
      say("error " + b.error().message());
      return 3;
    }
    say("ready " + now());
    const long rounds = std::atol(argv[3]);
    for (long r = 0; r < rounds; ++r) {
      const std::int64_t t0 = platform::monotonic_ns();
      const BarrierResult res = b->wait(wait_from_ms(std::atol(argv[4])));
      say(std::string(to_string(res.status)) + " " + std::to_string(res.index) + " " + std::to_string(t0) + " " +
          now());
    }
    return 0;
  }
  if (mode == "cond-wait" || mode == "cond-notify") {
    if (argc != 4) return usage();
    auto c = Condition::open(name);
    if (!c) {
      say("error " + c.error().message());
      return 3;
    }
    const long arg = std::atol(argv[3]);
    if (c->acquire() == AcquireStatus::timeout) return 4;
    if (mode == "cond-notify") {
      const ConditionStatus st = arg < 0 ? c->notify_all() : c->notify(static_cast<std::uint32_t>(arg));
      const std::string t = now();  // before the release: nobody can return earlier
      (void)c->release();
      say(std::string("notified ") + to_string(st) + " " + t);
      return 0;
    }
    say("ready " + now());  // holding the lock: the test's notify comes after our wait starts
    const std::int64_t t0 = platform::monotonic_ns();
    const ConditionStatus st = c->wait(wait_from_ms(arg));
    const std::string t1 = now();
    const bool owned = c->is_owned();
    (void)c->release();
    say(std::string(to_string(st)) + " " + std::to_string(t0) + " " + t1 + (owned ? " owned" : " not-owned"));
    return 0;
  }
  return usage();
}
