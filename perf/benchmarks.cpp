// shmring_bench: shmring and the libraries a user would pick instead, on the
// same work, in the same binary and run. Names: BM_<Object>_<Scenario>.
//
//   throughput  BM_<X>_Bytes/<size>     one-way stream, producer here, consumer in a child
//               BM_QueueMpmc_Bytes/64   the MPMC engine at 1P1C (BM_Queue_* declare SPSC)
//               BM_<X>_Crowd/<P>/<C>    P producer and C consumer processes, 64-byte messages:
//                                       BM_QueueMpmc_Crowd vs BM_BoostLfQueue_Crowd
//               BM_Spsc_Typed8 vs BM_BoostSpsc_Typed8; BM_BoostSpsc_Fixed64
//               BM_Memcpy_Bytes/65536   the memory-bandwidth yardstick
//   latency     BM_<X>_PingPong         one round trip per iteration, both sides blocking
//               (BM_Connection_PingPong: shmring's Pipe; BM_Pipe_PingPong is pipe(2))
//   locks       BM_Lock_Uncontended vs BM_PthreadRobustMutex_Uncontended   acquire+release, one process
//               BM_Lock_Contended vs BM_PthreadRobustMutex_Contended       two processes (CPU 0 and 1)
//               BM_Value_ReadWrite vs BM_ValueRaw_ReadWrite                Value<uint64_t>: set+get
//                                  under its RLock vs lock=false atomic store+load
//   idle        BM_Queue_BlockedConsumerCpu   CPU of a consumer blocked 1 s
//   headline    BM_PythonMpQueue_Bytes64      Python's multiprocessing.Queue (python3)
#include <benchmark/benchmark.h>

#include <array>
#include <boost/lockfree/spsc_queue.hpp>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "channels.hpp"
#include "crowd.hpp"
#include "harness.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/engine/spsc_ring.hpp"
#include "shmring/engine/spsc_typed_ring.hpp"
#include "shmring/ipc/value.hpp"

