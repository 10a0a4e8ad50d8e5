// Tutorial scenario 2: a parent creates a queue and two children. The writer
// puts A, B, C with random pauses; after the writer is joined, the reader
// drains everything. The children use the queue handle they inherited.
//
// Python:
//   q = Queue(); w = Process(target=writer, args=(q,)); w.start(); w.join()
//   r = Process(target=reader, args=(q,)); r.start(); r.join()
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "shmring/ipc/queue.hpp"

namespace {

int join(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main() {
  const std::string name = "shmring-example-writer-reader-" + std::to_string(::getpid());
  auto created = shmring::Queue::create(name);
  if (!created) {
    std::fprintf(stderr, "create failed: %s\n", created.error().message().c_str());
    return 1;
  }
  shmring::Queue& q = *created;
  std::fflush(stdout);

  const pid_t writer = ::fork();
  if (writer == 0) {
    std::mt19937 rng(std::random_device{}());
    for (const char* item : {"A", "B", "C"}) {
      ::usleep(static_cast<useconds_t>(rng() % 200'000));
      if (q.put(item) != shmring::PutStatus::ok) ::_exit(1);
      std::printf("writer put %s\n", item);
      std::fflush(stdout);
    }
    ::_exit(0);
  }
  const int writer_rc = join(writer);

  const pid_t reader = ::fork();
  if (reader == 0) {
    std::string got;
    while (!q.empty()) {
      const shmring::Message m = q.get_nowait();
      if (!m) break;
      std::printf("reader got %s\n", std::string(m.text()).c_str());
      got += m.text();
    }
    std::fflush(stdout);
    ::_exit(got == "ABC" ? 0 : 1);
  }
  const int reader_rc = join(reader);

  (void)shmring::Queue::unlink(name);
  std::printf("%s\n", writer_rc == 0 && reader_rc == 0 ? "ok: the reader drained A B C" : "FAILED");
  return writer_rc == 0 && reader_rc == 0 ? 0 : 1;
}
