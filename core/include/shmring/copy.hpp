// copy_message: memcpy for message payloads, with the small sizes inline.
//
// A message copy has a size known only at run time, so the compiler emits a
// call to the C library's memcpy (through the PLT and an ifunc-selected
// routine). For the small messages queues carry, the call is a large part of
// the copy: measured, a ring of 64-byte slots spun on moved 42-48 M msgs/s
// with a run-time size and 75-82 M/s with the size a compile-time constant
// (perf/benchmarks.cpp, BM_SpscSlots_Bytes vs BM_Spsc_Fixed64). Up to 64
// bytes we copy inline with two possibly overlapping fixed-size moves (first
// and last k bytes, k the largest power of two <= n), as library memcpys do
// inside; larger copies go to memcpy, whose call is then noise.
#pragma once

#include <cstddef>
#include <cstring>

namespace shmring {

namespace detail {
template <std::size_t k>
inline void copy_ends(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  // Both loads before both stores: correct for any k <= n <= 2k.
  unsigned char head[k];
  unsigned char tail[k];
  std::memcpy(head, src, k);
  std::memcpy(tail, src + n - k, k);
  std::memcpy(dst, head, k);
  std::memcpy(dst + n - k, tail, k);
}
}  // namespace detail

inline void copy_message(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if (n >= 32) {
    if (n <= 64) return detail::copy_ends<32>(dst, src, n);
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    if (n >= 16) return detail::copy_ends<16>(dst, src, n);
    detail::copy_ends<8>(dst, src, n);
  } else if (n >= 4) {
    detail::copy_ends<4>(dst, src, n);
  } else if (n != 0) {
    // 1-3 bytes: first, middle, last (overlapping when n < 3).
    const std::byte a = src[0];
    const std::byte b = src[n / 2];
    const std::byte c = src[n - 1];
    dst[0] = a;
    dst[n / 2] = b;
    dst[n - 1] = c;
  }
}

}  // namespace shmring
