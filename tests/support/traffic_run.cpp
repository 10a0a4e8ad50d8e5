#include "traffic_run.hpp"

#include <vector>

#include "shmring/platform/clock.hpp"

namespace shmring::test {

namespace {
constexpr std::uint64_t kProgressEvery = 1u << 20;
}

RunResult run_producer(Queue& q, const Traffic& t, std::uint64_t count, const Progress& progress) {
  RunResult r;
  Checksum sum;
  const std::int64_t start = platform::monotonic_ns();
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    const std::uint32_t size = t.size_of(seq);
    // Zero-copy: generate the message straight into the ring.
    const PutClaim c = q.claim(size);
    if (c.status != PutStatus::ok) {
      r.stopped = to_string(c.status);
      break;
    }
    t.fill(seq, c.bytes);
    sum.add(c.bytes);
    q.commit(size);
    ++r.messages;
    r.bytes += size;
    if (progress && (seq + 1) % kProgressEvery == 0) progress(seq + 1);
  }
  r.elapsed_ns = platform::monotonic_ns() - start;
  r.checksum = sum.value;
  return r;
}

RunResult run_consumer(Queue& q, const Traffic& t, std::uint64_t count, const Progress& progress) {
  RunResult r;
  Checksum sum;
  const std::int64_t start = platform::monotonic_ns();
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    const GetView v = q.read();
    if (v.status != GetStatus::ok) {
      r.stopped = to_string(v.status);
      break;
    }
    if (!t.check(seq, v.bytes)) {
      if (r.errors == 0) r.first_bad_seq = seq;
      ++r.errors;
    }
    sum.add(v.bytes);
    r.bytes += v.bytes.size();
    q.release();
    ++r.messages;
    if (progress && (seq + 1) % kProgressEvery == 0) progress(seq + 1);
  }
  r.elapsed_ns = platform::monotonic_ns() - start;
  r.checksum = sum.value;
  return r;
}

}  // namespace shmring::test
