// Misuse (docs/contract.md, "Semantics": Misuse): every public operation of every object on a
// moved-from handle and on a closed one, with extreme arguments (zero and
// maximal sizes, max(), min() and negative durations), on a segment of the
// wrong kind, and with no file descriptor or address space left. Each case
// must give a clear status or error: never a signal, a hang, or a write
// that silently does nothing.
//
// Any case that could crash or hang runs in a forked child with a timeout
// (in_child below), so a regression is reported as the call that died
// instead of ending the test run. Resource limits are set in such children
// only, so they never leak into the test process.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "process.hpp"
#include "shmring/ipc/barrier.hpp"
#include "shmring/ipc/condition.hpp"
#include "shmring/ipc/event.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/semaphore.hpp"
#include "shmring/ipc/value.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {
namespace {

using namespace test;
using std::chrono::duration;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// ---- running a case in a child --------------------------------------------------

// The child's side: each failed check is one line on the result pipe; the
// call under way is written first ("> call"), so a child killed by a signal
// still names the call that killed it.
class Checks {
 public:
  explicit Checks(int fd) : fd_(fd) {}
  void trail(const char* call) { write_line(fd_, std::string("> ") + call); }
  void expect(bool ok, const std::string& what) {
    if (!ok) {
      write_line(fd_, "FAILED " + what);
      ++failures_;
    }
  }
  // A status, compared by its name (to_string), so the report shows both.
  template <class S>
  void status(const char* call, S got, const char* want) {
    const std::string g = to_string(got);
    expect(g == want, std::string(call) + " -> " + g + " (want " + want + ")");
  }
  [[nodiscard]] int failures() const noexcept { return failures_; }

