// Tutorial scenario 1: a Queue(3). Three puts succeed and full() turns true; a
// fourth put with a 2-second timeout fails with `full` after 2 s; put_nowait
// fails at once; checking full() first is the polite way; the reader checks
// empty() and drains with get_nowait, in order.
//
// Python:
//   q = Queue(3); q.put(1); q.put(2); q.put(3); q.full()      -> True
//   q.put(4, timeout=2)                                        -> queue.Full after 2 s
//   q.put_nowait(4)                                            -> queue.Full at once
//   while not q.empty(): print(q.get_nowait())                 -> 1 2 3
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "shmring/ipc/queue.hpp"

using namespace std::chrono_literals;

int main() {
  const std::string name = "shmring-example-queue-full-" + std::to_string(::getpid());
  auto created = shmring::Queue::create(name, {.maxsize = 3});
  if (!created) {
    std::fprintf(stderr, "create failed: %s\n", created.error().message().c_str());
    return 1;
  }
  shmring::Queue& q = *created;
  int failures = 0;
  auto expect = [&](bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "  ok  " : "  FAIL", what);
    failures += ok ? 0 : 1;
  };

  for (const char* item : {"1", "2", "3"}) expect(q.put(item) == shmring::PutStatus::ok, "put succeeds");
  expect(q.full(), "full() is true after three puts");

  const auto t0 = std::chrono::steady_clock::now();
  const shmring::PutStatus timed = q.put("4", 2s);
  const auto waited = std::chrono::steady_clock::now() - t0;
  std::printf("  put(4, 2s) -> %s after %.2f s\n", shmring::to_string(timed),
              std::chrono::duration<double>(waited).count());
  expect(timed == shmring::PutStatus::full && waited >= 2s, "a put with a 2 s timeout fails with full after 2 s");

  expect(q.put_nowait("4") == shmring::PutStatus::full, "put_nowait fails with full at once");
  if (!q.full()) (void)q.put_nowait("4");  // the polite way: ask first
  expect(q.qsize() == 3, "still three items");

  std::string drained;
  while (!q.empty()) drained += q.get_nowait().text();
  std::printf("  drained: %s\n", drained.c_str());
  expect(drained == "123", "the reader drains 1 2 3 in order");

  (void)shmring::Queue::unlink(name);
  return failures == 0 ? 0 : 1;
}
