// Fuzz target: segment open and validation (platform/linux/segment.cpp) and
// Queue::open's checks (core/src/queue.cpp validate) on a file whose every
// byte comes from the fuzzer; when a file passes, nowait gets and puts on it
// (both engines: the engine is a field of the file). The seeds
// (fuzz/corpus/queue_open/) are real queue files, so mutations start from
// files that pass the header checks.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_common.hpp"
#include "shmring/ipc/queue.hpp"

namespace {

bool write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return done == size;
}

// A fixed mix of operations: the file is the input, the operations are not.
constexpr std::uint8_t kOps[] = {0, 2, 5, 4, 1, 0x21, 3, 0x13, 2, 2, 0, 6, 0x41, 0x81, 3, 2, 5, 0, 7, 1, 2, 0xff, 0, 2};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace shmring;
  const std::string& name = fuzz::segment_name("open");
  const std::string path = fuzz::segment_path(name);
  if (!write_file(path, data, size)) return 0;
  OpenOptions o;
  o.ready_timeout = std::chrono::nanoseconds(0);  // a not-ready file fails now, not in a second
  {
    auto q = Queue::open(name, o);
    if (q) {
      // A second handle: a second mapping and (MPMC) a second participant.
      auto q2 = Queue::open(name, o);
      const auto maps = fuzz::mappings_of(path);
      fuzz::drive(*q, kOps, maps);
      if (q2) fuzz::drive(*q2, std::span(kOps).subspan(8), maps);
    }
  }
  {
    auto j = JoinableQueue::open(name, o);
    if (j) {
      const auto maps = fuzz::mappings_of(path);
      fuzz::drive(*j, kOps, maps);
      (void)j->task_done();
      (void)j->join(nowait);
    }
  }
  ::unlink(path.c_str());
  return 0;
}
