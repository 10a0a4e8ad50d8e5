// copy_message: memcpy for message payloads, with the small sizes inline.
//
// A message copy has a size known only at run time, so the compiler emits a
// call to the C library's memcpy (through the PLT and an ifunc-selected
// routine). For the small messages queues carry, that call is a large part
// of the work. Up to 64 bytes we copy inline with two fixed-size copies of
// k bytes (the first k and the last k, overlapping in the middle; k = 32,
// 16, 8 or 4, the largest with k <= n), as library memcpys do inside; a
// 64-byte message is four 16-byte moves. Larger copies go to memcpy, whose call is
// then noise.
//
// Why it matters: a slower producer lets the consumer catch up, and a
// consumer that keeps polling the producer's tail line slows the producer's
// every publication (catch_up.hpp), so a few nanoseconds of copy cost twice
// that in throughput. The copies go straight from `src` to `dst`: staging
// the two halves in local arrays lets the compiler spill them to the stack.
//
// copy_message_inline is the same copy, always inlined: the fixed-size slot
// ring's put and get use it, since left to itself the compiler may keep
// copy_message as a call in the Queue's put loop. Only the slot ring forces
// it: forcing it on every user (the byte ring too) made the byte ring
// slower. The measurements are in docs/notes-from-comments.md.
//
// `dst` and `src` must not overlap (as for memcpy).
#pragma once

#include <cstddef>
#include <cstring>

namespace shmring {

namespace detail {
template <std::size_t k>
inline void copy_ends(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  // k <= n <= 2k: the two copies cover [0, n); the overlap is written twice
  // with the same bytes.
  std::memcpy(dst, src, k);
  std::memcpy(dst + n - k, src + n - k, k);
}
}  // namespace detail

[[gnu::always_inline]] inline void copy_message_inline(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if (n >= 32) {
    if (n <= 64) return detail::copy_ends<32>(dst, src, n);
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    if (n >= 16) return detail::copy_ends<16>(dst, src, n);
    detail::copy_ends<8>(dst, src, n);
  } else if (n >= 4) {
    detail::copy_ends<4>(dst, src, n);
  } else if (n != 0) {
    // 1-3 bytes: first, middle, last (the same byte more than once when n < 3).
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

// The copy for everyone else: the compiler decides whether to inline it.
inline void copy_message(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  copy_message_inline(dst, src, n);
}

}  // namespace shmring
