// The many-producer engine under forced preemption, in rounds until a time is
// up: the shape that makes a stale compare-and-swap likely, checked message by
// message.
//
// Every process of a round is pinned to one CPU, so each runs a time slice
// and is preempted at whatever instruction the tick finds it: a consumer
// stopped between its check of a header and its CAS sleeps while the others
// move the small ring on by many laps. Every payload is 16k + 1 bytes, so its
// last byte lands on the first byte of a 16-byte slot — where a header of an
// earlier lap stood — and that byte is the low byte of a committed state word
// of this producer ("poison"): reused bytes then reproduce exactly the word a
// sleeping consumer expects (mpmc_ring.hpp, "Reuse"). Each consumer checks
// size, content and per-producer order; the tallies together must hold every
// message exactly once.
//
//   SHMRING_RACE_SECONDS   how long to run rounds (default 10); a large value
//                          runs until the test is stopped, printing a line
//                          per round
//   SHMRING_RACE_SEED      the seed of the first round (default 1)
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/engine/mpmc_ring_layout.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/platform/cpu.hpp"
#include "traffic_run.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kProducers = 2;
constexpr std::uint32_t kConsumers = 4;
constexpr std::uint64_t kEach = 40'000;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Message `tag` of a round: 16k + 1 bytes (k = 1..12), the tag first, then a
// Weyl sequence, the last byte `poison`. The tag is the traffic sequence
// number, as in traffic_run.hpp.
struct RaceTraffic {
  std::uint64_t seed;
  [[nodiscard]] std::size_t size_of(std::uint64_t tag) const noexcept {
    return static_cast<std::size_t>(16 * (1 + test::splitmix64(seed ^ tag) % 12) + 1);
  }
  void fill(std::uint64_t tag, std::uint8_t poison, std::span<std::byte> out) const noexcept {
    std::memcpy(out.data(), &tag, sizeof(tag));
    std::uint64_t w = test::splitmix64(seed + tag);
    for (std::size_t i = sizeof(tag); i + 1 < out.size(); ++i, w = w * 6364136223846793005ULL + 1) {
      out[i] = static_cast<std::byte>(w >> 56);
    }
    out[out.size() - 1] = static_cast<std::byte>(poison);
  }
  [[nodiscard]] bool check(std::uint64_t tag, std::uint8_t poison, std::span<const std::byte> got) const {
    if (got.size() != size_of(tag)) return false;
    std::vector<std::byte> want(got.size());
    fill(tag, poison, want);
    return std::memcmp(want.data(), got.data(), got.size()) == 0;
  }
};

// The low byte of a committed state word naming participant `index`
// (mpmc_ring_layout.hpp: kind in bits 0-3, owner in bits 4-11).
std::uint8_t poison_for(std::uint32_t index) {
  return static_cast<std::uint8_t>((index & 0xfu) << 4 | static_cast<unsigned>(RecordKind::committed));
}

// A handle's participant index is its pid modulo the table size when that
// slot is free (MpmcRing::attach), as it is in a fresh queue.
std::uint32_t expected_index(pid_t pid) { return static_cast<std::uint32_t>(pid) % kMpmcParticipants; }

struct Round {
  test::Tally total;
  std::uint64_t producer_failures = 0;
  std::uint64_t repaired = 0;
  std::string first_bad;
};

