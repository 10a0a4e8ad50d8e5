// The producer and consumer loops shared by the test peer, the fork tests and
// the demo: put `count` messages of a Traffic, or get and check them.
#pragma once

#include <cstdint>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "shmring/ipc/queue.hpp"
#include "traffic.hpp"

namespace shmring::test {

struct RunResult {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;         // consumer: wrong order, size or content
  std::uint64_t first_bad_seq = 0;  // consumer: the first message that failed its check
  std::uint64_t checksum = 0;
  std::int64_t elapsed_ns = 0;
  const char* stopped = "ok";  // the status that ended the run early, if any
};

using Progress = std::function<void(std::uint64_t done)>;

// Puts messages 0..count-1, blocking while the queue is full.
RunResult run_producer(Queue& q, const Traffic& t, std::uint64_t count, const Progress& progress = {});

// Gets `count` messages and checks each against the Traffic.
RunResult run_consumer(Queue& q, const Traffic& t, std::uint64_t count, const Progress& progress = {});

// Many producers: producer `id` sends messages tagged id << 48 | i for
// i = 0..count-1 (the tag is the Traffic sequence number, so size and every
// byte depend on it). Traffic::min_size must be >= 8 so the tag is readable.
inline constexpr unsigned kTagShift = 48;
RunResult run_tagged_producer(Queue& q, const Traffic& t, std::uint32_t id, std::uint64_t count);

// What one consumer saw of up to kMaxTagged producers: per producer the
// count, sum and sum of squares of the indices (so the union over consumers
// can be checked for exactly-once without sharing memory), and whether each
// producer's indices arrived in increasing order here.
inline constexpr std::uint32_t kMaxTagged = 16;
struct Tally {
  std::uint64_t messages = 0;
  std::uint64_t errors = 0;         // size/content/tag check failed
  std::uint64_t reordered = 0;      // an index not above the last one seen from its producer
  std::uint64_t first_bad_tag = 0;  // the first message that failed its check: its tag and size
  std::uint64_t first_bad_size = 0;
  std::uint64_t count[kMaxTagged] = {};
  std::uint64_t sum[kMaxTagged] = {};
  std::uint64_t sum_squares[kMaxTagged] = {};  // modulo 2^64
  const char* stopped = "ok";
  void add(const Tally& o) noexcept;
  [[nodiscard]] std::string to_line() const;
  [[nodiscard]] static Tally from_line(const std::string& line);
};

// Gets until the queue is closed and drained (or a get fails / times out
// after `idle`), checking every message.
Tally run_tagged_consumer(Queue& q, const Traffic& t, Wait idle = std::chrono::seconds(30));

// True when `total` holds exactly indices 0..count-1 once for producers 0..producers-1.
[[nodiscard]] bool exactly_once(const Tally& total, std::uint32_t producers, std::uint64_t count);
// The same with a count per producer.
[[nodiscard]] bool exactly_once(const Tally& total, const std::vector<std::uint64_t>& counts);

}  // namespace shmring::test
