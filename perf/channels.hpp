// One-way message channels between this process and a forked partner, one
// per contestant, behind the same two calls: send(msg) in one process,
// recv(buf) in the other, both blocking. Created before the fork; each
// process uses its end afterwards.
#pragma once

#include <fcntl.h>
#include <mqueue.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "harness.hpp"
#include "shmring/platform/futex.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring::perf {

// Every contestant of a stream gets the same capacity in bytes (payload,
// whatever its own per-message overhead): 1 MiB, 4 MiB for messages of 16 KiB
// and more. A channel that cannot have that much (system limits) says what
// it got in capacity_bytes(), which the benchmark reports.
inline std::uint64_t stream_capacity(std::size_t size) { return size >= 16384 ? (4u << 20) : (1u << 20); }

inline std::string unique_name(const char* tag) {
  static std::atomic<unsigned> n{0};
  return std::string("shmring-bench-") + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// shmring::Queue through its blocking Python-shaped API: put / get_into.
class QueueChannel {
 public:
  // 1P1C rows declare the SPSC engine, as a user who knows there is one
  // producer and one consumer would; the many-producer rows ask for their engine.
  // `fixed`: the queue's messages are all `size` bytes (QueueOptions::message_size).
  explicit QueueChannel(std::size_t size, std::uint64_t capacity = 1u << 20, Engine engine = Engine::spsc,
                        bool fixed = false, Barriers barriers = Barriers::asymmetric)
      : name_(unique_name("q")), size_(size), capacity_(capacity) {
    QueueOptions o;
    o.engine = engine;
    o.barriers = barriers;
    o.capacity_bytes = capacity;
    o.max_message = size;
    if (fixed) o.message_size = size;
    auto q = Queue::create(name_, o);
    if (!q) std::abort();
    q_ = std::make_unique<Queue>(std::move(*q));
  }
  ~QueueChannel() { (void)Queue::unlink(name_); }
  void send(const std::byte* msg) {
    if (q_->put(std::span<const std::byte>(msg, size_)) != PutStatus::ok) std::abort();
  }
  void recv(std::vector<std::byte>& buf) {
    if (q_->get_into(buf) != GetStatus::ok) std::abort();
  }
  [[nodiscard]] Queue& queue() noexcept { return *q_; }
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept { return capacity_; }

 private:
  std::string name_;
  std::size_t size_;
  std::uint64_t capacity_;
  std::unique_ptr<Queue> q_;
};

// A Queue consumer's take in the stream and crowd loops: one message with
// get_into (kRun 1), or up to kRun with get_many. Returns how many it took
// (0: none, `w` ran out).
template <std::size_t kRun>
class QueueTaker {
 public:
  explicit QueueTaker(std::size_t size) : buf_(size) {}
  [[nodiscard]] std::uint64_t take(Queue& q, Wait w) {
    if constexpr (kRun == 1) {
      return q.get_into(buf_, w) == GetStatus::ok ? 1 : 0;
    } else {
      batch_.clear();
      return q.get_many(batch_, kRun, w) == GetStatus::ok ? batch_.size() : 0;
    }
  }

 private:
  std::vector<std::byte> buf_;
  MessageBatch batch_;
};

// Two descriptors carrying whole `size`-byte messages: sent on fd_[send_end],
// received on the other; reads and writes loop until the message has moved.
class FdPairChannel {
 public:
  ~FdPairChannel() {
    ::close(fd_[0]);
    ::close(fd_[1]);
  }
  void send(const std::byte* msg) { io(fd_[send_end_], const_cast<std::byte*>(msg), true); }
  void recv(std::vector<std::byte>& buf) {
    buf.resize(size_);
    io(fd_[1 - send_end_], buf.data(), false);
  }

 protected:
  FdPairChannel(std::size_t size, int send_end) : size_(size), send_end_(send_end) {}
  int fd_[2] = {-1, -1};

 private:
  void io(int fd, std::byte* p, bool write) {
    std::size_t done = 0;
    while (done < size_) {
      const ssize_t n = write ? ::write(fd, p + done, size_ - done) : ::read(fd, p + done, size_ - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
  }
  std::size_t size_;
  int send_end_;
};

// pipe(2), its buffer raised to the stream's capacity (as far as
// /proc/sys/fs/pipe-max-size lets it): written at fd_[1], read at fd_[0].
class PipeChannel : public FdPairChannel {
 public:
  explicit PipeChannel(std::size_t size) : FdPairChannel(size, 1) {
    if (::pipe2(fd_, O_CLOEXEC) != 0) std::abort();
    (void)::fcntl(fd_[1], F_SETPIPE_SZ, static_cast<int>(stream_capacity(size)));
  }
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept {
    const int n = ::fcntl(fd_[1], F_GETPIPE_SZ);
    return n > 0 ? static_cast<std::uint64_t>(n) : 0;
  }
};

// socketpair(AF_UNIX, SOCK_STREAM), what Python's Pipe(duplex=True) is
// built on: sent on fd_[0], received on fd_[1].
class SocketpairChannel : public FdPairChannel {
 public:
  explicit SocketpairChannel(std::size_t size) : FdPairChannel(size, 0) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd_) != 0) std::abort();
  }
};

