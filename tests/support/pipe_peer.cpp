// shmring_pipe_peer: a separately started executable that opens one end of a
// Pipe by name and plays one side of a cross-process test. It prints result
// lines on stdout. Usage: see usage() below.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shmring/ipc/pipe.hpp"
#include "shmring/platform/clock.hpp"

using namespace shmring;

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: shmring_pipe_peer echo NAME a|b       (answer each message M with 'pong M' until EOF)\n"
      "       shmring_pipe_peer recv NAME a|b TIMEOUT_MS (-1: forever; prints status t0 t1)\n"
      "       shmring_pipe_peer hold NAME a|b SECONDS\n"
      "       shmring_pipe_peer send NAME a|b COUNT TAG  (sends 'TAG i' for i < COUNT, closes, prints 'sent')\n"
      "       shmring_pipe_peer open NAME a|b        (prints the open error or 'ok')\n");
  return 2;
}

void say(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  const std::string mode = argv[1];
  const char* name = argv[2];
  const End end = std::strcmp(argv[3], "b") == 0 ? End::b : End::a;
  ConnectionOpenOptions o;
  if (mode == "open") o.ready_timeout = std::chrono::milliseconds(0);
  auto c = Connection::open(name, end, o);
  if (!c) {
    say("error " + std::string(to_string(c.error().code)));
    return mode == "open" ? 0 : 3;
  }
  if (mode == "open") {
    say("ok");
    return 0;
  }
  if (mode == "echo") {
    say("ready");
    std::uint64_t n = 0;
    for (;;) {
      ConnMessage m = c->recv();
      if (m.status == ConnStatus::closed) break;
      if (!m) {
        say(std::string("error ") + to_string(m.status));
        return 4;
      }
      const ConnStatus st = c->send("pong " + std::string(m.text()));
      if (st != ConnStatus::ok) {
        say(std::string("error ") + to_string(st));
        return 4;
      }
      ++n;
    }
    say("done " + std::to_string(n));
    return 0;
  }
  if (mode == "recv") {
    if (argc != 5) return usage();
    const long ms = std::atol(argv[4]);
    const Wait w = ms < 0 ? forever : Wait(std::chrono::milliseconds(ms));
    say("ready");
    const std::int64_t t0 = platform::monotonic_ns();
    const ConnMessage m = c->recv(w);
    const std::int64_t t1 = platform::monotonic_ns();
    say(std::string(to_string(m.status)) + " " + std::to_string(t0) + " " + std::to_string(t1));
    return 0;
  }
  if (mode == "send") {
    if (argc != 6) return usage();
    const long count = std::atol(argv[4]);
    for (long i = 0; i < count; ++i) {
      const ConnStatus st = c->send(std::string(argv[5]) + " " + std::to_string(i));
      if (st != ConnStatus::ok) {
        say(std::string("error ") + to_string(st));
        return 4;
      }
    }
    c->close();
    say("sent");
    return 0;
  }
  if (mode == "hold") {
    if (argc != 5) return usage();
    say("held");
    ::sleep(static_cast<unsigned>(std::atoi(argv[4])));
    return 0;
  }
  return usage();
}
