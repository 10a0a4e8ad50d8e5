// Tutorial scenario 9: ten processes write d[i] = i * i into a shared
// dictionary; the parent reads all ten entries.
//
// Python:
//   def f(d, i):
//       d[i] = i * i
//   with Manager() as manager:
//       d = manager.dict()
//       procs = [Process(target=f, args=(d, i)) for i in range(10)]
//       for p in procs: p.start()
//       for p in procs: p.join()
//       print(sorted(d.items()))
//
// No manager process: the dict is a named segment that every process maps
// (a forked child uses its inherited handle; an unrelated process would
// call Dict::open(name)). Keys and values are bytes; bytes_of(i) and
// get_value<int>() carry ints.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "shmring/ipc/dict.hpp"

int main() {
  const std::string name = "shmring-example-dict-" + std::to_string(::getpid());
  auto d = shmring::Dict::create(name);
  if (!d) {
    std::fprintf(stderr, "create failed: %s\n", d.error().message().c_str());
    return 1;
  }
  std::fflush(stdout);
  pid_t children[10];
  for (int i = 0; i < 10; ++i) {
    children[i] = ::fork();
    if (children[i] == 0) {
      const int square = i * i;
      const bool ok = ((*d)[shmring::bytes_of(i)] = shmring::bytes_of(square)) == shmring::DictStatus::ok;
      ::_exit(ok ? 0 : 2);
    }
  }
  bool ok = true;
  for (const pid_t c : children) {
    int status = 0;
    ::waitpid(c, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  std::printf("{");
  for (int i = 0; i < 10; ++i) {
    const auto v = d->get_value<int>(shmring::bytes_of(i));
    std::printf("%s%d: %d", i == 0 ? "" : ", ", i, v.value_or(-1));
    ok = ok && v == i * i;
  }
  std::printf("}\n");
  ok = ok && d->size() == 10;
  (void)shmring::Dict::unlink(name);
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
