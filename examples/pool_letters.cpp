// Tutorial scenario 3: a pool of worker processes. One task writes a string
// letter by letter into a queue; a later task, run by another worker, reads
// them all back. Python needs Manager().Queue() for this and fails with
// "Queue objects should only be shared between processes through
// inheritance"; here the tasks find the queue by its name.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "shmring/ipc/queue.hpp"

namespace {

// Task 1: put "hello world" one letter at a time, then close the queue.
int write_letters(const std::string& queue_name) {
  auto q = shmring::Queue::open(queue_name);
  if (!q) return 1;
  for (const char c : std::string("hello world")) {
    if (q->put(std::string_view(&c, 1)) != shmring::PutStatus::ok) return 2;
  }
  q->close();  // no more letters: the reader drains and stops
  return 0;
}

// Task 2: read every letter back.
int read_letters(const std::string& queue_name, std::string& out) {
  auto q = shmring::Queue::open(queue_name);
  if (!q) return 1;
  for (;;) {
    const shmring::Message m = q->get();
    if (m.status == shmring::GetStatus::closed) return 0;
    if (!m) return 2;
    out += m.text();
  }
}

// A tiny process pool: each worker runs the tasks it is sent through a pipe
// (a task is a number) and reports back on another pipe.
struct Worker {
  pid_t pid;
  int tasks;    // parent writes task numbers
  int results;  // worker writes one result line per task
};

Worker start_worker(const std::string& queue_name, const std::vector<Worker>& others) {
  int down[2], up[2];
  if (::pipe(down) != 0 || ::pipe(up) != 0) std::_Exit(1);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(down[1]);
    ::close(up[0]);
    for (const Worker& o : others) {  // else the other workers never see EOF on their task pipes
      ::close(o.tasks);
      ::close(o.results);
    }
    int task = 0;
    while (::read(down[0], &task, sizeof(task)) == sizeof(task)) {
      std::string result;
      const int rc = task == 1 ? write_letters(queue_name) : read_letters(queue_name, result);
      const std::string line = std::to_string(rc) + " " + result + "\n";
      (void)!::write(up[1], line.data(), line.size());
    }
    ::_exit(0);
  }
  ::close(down[0]);
  ::close(up[1]);
  return Worker{pid, down[1], up[0]};
}

std::string run_task(const Worker& w, int task) {
  (void)!::write(w.tasks, &task, sizeof(task));
  std::string line;
  char c = 0;
  while (::read(w.results, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

}  // namespace

int main() {
  const std::string name = "shmring-example-pool-" + std::to_string(::getpid());
  auto q = shmring::Queue::create(name);
  if (!q) {
    std::fprintf(stderr, "create failed: %s\n", q.error().message().c_str());
    return 1;
  }
  std::fflush(stdout);
  std::vector<Worker> pool;
  for (int i = 0; i < 2; ++i) pool.push_back(start_worker(name, pool));
  const std::string wrote = run_task(pool[0], 1);  // the writer task, on worker 0
  const std::string read = run_task(pool[1], 2);   // a later task, on worker 1
  for (const Worker& w : pool) {
    ::close(w.tasks);
    ::waitpid(w.pid, nullptr, 0);
    ::close(w.results);
  }
  (void)shmring::Queue::unlink(name);
  std::printf("writer task: %s\nreader task: %s\n", wrote == "0 " ? "ok" : wrote.c_str(), read.c_str());
  const bool ok = wrote == "0 " && read == "0 hello world";
  std::printf("%s\n", ok ? "ok: a later task in another worker read every letter, found by name" : "FAILED");
  return ok ? 0 : 1;
}
