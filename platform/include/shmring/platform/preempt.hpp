// Preemption points: places in the lock-free protocols where being
// descheduled matters (between a read of shared memory and the action that
// depends on it). In a normal build they are nothing. Built with
// -DSHMRING_PREEMPT=ON (the preempt configuration of scripts/test.sh and
// scripts/matrix.sh), each point may yield the CPU or sleep up to 2 ms at
// random, so that an interleaving a time slice rarely lands in happens many
// times a second: a participant descheduled at one of them while the others
// run the ring on by laps. The stress tests (tests/stress/mpmc_race_test.cpp) then see the
// defects this class of bug causes (docs/testing.md).
#pragma once

namespace shmring::platform {

// One point: in a preempt build, yields about one time in 64 and sleeps
// 0-2 ms about one time in 4096 (per process, from a pid-seeded generator).
void preemption_point() noexcept;

}  // namespace shmring::platform

#if defined(SHMRING_PREEMPT)
#define SHMRING_PREEMPTION_POINT() ::shmring::platform::preemption_point()
#else
#define SHMRING_PREEMPTION_POINT() static_cast<void>(0)
#endif
