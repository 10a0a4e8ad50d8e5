// Test support: create or open a queue, or fail the test with the reason.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "helpers.hpp"
#include "shmring/queue.hpp"

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

}  // namespace shmring::test
