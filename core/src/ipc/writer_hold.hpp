// One writer's hold of the lock that orders the writers of a Dict or a List
// (readers of both take no lock). Their writes hold it for microseconds, so
// a writer that has not seen it free for kDeadWriterCheck looks at the
// holder at once (LockRef::acquire does before it reports a timeout) and
// takes a dead one's lock over, rather than after the lock's first wait
// slice (kOwnerCheckInterval, 20 ms). `on_takeover` runs under the lock
// when its previous holder died holding it.
#pragma once

#include <chrono>

#include "shmring/ipc/lock.hpp"

namespace shmring::detail {

inline constexpr std::chrono::microseconds kDeadWriterCheck{200};

class WriterHold {
 public:
  template <class OnTakeover>
  WriterHold(LockRef& lock, OnTakeover&& on_takeover) noexcept : lock_(&lock) {
    AcquireStatus st = lock.acquire(kDeadWriterCheck);
    if (st == AcquireStatus::timeout) st = lock.acquire(forever);
    if (st == AcquireStatus::owner_died) on_takeover();
  }
  ~WriterHold() { (void)lock_->release(); }
  WriterHold(const WriterHold&) = delete;
  WriterHold& operator=(const WriterHold&) = delete;

 private:
  LockRef* lock_;
};

}  // namespace shmring::detail
