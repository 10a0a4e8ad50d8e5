// Deterministic message traffic for tests and the demo: message i of a run
// with seed s has a size and content that both sides can regenerate, so the
// consumer checks order (sequence number), size and every byte (checksum).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace shmring::test {

[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Traffic {
  std::uint64_t seed = 1;
  std::uint32_t min_size = 1;
  std::uint32_t max_size = 4096;

  [[nodiscard]] std::uint32_t size_of(std::uint64_t seq) const noexcept {
    const std::uint64_t span = std::uint64_t{max_size} - min_size + 1;
    return min_size + static_cast<std::uint32_t>(splitmix64(seed ^ (seq * 0x2545f4914f6cdd1dULL)) % span);
  }

  // Fills `out` (size_of(seq) bytes) with message `seq`: the first bytes are
  // the little-endian sequence number (as many as fit), the rest a stream
  // derived from (seed, seq).
  void fill(std::uint64_t seq, std::span<std::byte> out) const noexcept {
    std::uint64_t state = splitmix64(seed + seq);
    std::size_t i = 0;
    const std::size_t n = out.size();
    std::uint64_t s = seq;
    const std::size_t head = std::min<std::size_t>(n, 8);
    std::memcpy(out.data(), &s, head);
    i = head;
    while (i + 8 <= n) {
      state = splitmix64(state);
      std::memcpy(out.data() + i, &state, 8);
      i += 8;
    }
    if (i < n) {
      state = splitmix64(state);
      std::memcpy(out.data() + i, &state, n - i);
    }
  }

  // True when `got` is exactly message `seq`.
  [[nodiscard]] bool check(std::uint64_t seq, std::span<const std::byte> got) const noexcept {
    if (got.size() != size_of(seq)) return false;
    std::byte expected[8];
    std::uint64_t state = splitmix64(seed + seq);
    std::uint64_t s = seq;
    const std::size_t n = got.size();
    const std::size_t head = std::min<std::size_t>(n, 8);
    if (std::memcmp(got.data(), &s, head) != 0) return false;
    std::size_t i = head;
    while (i < n) {
      state = splitmix64(state);
      std::memcpy(expected, &state, 8);
      const std::size_t k = std::min<std::size_t>(8, n - i);
      if (std::memcmp(got.data() + i, expected, k) != 0) return false;
      i += k;
    }
    return true;
  }
};

// Order-sensitive running checksum over every byte of every message.
struct Checksum {
  std::uint64_t value = 0xcbf29ce484222325ULL;
  void add(std::span<const std::byte> bytes) noexcept {
    std::uint64_t h = value;
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, bytes.data() + i, 8);
      h = (h ^ w) * 0x100000001b3ULL;
      h ^= h >> 29;
    }
    for (; i < bytes.size(); ++i) h = (h ^ static_cast<std::uint8_t>(bytes[i])) * 0x100000001b3ULL;
    value = (h ^ bytes.size()) * 0x100000001b3ULL;
  }
};

}  // namespace shmring::test