 private:
  int fd_;
  int failures_ = 0;
};

#define MISUSE_STATUS(ck, call, want) \
  do {                                \
    (ck).trail(#call);                \
    (ck).status(#call, (call), want); \
  } while (0)
#define MISUSE_TRUE(ck, cond)   \
  do {                          \
    (ck).trail(#cond);          \
    (ck).expect((cond), #cond); \
  } while (0)
#define MISUSE_THROWS(ck, expr, Exception)            \
  do {                                                \
    (ck).trail(#expr);                                \
    bool thrown = false;                              \
    try {                                             \
      (void)(expr);                                   \
    } catch (const Exception&) {                      \
      thrown = true;                                  \
    }                                                 \
    (ck).expect(thrown, #expr " throws " #Exception); \
  } while (0)

// Runs `body` in a forked child and fails the calling test, naming the
// last call made, when the child fails a check, dies of a signal, or does
// not finish within `timeout`.
void in_child(const std::string& what, const std::function<void(Checks&)>& body,
              milliseconds timeout = std::chrono::seconds(30)) {
  Child child = fork_child([&](int fd) {
    Checks ck(fd);
    body(ck);
    return ck.failures() == 0 ? 0 : 1;
  });
  const std::string report = child.read_all(timeout);
  const int rc = child.wait(std::chrono::seconds(1));
  // Only the failures and the last call: the trail of calls that passed is noise.
  std::string shown, last;
  for (std::size_t at = 0; at < report.size();) {
    std::size_t end = report.find('\n', at);
    if (end == std::string::npos) end = report.size();
    const std::string line = report.substr(at, end - at);
    if (line.rfind("> ", 0) == 0) {
      last = line.substr(2);
    } else if (!line.empty()) {
      shown += "  " + line + "\n";
    }
    at = end + 1;
  }
  if (rc == -1) {
    ADD_FAILURE() << what << ": hung (no exit within " << timeout.count() << " ms) in: " << last << "\n" << shown;
  } else if (rc > 128) {
    ADD_FAILURE() << what << ": killed by " << ::strsignal(rc - 128) << " in: " << last << "\n" << shown;
  } else if (rc == 99) {
    ADD_FAILURE() << what << ": an uncaught exception in: " << last << "\n" << shown;
  } else if (rc != 0) {
    ADD_FAILURE() << what << ":\n" << shown;
  }
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

struct Point {
  std::int32_t x;
  std::int32_t y;
};

// The three engines of a Queue, named for the failure messages.
struct EngineCase {
  const char* name;
  QueueOptions options;
};
std::vector<EngineCase> engines() {
  QueueOptions mpmc;
  QueueOptions spsc;
  spsc.engine = Engine::spsc;
  QueueOptions slots;
  slots.engine = Engine::spsc;
  slots.message_size = 8;
  return {{"mpmc", mpmc}, {"spsc", spsc}, {"slots", slots}};
}

// ---- 4. moved-from handles ---------------------------------------------------------

// Every call of a Queue handle that holds no queue. `q` was moved from.
void expect_queue_moved_from(Checks& ck, Queue& q) {
  const std::string eight(8, 'x');
  std::vector<std::byte> buf(8);
  std::uint64_t v = 0;
  MISUSE_STATUS(ck, q.put(bytes_of(eight)), "handle_closed");
  MISUSE_STATUS(ck, q.put(std::string_view("12345678")), "handle_closed");
  MISUSE_STATUS(ck, q.put(bytes_of(eight), nowait), "handle_closed");
  MISUSE_STATUS(ck, q.put_nowait(bytes_of(eight)), "handle_closed");
  MISUSE_STATUS(ck, q.put_value(std::uint64_t{7}), "handle_closed");
  MISUSE_STATUS(ck, q.claim(8).status, "handle_closed");
  ck.trail("commit");
  q.commit(8);
  MISUSE_STATUS(ck, q.get().status, "handle_closed");
  MISUSE_STATUS(ck, q.get(nowait).status, "handle_closed");
  MISUSE_STATUS(ck, q.get_nowait().status, "handle_closed");
  MISUSE_STATUS(ck, q.get_into(buf), "handle_closed");
  MISUSE_STATUS(ck, q.get_value(v), "handle_closed");
  MISUSE_STATUS(ck, q.read().status, "handle_closed");
  ck.trail("release");
  q.release();
  MISUSE_TRUE(ck, q.qsize() == 0);
  MISUSE_TRUE(ck, q.empty());
  MISUSE_TRUE(ck, !q.full());
  ck.trail("close");
  q.close();
  MISUSE_TRUE(ck, q.closed());
  MISUSE_TRUE(ck, q.maxsize() == 0);
  MISUSE_TRUE(ck, q.capacity_bytes() == 0);
  MISUSE_TRUE(ck, q.max_message() == 0);
  MISUSE_TRUE(ck, q.message_size() == 0);
  MISUSE_TRUE(ck, q.path().empty());
  MISUSE_TRUE(ck, q.roles_held() == Role::none);
  MISUSE_TRUE(ck, q.stats().futex_waits == 0);
  ck.trail("barriers");
  (void)q.barriers();
  ck.trail("engine");
  (void)q.engine();
  MISUSE_TRUE(ck, q.memory_bytes() == 0);
  MISUSE_TRUE(ck, q.claims_repaired() == 0);
  MISUSE_TRUE(ck, q.reads_lost() == 0);
  MISUSE_TRUE(ck, q.recover() == 0);
}

TEST(MisuseMovedFrom, QueueAnswersHandleClosedOnEveryCallOfEveryEngine) {
  for (const EngineCase& e : engines()) {
    UniqueName name("misuse-moved-queue");
    in_child(e.name, [&](Checks& ck) {
      auto created = Queue::create(name, e.options);
      ck.expect(created.has_value(), "create");
      if (!created) return;
      Queue q = std::move(*created);
      // Used first, so the fast paths are warm: a fixed-size handle then holds its roles.
      const std::string eight(8, 'a');
      std::vector<std::byte> buf(8);
      MISUSE_STATUS(ck, q.put(bytes_of(eight)), "ok");
      MISUSE_STATUS(ck, q.get_into(buf), "ok");
      Queue moved(std::move(q));
      expect_queue_moved_from(ck, q);  // NOLINT(bugprone-use-after-move): the point of the test
      // The moved-into handle does all of it, and close() on the moved-from one closed nothing.
      MISUSE_TRUE(ck, !moved.closed());
      MISUSE_STATUS(ck, moved.put(bytes_of(eight)), "ok");
      MISUSE_STATUS(ck, moved.get_into(buf), "ok");
      // Assigning a live handle to a moved-from one makes it usable again.
      q = std::move(moved);
      MISUSE_STATUS(ck, q.put(bytes_of(eight)), "ok");
      MISUSE_TRUE(ck, q.qsize() == 1);
      expect_queue_moved_from(ck, moved);  // NOLINT(bugprone-use-after-move)
    });
  }
}

TEST(MisuseMovedFrom, JoinableQueueAnswersHandleClosed) {
  UniqueName name("misuse-moved-joinable");
  in_child("joinable", [&](Checks& ck) {
    auto created = JoinableQueue::create(name);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    JoinableQueue q = std::move(*created);
    JoinableQueue moved(std::move(q));
    expect_queue_moved_from(ck, q);  // NOLINT(bugprone-use-after-move)
    MISUSE_STATUS(ck, q.task_done(), "handle_closed");
    MISUSE_STATUS(ck, q.join(), "handle_closed");
    MISUSE_STATUS(ck, q.join(milliseconds(10)), "handle_closed");
    MISUSE_TRUE(ck, q.unfinished_tasks() == 0);
    MISUSE_STATUS(ck, moved.put(std::string_view("x")), "ok");
    MISUSE_TRUE(ck, moved.unfinished_tasks() == 1);
  });
}

TEST(MisuseMovedFrom, ConnectionAnswersHandleClosedOnEveryCall) {
  UniqueName name("misuse-moved-pipe");
  in_child("connection", [&](Checks& ck) {
    auto created = Pipe::create(name);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    Connection a = std::move(created->first);
    Connection b = std::move(created->second);
    Connection moved(std::move(a));
    std::vector<std::byte> out;
    std::array<std::byte, 16> buf{};
    std::uint64_t v = 0;
    MISUSE_STATUS(ck, a.attach(), "handle_closed");
    MISUSE_STATUS(ck, a.send(std::string_view("x")), "handle_closed");
    MISUSE_STATUS(ck, a.send(std::string_view("x"), nowait), "handle_closed");
    MISUSE_STATUS(ck, a.send_bytes(bytes_of("abc"), 1, 1), "handle_closed");
    MISUSE_STATUS(ck, a.send_value(std::uint64_t{1}), "handle_closed");
    MISUSE_STATUS(ck, a.recv().status, "handle_closed");
    MISUSE_STATUS(ck, a.recv(nowait).status, "handle_closed");
    MISUSE_STATUS(ck, a.recv_into(out), "handle_closed");
    MISUSE_STATUS(ck, a.recv_bytes_into(buf).status, "handle_closed");
    MISUSE_STATUS(ck, a.recv_value(v), "handle_closed");
    MISUSE_TRUE(ck, a.poll());  // a recv would not wait: it fails at once
    ck.trail("close");
    a.close();
    MISUSE_TRUE(ck, a.closed());
    MISUSE_TRUE(ck, !a.attached());
    MISUSE_TRUE(ck, !a.readable());
    MISUSE_TRUE(ck, !a.writable());
    MISUSE_TRUE(ck, a.max_message() == 0);
    MISUSE_TRUE(ck, a.capacity_bytes() == 0);
    MISUSE_TRUE(ck, a.path().empty());
    MISUSE_TRUE(ck, a.stats().futex_waits == 0);
    ck.trail("end");
    (void)a.end();
    // The moved-into end still talks to b.
    MISUSE_STATUS(ck, moved.send(std::string_view("hello")), "ok");
    MISUSE_TRUE(ck, b.recv(nowait).text() == "hello");
  });
}

// A moved-from Lock must not reach the mapping its successor owns: neither
// while the successor lives (it would take the successor's lock) nor after
// the successor unmapped it.
template <class L>
void expect_lock_moved_from(const char* what, const UniqueName& name) {
  in_child(what, [&](Checks& ck) {
    auto created = L::create(name);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    L lock = std::move(*created);
    {
      L successor(std::move(lock));
      MISUSE_STATUS(ck, lock.acquire(nowait), "handle_closed");  // NOLINT(bugprone-use-after-move)
      MISUSE_STATUS(ck, successor.acquire(nowait), "acquired");
      MISUSE_STATUS(ck, lock.release(), "handle_closed");
      MISUSE_TRUE(ck, successor.locked());
    }  // the mapping is gone now
    MISUSE_STATUS(ck, lock.acquire(), "handle_closed");
    MISUSE_STATUS(ck, lock.acquire(milliseconds(5)), "handle_closed");
    MISUSE_STATUS(ck, lock.try_acquire(), "handle_closed");
    MISUSE_STATUS(ck, lock.release(), "handle_closed");
    MISUSE_TRUE(ck, !lock.try_lock());
    ck.trail("lock");
    lock.lock();  // returns at once, holding nothing
    ck.trail("unlock");
    lock.unlock();
    MISUSE_TRUE(ck, !lock.locked());
    MISUSE_TRUE(ck, !lock.is_owned());
    MISUSE_TRUE(ck, lock.takeovers() == 0);
    MISUSE_TRUE(ck, lock.path().empty());
    MISUSE_TRUE(ck, !lock.valid());
  });
}

TEST(MisuseMovedFrom, LockAnswersHandleClosedAlsoAfterItsSuccessorIsGone) {
  UniqueName name("misuse-moved-lock");
  expect_lock_moved_from<Lock>("Lock", name);
}

TEST(MisuseMovedFrom, RLockAnswersHandleClosedAlsoAfterItsSuccessorIsGone) {
  UniqueName name("misuse-moved-rlock");
  expect_lock_moved_from<RLock>("RLock", name);
}

template <class S>
void expect_semaphore_moved_from(const char* what, const UniqueName& name) {
  in_child(what, [&](Checks& ck) {
    auto created = S::create(name, 2);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    S sem = std::move(*created);
    { S successor(std::move(sem)); }
    MISUSE_STATUS(ck, sem.acquire(), "handle_closed");  // NOLINT(bugprone-use-after-move)
    MISUSE_STATUS(ck, sem.acquire(milliseconds(5)), "handle_closed");
    MISUSE_STATUS(ck, sem.try_acquire(), "handle_closed");
    MISUSE_STATUS(ck, sem.release(), "handle_closed");
    MISUSE_TRUE(ck, !sem.try_lock());
    ck.trail("lock/unlock");
    sem.lock();
    sem.unlock();
    MISUSE_TRUE(ck, sem.get_value() == 0);
    MISUSE_TRUE(ck, !sem.bounded());
    MISUSE_TRUE(ck, sem.bound() == 0);
    MISUSE_TRUE(ck, sem.path().empty());
    MISUSE_TRUE(ck, !sem.valid());
  });
}

TEST(MisuseMovedFrom, SemaphoreAnswersHandleClosed) {
  UniqueName name("misuse-moved-sem");
  expect_semaphore_moved_from<Semaphore>("Semaphore", name);
}

TEST(MisuseMovedFrom, BoundedSemaphoreAnswersHandleClosed) {
  UniqueName name("misuse-moved-bsem");
  expect_semaphore_moved_from<BoundedSemaphore>("BoundedSemaphore", name);
}

TEST(MisuseMovedFrom, EventDoesNothingAndWaitReturnsFalseAtOnce) {
  UniqueName name("misuse-moved-event");
  in_child("Event", [&](Checks& ck) {
    auto created = Event::create(name);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    Event e = std::move(*created);
    { Event successor(std::move(e)); }
    ck.trail("set");
    e.set();  // NOLINT(bugprone-use-after-move)
    ck.trail("clear");
    e.clear();
    MISUSE_TRUE(ck, !e.is_set());
    const std::int64_t t0 = monotonic_ns();
    MISUSE_TRUE(ck, !e.wait());  // forever, yet at once: nothing can ever set it
    MISUSE_TRUE(ck, !e.wait(milliseconds(5)));
    MISUSE_TRUE(ck, monotonic_ns() - t0 < 1000 * kMs);
    MISUSE_TRUE(ck, e.path().empty());
    MISUSE_TRUE(ck, !e.valid());
  });
}

TEST(MisuseMovedFrom, ConditionAnswersHandleClosed) {
  UniqueName name("misuse-moved-cond");
  in_child("Condition", [&](Checks& ck) {
    auto created = Condition::create(name);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    Condition c = std::move(*created);
    { Condition successor(std::move(c)); }
    bool called = false;
    MISUSE_STATUS(ck, c.acquire(), "handle_closed");  // NOLINT(bugprone-use-after-move)
    MISUSE_STATUS(ck, c.release(), "handle_closed");
    MISUSE_STATUS(ck, c.wait(), "handle_closed");
    MISUSE_STATUS(ck, c.wait(milliseconds(5)), "handle_closed");
    MISUSE_STATUS(ck, c.wait_for([&] { return called = true; }), "handle_closed");
    MISUSE_TRUE(ck, !called);
    MISUSE_STATUS(ck, c.notify(), "handle_closed");
    MISUSE_STATUS(ck, c.notify_all(), "handle_closed");
    MISUSE_TRUE(ck, !c.is_owned());
    MISUSE_TRUE(ck, !c.try_lock());
    MISUSE_TRUE(ck, c.n_waiting() == 0);
    MISUSE_TRUE(ck, c.reclaimed() == 0);
    MISUSE_TRUE(ck, c.path().empty());
    MISUSE_TRUE(ck, !c.valid());
  });
}

TEST(MisuseMovedFrom, BarrierAnswersHandleClosed) {
  UniqueName name("misuse-moved-barrier");
  in_child("Barrier", [&](Checks& ck) {
    auto created = Barrier::create(name, 2);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    Barrier b = std::move(*created);
    { Barrier successor(std::move(b)); }
    MISUSE_STATUS(ck, b.wait().status, "handle_closed");  // NOLINT(bugprone-use-after-move)
    MISUSE_STATUS(ck, b.wait(milliseconds(5)).status, "handle_closed");
    ck.trail("reset");
    b.reset();
    ck.trail("abort");
    b.abort();
    MISUSE_TRUE(ck, b.parties() == 0);
    MISUSE_TRUE(ck, b.n_waiting() == 0);
    MISUSE_TRUE(ck, !b.broken());
    MISUSE_TRUE(ck, b.generation() == 0);
    MISUSE_TRUE(ck, b.path().empty());
    MISUSE_TRUE(ck, !b.valid());
  });
}

TEST(MisuseMovedFrom, ValueAndArrayHoldNoElements) {
  UniqueName vname("misuse-moved-value");
  UniqueName aname("misuse-moved-array");
  in_child("Value/Array", [&](Checks& ck) {
    auto value = Value<std::int64_t>::create(vname, 5);
    auto array = Array<Point>::create(aname, 4);
    ck.expect(value.has_value() && array.has_value(), "create");
    if (!value || !array) return;
    Value<std::int64_t> v = std::move(*value);
    Array<Point> a = std::move(*array);
    { Value<std::int64_t> successor(std::move(v)); }
    { Array<Point> successor(std::move(a)); }
    MISUSE_THROWS(ck, v.get(), std::out_of_range);  // NOLINT(bugprone-use-after-move)
    MISUSE_TRUE(ck, !v.set(6));
    MISUSE_THROWS(ck, v.load(), std::out_of_range);
    MISUSE_THROWS(ck, v.store(1), std::out_of_range);
    MISUSE_THROWS(ck, v.fetch_add(1), std::out_of_range);
    MISUSE_TRUE(ck, v.get_obj() == nullptr);
    MISUSE_STATUS(ck, v.get_lock().acquire(), "handle_closed");
    MISUSE_TRUE(ck, !v.has_lock());
    MISUSE_TRUE(ck, !v.valid());
    MISUSE_TRUE(ck, v.path().empty());

    MISUSE_TRUE(ck, a.size() == 0);  // NOLINT(bugprone-use-after-move)
    MISUSE_THROWS(ck, a.get(0), std::out_of_range);
    MISUSE_THROWS(ck, static_cast<Point>(a[0]), std::out_of_range);
    MISUSE_THROWS(ck, a[0] = (Point{1, 2}), std::out_of_range);
    MISUSE_TRUE(ck, !a.at(0).has_value());
    MISUSE_TRUE(ck, !a.set(0, Point{1, 2}));
    MISUSE_TRUE(ck, a.to_vector().empty());
    MISUSE_TRUE(ck, a.get_span().empty());
    MISUSE_STATUS(ck, a.get_lock().acquire(), "handle_closed");
    MISUSE_TRUE(ck, !a.valid());
  });
}

// ---- closed handles ---------------------------------------------------------------

TEST(MisuseClosed, ClosedQueueRefusesPutsDrainsThenSaysClosedOnEveryEngine) {
  for (const EngineCase& e : engines()) {
    UniqueName name("misuse-closed-queue");
    in_child(e.name, [&](Checks& ck) {
      auto created = Queue::create(name, e.options);
      ck.expect(created.has_value(), "create");
      if (!created) return;
      Queue q = std::move(*created);
      const std::string eight(8, 'c');
      std::vector<std::byte> buf(8);
      MISUSE_STATUS(ck, q.put(bytes_of(eight)), "ok");
      q.close();
      q.close();  // twice: nothing more happens
      MISUSE_TRUE(ck, q.closed());
      MISUSE_STATUS(ck, q.put(bytes_of(eight)), "closed");
      MISUSE_STATUS(ck, q.put(bytes_of(eight), seconds::max()), "closed");
      MISUSE_STATUS(ck, q.claim(8).status, "closed");
      MISUSE_STATUS(ck, q.get_into(buf), "ok");  // drains what was put before the close
      MISUSE_STATUS(ck, q.get_into(buf), "closed");
      MISUSE_STATUS(ck, q.get(seconds::max()).status, "closed");  // never waits on a closed queue
      MISUSE_STATUS(ck, q.read().status, "closed");
      ck.trail("release, commit");
      q.release();  // nothing read: nothing happens
      q.commit(8);  // nothing claimed: nothing happens
      MISUSE_TRUE(ck, q.qsize() == 0);
      MISUSE_TRUE(ck, q.empty());
    });
  }
}

TEST(MisuseClosed, ClosedConnectionAnswersHandleClosedOnEveryCall) {
  UniqueName name("misuse-closed-pipe");
  in_child("connection", [&](Checks& ck) {
    auto created = Pipe::create(name);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    Connection a = std::move(created->first);
    Connection b = std::move(created->second);
    MISUSE_STATUS(ck, a.send(std::string_view("x")), "ok");
    a.close();
    a.close();
    std::vector<std::byte> out;
    std::array<std::byte, 16> buf{};
    MISUSE_STATUS(ck, a.send(std::string_view("x")), "handle_closed");
    MISUSE_STATUS(ck, a.recv(seconds::max()).status, "handle_closed");
    MISUSE_STATUS(ck, a.recv_into(out), "handle_closed");
    MISUSE_STATUS(ck, a.recv_bytes_into(buf).status, "handle_closed");
    MISUSE_STATUS(ck, a.attach(), "handle_closed");
    MISUSE_TRUE(ck, a.closed());
    MISUSE_TRUE(ck, !a.attached());
    // The other end reads what was sent, then EOF.
    MISUSE_TRUE(ck, b.recv(nowait).text() == "x");
    MISUSE_STATUS(ck, b.recv(seconds::max()).status, "closed");
    MISUSE_STATUS(ck, b.send(std::string_view("y"), seconds::max()), "closed");
  });
}

// ---- 7. one claim at a time -----------------------------------------------------

TEST(MisuseDoubleClaim, SecondClaimAndPutAreRefusedAndTheFirstClaimStillWorksOnEveryEngine) {
  for (const EngineCase& e : engines()) {
    UniqueName name("misuse-double-claim");
    in_child(e.name, [&](Checks& ck) {
      auto created = Queue::create(name, e.options);
      ck.expect(created.has_value(), "create");
      if (!created) return;
      Queue q = std::move(*created);
      const PutClaim first = q.claim(8, nowait);
      MISUSE_STATUS(ck, first.status, "ok");
      if (first.status != PutStatus::ok) return;
      MISUSE_STATUS(ck, q.claim(8, nowait).status, "claim_open");
      MISUSE_STATUS(ck, q.claim(8).status, "claim_open");  // refused at once, never waits
      MISUSE_STATUS(ck, q.put(std::string_view("PUTPUTPU"), nowait), "claim_open");
      MISUSE_STATUS(ck, q.put_value(std::uint64_t{42}), "claim_open");
      std::memcpy(first.bytes.data(), "FIRST123", 8);
      q.commit(8);
      q.commit(8);  // no claim open: nothing more is published
      MISUSE_TRUE(ck, q.qsize() == 1);
      const Message m = q.get(nowait);
      MISUSE_STATUS(ck, m.status, "ok");
      MISUSE_TRUE(ck, m.text() == "FIRST123");
      MISUSE_TRUE(ck, q.qsize() == 0);
      // The handle is not wedged: round trips keep working, by claim and by put.
      int round_trips = 0;
      std::vector<std::byte> buf(8);
      for (int i = 0; i < 10'000; ++i) {
        const PutClaim c = q.claim(8, nowait);
        if (c.status != PutStatus::ok) break;
        std::memcpy(c.bytes.data(), "ROUNDTRP", 8);
        q.commit(8);
        if (q.get_into(buf, nowait) != GetStatus::ok) break;
        if (q.put(std::string_view("PUTTRIP!"), nowait) != PutStatus::ok) break;
        if (q.get_into(buf, nowait) != GetStatus::ok) break;
        ++round_trips;
      }
      ck.expect(round_trips == 10'000, "round trips after the refused claim: " + std::to_string(round_trips));
      MISUSE_TRUE(ck, q.qsize() == 0);
    });
  }
}

// The fixed-size engine's inline put (queue.hpp, detail::QueueHot) would
// write into an open claim's slot, so a claim turns it off; the commit, or
// a put that went the slow way, must turn it back on, or every later put
// pays for the out-of-line path. Seen through the protected hot_ pointer.
class HotPeek : public Queue {
 public:
  explicit HotPeek(Queue&& q) noexcept : Queue(std::move(q)) {}
  [[nodiscard]] bool inline_put_on() const noexcept { return hot_->put_generation != detail::QueueHot::kOff; }
  [[nodiscard]] bool inline_get_on() const noexcept { return hot_->get_generation != detail::QueueHot::kOff; }
};

TEST(MisuseDoubleClaim, FixedSizeInlinePutIsOffOnlyWhileAClaimIsOpen) {
  UniqueName name("misuse-inline-claim");
  QueueOptions o;
  o.engine = Engine::spsc;
  o.message_size = 8;
  HotPeek q(or_throw(Queue::create(name, o)));
  EXPECT_FALSE(q.inline_put_on());                                        // no role yet
  ASSERT_EQ(q.put(std::string_view("first..."), nowait), PutStatus::ok);  // the slow path takes the role
  EXPECT_TRUE(q.inline_put_on());
  const PutClaim c = q.claim(8, nowait);
  ASSERT_EQ(c.status, PutStatus::ok);
  EXPECT_FALSE(q.inline_put_on());
  EXPECT_EQ(q.put(std::string_view("refused."), nowait), PutStatus::claim_open);
  q.commit(8);
  EXPECT_TRUE(q.inline_put_on());
  std::vector<std::byte> buf(8);
  ASSERT_EQ(q.get_into(buf, nowait), GetStatus::ok);
  EXPECT_TRUE(q.inline_get_on());
  HotPeek moved(std::move(q));
  EXPECT_FALSE(q.inline_put_on());  // NOLINT(bugprone-use-after-move): the off QueueHot
  EXPECT_FALSE(q.inline_get_on());
  EXPECT_TRUE(moved.inline_put_on());
}

TEST(MisuseDoubleClaim, JoinableQueueCountsOnlyTheCommittedClaim) {
  UniqueName name("misuse-double-claim-joinable");
  in_child("joinable", [&](Checks& ck) {
    auto created = JoinableQueue::create(name);
    ck.expect(created.has_value(), "create");
    if (!created) return;
    JoinableQueue q = std::move(*created);
    const PutClaim c = q.claim(4, nowait);
    MISUSE_STATUS(ck, c.status, "ok");
    if (c.status != PutStatus::ok) return;
    MISUSE_STATUS(ck, q.put(std::string_view("nope")), "claim_open");
    MISUSE_TRUE(ck, q.unfinished_tasks() == 0);  // the refused put counted nothing
    std::memcpy(c.bytes.data(), "abcd", 4);
    q.commit(4);
    MISUSE_TRUE(ck, q.unfinished_tasks() == 1);
  });
}

// ---- 6. extreme timeouts ---------------------------------------------------------

TEST(MisuseTimeouts, DurationsTooLargeForNanosecondsMeanForever) {
  EXPECT_TRUE(Wait(milliseconds::max()).is_forever());
  EXPECT_TRUE(Wait(seconds::max()).is_forever());
  EXPECT_TRUE(Wait(hours::max()).is_forever());
  EXPECT_TRUE(Wait(nanoseconds::max()).is_forever());
  EXPECT_TRUE(Wait(duration<double>(std::numeric_limits<double>::infinity())).is_forever());
  EXPECT_TRUE(Wait(duration<std::uint64_t, std::milli>(std::numeric_limits<std::uint64_t>::max())).is_forever());
  EXPECT_TRUE(Wait(hours(1'000'000'000)).deadline().is_never());
  // Large but representable: a real deadline (hours(1000) is ~41 days).
  EXPECT_FALSE(Wait(hours(1000)).is_forever());
  EXPECT_FALSE(Wait(hours(1000)).deadline().is_never());
  EXPECT_FALSE(Wait(hours(1000)).is_nowait());
  // Exact where it fits.
  EXPECT_EQ(platform::saturating_ns(seconds(3)), nanoseconds(3'000'000'000));
  EXPECT_EQ(platform::saturating_ns(duration<double>(1.5)), nanoseconds(1'500'000'000));
  EXPECT_EQ(platform::saturating_ns(duration<std::int64_t, std::pico>(2500)), nanoseconds(2));
  // The options' ready_timeout saturates the same way.
  OpenOptions o;
  o.ready_timeout = hours::max();
  EXPECT_EQ(nanoseconds(o.ready_timeout), nanoseconds::max());
  SyncOpenOptions so;
  so.ready_timeout = seconds::max();
  EXPECT_EQ(nanoseconds(so.ready_timeout), nanoseconds::max());
}

TEST(MisuseTimeouts, NegativeMinAndNanTimeoutsMeanNow) {
  EXPECT_TRUE(Wait(milliseconds(-1)).is_nowait());
  EXPECT_TRUE(Wait(milliseconds::min()).is_nowait());
  EXPECT_TRUE(Wait(seconds::min()).is_nowait());
  EXPECT_TRUE(Wait(hours::min()).is_nowait());
  EXPECT_TRUE(Wait(nanoseconds::min()).is_nowait());
  EXPECT_TRUE(Wait(duration<double>(-std::numeric_limits<double>::infinity())).is_nowait());
  EXPECT_TRUE(Wait(duration<double>(std::nan(""))).is_nowait());
  EXPECT_TRUE(Wait(milliseconds(0)).is_nowait());
}

// Each blocking call, given a timeout too large to represent, waits for the
// event that comes ~100 ms later instead of giving up at once (or hanging).
TEST(MisuseTimeouts, QueueGetAndPutWithMaxDurationsWaitForTheOtherSide) {
  const auto huge = std::vector<std::pair<const char*, Wait>>{
      {"milliseconds::max", milliseconds::max()},
      {"seconds::max", seconds::max()},
      {"hours::max", hours::max()},
      {"nanoseconds::max", nanoseconds::max()},
      {"hours(10^9)", hours(1'000'000'000)},
      {"duration<double>(inf)", duration<double>(std::numeric_limits<double>::infinity())}};
  for (const EngineCase& e : engines()) {
    for (const auto& [label, wait] : huge) {
      // Two queues: on the SPSC engines a handle of another thread holds
      // the role it used, so each side keeps to one role per queue.
      UniqueName gets("misuse-huge-get");
      UniqueName puts("misuse-huge-put");
      in_child(std::string(e.name) + " " + label, [&, w = wait](Checks& ck) {
        QueueOptions options = e.options;
        options.maxsize = 1;
        auto g = Queue::create(gets, options);
        auto p = Queue::create(puts, options);
        ck.expect(g.has_value() && p.has_value(), "create");
        if (!g || !p) return;
        const std::string eight(8, 'h');
        std::vector<std::byte> buf(8);
        MISUSE_STATUS(ck, p->put(bytes_of(eight)), "ok");  // full now (maxsize 1)
        std::thread other([&] {
          Queue producer = or_throw(Queue::open(gets));
          Queue consumer = or_throw(Queue::open(puts));
          std::this_thread::sleep_for(milliseconds(100));
          (void)producer.put(bytes_of(eight));
          std::this_thread::sleep_for(milliseconds(100));
          std::vector<std::byte> b(8);
          (void)consumer.get_into(b);  // makes room for the put below
        });
        // ok, not empty/full: the call waited for the other side instead
        // of ending at once (no timing checks: a slow machine may let the
        // other side come first, which is fine).
        MISUSE_STATUS(ck, g->get_into(buf, w), "ok");
        MISUSE_STATUS(ck, p->put(bytes_of(eight), w), "ok");
        other.join();
      });
    }
  }
}

TEST(MisuseTimeouts, SyncObjectsWithMaxDurationsWaitForTheOtherSide) {
  UniqueName lname("misuse-huge-lock");
  UniqueName sname("misuse-huge-sem");
  UniqueName ename("misuse-huge-event");
  UniqueName cname("misuse-huge-cond");
  UniqueName bname("misuse-huge-barrier");
  UniqueName jname("misuse-huge-join");
  UniqueName pname("misuse-huge-pipe");
  in_child("sync objects", [&](Checks& ck) {
    auto lock = or_throw(Lock::create(lname));
    auto sem = or_throw(Semaphore::create(sname, 0));
    auto event = or_throw(Event::create(ename));
    auto cond = or_throw(Condition::create(cname));
    auto barrier = or_throw(Barrier::create(bname, 2));
    auto joinable = or_throw(JoinableQueue::create(jname));
    auto pipe = or_throw(Pipe::create(pname));
    MISUSE_STATUS(ck, lock.acquire(), "acquired");
    MISUSE_STATUS(ck, joinable.put(std::string_view("task")), "ok");
    std::atomic<bool> cond_waiting{false};
    std::thread other([&] {
      std::this_thread::sleep_for(milliseconds(100));
      (void)lock.release();
      (void)sem.release();
      event.set();
      while (!cond_waiting.load()) std::this_thread::sleep_for(milliseconds(1));
      std::this_thread::sleep_for(milliseconds(20));
      {
        auto c = or_throw(Condition::open(cname));
        (void)c.acquire();
        (void)c.notify_all();
        (void)c.release();
      }
      (void)barrier.wait(milliseconds::max());
      auto j = or_throw(JoinableQueue::open(jname));
      (void)j.get();
      (void)j.task_done();
      (void)pipe.second.send(std::string_view("ping"));
    });
    // acquired/ok/passed/done, not timeout: each call waited for the other side.
    auto lock2 = or_throw(Lock::open(lname));
    MISUSE_STATUS(ck, lock2.acquire(milliseconds::max()), "acquired");
    MISUSE_STATUS(ck, sem.acquire(seconds::max()), "acquired");
    MISUSE_TRUE(ck, event.wait(hours::max()));
    MISUSE_STATUS(ck, cond.acquire(), "acquired");
    cond_waiting = true;
    MISUSE_STATUS(ck, cond.wait(milliseconds::max()), "ok");
    MISUSE_STATUS(ck, cond.release(), "ok");
    MISUSE_STATUS(ck, barrier.wait(seconds::max()).status, "passed");
    MISUSE_STATUS(ck, joinable.join(hours::max()), "done");
    MISUSE_TRUE(ck, pipe.first.recv(milliseconds::max()).text() == "ping");
    other.join();
  });
}

TEST(MisuseTimeouts, NegativeAndMinDurationsReturnAtOnce) {
  UniqueName qname("misuse-neg-queue");
  UniqueName lname("misuse-neg-lock");
  UniqueName cname("misuse-neg-cond");
  UniqueName bname("misuse-neg-barrier");
  in_child("negative", [&](Checks& ck) {
    auto q = or_throw(Queue::create(qname));
    auto lock = or_throw(Lock::create(lname));
    auto cond = or_throw(Condition::create(cname));
    auto barrier = or_throw(Barrier::create(bname, 2));
    MISUSE_STATUS(ck, lock.acquire(), "acquired");
    const std::int64_t t0 = monotonic_ns();
    MISUSE_STATUS(ck, q.get(milliseconds(-1)).status, "empty");
    MISUSE_STATUS(ck, q.get(milliseconds::min()).status, "empty");
    MISUSE_STATUS(ck, q.get(nanoseconds::min()).status, "empty");
    MISUSE_STATUS(ck, q.read(seconds::min()).status, "empty");
    MISUSE_STATUS(ck, lock.acquire(seconds(-5)), "timeout");
    MISUSE_STATUS(ck, lock.acquire(hours::min()), "timeout");
    MISUSE_STATUS(ck, cond.acquire(), "acquired");
    MISUSE_STATUS(ck, cond.wait(milliseconds::min()), "timeout");
    MISUSE_STATUS(ck, barrier.wait(milliseconds(-1)).status, "timeout");
    ck.expect(monotonic_ns() - t0 < 2000 * kMs, "a negative timeout waited");
  });
}

// ---- extreme sizes and counts ----------------------------------------------------

TEST(MisuseArguments, ZeroAndMaximalSizesGiveStatusesOrErrors) {
  for (const EngineCase& e : engines()) {
    UniqueName name("misuse-sizes");
    in_child(e.name, [&](Checks& ck) {
      auto created = Queue::create(name, e.options);
      ck.expect(created.has_value(), "create");
      if (!created) return;
      Queue q = std::move(*created);
      const bool fixed = e.options.message_size != 0;
      MISUSE_STATUS(ck, q.put(std::string_view()), fixed ? "wrong_size" : "ok");
      if (!fixed) {
        const Message m = q.get(nowait);
        MISUSE_STATUS(ck, m.status, "ok");
        MISUSE_TRUE(ck, m.bytes.empty());
      }
      const std::vector<std::byte> big(static_cast<std::size_t>(q.max_message()) + 1);
      MISUSE_STATUS(ck, q.put(std::span<const std::byte>(big)), fixed ? "wrong_size" : "too_large");
      MISUSE_STATUS(ck, q.claim(std::numeric_limits<std::size_t>::max()).status, fixed ? "wrong_size" : "too_large");
      if (!fixed) {
        const PutClaim c = q.claim(0, nowait);
        MISUSE_STATUS(ck, c.status, "ok");
        q.commit(0);
        MISUSE_STATUS(ck, q.get(nowait).status, "ok");
      }
    });
  }
  // Creation options at their extremes.
  UniqueName name("misuse-options");
  const auto refused = [&](const QueueOptions& o) {
    auto q = Queue::create(name, o);
    return !q.has_value() && q.error().code == Errc::invalid_argument && !file_exists(name.path());
  };
  QueueOptions o;
  o.capacity_bytes = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(refused(o));
  o = {};
  o.max_message = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(refused(o));
  o = {};
  o.engine = Engine::spsc;
  o.message_size = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(refused(o));
  o = {};
  o.mode = 0xffffffffu;
  EXPECT_FALSE(Queue::create(name, o).has_value());
  {
    QueueOptions tiny;
    tiny.capacity_bytes = 0;                                  // rounds up to the smallest ring
    tiny.maxsize = std::numeric_limits<std::int64_t>::min();  // <= 0: no message limit
    auto q = Queue::create(name, tiny);
    ASSERT_TRUE(q.has_value()) << q.error().message();
    EXPECT_EQ(q->put(std::string_view("x")), PutStatus::ok);
    EXPECT_EQ(q->maxsize(), std::numeric_limits<std::int64_t>::min());
  }
  ::unlink(name.path().c_str());
  {
    QueueOptions most;
    most.maxsize = std::numeric_limits<std::int64_t>::max();
    auto q = Queue::create(name, most);
    ASSERT_TRUE(q.has_value()) << q.error().message();
    EXPECT_EQ(q->put(std::string_view("x")), PutStatus::ok);
  }
  ::unlink(name.path().c_str());
  PipeOptions po;
  po.capacity_bytes = std::numeric_limits<std::uint64_t>::max();
  auto p = Pipe::create(name, po);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, Errc::invalid_argument);
  auto s = Semaphore::create(name, std::numeric_limits<std::uint32_t>::max());
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::invalid_argument);
  for (const std::uint32_t parties : {0u, std::numeric_limits<std::uint32_t>::max()}) {
    auto b = Barrier::create(name, parties);
    ASSERT_FALSE(b.has_value());
    EXPECT_EQ(b.error().code, Errc::invalid_argument);
  }
  for (const std::size_t count : {std::size_t{0}, std::numeric_limits<std::size_t>::max()}) {
    auto a = Array<std::int32_t>::create(name, count);
    ASSERT_FALSE(a.has_value());
    EXPECT_EQ(a.error().code, Errc::invalid_argument);
  }
  EXPECT_FALSE(file_exists(name.path()));
}

TEST(MisuseArguments, PipeOffsetsAndSizesOutsideTheBufferAreOutOfRange) {
  UniqueName name("misuse-pipe-args");
  auto [a, b] = or_throw(Pipe::create(name));
  const std::string text = "abcdef";
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(a.send_bytes(bytes_of(text), kMax), ConnStatus::out_of_range);
  EXPECT_EQ(a.send_bytes(bytes_of(text), 2, kMax - 1), ConnStatus::out_of_range);
  EXPECT_EQ(a.send_bytes(bytes_of(text), 7), ConnStatus::out_of_range);
  EXPECT_EQ(a.send_bytes(bytes_of(text), 6), ConnStatus::ok);  // an empty message
  const std::vector<std::byte> big(static_cast<std::size_t>(a.max_message()) + 1);
  EXPECT_EQ(a.send(std::span<const std::byte>(big), seconds::max()), ConnStatus::too_large);
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(b.recv_bytes_into(buf, kMax).status, ConnStatus::out_of_range);
  const RecvInto got = b.recv_bytes_into(buf, 4);  // offset == size: room for the empty message only
  EXPECT_EQ(got.status, ConnStatus::ok);
  EXPECT_EQ(got.size, 0u);
  EXPECT_EQ(a.send(std::string_view("12345")), ConnStatus::ok);
  const RecvInto short_buf = b.recv_bytes_into(buf, 0, nowait);
  EXPECT_EQ(short_buf.status, ConnStatus::too_short);
  EXPECT_EQ(short_buf.size, 5u);
  EXPECT_EQ(b.recv(nowait).text(), "12345");  // it stayed queued
}

TEST(MisuseArguments, ConditionNotifyOfZeroAndOfMaxWaitersIsFine) {
  UniqueName name("misuse-notify");
  auto c = or_throw(Condition::create(name));
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(c.notify(0), ConditionStatus::ok);
  EXPECT_EQ(c.notify(std::numeric_limits<std::uint32_t>::max()), ConditionStatus::ok);
  EXPECT_EQ(c.release(), ReleaseStatus::ok);
  EXPECT_EQ(c.notify(), ConditionStatus::not_owner);
}

// ---- 9. Array elements: a[i] = x writes -----------------------------------------

TEST(MisuseArrayIndex, AssigningToAnElementWritesIt) {
  UniqueName name("misuse-array-write");
  auto a = or_throw(Array<Point>::create(name, 3));
  a[0] = Point{5, 6};
  const Point p = a[0];
  EXPECT_EQ(p.x, 5);
  EXPECT_EQ(p.y, 6);
  // Another handle on the same name sees the write: it reached shared memory.
  auto other = or_throw(Array<Point>::open(name));
  EXPECT_EQ(other.get(0).x, 5);
  // a[i] = a[j] copies the value.
  a[1] = Point{7, 8};
  a[2] = a[1];
  EXPECT_EQ(other.get(2).y, 8);
  // Under the caller's own lock too (recursive).
  {
    std::scoped_lock g(a.get_lock());
    a[0] = Point{9, 9};
  }
  EXPECT_EQ(other[0].get().x, 9);
  // A const array reads through [] and cannot be written through it.
  const Array<Point>& ca = a;
  const Point q = ca[1];
  EXPECT_EQ(q.x, 7);
  static_assert(!std::is_assignable_v<decltype(ca[0]), Point>, "a const Array's a[i] must not take a write");
  static_assert(std::is_assignable_v<decltype(a[0]), Point>, "a[i] = x must write");
}

TEST(MisuseArrayIndex, OutOfRangeIndexesThrowOrReportAndWriteNothing) {
  UniqueName name("misuse-array-range");
  auto a = or_throw(Array<std::int32_t>::create(name, 2));
  a[1] = 41;
  EXPECT_THROW(a[2] = 1, std::out_of_range);
  EXPECT_THROW((void)static_cast<std::int32_t>(a[2]), std::out_of_range);
  EXPECT_THROW((void)a.get(std::numeric_limits<std::size_t>::max()), std::out_of_range);
  EXPECT_THROW((void)a.load(2), std::out_of_range);
  EXPECT_THROW(a.store(2, 1), std::out_of_range);
  EXPECT_THROW((void)a.fetch_add(2, 1), std::out_of_range);
  std::int32_t expected = 0;
  EXPECT_THROW((void)a.compare_exchange(2, expected, 1), std::out_of_range);
  EXPECT_FALSE(a.at(2).has_value());
  EXPECT_FALSE(a.set(2, 1));
  EXPECT_EQ(a.to_vector(), (std::vector<std::int32_t>{0, 41}));
}

// ---- a segment of the wrong kind -------------------------------------------------

TEST(MisuseWrongKind, EveryObjectRefusesAnotherKindsSegment) {
  UniqueName lock("misuse-kind-lock");
  UniqueName queue("misuse-kind-queue");
  UniqueName joinable("misuse-kind-joinable");
  UniqueName pipe("misuse-kind-pipe");
  UniqueName event("misuse-kind-event");
  UniqueName sem("misuse-kind-sem");
  UniqueName value("misuse-kind-value");
  UniqueName array("misuse-kind-array");
  UniqueName cond("misuse-kind-cond");
  auto l = or_throw(Lock::create(lock));
  auto q = or_throw(Queue::create(queue));
  auto j = or_throw(JoinableQueue::create(joinable));
  auto p = or_throw(Pipe::create(pipe));
  auto e = or_throw(Event::create(event));
  auto s = or_throw(Semaphore::create(sem));
  auto v = or_throw(Value<std::int32_t>::create(value));
  auto a = or_throw(Array<std::int32_t>::create(array, 4));
  auto c = or_throw(Condition::create(cond));
  const auto wrong = [](const auto& result) { return !result.has_value() && result.error().code == Errc::wrong_kind; };
  SyncOpenOptions so;
  so.ready_timeout = milliseconds(0);
  OpenOptions qo;
  qo.ready_timeout = milliseconds(0);
  EXPECT_TRUE(wrong(Queue::open(lock, qo)));
  EXPECT_TRUE(wrong(Queue::open(joinable, qo)));
  EXPECT_TRUE(wrong(JoinableQueue::open(queue, qo)));
  EXPECT_TRUE(wrong(Queue::open(pipe, qo)));
  EXPECT_TRUE(wrong(Connection::open(queue, End::a)));
  EXPECT_TRUE(wrong(Lock::open(queue, so)));
  EXPECT_TRUE(wrong(RLock::open(lock, so)));
  EXPECT_TRUE(wrong(Semaphore::open(event, so)));
  EXPECT_TRUE(wrong(BoundedSemaphore::open(sem, so)));
  EXPECT_TRUE(wrong(Event::open(sem, so)));
  EXPECT_TRUE(wrong(Condition::open(lock, so)));
  EXPECT_TRUE(wrong(Barrier::open(cond, {}, so)));
  ValueOpenOptions vo;
  vo.ready_timeout = milliseconds(0);
  EXPECT_TRUE(wrong(Array<std::int32_t>::open(value, vo)));
  EXPECT_TRUE(wrong(Value<std::int32_t>::open(array, vo)));
  // Same kind, another element type: the layout check says so.
  auto floats = Array<float>::open(array, vo);
  ASSERT_FALSE(floats.has_value());
  EXPECT_EQ(floats.error().code, Errc::bad_layout);
}

TEST(MisuseWrongKind, FilesThatAreNoSegmentAreRefusedWithTheirReason) {
  UniqueName name("misuse-kind-file");
  {
    std::FILE* f = std::fopen(name.path().c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  OpenOptions qo;
  qo.ready_timeout = milliseconds(0);
  auto empty = Queue::open(name, qo);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, Errc::empty_file);
  {
    std::FILE* f = std::fopen(name.path().c_str(), "w");
    ASSERT_NE(f, nullptr);
    const std::string junk(8192, 'j');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto junk = Queue::open(name, qo);
  ASSERT_FALSE(junk.has_value());
  EXPECT_EQ(junk.error().code, Errc::bad_magic);
  auto missing = Lock::open("misuse-no-such-name-" + std::to_string(::getpid()));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  auto dir = Queue::open("/tmp", qo);
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error().code, Errc::not_regular_file);
}

// ---- resource limits (in children: the limit never reaches this process) ----------

// Uses up every file descriptor this process may open.
std::vector<int> exhaust_fds(rlim_t limit) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = limit;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  std::vector<int> fds;
  for (int fd; (fd = ::dup(0)) >= 0;) fds.push_back(fd);
  return fds;
}

TEST(MisuseLimits, WithNoFileDescriptorLeftCreateAndOpenFailCleanly) {
  UniqueName queue("misuse-nofile-queue");
  UniqueName lock("misuse-nofile-lock");
  UniqueName pipe("misuse-nofile-pipe");
  UniqueName fresh("misuse-nofile-fresh");
  auto q = or_throw(Queue::create(queue));
  auto l = or_throw(Lock::create(lock));
  auto p = or_throw(Pipe::create(pipe));
  in_child("RLIMIT_NOFILE", [&](Checks& ck) {
    // A handle opened before the limit keeps working.
    auto held = Queue::open(queue);
    ck.expect(held.has_value(), "open before the limit");
    const std::vector<int> fds = exhaust_fds(64);
    const auto emfile = [](const auto& r) {
      return !r.has_value() && r.error().code == Errc::system && r.error().sys_errno == EMFILE;
    };
    MISUSE_TRUE(ck, emfile(Queue::open(queue)));
    MISUSE_TRUE(ck, emfile(Lock::open(lock)));
    MISUSE_TRUE(ck, emfile(Connection::open(pipe, End::a)));
    MISUSE_TRUE(ck, emfile(Queue::create(fresh)));
    MISUSE_TRUE(ck, emfile(Event::create(fresh)));
    MISUSE_TRUE(ck, emfile(Array<std::int32_t>::create(fresh, 8)));
    MISUSE_TRUE(ck, !file_exists(fresh.path()));
    if (held) {
      MISUSE_STATUS(ck, held->put(std::string_view("still works")), "ok");
      MISUSE_TRUE(ck, held->get(nowait).text() == "still works");
    }
    for (const int fd : fds) ::close(fd);
    MISUSE_TRUE(ck, Queue::open(queue).has_value());  // and all is well once fds are back
  });
}

// A thread names itself by tid and start time, read from /proc; with no
// descriptor left it cannot read its start time. The lock it then takes must
// still be its own: another process must not prove that live holder dead
// (a start time that differs from /proc's) and take the lock over.
TEST(MisuseLimits, ALockTakenWithNoFileDescriptorLeftIsNotTakenOverWhileItsHolderLives) {
  UniqueName name("misuse-nofile-holder");
  Lock lock = or_throw(Lock::create(name));
  Child holder = fork_child([&](int out) {
    const std::vector<int> fds = exhaust_fds(64);
    // The first lock call of this (forked) thread: its identity is read now.
    const AcquireStatus st = lock.acquire(nowait);
    write_line(out, to_string(st));
    ::sleep(5);  // alive and holding; killed by the test when it is done
    return 0;
  });
  ASSERT_EQ(holder.read_line(10s), "acquired");
  EXPECT_EQ(lock.acquire(nowait), AcquireStatus::timeout) << "a live holder's lock was taken over";
  EXPECT_EQ(lock.acquire(50ms), AcquireStatus::timeout);
  EXPECT_EQ(lock.takeovers(), 0u);
  holder.kill(SIGKILL);
  (void)holder.wait();
  // Once it is dead, its lock is taken over as usual.
  EXPECT_EQ(lock.acquire(5s), AcquireStatus::owner_died);
}

// The process's address space now, in bytes (/proc/self/statm, first field).
std::uint64_t address_space_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long pages = 0;
  if (std::fscanf(f, "%llu", &pages) != 1) pages = 0;
  std::fclose(f);
  return pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

TEST(MisuseLimits, WithNoAddressSpaceLeftCreatingABigObjectFailsCleanly) {
  if (!emulator_command().empty()) {
    GTEST_SKIP() << "under qemu-user RLIMIT_AS limits the emulator's own host address space, not the guest's";
  }
  UniqueName queue("misuse-as-queue");
  UniqueName array("misuse-as-array");
  UniqueName pipe("misuse-as-pipe");
  in_child("RLIMIT_AS", [&](Checks& ck) {
    const std::uint64_t now = address_space_bytes();
    ck.expect(now != 0, "address space size");
    rlimit rl{};
    rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(now + (32u << 20));
    ck.expect(::setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit");
    const auto no_space = [](const auto& r) { return !r.has_value() && r.error().code == Errc::no_space; };
    QueueOptions big;
    big.capacity_bytes = std::uint64_t{1} << 30;  // on-demand memory: the mapping is what fails
    MISUSE_TRUE(ck, no_space(Queue::create(queue, big)));
    MISUSE_TRUE(ck, !file_exists(queue.path()));
    MISUSE_TRUE(ck, no_space(Array<std::byte>::create(array, std::size_t{64} << 20)));
    MISUSE_TRUE(ck, !file_exists(array.path()));
    PipeOptions po;
    po.capacity_bytes = std::uint64_t{64} << 20;
    MISUSE_TRUE(ck, no_space(Pipe::create(pipe, po)));
    MISUSE_TRUE(ck, !file_exists(pipe.path()));
    // Small objects still fit.
    MISUSE_TRUE(ck, Queue::create(queue).has_value());
  });
}

}  // namespace
}  // namespace shmring