Round run_round(std::uint64_t seed) {
  const RaceTraffic traffic{seed};
  test::UniqueName name("mpmc-race");
  Queue q = test::create_or_throw(name, {.capacity_bytes = 4096});
  std::vector<test::Child> producers, consumers;
  for (std::uint32_t c = 0; c < kConsumers; ++c) {
    consumers.push_back(test::fork_child([&](int out) {
      // Best effort: a restricted cpuset may refuse, and the round then just preempts less.
      (void)platform::pin_to_cpu(0);
      Queue h = test::open_or_throw(name, Role::consumer);
      test::Tally t;
      std::uint64_t next[test::kMaxTagged] = {};
      for (;;) {
        const GetView v = h.read(30s);
        if (v.status != GetStatus::ok) {
          t.stopped = to_string(v.status);
          break;
        }
        std::uint64_t tag = 0;
        if (v.bytes.size() >= sizeof(tag)) std::memcpy(&tag, v.bytes.data(), sizeof(tag));
        const std::uint64_t id = tag >> test::kTagShift;
        const std::uint64_t i = tag & ((std::uint64_t{1} << test::kTagShift) - 1);
        // The producer's poison is in the tag's bits 40-47 (see below).
        const auto poison = static_cast<std::uint8_t>(i >> 40);
        if (v.bytes.size() < sizeof(tag) || id >= kProducers || !traffic.check(tag, poison, v.bytes)) {
          if (t.errors++ == 0) {
            t.first_bad_tag = tag;
            t.first_bad_size = v.bytes.size();
          }
        } else {
          const std::uint64_t index = i & ((std::uint64_t{1} << 40) - 1);
          if (index + 1 <= next[id]) ++t.reordered;
          next[id] = index + 1;
          ++t.count[id];
          t.sum[id] += index;
          t.sum_squares[id] += index * index;
        }
        h.release();
        ++t.messages;
      }
      test::write_line(out, t.to_line());
      return 0;
    }));
  }
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    producers.push_back(test::fork_child([&, p](int) {
      // Best effort: a restricted cpuset may refuse, and the round then just preempts less.
      (void)platform::pin_to_cpu(0);
      Queue h = test::open_or_throw(name, Role::producer);
      const std::uint8_t poison = poison_for(expected_index(::getpid()));
      for (std::uint64_t i = 0; i < kEach; ++i) {
        const std::uint64_t tag = std::uint64_t{p} << test::kTagShift | std::uint64_t{poison} << 40 | i;
        const std::size_t size = traffic.size_of(tag);
        const PutClaim c = h.claim(size, 30s);
        if (c.status != PutStatus::ok) return 1;
        traffic.fill(tag, poison, c.bytes);
        h.commit(size);
      }
      return 0;
    }));
  }
  Round r;
  for (test::Child& p : producers) r.producer_failures += p.wait(std::chrono::seconds(300)) == 0 ? 0u : 1u;
  q.close();
  for (test::Child& c : consumers) {
    const test::Tally t = test::Tally::from_line(c.read_line(std::chrono::seconds(300)));
    if (r.total.errors == 0 && t.errors != 0) {
      char line[128];
      std::snprintf(line, sizeof(line), "tag %016llx, %llu bytes", static_cast<unsigned long long>(t.first_bad_tag),
                    static_cast<unsigned long long>(t.first_bad_size));
      r.first_bad = line;
    }
    r.total.add(t);
    (void)c.wait();
  }
  r.repaired = q.claims_repaired() + q.reads_lost();
  return r;
}

// Exactly once over the rounds' index encoding: per producer, indices
// 0..kEach-1 (the poison bits are stripped before counting).
bool exactly_once(const test::Tally& t) { return test::exactly_once(t, kProducers, kEach); }

TEST(MpmcRace, PreemptedParticipantsNeverTakeReusedBytesForAHeader) {
  const std::uint64_t seconds = env_or("SHMRING_RACE_SECONDS", 10);
  const std::uint64_t first_seed = env_or("SHMRING_RACE_SEED", 1);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::uint64_t rounds = 0, bad_rounds = 0;
  for (std::uint64_t seed = first_seed; rounds == 0 || std::chrono::steady_clock::now() < end; ++seed) {
    const Round r = run_round(seed);
    ++rounds;
    const bool ok = r.total.errors == 0 && r.total.reordered == 0 && exactly_once(r.total) &&
                    r.producer_failures == 0 && r.repaired == 0;
    if (!ok) ++bad_rounds;
    std::printf(
        "mpmc race round %llu (seed %llu): %llu messages, errors %llu, out of order %llu, exactly once %s, "
        "producer failures %llu, repairs %llu%s%s\n",
        static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(seed),
        static_cast<unsigned long long>(r.total.messages), static_cast<unsigned long long>(r.total.errors),
        static_cast<unsigned long long>(r.total.reordered), exactly_once(r.total) ? "yes" : "NO",
        static_cast<unsigned long long>(r.producer_failures), static_cast<unsigned long long>(r.repaired),
        r.first_bad.empty() ? "" : "; first bad: ", r.first_bad.c_str());
    std::fflush(stdout);
    EXPECT_TRUE(ok) << "round " << rounds << " (SHMRING_RACE_SEED=" << seed << ")";
  }
  std::printf("mpmc race: %llu rounds, %llu bad\n", static_cast<unsigned long long>(rounds),
              static_cast<unsigned long long>(bad_rounds));
}

}  // namespace
}  // namespace shmring
