// Test support: a T in anonymous MAP_SHARED memory, so forked children and
// the parent see one copy (bookkeeping that survives a child's SIGKILL).
#pragma once

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace shmring::test {

template <class T>
class SharedMemory {
 public:
  SharedMemory() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    t_ = new (p) T{};
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory() { ::munmap(t_, sizeof(T)); }
  T* operator->() const noexcept { return t_; }
  T& operator*() const noexcept { return *t_; }

 private:
  T* t_ = nullptr;
};

}  // namespace shmring::test
