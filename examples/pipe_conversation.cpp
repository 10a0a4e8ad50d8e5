// The Python documentation's Pipe example, then a short duplex conversation.
// The parent creates a pipe and forks; the child inherits both ends, as in
// Python: each inherited handle counts as the child's. So each side closes
// the copy of the end it does not use (otherwise its own copy keeps that end
// open and EOF never comes), the child sends, answers until EOF, and closes.
//
// Python:
//   def f(conn):
//       conn.send([42, None, 'hello']); conn.close()
//   parent_conn, child_conn = Pipe()
//   p = Process(target=f, args=(child_conn,)); p.start()
//   print(parent_conn.recv())   # [42, None, 'hello']
//   p.join()
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "shmring/ipc/pipe.hpp"

using shmring::ConnStatus;

int main() {
  const std::string name = "shmring-example-pipe-" + std::to_string(::getpid());
  auto ends = shmring::Pipe::create(name);
  if (!ends) {
    std::fprintf(stderr, "create failed: %s\n", ends.error().message().c_str());
    return 1;
  }
  shmring::Connection& parent_conn = ends->first;
  shmring::Connection& child_conn = ends->second;
  std::fflush(stdout);

  const pid_t child = ::fork();
  if (child == 0) {
    parent_conn.close();  // the child's copy of the parent's end
    int rc = child_conn.send("[42, None, 'hello']") == ConnStatus::ok ? 0 : 2;
    // Then answer each question until the parent closes its end.
    for (;;) {
      const shmring::ConnMessage m = child_conn.recv();
      if (m.status == ConnStatus::closed) break;
      if (!m || child_conn.send("you said: " + std::string(m.text())) != ConnStatus::ok) rc = 3;
    }
    child_conn.close();
    ::_exit(rc);
  }
  child_conn.close();  // the parent's copy of the child's end: only this handle ends

  const shmring::ConnMessage first = parent_conn.recv();
  std::printf("%s\n", std::string(first.text()).c_str());
  bool ok = first.text() == "[42, None, 'hello']";
  for (const char* q : {"ping", "how are you?"}) {
    ok = ok && parent_conn.send(q) == ConnStatus::ok;
    const shmring::ConnMessage reply = parent_conn.recv();
    std::printf("%s\n", std::string(reply.text()).c_str());
    ok = ok && reply.text() == std::string("you said: ") + q;
  }
  parent_conn.close();  // the child's recv drains, then sees EOF and exits

  int status = 0;
  ::waitpid(child, &status, 0);
  ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  (void)shmring::Pipe::unlink(name);
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
