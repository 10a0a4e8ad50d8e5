// Tutorial scenario 4: a worker object whose send() passes strings as they
// are and serialises anything else as JSON; send_all() sends 20 numbered
// messages one interval apart (the tutorial waits a second; shortened here);
// a receiver loops forever, decoding JSON when it can. When the sender is
// done, the receiver is stopped cleanly with close() — the tutorial had to
// terminate() it and hit FileNotFoundError on the queue's semaphore when the
// parent exited early.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "shmring/ipc/queue.hpp"

namespace {

struct Reading {  // a non-string message
  int number;
  double value;
};

std::string to_json(const Reading& r) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "{\"number\": %d, \"value\": %.3f}", r.number, r.value);
  return buf;
}

bool from_json(std::string_view text, Reading& r) {
  const std::string s(text);
  return std::sscanf(s.c_str(), " {\"number\": %d, \"value\": %lf}", &r.number, &r.value) == 2;
}

class Worker {
 public:
  explicit Worker(shmring::Queue& q) : q_(q) {}
  bool send(std::string_view text) { return q_.put(text) == shmring::PutStatus::ok; }
  bool send(const Reading& r) { return send(to_json(r)); }
  bool send_all(std::chrono::milliseconds interval) {
    for (int i = 0; i < 20; ++i) {
      if (!(i % 2 == 0 ? send(Reading{i, i * 1.5}) : send("plain text " + std::to_string(i)))) return false;
      std::this_thread::sleep_for(interval);
    }
    return true;
  }

 private:
  shmring::Queue& q_;
};

}  // namespace

int main() {
  const std::string name = "shmring-example-json-" + std::to_string(::getpid());
  auto created = shmring::Queue::create(name);
  if (!created) {
    std::fprintf(stderr, "create failed: %s\n", created.error().message().c_str());
    return 1;
  }
  std::fflush(stdout);
  const pid_t receiver = ::fork();
  if (receiver == 0) {
    auto q = shmring::Queue::open(name);
    if (!q) ::_exit(1);
    int json = 0, text = 0;
    for (;;) {  // "loops forever"
      const shmring::Message m = q->get();
      if (m.status == shmring::GetStatus::closed) break;  // stopped cleanly
      Reading r{};
      if (from_json(m.text(), r)) {
        std::printf("receiver: reading %d = %.3f\n", r.number, r.value);
        ++json;
      } else {
        std::printf("receiver: text '%s'\n", std::string(m.text()).c_str());
        ++text;
      }
      std::fflush(stdout);
    }
    std::printf("receiver: closed after %d JSON and %d text messages\n", json, text);
    std::fflush(stdout);
    ::_exit(json == 10 && text == 10 ? 0 : 2);
  }
  const pid_t sender = ::fork();
  if (sender == 0) {
    auto q = shmring::Queue::open(name);
    if (!q) ::_exit(1);
    Worker w(*q);
    ::_exit(w.send_all(std::chrono::milliseconds(20)) ? 0 : 2);
  }
  int st = 0;
  ::waitpid(sender, &st, 0);
  const bool sent = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  (*created).close();  // the sender is done: stop the receiver cleanly
  ::waitpid(receiver, &st, 0);
  const bool received = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  (void)shmring::Queue::unlink(name);
  std::printf("%s\n", sent && received ? "ok: 20 messages, receiver stopped by close()" : "FAILED");
  return sent && received ? 0 : 1;
}
