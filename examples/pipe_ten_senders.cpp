// Tutorial scenario 6: ten processes send through one end of a Pipe; the
// parent receives all ten.
//
// Python:
//   def f(conn, i):
//       conn.send('hello ' + str(i)); conn.close()
//   parent_conn, child_conn = Pipe()
//   for i in range(10): Process(target=f, args=(child_conn, i)).start()
//   child_conn.close()              # the parent's copy: EOF once the children close theirs
//   while True:
//       try: print(parent_conn.recv())
//       except EOFError: break
//
// Every handle on an end counts, in every process that has one (a forked
// child's inherited copies count from the fork on), so the parent may
// close its copy of the children's end right after starting them: the other
// side sees EOF only once every child has closed its copy or exited.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>

#include "shmring/ipc/pipe.hpp"

using shmring::ConnStatus;

int main() {
  const std::string name = "shmring-example-pipe10-" + std::to_string(::getpid());
  auto ends = shmring::Pipe::create(name);
  if (!ends) {
    std::fprintf(stderr, "create failed: %s\n", ends.error().message().c_str());
    return 1;
  }
  shmring::Connection& parent_conn = ends->first;
  shmring::Connection& child_conn = ends->second;
  std::fflush(stdout);

  pid_t children[10];
  for (int i = 0; i < 10; ++i) {
    children[i] = ::fork();
    if (children[i] == 0) {
      parent_conn.close();  // this child's copy of the parent's end
      const bool sent = child_conn.send("hello " + std::to_string(i)) == ConnStatus::ok;
      child_conn.close();
      ::_exit(sent ? 0 : 2);
    }
  }
  child_conn.close();  // the parent's copy of the children's end

  std::set<std::string> got;
  bool ok = true;
  for (;;) {
    const shmring::ConnMessage m = parent_conn.recv();
    if (m.status == ConnStatus::closed) break;  // Python's EOFError: every child closed its end
    if (!m) {
      std::fprintf(stderr, "recv: %s\n", shmring::to_string(m.status));
      ok = false;
      break;
    }
    std::printf("%s\n", std::string(m.text()).c_str());
    got.emplace(m.text());
  }
  for (const pid_t c : children) {
    int status = 0;
    ::waitpid(c, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  for (int i = 0; i < 10; ++i) ok = ok && got.count("hello " + std::to_string(i)) == 1;
  ok = ok && got.size() == 10;
  (void)shmring::Pipe::unlink(name);
  std::printf("%s\n", ok ? "ok: ten messages from ten processes, then EOF" : "FAILED");
  return ok ? 0 : 1;
}
