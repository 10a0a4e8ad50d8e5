// The producer and consumer loops shared by the test peer, the fork tests and
// the demo: put `count` messages of a Traffic, or get and check them.
#pragma once

#include <cstdint>
#include <functional>

#include "shmring/queue.hpp"
#include "traffic.hpp"

namespace shmring::test {

struct RunResult {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;          // consumer: wrong order, size or content
  std::uint64_t first_bad_seq = 0;   // consumer: the first message that failed its check
  std::uint64_t checksum = 0;
  std::int64_t elapsed_ns = 0;
  const char* stopped = "ok";        // the status that ended the run early, if any
};

using Progress = std::function<void(std::uint64_t done)>;

// Puts messages 0..count-1, blocking while the queue is full.
RunResult run_producer(Queue& q, const Traffic& t, std::uint64_t count, const Progress& progress = {});

// Gets `count` messages and checks each against the Traffic.
RunResult run_consumer(Queue& q, const Traffic& t, std::uint64_t count, const Progress& progress = {});

}  // namespace shmring::test
