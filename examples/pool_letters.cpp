// Tutorial scenario 3: a Pool of worker processes. One task writes a string
// letter by letter into a queue; a later task, run by a worker, reads them
// all back. Python needs Manager().Queue() for this and fails with "Queue
// objects should only be shared between processes through inheritance";
// here the tasks find the queue by its name.
//
// Python:
//   def write(q):  [q.put(c) for c in 'hello world']
//   def read(q):   return ''.join(q.get() for _ in range(11))
//   with Pool(2) as pool, Manager() as m:
//       q = m.Queue()
//       pool.apply(write, (q,)); print(pool.apply(read, (q,)))
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "shmring/ipc/pool.hpp"
#include "shmring/ipc/queue.hpp"

namespace {

std::string g_queue;  // set before the pool forks: every worker knows the name

// Task 1: put the text one letter at a time, then close the queue.
shmring::Bytes write_letters(std::span<const std::byte> text) {
  auto q = shmring::Queue::open(g_queue);
  if (!q) throw std::runtime_error(q.error().message());
  for (const std::byte b : text) {
    if (q->put(std::span<const std::byte>(&b, 1)) != shmring::PutStatus::ok) throw std::runtime_error("put failed");
  }
  q->close();  // no more letters: the reader drains and stops
  return {};
}

// Task 2: read every letter back.
shmring::Bytes read_letters(std::span<const std::byte>) {
  auto q = shmring::Queue::open(g_queue);
  if (!q) throw std::runtime_error(q.error().message());
  shmring::Bytes out;
  for (;;) {
    const shmring::Message m = q->get();
    if (m.status == shmring::GetStatus::closed) return out;
    if (!m) throw std::runtime_error(shmring::to_string(m.status));
    out.insert(out.end(), m.bytes.begin(), m.bytes.end());
  }
}

}  // namespace

int main() {
  g_queue = "shmring-example-letters-" + std::to_string(::getpid());
  auto q = shmring::Queue::create(g_queue);
  if (!q) {
    std::fprintf(stderr, "create failed: %s\n", q.error().message().c_str());
    return 1;
  }
  auto pool = shmring::Pool::create(2);
  if (!pool) {
    std::fprintf(stderr, "pool: %s\n", pool.error().message().c_str());
    return 1;
  }
  const shmring::PoolResult wrote = pool->apply(&write_letters, "hello world");
  const shmring::PoolResult read = pool->apply(&read_letters, "");
  pool->close();
  pool->join();
  (void)shmring::Queue::unlink(g_queue);
  if (!wrote || !read) {
    std::fprintf(stderr, "tasks: %s %s\n", wrote.error.c_str(), read.error.c_str());
    return 1;
  }
  std::printf("%.*s\n", static_cast<int>(read.text().size()), read.text().data());
  const bool ok = read.text() == "hello world";
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
