// Tutorial scenario 8: ten processes write n.value = i * i... and a[i] = -i
// into a shared Value('d') and Array('i', range(10)); the parent reads the
// results. As the tutorials do, each child also adds to the Value under its
// lock, so the total shows that no increment was lost.
//
// Python:
//   n = Value('d', 0.0); a = Array('i', range(10))
//   def f(n, a, i):
//       with n.get_lock(): n.value += i * i
//       a[i] = -i
//   ps = [Process(target=f, args=(n, a, i)) for i in range(10)]
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "shmring/ipc/value.hpp"

int main() {
  const std::string pid = std::to_string(::getpid());
  const std::string nn = "shmring-example-value-" + pid, an = "shmring-example-array-" + pid;
  std::vector<std::int32_t> init(10);
  std::iota(init.begin(), init.end(), 0);
  auto n = shmring::Value<double>::create(nn, 0.0);
  auto a = shmring::Array<std::int32_t>::create(an, std::span<const std::int32_t>(init));
  if (!n || !a) {
    std::fprintf(stderr, "create failed\n");
    return 1;
  }
  std::vector<pid_t> kids;
  for (int i = 0; i < 10; ++i) {
    const pid_t p = ::fork();
    if (p == 0) {
      // A child finds them by name (it could also use the inherited handles).
      auto cn = shmring::Value<double>::open(nn);
      auto ca = shmring::Array<std::int32_t>::open(an);
      if (!cn || !ca) ::_exit(1);
      {
        std::scoped_lock g(cn->get_lock());  // with n.get_lock(): n.value += i * i
        cn->set(cn->get() + i * i);
      }
      ::_exit(ca->set(static_cast<std::size_t>(i), -i) ? 0 : 1);
    }
    kids.push_back(p);
  }
  int failed = 0;
  for (const pid_t p : kids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::printf("n.value = %g\n", n->get());
  std::printf("a[:] =");
  for (const std::int32_t v : a->to_vector()) std::printf(" %d", v);
  std::printf("\n");
  const std::vector<std::int32_t> want{0, -1, -2, -3, -4, -5, -6, -7, -8, -9};
  const bool ok = failed == 0 && n->get() == 285.0 && a->to_vector() == want;  // 285 = sum of i * i
  (void)shmring::Value<double>::unlink(nn);
  (void)shmring::Array<std::int32_t>::unlink(an);
  return ok ? 0 : 1;
}
