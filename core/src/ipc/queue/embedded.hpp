// A queue that lives inside another object's segment: its QueueLayout and
// ring at some offset of that segment's payload (a Pipe with shared ends
// carries each direction in one, pipe.cpp). Made and checked as a queue file
// is, with two differences: all its memory is reserved when the segment is
// created (on-demand memory counts its offsets from the payload's start, so
// an embedded queue never uses it), and its handles share the segment's
// mapping with the object around it.
#pragma once

#include <cstdint>
#include <memory>

#include "shmring/blocking/wait.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/platform/error.hpp"
#include "shmring/platform/segment.hpp"

namespace shmring::detail {

struct EmbeddedQueue {
  // Bytes a queue of `options` takes (its layout, then its ring), or why
  // the options are refused (as Queue::create would refuse them).
  [[nodiscard]] static Result<std::uint64_t> bytes_for(const QueueOptions& options);
  // Builds the queue in `bytes` (bytes_for(options)) zero-filled bytes at `at`.
  [[nodiscard]] static Result<void> initialize(void* at, std::uint64_t bytes, const QueueOptions& options);
  // A handle on the queue at `at` (`bytes` long, inside `segment`), after
  // the checks Queue::open makes of a file (every value in it is untrusted).
  [[nodiscard]] static Result<Queue> attach(std::shared_ptr<platform::Segment> segment, void* at, std::uint64_t bytes);
  // Waits until a get would not wait (a message is there or held by this
  // handle, or the queue is closed); takes nothing. The handle takes the
  // consumer role first, as a get would. False: the wait ended first.
  [[nodiscard]] static bool wait_readable(Queue& q, Wait wait) noexcept;
};

}  // namespace shmring::detail
