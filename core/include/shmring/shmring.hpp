// The umbrella header: every public shmring header, for code that wants the
// whole library with one include (#include <shmring/shmring.hpp>). Each
// header also stands alone; include the one you need to keep builds lean.
// umbrella_test.cpp compiles against this header alone, so a header added
// to the library and not listed here is caught there (keep both lists whole).
#pragma once

// ---- platform: segments, clocks, processes, futexes, errors ----
#include "shmring/platform/barrier.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/platform/error.hpp"
#include "shmring/platform/futex.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/platform/syscall.hpp"

// ---- engines: the rings and their layouts ----
#include "shmring/copy.hpp"
#include "shmring/mpmc_ring.hpp"
#include "shmring/mpmc_ring_layout.hpp"
#include "shmring/spsc_ring.hpp"
#include "shmring/spsc_ring_layout.hpp"
#include "shmring/spsc_slot_ring.hpp"
#include "shmring/spsc_typed_ring.hpp"

// ---- blocking layer ----
#include "shmring/blocking.hpp"
#include "shmring/wait.hpp"
#include "shmring/waiter_slots.hpp"

// ---- IPC objects ----
#include "shmring/barrier.hpp"
#include "shmring/condition.hpp"
#include "shmring/event.hpp"
#include "shmring/lock.hpp"
#include "shmring/pipe.hpp"
#include "shmring/pipe_layout.hpp"
#include "shmring/queue.hpp"
#include "shmring/queue_layout.hpp"
#include "shmring/semaphore.hpp"
#include "shmring/sync_common.hpp"
#include "shmring/sync_layout.hpp"
#include "shmring/value.hpp"