namespace shmring::perf {
namespace {

// ---- throughput: byte messages through a blocking channel ---------------------------

template <class Channel>
void stream_bytes(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Channel ch(size);
  Partner partner([&](Control& ctl) {
    std::vector<std::byte> buf(size);
    ctl.ready.store(1, std::memory_order_release);
    for (std::uint64_t n = 1;; ++n) {
      ch.recv(buf);
      ctl.consumed.store(n, std::memory_order_release);
    }
  });
  std::vector<std::byte> msg(size, std::byte{0x5a});
  stream(state, partner, size, [&] { ch.send(msg.data()); });
  state.counters["capacity_bytes"] = static_cast<double>(ch.capacity_bytes());
}

// The Queue's consumer publishes its count in batches and whenever the queue
// runs dry, like the spinning contestants below, and reports its system calls.
// kPutRun / kGetRun > 1: the producer puts runs of that many with put_many,
// the consumer takes up to that many at a time with get_many.
// kShare > 1: the queue gets 1/kShare of the stream's capacity.
template <Engine kEngine, bool kFixed = false, std::size_t kPutRun = 1, std::size_t kGetRun = 1, std::size_t kShare = 1>
void queue_bytes(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  QueueChannel ch(size, stream_capacity(size) / kShare, kEngine, kFixed);
  Partner partner([&](Control& ctl) {
    Queue& q = ch.queue();
    QueueTaker<kGetRun> taker(size);
    const auto take = [&](Wait w) { return taker.take(q, w); };
    ctl.ready.store(1, std::memory_order_release);
    for (std::uint64_t n = 0, flushed = 0;;) {
      std::uint64_t got = take(nowait);
      if (got == 0) {
        ctl.child_syscalls.store(q.stats().futex_waits + q.stats().futex_wakes, std::memory_order_relaxed);
        ctl.consumed.store(n, std::memory_order_release);
        flushed = n;
        if ((got = take(forever)) == 0) std::abort();
      }
      n += got;
      if (n - flushed >= kFlushEvery) {
        ctl.consumed.store(n, std::memory_order_release);
        flushed = n;
      }
    }
  });
  std::vector<std::byte> msg(size, std::byte{0x5a});
  const std::vector<std::span<const std::byte>> run(kPutRun, std::span<const std::byte>(msg));
  std::size_t pending = 0;  // messages of the current run not yet put
  Queue& q = ch.queue();
  const BlockingStats before = q.stats();
  stream(state, partner, size, [&] {
    if constexpr (kPutRun == 1) {
      ch.send(msg.data());
    } else if (++pending == kPutRun) {
      pending = 0;
      if (q.put_many(run).status != PutStatus::ok) std::abort();
    }
  });
  const double messages = static_cast<double>(state.items_processed());
  const double calls =
      static_cast<double>(q.stats().futex_waits - before.futex_waits + q.stats().futex_wakes - before.futex_wakes +
                          partner.control().child_syscalls.load(std::memory_order_relaxed));
  state.counters["syscalls_per_msg"] = messages > 0 ? calls / messages : 0;
  state.counters["capacity_bytes"] = static_cast<double>(ch.capacity_bytes());
}

void BM_Queue_Bytes(benchmark::State& state) { queue_bytes<Engine::spsc>(state); }
// Fixed-size messages (QueueOptions::message_size): headerless slots.
void BM_QueueFixed_Bytes(benchmark::State& state) { queue_bytes<Engine::spsc, true>(state); }
// The MPMC engine with one producer and one consumer: what MPMC costs.
void BM_QueueMpmc_Bytes(benchmark::State& state) { queue_bytes<Engine::mpmc>(state); }
// The lane engine with one producer and one consumer: what many-producer safety costs there.
void BM_QueueLanes_Bytes(benchmark::State& state) { queue_bytes<Engine::lanes>(state); }
// The SPSC engine with the room one producer has in the lane engine: one
// lane of the 8 a 1 MiB queue has (what bounds the lane engine's 1P1C row).
void BM_QueueOneLane_Bytes(benchmark::State& state) { queue_bytes<Engine::spsc, false, 1, 1, 8>(state); }
// Batches: put_many runs of 64 taken by single gets (the consumer's cost
// alone), and put_many + get_many in runs of 64, on the lane engine and the
// SPSC byte ring.
void BM_QueueLanes_PutMany(benchmark::State& state) { queue_bytes<Engine::lanes, false, 64, 1>(state); }
void BM_QueueLanes_Batch(benchmark::State& state) { queue_bytes<Engine::lanes, false, 64, 64>(state); }
void BM_Queue_Batch(benchmark::State& state) { queue_bytes<Engine::spsc, false, 64, 64>(state); }

// The consumer's cost alone, get against get_many: one process fills the
// default engine's queue with put_many (not timed: manual time), then
// drains it with single gets or with get_many runs of up to 64 (timed).
// Across processes a put_many producer limits both once single gets are
// fast (BM_QueueLanes_PutMany and _Batch read alike), so it could not show
// what the consumer's call costs.
template <bool kMany>
void queue_drain(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  QueueChannel ch(size, stream_capacity(size), Engine::lanes);
  Queue& q = ch.queue();
  const std::vector<std::byte> msg(size, std::byte{0x5a});
  const std::vector<std::span<const std::byte>> run(64, std::span<const std::byte>(msg));
  std::vector<std::byte> out(size);
  MessageBatch batch;
  std::uint64_t total = 0;
  for (auto _ : state) {
    std::size_t queued = 0;
    for (;;) {
      const PutManyResult r = q.put_many(run, nowait);
      queued += r.count;
      if (r.status != PutStatus::ok) break;
    }
    std::size_t got = 0;
    const auto start = std::chrono::steady_clock::now();
    if constexpr (kMany) {
      while (got < queued) {
        batch.clear();
        if (q.get_many(batch, 64, nowait) != GetStatus::ok) std::abort();
        got += batch.size();
      }
    } else {
      for (; got < queued; ++got) {
        if (q.get_into(out, nowait) != GetStatus::ok) std::abort();
      }
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    total += got;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
}

// ---- throughput: 8-byte typed messages, non-blocking rings spun on --------------------

// Slots of a typed ring: the stream's capacity in bytes (channels.hpp), for
// shmring's rings and Boost's alike.
template <class T>
constexpr std::size_t kTypedSlots = (1u << 20) / sizeof(T);
static_assert(kTypedSlots<std::uint64_t> * sizeof(std::uint64_t) == (1u << 20));

// shmring's typed SPSC path: SpscTypedRing<T>, fixed slots of sizeof(T).
template <class T>
void spsc_typed_stream(benchmark::State& state) {
  using Ring = SpscTypedRing<T>;
  SharedMemory mem(sizeof(SpscTypedRingLayout) + kTypedSlots<T> * sizeof(T));
  auto* layout = new (mem.get()) SpscTypedRingLayout{};
  Ring::initialize(*layout);
  std::byte* data = static_cast<std::byte*>(mem.get()) + sizeof(SpscTypedRingLayout);
  Partner partner([&](Control& ctl) {
    Ring ring(*layout, data, kTypedSlots<T>);
    if (!ring.attach_consumer()) std::abort();
    ctl.ready.store(1, std::memory_order_release);
    T v{};
    for (std::uint64_t n = 0;;) {
      if (ring.try_pop(v)) {
        benchmark::DoNotOptimize(v);
        if (++n % kFlushEvery == 0) ctl.consumed.store(n, std::memory_order_release);
      } else {
        ctl.consumed.store(n, std::memory_order_release);
      }
    }
  });
  Ring ring(*layout, data, kTypedSlots<T>);
  if (!ring.attach_producer()) std::abort();
  T value{};
  stream(state, partner, sizeof(T), [&] {
    while (!ring.try_push(value)) {
    }
    if constexpr (std::is_integral_v<T>) ++value;
  });
}

void BM_Spsc_Typed8(benchmark::State& state) { spsc_typed_stream<std::uint64_t>(state); }
void BM_Spsc_Fixed64(benchmark::State& state) { spsc_typed_stream<std::array<std::byte, 64>>(state); }

// The same 8-byte values as variable-size records of the byte ring
// (SpscRing::try_push<T>): 16 bytes a message, header included.
void BM_SpscRecords_Typed8(benchmark::State& state) {
  const std::uint64_t capacity = stream_capacity(sizeof(std::uint64_t));  // as the typed rings; 16-byte records
  SharedMemory mem(sizeof(SpscRingLayout) + capacity);
  auto* layout = new (mem.get()) SpscRingLayout{};
  SpscRing::initialize(*layout);
  std::byte* data = static_cast<std::byte*>(mem.get()) + sizeof(SpscRingLayout);
  Partner partner([&](Control& ctl) {
    SpscRing ring(*layout, data, capacity, sizeof(std::uint64_t), 0);
    if (!ring.attach_consumer()) std::abort();
    ctl.ready.store(1, std::memory_order_release);
    std::uint64_t v = 0;
    for (std::uint64_t n = 0;;) {
      if (ring.try_pop(v) == RingStatus::ok) {
        if (++n % kFlushEvery == 0) ctl.consumed.store(n, std::memory_order_release);
      } else {
        ctl.consumed.store(n, std::memory_order_release);
      }
    }
  });
  SpscRing ring(*layout, data, capacity, sizeof(std::uint64_t), 0);
  if (!ring.attach_producer()) std::abort();
  std::uint64_t value = 0;
  stream(state, partner, sizeof(std::uint64_t), [&] {
    while (ring.try_push(value) != RingStatus::ok) {
    }
    ++value;
  });
}

// A bare ring spun on, without the blocking layer: the consumer (in the
// child) copies each message out as get_into would; the producer retries
// until there is room. `make` builds this process's handle on the ring;
// `push` puts one message through it.
template <class Make, class Push>
void bare_ring_stream(benchmark::State& state, std::size_t size, Make make, Push push) {
  Partner partner([&](Control& ctl) {
    auto ring = make();
    if (!ring.attach_consumer()) std::abort();
    ctl.ready.store(1, std::memory_order_release);
    std::vector<std::byte> out(size);
    for (std::uint64_t n = 0;;) {
      const RingView v = ring.front();
      if (v.status == RingStatus::ok) {
        copy_message(out.data(), v.bytes.data(), v.bytes.size());
        benchmark::DoNotOptimize(out.data());
        ring.pop();
        if (++n % kFlushEvery == 0) ctl.consumed.store(n, std::memory_order_release);
      } else {
        ctl.consumed.store(n, std::memory_order_release);
      }
    }
  });
  auto ring = make();
  if (!ring.attach_producer()) std::abort();
  std::vector<std::byte> msg(size, std::byte{0x5a});
  stream(state, partner, size, [&] {
    while (push(ring, msg) != RingStatus::ok) {
    }
  });
}

// The byte ring itself: what the ring and the cross-core copy cost, apart
// from put/get's notify and role checks. At 64 KiB it is the yardstick of
// what the machine can move between cores.
void BM_Spsc_Bytes(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::uint64_t capacity = stream_capacity(size);
  SharedMemory mem(sizeof(SpscRingLayout) + capacity);
  auto* layout = new (mem.get()) SpscRingLayout{};
  SpscRing::initialize(*layout);
  std::byte* data = static_cast<std::byte*>(mem.get()) + sizeof(SpscRingLayout);
  bare_ring_stream(
      state, size, [&] { return SpscRing(*layout, data, capacity, size, 0); },
      [](SpscRing& r, const std::vector<std::byte>& m) { return r.try_push(std::span<const std::byte>(m)); });
}

// The slot ring of Queue's fixed-size messages (size given at run time):
// what BM_QueueFixed_Bytes can reach.
void BM_SpscSlots_Bytes(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::uint64_t slots = stream_capacity(size) / size;
  SharedMemory mem(sizeof(SpscTypedRingLayout) + slots * size);
  auto* layout = new (mem.get()) SpscTypedRingLayout{};
  std::byte* data = static_cast<std::byte*>(mem.get()) + sizeof(SpscTypedRingLayout);
  bare_ring_stream(
      state, size, [&] { return SpscSlotRing<>(layout->tail, layout->head, data, slots, size); },
      [](SpscSlotRing<>& r, const std::vector<std::byte>& m) { return r.try_push(m.data(), m.size()); });
}

template <class T, std::size_t Slots>
using BoostSpsc = boost::lockfree::spsc_queue<T, boost::lockfree::capacity<Slots>>;

// boost::lockfree::spsc_queue with compile-time capacity keeps its slots
// inline, so it can be placed in shared memory as is.
template <class T>
void boost_spsc_stream(benchmark::State& state) {
  using Q = BoostSpsc<T, kTypedSlots<T>>;
  SharedMemory mem(sizeof(Q));
  auto* q = new (mem.get()) Q();
  Partner partner([&](Control& ctl) {
    ctl.ready.store(1, std::memory_order_release);
    T v{};
    for (std::uint64_t n = 0;;) {
      if (q->pop(v)) {
        benchmark::DoNotOptimize(v);
        if (++n % kFlushEvery == 0) ctl.consumed.store(n, std::memory_order_release);
      } else {
        ctl.consumed.store(n, std::memory_order_release);
      }
    }
  });
  T value{};
  stream(state, partner, sizeof(T), [&] {
    while (!q->push(value)) {
    }
  });
}

void BM_BoostSpsc_Typed8(benchmark::State& state) { boost_spsc_stream<std::uint64_t>(state); }
void BM_BoostSpsc_Fixed64(benchmark::State& state) { boost_spsc_stream<std::array<std::byte, 64>>(state); }

// ---- memory bandwidth yardstick ------------------------------------------------------

// 64 KiB blocks copied into a 4 MiB region cyclically: what a producer's
// copy into a ring of that size costs on one core.
void BM_Memcpy_Bytes(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> src(size, std::byte{1});
  std::vector<std::byte> dst(4u << 20);
  std::size_t at = 0;
  for (auto _ : state) {
    std::memcpy(dst.data() + at, src.data(), size);
    benchmark::ClobberMemory();
    at = (at + size) % dst.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

// ---- latency: ping-pong, one round trip per iteration --------------------------------

template <class Channel>
void ping_pong(benchmark::State& state) {
  Channel there(8);
  Channel back(8);
  Partner partner([&](Control& ctl) {
    std::vector<std::byte> buf(8);
    ctl.ready.store(1, std::memory_order_release);
    for (;;) {
      there.recv(buf);
      back.send(buf.data());
    }
  });
  std::vector<std::byte> msg(8, std::byte{1});
  std::vector<std::byte> buf(8);
  const CpuMeter cpu({partner.pid()});
  for (auto _ : state) {
    there.send(msg.data());
    back.recv(buf);
  }
  cpu.stop(state, static_cast<std::uint64_t>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
}

// shmring's Pipe: one duplex pipe, this process on end a, the partner on end
// b (each takes its end on first use), both blocking in recv_into.
void BM_Connection_PingPong(benchmark::State& state) {
  const std::string name = unique_name("pipe");
  auto ends = Pipe::create(name, {.capacity_bytes = 1u << 16});
  if (!ends) std::abort();
  Connection& a = ends->first;
  Connection& b = ends->second;
  Partner partner([&](Control& ctl) {
    std::vector<std::byte> buf(8);
    ctl.ready.store(1, std::memory_order_release);
    for (;;) {
      if (b.recv_into(buf) != ConnStatus::ok || b.send(std::span<const std::byte>(buf)) != ConnStatus::ok) {
        std::abort();
      }
    }
  });
  std::vector<std::byte> msg(8, std::byte{1});
  std::vector<std::byte> buf(8);
  const CpuMeter cpu({partner.pid()});
  for (auto _ : state) {
    if (a.send(std::span<const std::byte>(msg)) != ConnStatus::ok || a.recv_into(buf) != ConnStatus::ok) std::abort();
  }
  cpu.stop(state, static_cast<std::uint64_t>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
  (void)Pipe::unlink(name);
}

// ---- event loops: Queue::fileno() ---------------------------------------------------

// An event loop's side of a queue: the queue's descriptor in an epoll set;
// take() handles (calls `on_message` for) every message there is with
// get_nowait, and waits in epoll_wait only when the queue is empty. The
// empty get_nowait that ends a drain re-arms the descriptor, after the
// messages were handled (as a loop that answers each message does).
class EpollQueue {
 public:
  explicit EpollQueue(Queue& q) : q_(q), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    const auto fd = q.fileno();
    if (!fd || ep_ < 0) std::abort();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = *fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, *fd, &ev) != 0) std::abort();
  }
  EpollQueue(const EpollQueue&) = delete;
  EpollQueue& operator=(const EpollQueue&) = delete;
  ~EpollQueue() { ::close(ep_); }
  template <class F>
  std::uint64_t take(std::vector<std::byte>& buf, F&& on_message) {
    for (;;) {
      std::uint64_t n = 0;
      while (q_.get_into(buf, nowait) == GetStatus::ok) {
        on_message();
        ++n;
      }
      if (n != 0) return n;
      epoll_event ev{};
      ++epoll_waits_;
      (void)::epoll_wait(ep_, &ev, 1, -1);
    }
  }
  // The next message, waiting in epoll_wait while there is none (a
  // client awaiting its answer: the empty get_nowait that re-arms comes
  // after its request went out).
  void take_one(std::vector<std::byte>& buf) {
    while (q_.get_into(buf, nowait) != GetStatus::ok) {
      epoll_event ev{};
      ++epoll_waits_;
      (void)::epoll_wait(ep_, &ev, 1, -1);
    }
  }
  // System calls made for this side so far: epoll_wait, the futex calls,
  // the pokes sent and the re-arms (a receive each, plus a membarrier in
  // asymmetric mode).
  [[nodiscard]] std::uint64_t syscalls() const noexcept {
    const BlockingStats& s = q_.stats();
    const std::uint64_t per_rearm = q_.barriers() == Barriers::asymmetric ? 2 : 1;
    return epoll_waits_ + s.futex_waits + s.futex_wakes + s.pokes + s.poller_drains * per_rearm;
  }

 private:
  Queue& q_;
  int ep_;
  std::uint64_t epoll_waits_ = 0;
};

// Wake-up latency through the descriptors: a ping-pong of two queues, each
// process an event loop on its incoming queue's descriptor: the partner a
// server (answers each message, then drains until empty, which re-arms),
// this process a client (sends, then waits for the answer). Compare with
// BM_Eventfd_PingPong (blocking read) and BM_EventfdEpoll_PingPong (the same
// epoll loop on raw eventfds).
// kBarriers: the queues' wake-up handshake (Barriers::asymmetric, the
// default, costs a re-arm a membarrier call; fences cost every put a fence).
template <Barriers kBarriers>
void queue_fd_ping_pong(benchmark::State& state) {
  QueueChannel there(8, 1u << 16, Engine::lanes, false, kBarriers);
  QueueChannel back(8, 1u << 16, Engine::lanes, false, kBarriers);
  Partner partner([&](Control& ctl) {
    std::vector<std::byte> buf(8);
    EpollQueue in(there.queue());
    ctl.ready.store(1, std::memory_order_release);
    for (;;) (void)in.take(buf, [&] { back.send(buf.data()); });
  });
  EpollQueue in(back.queue());
  std::vector<std::byte> msg(8, std::byte{1});
  std::vector<std::byte> buf(8);
  const CpuMeter cpu({partner.pid()});
  const std::uint64_t calls_before = in.syscalls() + there.queue().stats().pokes + there.queue().stats().futex_wakes;
  for (auto _ : state) {
    there.send(msg.data());
    in.take_one(buf);
  }
  cpu.stop(state, static_cast<std::uint64_t>(state.iterations()));
  const std::uint64_t calls = in.syscalls() + there.queue().stats().pokes + there.queue().stats().futex_wakes;
  state.counters["syscalls_per_rt_here"] =
      static_cast<double>(calls - calls_before) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
}

// The raw floor of an event loop's wake-up: eventfds in an epoll set,
// epoll_wait then read, and write the other one.
void BM_EventfdEpoll_PingPong(benchmark::State& state) {
  const int there = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int back = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (there < 0 || back < 0) std::abort();
  const auto loop_on = [](int fd) {
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) std::abort();
    return ep;
  };
  const auto wait_read = [](int ep, int fd) {
    std::uint64_t v = 0;
    for (;;) {
      if (::read(fd, &v, 8) == 8) return;
      epoll_event ev{};
      (void)::epoll_wait(ep, &ev, 1, -1);
    }
  };
  const std::uint64_t one = 1;
  Partner partner([&](Control& ctl) {
    const int ep = loop_on(there);
    ctl.ready.store(1, std::memory_order_release);
    for (;;) {
      wait_read(ep, there);
      if (::write(back, &one, 8) != 8) std::abort();
    }
  });
  const int ep = loop_on(back);
  const CpuMeter cpu({partner.pid()});
  for (auto _ : state) {
    if (::write(there, &one, 8) != 8) std::abort();
    wait_read(ep, back);
  }
  cpu.stop(state, static_cast<std::uint64_t>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
  ::close(ep);
  ::close(there);
  ::close(back);
}

// Streaming 64-byte messages to a consumer whose queue has a descriptor
// registered. kEventLoop: the consumer is an event loop (epoll_wait when the
// queue is empty, get_nowait until empty); otherwise it takes with blocking
// gets and never waits on the descriptor (registered, unused). Counted:
// every system call of both processes for the queue, per message.
template <bool kEventLoop>
void queue_fd_stream(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  QueueChannel ch(size, stream_capacity(size), Engine::lanes);
  Partner partner([&](Control& ctl) {
    Queue& q = ch.queue();
    std::vector<std::byte> buf(size);
    EpollQueue loop(q);
    ctl.ready.store(1, std::memory_order_release);
    for (std::uint64_t n = 0;;) {
      if constexpr (kEventLoop) {
        n += loop.take(buf, [] {});
      } else {
        if (q.get_into(buf) != GetStatus::ok) std::abort();
        ++n;
      }
      // After each drain (event loop) or message: a store on the
      // consumer's own line, read by the producer once per batch.
      ctl.child_syscalls.store(loop.syscalls(), std::memory_order_relaxed);
      ctl.consumed.store(n, std::memory_order_release);
    }
  });
  std::vector<std::byte> msg(size, std::byte{0x5a});
  Queue& q = ch.queue();
  const BlockingStats before = q.stats();
  const std::uint64_t child_before = partner.control().child_syscalls.load(std::memory_order_relaxed);
  stream(state, partner, size, [&] { ch.send(msg.data()); });
  const double messages = static_cast<double>(state.items_processed());
  const double calls = static_cast<double>(
      q.stats().futex_waits - before.futex_waits + q.stats().futex_wakes - before.futex_wakes + q.stats().pokes -
      before.pokes + partner.control().child_syscalls.load(std::memory_order_relaxed) - child_before);
  state.counters["syscalls_per_msg"] = messages > 0 ? calls / messages : 0;
}

// The floor: two processes taking turns on one cache line, spinning.
void BM_Spin_PingPong(benchmark::State& state) {
  SharedMemory mem(4096);
  auto* word = new (mem.get()) std::atomic<std::uint64_t>{0};
  Partner partner([&](Control& ctl) {
    ctl.ready.store(1, std::memory_order_release);
    for (std::uint64_t expect = 1;; expect += 2) {
      while (word->load(std::memory_order_acquire) != expect) platform::cpu_relax();
      word->store(expect + 1, std::memory_order_release);
    }
  });
  std::uint64_t v = 0;
  const CpuMeter cpu({partner.pid()});
  for (auto _ : state) {
    word->store(v + 1, std::memory_order_release);
    while (word->load(std::memory_order_acquire) != v + 2) platform::cpu_relax();
    v += 2;
  }
  cpu.stop(state, static_cast<std::uint64_t>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
}

// ---- locks: acquire+release, alone and contended by two processes ------------------------

// A robust, process-shared pthread mutex: what a C++ user would put in shared
// memory instead of a shmring::Lock (it too survives its holder's death).
class RobustMutex {
 public:
  RobustMutex() {
    pthread_mutexattr_t a;
    if (::pthread_mutexattr_init(&a) != 0 || ::pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
        ::pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 || ::pthread_mutex_init(&m_, &a) != 0) {
      std::abort();
    }
    (void)::pthread_mutexattr_destroy(&a);
  }
  RobustMutex(const RobustMutex&) = delete;
  RobustMutex& operator=(const RobustMutex&) = delete;
  // Never destroyed: a partner killed while holding it leaves it owner-dead,
  // and the mapping goes away with the benchmark anyway.
  void lock() noexcept {
    const int rc = ::pthread_mutex_lock(&m_);
    if (rc == EOWNERDEAD) {
      (void)::pthread_mutex_consistent(&m_);
    } else if (rc != 0) {
      std::abort();
    }
  }
  void unlock() noexcept { (void)::pthread_mutex_unlock(&m_); }

 private:
  pthread_mutex_t m_;
};

// A shmring::Lock's layout in anonymous shared memory (zeroed memory is a
// free LockLayout), as a LockRef embedded in a user's own struct is.
class EmbeddedLock {
 public:
  EmbeddedLock() : ref_(layout_) {}
  EmbeddedLock(const EmbeddedLock&) = delete;
  EmbeddedLock& operator=(const EmbeddedLock&) = delete;
  void lock() noexcept { ref_.lock(); }
  void unlock() noexcept { ref_.unlock(); }

 private:
  LockLayout layout_{};
  LockRef ref_;  // a view of layout_ at this address (the object never moves)
};

// The lock and what it guards, in MAP_SHARED memory inherited by the partner.
// `counter` and `partner_count` are plain words: the lock orders every access
// to them (each is read and written only while holding it).
template <class L>
struct Guarded {
  alignas(128) L lock;
  alignas(128) std::uint64_t counter = 0;
  std::uint64_t partner_count = 0;
};

template <class L>
void lock_uncontended(benchmark::State& state) {
  SharedMemory mem(sizeof(Guarded<L>));
  auto* g = new (mem.get()) Guarded<L>();
  for (auto _ : state) {
    g->lock.lock();
    ++g->counter;
    g->lock.unlock();
  }
  benchmark::DoNotOptimize(g->counter);
  state.SetItemsProcessed(state.iterations());
}

// This process (CPU 0) and the partner (CPU 1) each loop lock, increment,
// unlock; an iteration is one such pair here. The partner's share of the
// increments is reported, and the total is checked against both counts:
// a lock that let both in at once would lose increments.
template <class L>
void lock_contended(benchmark::State& state) {
  SharedMemory mem(sizeof(Guarded<L>));
  auto* g = new (mem.get()) Guarded<L>();
  {
    Partner partner([&](Control& ctl) {
      ctl.ready.store(1, std::memory_order_release);
      for (;;) {
        g->lock.lock();
        ++g->counter;
        ++g->partner_count;
        g->lock.unlock();
      }
    });
    g->lock.lock();
    const std::uint64_t partner_before = g->partner_count;
    const std::uint64_t counter_before = g->counter;
    g->lock.unlock();
    for (auto _ : state) {
      g->lock.lock();
      ++g->counter;
      g->lock.unlock();
    }
    g->lock.lock();
    const std::uint64_t mine = static_cast<std::uint64_t>(state.iterations());
    const std::uint64_t theirs = g->partner_count - partner_before;
    const bool consistent = g->counter - counter_before == mine + theirs;
    g->lock.unlock();
    if (!consistent) state.SkipWithError("lost increments: the lock let both processes in");
    const double total = static_cast<double>(mine + theirs);
    state.counters["partner_share"] = total > 0 ? static_cast<double>(theirs) / total : 0;
  }  // the partner is killed here, perhaps holding the lock; nobody uses it after
  state.SetItemsProcessed(state.iterations());
}

void BM_Lock_Uncontended(benchmark::State& state) { lock_uncontended<EmbeddedLock>(state); }
void BM_PthreadRobustMutex_Uncontended(benchmark::State& state) { lock_uncontended<RobustMutex>(state); }
void BM_Lock_Contended(benchmark::State& state) { lock_contended<EmbeddedLock>(state); }
void BM_PthreadRobustMutex_Contended(benchmark::State& state) { lock_contended<RobustMutex>(state); }

// ---- Value<uint64_t>: one set and one get per iteration ------------------------------------

// Python's default, lock=True: set() and get() each take the embedded RLock.
void BM_Value_ReadWrite(benchmark::State& state) {
  const std::string name = unique_name("value");
  auto v = Value<std::uint64_t>::create(name, 0);
  if (!v) std::abort();
  std::uint64_t i = 0;
  for (auto _ : state) {
    v->set(++i);
    benchmark::DoNotOptimize(v->get());
  }
  state.SetItemsProcessed(state.iterations());
  (void)Value<std::uint64_t>::unlink(name);
}

// lock=false and the atomic fast path: store() and load(), seq_cst, no lock.
void BM_ValueRaw_ReadWrite(benchmark::State& state) {
  const std::string name = unique_name("value");
  ValueOptions options;
  options.lock = false;
  auto v = Value<std::uint64_t>::create(name, 0, options);
  if (!v) std::abort();
  std::uint64_t i = 0;
  for (auto _ : state) {
    v->store(++i);
    benchmark::DoNotOptimize(v->load());
  }
  state.SetItemsProcessed(state.iterations());
  (void)Value<std::uint64_t>::unlink(name);
}

// ---- idle cost ----------------------------------------------------------------------------

// A consumer blocked for 1 s on an empty queue: the CPU it used meanwhile.
void BM_Queue_BlockedConsumerCpu(benchmark::State& state) {
  for (auto _ : state) {
    QueueChannel ch(64);
    Partner partner([&](Control& ctl) {
      ctl.ready.store(1, std::memory_order_release);
      (void)ch.queue().get(forever);  // returns when the queue is closed
      ::_exit(0);
    });
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    ch.queue().close();
    const double cpu = partner.join_cpu_seconds();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(wall);
    state.counters["cpu_percent"] = 100.0 * cpu / wall;
  }
}

// ---- headline: Python's multiprocessing.Queue on the same 64-byte work -------------------

void BM_PythonMpQueue_Bytes64(benchmark::State& state) {
  const long messages = state.range(0);
  unpin_self();  // Python's two processes get both CPUs, as the others do
  for (auto _ : state) {
    const std::string cmd =
        "python3 '" SHMRING_PERF_DIR "/python_mp_queue.py' --messages " + std::to_string(messages) + " --size 64";
    FILE* p = ::popen(cmd.c_str(), "r");
    double seconds = 0;
    char line[512] = {0};
    if (p == nullptr || std::fgets(line, sizeof(line), p) == nullptr) {
      if (p != nullptr) ::pclose(p);
      state.SkipWithError("python3 multiprocessing.Queue run failed");
      return;
    }
    ::pclose(p);
    const char* at = std::strstr(line, "\"seconds\":");
    if (at == nullptr || std::sscanf(at + 10, "%lf", &seconds) != 1 || seconds <= 0) {
      state.SkipWithError("could not parse the python3 result");
      return;
    }
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(state.iterations() * messages);
  state.SetBytesProcessed(state.iterations() * messages * 64);
}

void register_all() {
  using benchmark::RegisterBenchmark;
  const auto stream_args = [](benchmark::internal::Benchmark* b, std::int64_t max_size) {
    for (std::int64_t s : {8, 64, 512, 4096, 65536}) {
      if (s <= max_size) b->Arg(s);
    }
    b->UseRealTime();
  };
  RegisterBenchmark("BM_Spsc_Typed8", BM_Spsc_Typed8)->UseRealTime();
  RegisterBenchmark("BM_SpscRecords_Typed8", BM_SpscRecords_Typed8)->UseRealTime();
  RegisterBenchmark("BM_BoostSpsc_Typed8", BM_BoostSpsc_Typed8)->UseRealTime();
  RegisterBenchmark("BM_BoostSpsc_Fixed64", BM_BoostSpsc_Fixed64)->UseRealTime();
  RegisterBenchmark("BM_Spsc_Fixed64", BM_Spsc_Fixed64)->UseRealTime();
  RegisterBenchmark("BM_SpscSlots_Bytes", BM_SpscSlots_Bytes)->Arg(64)->UseRealTime();
  // 56-byte payloads make 64-byte records (8-byte header): one cache line a
  // message, as Boost's fixed 64-byte slots; a 64-byte payload makes a
  // 72-byte record that shares lines with its neighbours (perf/HISTORY.md).
  RegisterBenchmark("BM_Spsc_Bytes", BM_Spsc_Bytes)->Arg(56)->Arg(64)->Arg(65536)->UseRealTime();
  stream_args(RegisterBenchmark("BM_Queue_Bytes", BM_Queue_Bytes), 65536);
  RegisterBenchmark("BM_Queue_Bytes", BM_Queue_Bytes)->Arg(56)->UseRealTime();
  stream_args(RegisterBenchmark("BM_QueueFixed_Bytes", BM_QueueFixed_Bytes), 65536);
  RegisterBenchmark("BM_QueueMpmc_Bytes", BM_QueueMpmc_Bytes)->Arg(64)->UseRealTime();
  stream_args(RegisterBenchmark("BM_QueueLanes_Bytes", BM_QueueLanes_Bytes), 65536);
  RegisterBenchmark("BM_QueueOneLane_Bytes", BM_QueueOneLane_Bytes)->Arg(64)->UseRealTime();
  RegisterBenchmark("BM_QueueLanes_PutMany", BM_QueueLanes_PutMany)->Arg(64)->UseRealTime();
  RegisterBenchmark("BM_QueueLanes_Batch", BM_QueueLanes_Batch)->Arg(64)->UseRealTime();
  RegisterBenchmark("BM_QueueLanes_DrainGet", queue_drain<false>)->Arg(64)->UseManualTime();
  RegisterBenchmark("BM_QueueLanes_DrainGetMany", queue_drain<true>)->Arg(64)->UseManualTime();
  RegisterBenchmark("BM_Queue_Batch", BM_Queue_Batch)->Arg(64)->UseRealTime();
  for (auto* b : {RegisterBenchmark("BM_QueueMpmc_Crowd", queue_crowd<Engine::mpmc>),
                  RegisterBenchmark("BM_QueueLanes_Crowd", queue_crowd<Engine::lanes>),
                  RegisterBenchmark("BM_BoostLfQueue_Crowd", boost_lf_crowd)}) {
    b->Args({2, 2})->Args({4, 4})->Args({4, 1})->Args({1, 4})->UseRealTime();
  }
  // Consumers taking up to 64 at a time with get_many (producers put one at a time).
  RegisterBenchmark("BM_QueueLanes_CrowdGetMany", queue_crowd<Engine::lanes, 64>)
      ->Args({2, 2})
      ->Args({4, 4})
      ->UseRealTime();
  stream_args(RegisterBenchmark("BM_BoostMq_Bytes", stream_bytes<BoostMqChannel>), 65536);
  stream_args(RegisterBenchmark("BM_PosixMq_Bytes", stream_bytes<PosixMqChannel>), 8192);
  stream_args(RegisterBenchmark("BM_Pipe_Bytes", stream_bytes<PipeChannel>), 65536);
  RegisterBenchmark("BM_Memcpy_Bytes", BM_Memcpy_Bytes)->Arg(65536);
  const auto latency = [](benchmark::internal::Benchmark* b) { b->UseRealTime(); };
  latency(RegisterBenchmark("BM_Queue_PingPong", ping_pong<QueueChannel>));
  latency(RegisterBenchmark("BM_Pipe_PingPong", ping_pong<PipeChannel>));
  latency(RegisterBenchmark("BM_Eventfd_PingPong", ping_pong<EventfdChannel>));
  latency(RegisterBenchmark("BM_PosixMq_PingPong", ping_pong<PosixMqChannel>));
  latency(RegisterBenchmark("BM_BoostMq_PingPong", ping_pong<BoostMqChannel>));
  latency(RegisterBenchmark("BM_Futex_PingPong", ping_pong<FutexChannel>));
  latency(RegisterBenchmark("BM_Spin_PingPong", BM_Spin_PingPong));
  latency(RegisterBenchmark("BM_Connection_PingPong", BM_Connection_PingPong));
  latency(RegisterBenchmark("BM_Socketpair_PingPong", ping_pong<SocketpairChannel>));
  latency(RegisterBenchmark("BM_QueueFd_PingPong", queue_fd_ping_pong<Barriers::asymmetric>));
  latency(RegisterBenchmark("BM_QueueFdFences_PingPong", queue_fd_ping_pong<Barriers::fences>));
  latency(RegisterBenchmark("BM_EventfdEpoll_PingPong", BM_EventfdEpoll_PingPong));
  RegisterBenchmark("BM_QueueFd_StreamRegistered", queue_fd_stream<false>)->Arg(64)->UseRealTime();
  RegisterBenchmark("BM_QueueFd_StreamEventLoop", queue_fd_stream<true>)->Arg(64)->UseRealTime();
  for (auto* b : {RegisterBenchmark("BM_Lock_Uncontended", BM_Lock_Uncontended),
                  RegisterBenchmark("BM_PthreadRobustMutex_Uncontended", BM_PthreadRobustMutex_Uncontended),
                  RegisterBenchmark("BM_Lock_Contended", BM_Lock_Contended),
                  RegisterBenchmark("BM_PthreadRobustMutex_Contended", BM_PthreadRobustMutex_Contended),
                  RegisterBenchmark("BM_Value_ReadWrite", BM_Value_ReadWrite),
                  RegisterBenchmark("BM_ValueRaw_ReadWrite", BM_ValueRaw_ReadWrite)}) {
    b->UseRealTime();
  }
  RegisterBenchmark("BM_Queue_BlockedConsumerCpu", BM_Queue_BlockedConsumerCpu)->UseManualTime()->Iterations(1);
  RegisterBenchmark("BM_PythonMpQueue_Bytes64", BM_PythonMpQueue_Bytes64)->Arg(200000)->UseManualTime()->Iterations(1);
}

}  // namespace
}  // namespace shmring::perf

int main(int argc, char** argv) { return shmring::perf::benchmark_main(argc, argv, shmring::perf::register_all); }
