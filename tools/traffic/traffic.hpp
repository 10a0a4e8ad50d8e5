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
  // the little-endian sequence number (as many as fit), the rest a Weyl
  // sequence started from a hash of (seed, seq) — one add per 8 bytes, so
  // generating and checking cost about as much as a copy.
  void fill(std::uint64_t seq, std::span<std::byte> out) const noexcept {
    const std::size_t n = out.size();
    const std::size_t head = std::min<std::size_t>(n, 8);
    std::memcpy(out.data(), &seq, head);
    std::uint64_t word = splitmix64(seed + seq);
    std::size_t i = head;
    for (; i + 8 <= n; i += 8, word += kWeyl) std::memcpy(out.data() + i, &word, 8);
    if (i < n) std::memcpy(out.data() + i, &word, n - i);
  }

  // True when `got` is exactly message `seq`.
  [[nodiscard]] bool check(std::uint64_t seq, std::span<const std::byte> got) const noexcept {
    const std::size_t n = got.size();
    if (n != size_of(seq)) return false;
    const std::size_t head = std::min<std::size_t>(n, 8);
    if (std::memcmp(got.data(), &seq, head) != 0) return false;
    std::uint64_t word = splitmix64(seed + seq);
    std::uint64_t diff = 0;
    std::size_t i = head;
    for (; i + 8 <= n; i += 8, word += kWeyl) {
      std::uint64_t w;
      std::memcpy(&w, got.data() + i, 8);
      diff |= w ^ word;
    }
    if (i < n && std::memcmp(got.data() + i, &word, n - i) != 0) return false;
    return diff == 0;
  }

  static constexpr std::uint64_t kWeyl = 0x9e3779b97f4a7c15ULL;
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
