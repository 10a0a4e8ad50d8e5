#include "traffic_run.hpp"

#include <sstream>
#include <vector>

#include "shmring/platform/clock.hpp"

#include <cstring>

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

RunResult run_tagged_producer(Queue& q, const Traffic& t, std::uint32_t id, std::uint64_t count) {
  RunResult r;
  const std::int64_t start = platform::monotonic_ns();
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t tag = std::uint64_t{id} << kTagShift | i;
    const std::uint32_t size = t.size_of(tag);
    const PutClaim c = q.claim(size);
    if (c.status != PutStatus::ok) {
      r.stopped = to_string(c.status);
      break;
    }
    t.fill(tag, c.bytes);
    q.commit(size);
    ++r.messages;
    r.bytes += size;
  }
  r.elapsed_ns = platform::monotonic_ns() - start;
  return r;
}

Tally run_tagged_consumer(Queue& q, const Traffic& t, Wait idle) {
  Tally r;
  std::uint64_t next[kMaxTagged] = {};  // last index + 1 seen per producer
  for (;;) {
    const GetView v = q.read(idle);
    if (v.status != GetStatus::ok) {
      r.stopped = to_string(v.status);
      break;
    }
    std::uint64_t tag = 0;
    if (v.bytes.size() >= sizeof(tag)) std::memcpy(&tag, v.bytes.data(), sizeof(tag));
    const std::uint64_t id = tag >> kTagShift;
    const std::uint64_t i = tag & ((std::uint64_t{1} << kTagShift) - 1);
    if (v.bytes.size() < sizeof(tag) || id >= kMaxTagged || !t.check(tag, v.bytes)) {
      if (r.errors++ == 0) {
        r.first_bad_tag = tag;
        r.first_bad_size = v.bytes.size();
      }
    } else {
      if (i + 1 <= next[id]) ++r.reordered;
      next[id] = i + 1;
      ++r.count[id];
      r.sum[id] += i;
      r.sum_squares[id] += i * i;
    }
    q.release();
    ++r.messages;
  }
  return r;
}

void Tally::add(const Tally& o) noexcept {
  if (errors == 0 && o.errors != 0) {
    first_bad_tag = o.first_bad_tag;
    first_bad_size = o.first_bad_size;
  }
  messages += o.messages;
  errors += o.errors;
  reordered += o.reordered;
  for (std::uint32_t p = 0; p < kMaxTagged; ++p) {
    count[p] += o.count[p];
    sum[p] += o.sum[p];
    sum_squares[p] += o.sum_squares[p];
  }
}

std::string Tally::to_line() const {
  std::ostringstream out;
  out << "tally " << messages << ' ' << errors << ' ' << reordered << ' ' << stopped << ' ' << first_bad_tag << ' '
      << first_bad_size;
  for (std::uint32_t p = 0; p < kMaxTagged; ++p) out << ' ' << count[p] << ' ' << sum[p] << ' ' << sum_squares[p];
  return out.str();
}

Tally Tally::from_line(const std::string& line) {
  Tally r;
  std::istringstream in(line);
  std::string word, stopped;
  in >> word >> r.messages >> r.errors >> r.reordered >> stopped >> r.first_bad_tag >> r.first_bad_size;
  r.stopped = word != "tally" || !in ? "unreadable tally line"
              : stopped == "closed"  ? "closed"
              : stopped == "empty"   ? "empty"
                                     : "other";
  for (std::uint32_t p = 0; p < kMaxTagged; ++p) in >> r.count[p] >> r.sum[p] >> r.sum_squares[p];
  if (!in) r.stopped = "unreadable tally line";
  return r;
}

bool exactly_once(const Tally& total, std::uint32_t producers, std::uint64_t count) {
  return exactly_once(total, std::vector<std::uint64_t>(producers, count));
}

bool exactly_once(const Tally& total, const std::vector<std::uint64_t>& counts) {
  for (std::uint32_t p = 0; p < kMaxTagged; ++p) {
    const std::uint64_t count = p < counts.size() ? counts[p] : 0;
    std::uint64_t sum = 0, squares = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      sum += i;
      squares += i * i;
    }
    if (total.count[p] != count || total.sum[p] != sum || total.sum_squares[p] != squares) return false;
  }
  return true;
}

}  // namespace shmring::test
