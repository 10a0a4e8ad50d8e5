// What an end's read() hands back to Connection: the status and, when ok,
// the next message's bytes (valid until release()).
#pragma once

#include <cstddef>
#include <span>

#include "shmring/ipc/pipe.hpp"

namespace shmring::detail {

struct EndView {
  ConnStatus status;
  std::span<const std::byte> bytes;
};

}  // namespace shmring::detail
