// Test support: create or open a queue, or fail the test with the reason.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

#include "helpers.hpp"
#include "shmring/ipc/queue.hpp"
#include "traffic_run.hpp"

namespace shmring::test {

// Q is Queue or JoinableQueue; throws (failing the test) with the error message.
template <class Q = Queue>
Q create_or_throw(std::string_view name, const QueueOptions& options = {}) {
  return or_throw(Q::create(name, options));
}

template <class Q = Queue>
Q open_or_throw(std::string_view name, Role role = Role::none) {
  OpenOptions o;
  o.role = role;
  return or_throw(Q::open(name, o));
}

// Runs a producer and a consumer shmring_queue_peer (separately started
// executables that open the queue `name` by name) over `count` messages of
// Traffic{seed, min_size, max_size}, and checks their "done MESSAGES ERRORS
// CHECKSUM FIRST_BAD STOPPED" lines: both moved `count`, the consumer found
// no message out of order or damaged, the checksums agree.
inline void expect_peers_stream(std::string_view name, std::uint64_t count, std::uint64_t seed, std::uint32_t min_size,
                                std::uint32_t max_size) {
  const auto words = [](const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    return w;
  };
  const std::string n = std::to_string(count);
  const std::vector<std::string> traffic = {std::string(name), n, std::to_string(seed), std::to_string(min_size),
                                            std::to_string(max_size)};
  const auto args = [&](const char* mode) {
    std::vector<std::string> a = {mode};
    a.insert(a.end(), traffic.begin(), traffic.end());
    return a;
  };
  Child consumer = spawn(queue_peer_path(), args("consume"));
  Child producer = spawn(queue_peer_path(), args("produce"));
  const auto pw = words(producer.read_line(std::chrono::seconds(300)));
  const auto cw = words(consumer.read_line(std::chrono::seconds(300)));
  ASSERT_EQ(producer.wait(), 0);
  ASSERT_EQ(consumer.wait(), 0);
  ASSERT_EQ(pw.size(), 6u);
  ASSERT_EQ(cw.size(), 6u);
  EXPECT_EQ(pw[1], n);
  EXPECT_EQ(cw[1], n);
  EXPECT_EQ(cw[2], "0") << "first bad message: " << cw[4];
  EXPECT_EQ(cw[3], pw[3]) << "checksums differ";
  EXPECT_EQ(cw[5], "ok");
}

// A consumer killed mid-stream is replaced, losing at most the message it
// held: a forked producer puts `count` messages of `t` into `q` (named
// `name`); a forked consumer takes them, recording how many it finished in
// memory this process reads after the kill; then this process (`q`) takes
// the consumer role over and must get the one after the last finished, or
// the one after that (it was in the dead consumer's hands), then every other
// message in order.
inline void expect_consumer_replaced_after_kill(Queue& q, std::string_view name, const Traffic& t,
                                                std::uint64_t count) {
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* finished = static_cast<std::atomic<std::uint64_t>*>(mem);
  finished->store(0);
  Child producer = fork_child([&](int) {
    Queue p = open_or_throw(name, Role::producer);
    return run_producer(p, t, count).messages == count ? 0 : 1;
  });
  Child first = fork_child([&](int) {
    Queue c = open_or_throw(name, Role::consumer);
    std::vector<std::byte> buf;
    for (std::uint64_t seq = 0;; ++seq) {
      if (c.get_into(buf) != GetStatus::ok || !t.check(seq, buf)) return 1;
      finished->store(seq + 1, std::memory_order_release);
    }
  });
  const std::int64_t give_up = platform::monotonic_ns() + 60'000 * kMs;
  while (finished->load() < count / 15) {
    ASSERT_LT(platform::monotonic_ns(), give_up) << "the first consumer stalled at " << finished->load();
    ::usleep(1000);
  }
  first.kill(SIGKILL);
  EXPECT_EQ(first.wait(), 128 + SIGKILL);
  const std::uint64_t done = finished->load();
  ::munmap(mem, 4096);
  std::vector<std::byte> buf;
  ASSERT_EQ(q.get_into(buf, std::chrono::seconds(5)), GetStatus::ok);
  std::uint64_t seq = t.check(done, buf) ? done : done + 1;
  ASSERT_TRUE(t.check(seq, buf)) << "after " << done << " finished, the next message is neither " << done << " nor "
                                 << done + 1;
  for (;;) {
    ASSERT_TRUE(t.check(seq, buf)) << seq;
    if (++seq == count) break;
    ASSERT_EQ(q.get_into(buf, std::chrono::seconds(5)), GetStatus::ok) << seq;
  }
  EXPECT_EQ(producer.wait(), 0);
  EXPECT_TRUE(q.empty());
}

}  // namespace shmring::test
