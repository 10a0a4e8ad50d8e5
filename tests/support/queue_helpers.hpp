// Test support: create or open a queue, or fail the test with the reason.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "shmring/queue.hpp"

namespace shmring::test {

inline constexpr std::int64_t kMs = 1'000'000;  // nanoseconds per millisecond

// Q is Queue or JoinableQueue; throws (failing the test) with the error message.
template <class Q = Queue>
Q create_or_throw(std::string_view name, const QueueOptions& options = {}) {
  auto q = Q::create(name, options);
  if (!q) throw std::runtime_error(q.error().message());
  return std::move(*q);
}

template <class Q = Queue>
Q open_or_throw(std::string_view name, Role role = Role::none) {
  OpenOptions o;
  o.role = role;
  auto q = Q::open(name, o);
  if (!q) throw std::runtime_error(q.error().message());
  return std::move(*q);
}

}  // namespace shmring::test
