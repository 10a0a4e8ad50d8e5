// The umbrella header: every public shmring header, for code that wants the
// whole library with one include (#include <shmring/shmring.hpp>). Each
// header also stands alone; include the one you need to keep builds lean.
// umbrella_test.cpp compiles against this header alone, so a header added
// to the library and not listed here is caught there (keep both lists whole).
#pragma once

// ---- platform: segments, clocks, processes, futexes, errors ----
#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/platform/error.hpp"
#include "shmring/platform/futex.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/platform/syscall.hpp"

// ---- engines: the rings and their layouts ----
#include "shmring/engine/catch_up.hpp"
#include "shmring/engine/copy.hpp"
#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/engine/mpmc_ring_layout.hpp"
#include "shmring/engine/ring_status.hpp"
#include "shmring/engine/spsc_ring.hpp"
#include "shmring/engine/spsc_ring_layout.hpp"
#include "shmring/engine/spsc_slot_ring.hpp"
#include "shmring/engine/spsc_typed_ring.hpp"

// ---- blocking layer ----
#include "shmring/blocking/blocking.hpp"
#include "shmring/blocking/wait.hpp"
#include "shmring/blocking/waiter_slots.hpp"

// ---- IPC objects ----
#include "shmring/ipc/barrier.hpp"
#include "shmring/ipc/condition.hpp"
#include "shmring/ipc/dict.hpp"
#include "shmring/ipc/dict_layout.hpp"
#include "shmring/ipc/event.hpp"
#include "shmring/ipc/list.hpp"
#include "shmring/ipc/list_layout.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/ipc/pool.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/ipc/semaphore.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/ipc/sync_layout.hpp"
#include "shmring/ipc/value.hpp"
