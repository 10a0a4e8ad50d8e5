#include "peer_watch.hpp"

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "shmring/blocking/intervals.hpp"
#include "shmring/platform/process.hpp"

namespace shmring::detail {
namespace {

struct Watch {
  std::mutex mutex;
  std::condition_variable stop;  // never notified: the thread sleeps one interval at a time
  std::map<std::uint64_t, PeerCheck> checks;
  std::uint64_t next_ticket = 1;
  bool running = false;
};

// Never destroyed (see the header); replaced, not reset, in a forked child.
Watch* g_watch = new Watch;

void run() {
  Watch& w = *g_watch;
  std::unique_lock<std::mutex> lock(w.mutex);
  for (;;) {
    (void)w.stop.wait_for(lock, kOwnerCheckInterval);
    for (auto it = w.checks.begin(); it != w.checks.end();) {
      it = it->second() ? w.checks.erase(it) : std::next(it);
    }
    if (w.checks.empty()) {
      w.running = false;
      return;
    }
  }
}

// Fork: the child must not inherit a lock the watch thread held, nor run
// (or destroy) the parent's checks. The parent's watch is left behind in
// the child, unused.
void prepare() { g_watch->mutex.lock(); }
void parent() { g_watch->mutex.unlock(); }
void child() {
  Watch* fresh = new Watch;
  fresh->next_ticket = g_watch->next_ticket;  // inherited tickets never name the child's checks
  g_watch = fresh;
}

}  // namespace

Result<std::uint64_t> watch_peer(PeerCheck check) {
  static std::once_flag hooks;
  std::call_once(hooks, [] { platform::at_fork(&prepare, &parent, &child); });
  Watch& w = *g_watch;
  const std::lock_guard<std::mutex> lock(w.mutex);
  const std::uint64_t ticket = w.next_ticket++;
  w.checks.emplace(ticket, std::move(check));
  if (!w.running) {
    try {
      std::thread(run).detach();
    } catch (const std::exception&) {
      w.checks.erase(ticket);
      return fail(Errc::system, "could not start the pipe peer watch thread");
    }
    w.running = true;
  }
  return ticket;
}

void unwatch_peer(std::uint64_t ticket) noexcept {
  if (ticket == 0) return;
  Watch& w = *g_watch;
  const std::lock_guard<std::mutex> lock(w.mutex);
  w.checks.erase(ticket);
}

}  // namespace shmring::detail