// eventfd(2): carries a count, not bytes (ping-pong only).
class EventfdChannel {
 public:
  explicit EventfdChannel(std::size_t) : fd_(::eventfd(0, EFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
  }
  ~EventfdChannel() { ::close(fd_); }
  void send(const std::byte*) {
    const std::uint64_t one = 1;
    while (::write(fd_, &one, 8) != 8) {
    }
  }
  void recv(std::vector<std::byte>&) {
    std::uint64_t v = 0;
    while (::read(fd_, &v, 8) != 8) {
    }
  }

 private:
  int fd_;
};

// POSIX message queue (mq_overview(7)): as deep as the stream's capacity,
// or the deepest the system's limits allow (msg_max, RLIMIT_MSGQUEUE;
// without CAP_SYS_RESOURCE msg_max is often 10): halving, then 10.
class PosixMqChannel {
 public:
  explicit PosixMqChannel(std::size_t size) : size_(size) {
    const std::string name = "/" + unique_name("mq");
    for (long depth = static_cast<long>(stream_capacity(size) / size); depth >= 10;
         depth = depth > 10 ? std::max(10L, depth / 2) : 0) {
      mq_attr attr{};
      attr.mq_maxmsg = depth;
      attr.mq_msgsize = static_cast<long>(size);
      mq_ = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
      if (mq_ != static_cast<mqd_t>(-1)) {
        depth_ = static_cast<std::uint64_t>(depth);
        break;
      }
    }
    if (mq_ == static_cast<mqd_t>(-1)) std::abort();
    ::mq_unlink(name.c_str());  // both processes keep the descriptor
  }
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept { return depth_ * size_; }
  ~PosixMqChannel() { ::mq_close(mq_); }
  void send(const std::byte* msg) {
    while (::mq_send(mq_, reinterpret_cast<const char*>(msg), size_, 0) != 0) {
      if (errno != EINTR) std::abort();
    }
  }
  void recv(std::vector<std::byte>& buf) {
    buf.resize(size_);
    while (::mq_receive(mq_, reinterpret_cast<char*>(buf.data()), size_, nullptr) < 0) {
      if (errno != EINTR) std::abort();
    }
  }

 private:
  mqd_t mq_ = static_cast<mqd_t>(-1);
  std::size_t size_;
  std::uint64_t depth_ = 0;
};

// boost::interprocess::message_queue: a mutex and condition variables in a
// shared-memory segment; slots for the stream's capacity, as the others.
class BoostMqChannel {
 public:
  explicit BoostMqChannel(std::size_t size)
      : name_(unique_name("bmq")), size_(size), slots_(std::max<std::size_t>(16, stream_capacity(size) / size)) {
    mq_ = std::make_unique<boost::interprocess::message_queue>(boost::interprocess::create_only, name_.c_str(), slots_,
                                                               size);
  }
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept { return slots_ * size_; }
  ~BoostMqChannel() {
    mq_.reset();
    boost::interprocess::message_queue::remove(name_.c_str());
  }
  void send(const std::byte* msg) { mq_->send(msg, size_, 0); }
  void recv(std::vector<std::byte>& buf) {
    buf.resize(size_);
    boost::interprocess::message_queue::size_type got = 0;
    unsigned prio = 0;
    mq_->receive(buf.data(), size_, got, prio);
  }

 private:
  std::string name_;
  std::size_t size_;
  std::size_t slots_;
  std::unique_ptr<boost::interprocess::message_queue> mq_;
};

// A raw futex: a counter in shared memory, wait/wake with no spinning.
class FutexChannel {
 public:
  explicit FutexChannel(std::size_t) : mem_(4096), word_(new (mem_.get()) std::atomic<std::uint32_t>{0}) {}
  void send(const std::byte*) {
    word_->fetch_add(1, std::memory_order_release);
    (void)platform::futex_wake(*word_, 1);
  }
  void recv(std::vector<std::byte>&) {
    for (;;) {
      const std::uint32_t now = word_->load(std::memory_order_acquire);
      if (now != seen_) {
        seen_ = now;
        return;
      }
      (void)platform::futex_wait(*word_, now, platform::Deadline::never());
    }
  }

 private:
  SharedMemory mem_;
  std::atomic<std::uint32_t>* word_;
  std::uint32_t seen_ = 0;
};

// The floor: a counter on one cache line, both sides spinning on it.
class SpinChannel {
 public:
  explicit SpinChannel(std::size_t) : mem_(4096), word_(new (mem_.get()) std::atomic<std::uint64_t>{0}) {}
  void send(const std::byte*) { word_->fetch_add(1, std::memory_order_release); }
  void recv(std::vector<std::byte>&) {
    std::uint64_t now;
    while ((now = word_->load(std::memory_order_acquire)) == seen_) platform::cpu_relax();
    seen_ = now;
  }

 private:
  SharedMemory mem_;
  std::atomic<std::uint64_t>* word_;
  std::uint64_t seen_ = 0;
};

}  // namespace shmring::perf
