// shmring_toolbox_bench: the toolbox objects beside the Queue (Dict, the
// shared-ends Pipe) against what a user would share between processes
// instead, on the same work, in the same binary and run.
//
//   Dict   BM_Dict_Get/<P> vs BM_BoostMap_Get/<P>   P processes (1 or 2) reading one table at once
//          BM_Dict_Set/<P> vs BM_BoostMap_Set/<P>   P processes overwriting entries of one table at once
//          8-byte integer keys, a working set of 1000, 64-byte values; the Dict's capacity 4096.
//          The peer: boost::interprocess::map of the same keys and fixed 64-byte arrays in a
//          managed_shared_memory segment, every access under an interprocess_mutex in that
//          segment (the usual way users share a map).
//   Pipe   BM_SharedPipe_4Senders vs BM_Pipe2_4Senders   four forked senders, 64-byte messages,
//          one receiver (this process): one shared end of a Pipe, or one pipe(2) read in bulk.
//   Pool   BM_Pool_Map/<chunksize> vs BM_ForkPipePool_Map   a map of 10^5 tiny tasks (x -> x*x+1 on
//          8-byte integers) over 2 workers. Pool: chunksize 0 is Python's choice (10^5 / 8 a
//          chunk), 1 one task a message. The peer: 2 forked workers, a task pipe each (one
//          write() per task, handed out in turn) and one results pipe that the parent reads in
//          bulk; the work is the same and every result is checked.
//
// items_per_second is the rate of every process together: operations
// (Dict rows) or messages delivered (Pipe rows) per second of real time.
// cpu_ns_per_op is the CPU all of the row's processes spent per operation
// or message (harness.hpp, CpuMeter). After the runs, a table on stderr
// gives each shmring row's ratio to its peer.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/map.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "channels.hpp"
#include "harness.hpp"
#include "shmring/ipc/dict.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/pool.hpp"

namespace shmring::perf {
namespace {

// ---- peer processes -----------------------------------------------------------------

// What a row's forked peers and this process tell each other.
struct PeerControl {
  alignas(128) std::atomic<std::uint32_t> ready{0};   // peers set up
  alignas(128) std::atomic<std::uint32_t> failed{0};  // peers that hit an error and exited
  alignas(128) std::atomic<std::uint64_t> ops{0};     // operations done by the peers, added in chunks
};

// `count` forked peers running `body(control, id)`, which signals
// control.ready once set up and returns only on an error. Pinned: this
// process on CPU 0 and the peers from CPU 1 on (Partner's layout, for the
// two-process rows); else everyone unpinned (Crowd's, for more processes
// than cores). The peers are killed and reaped by pid on destruction; a
// peer never runs the destructors of what it inherited (it leaves by _exit),
// so a name this process owns is removed by this process only.
class Peers {
 public:
  using Body = std::function<void(PeerControl&, int id)>;

  Peers(int count, bool pinned, const Body& body) : mem_(sizeof(PeerControl)) {
    ctl_ = new (mem_.get()) PeerControl{};
    if (pinned) {
      pin_self(0);
    } else {
      unpin_self();
    }
    for (int i = 0; i < count; ++i) {
      const pid_t pid = ::fork();
      if (pid < 0) {
        started_ = false;
        return;
      }
      if (pid == 0) {
        if (pinned) pin_self(1 + i);
        try {
          body(*ctl_, i);
        } catch (...) {  // never unwind into this process's frames in the child
        }
        ctl_->failed.fetch_add(1, std::memory_order_acq_rel);
        ::_exit(1);
      }
      pids_.push_back(pid);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ctl_->ready.load(std::memory_order_acquire) < static_cast<std::uint32_t>(count)) {
      if (!healthy() || std::chrono::steady_clock::now() > deadline) {
        started_ = false;
        return;
      }
      ::usleep(100);
    }
  }
  Peers(const Peers&) = delete;
  Peers& operator=(const Peers&) = delete;
  ~Peers() {
    for (pid_t pid : pids_) {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
    for (pid_t pid : pids_) {
      if (pid > 0) ::waitpid(pid, nullptr, 0);
    }
  }

  // Every peer forked and set up.
  [[nodiscard]] bool started() const noexcept { return started_; }
  // No peer has failed or exited so far (one that has is reaped here, and
  // its pid never signalled again).
  [[nodiscard]] bool healthy() {
    bool ok = ctl_->failed.load(std::memory_order_acquire) == 0;
    for (pid_t& pid : pids_) {
      if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        ok = false;
      }
    }
    return ok;
  }
  [[nodiscard]] PeerControl& control() const noexcept { return *ctl_; }
  [[nodiscard]] std::vector<pid_t> pids() const {
    std::vector<pid_t> live;
    for (pid_t pid : pids_) {
      if (pid > 0) live.push_back(pid);
    }
    return live;
  }

 private:
  SharedMemory mem_;
  PeerControl* ctl_;
  std::vector<pid_t> pids_;
  bool started_ = true;
};

// Removes a name this run created on every way out of the benchmark, or
// earlier (release()) once every process has it open.
class NameGuard {
 public:
  NameGuard(std::string name, void (*remove)(const std::string&)) : name_(std::move(name)), remove_(remove) {}
  NameGuard(const NameGuard&) = delete;
  NameGuard& operator=(const NameGuard&) = delete;
  ~NameGuard() { release(); }
  void release() {
    if (remove_ != nullptr) remove_(name_);
    remove_ = nullptr;
  }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  void (*remove_)(const std::string&);
};

// ---- Dict vs boost::interprocess::map -------------------------------------------------

constexpr std::uint64_t kKeys = 1000;  // the working set
constexpr std::size_t kValueSize = 64;
constexpr std::uint64_t kDictCapacity = 4096;
constexpr std::size_t kBoostSegmentBytes = 1u << 20;  // the map's 1000 nodes with room to spare
using Value64 = std::array<std::byte, kValueSize>;

// The keys one process asks for, in turn: uniform over the working set,
// from a fixed seed per process (two processes do not walk in step), the
// same sequence for every contestant.
class KeySequence {
 public:
  explicit KeySequence(int process) {
    std::mt19937_64 rng(0x5eedu + static_cast<unsigned>(process));
    std::uniform_int_distribution<std::uint64_t> pick(0, kKeys - 1);
    for (std::uint64_t& k : keys_) k = pick(rng);
  }
  [[nodiscard]] std::uint64_t next() noexcept { return keys_[at_++ & (kLength - 1)]; }

 private:
  static constexpr std::size_t kLength = 4096;  // a power of two: the index is a mask
  std::array<std::uint64_t, kLength> keys_{};
  std::size_t at_ = 0;
};

// shmring::Dict sized for the work. get() copies the value into this
// process's buffer and returns it (nullptr: missing or the wrong size).
class DictTable {
 public:
  static constexpr const char* kTag = "dict";
  static std::optional<DictTable> create(const std::string& name) {
    auto d = Dict::create(name, {.capacity = kDictCapacity, .max_key = sizeof(std::uint64_t), .max_value = kValueSize});
    if (!d) return std::nullopt;
    return DictTable(std::move(*d));
  }
  static std::optional<DictTable> open(const std::string& name) {
    auto d = Dict::open(name);
    if (!d) return std::nullopt;
    return DictTable(std::move(*d));
  }
  static void remove(const std::string& name) { (void)Dict::unlink(name); }

  [[nodiscard]] const std::byte* get(std::uint64_t key) {
    if (d_.get_into(bytes_of(key), buf_) != DictStatus::ok || buf_.size() != kValueSize) return nullptr;
    return buf_.data();
  }
  [[nodiscard]] bool set(std::uint64_t key, const Value64& value) {
    return d_.set(bytes_of(key), std::span<const std::byte>(value)) == DictStatus::ok;
  }

 private:
  explicit DictTable(Dict d) : d_(std::move(d)) {}
  Dict d_;
  Bytes buf_;
};

namespace bip = boost::interprocess;
using BoostAllocator =
    bip::allocator<std::pair<const std::uint64_t, Value64>, bip::managed_shared_memory::segment_manager>;
using BoostMap = bip::map<std::uint64_t, Value64, std::less<std::uint64_t>, BoostAllocator>;

// The peer: a boost::interprocess::map in a managed_shared_memory segment,
// every access (reads too) under the interprocess_mutex beside it in the
// segment. get() copies the value out under the lock, as DictTable's does.
class BoostMapTable {
 public:
  static constexpr const char* kTag = "bmap";
  static std::optional<BoostMapTable> create(const std::string& name) {
    try {
      bip::managed_shared_memory seg(bip::create_only, name.c_str(), kBoostSegmentBytes);
      auto* mutex = seg.construct<bip::interprocess_mutex>("mutex")();
      auto* map = seg.construct<BoostMap>("map")(BoostAllocator(seg.get_segment_manager()));
      return BoostMapTable(std::move(seg), map, mutex);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  static std::optional<BoostMapTable> open(const std::string& name) {
    try {
      bip::managed_shared_memory seg(bip::open_only, name.c_str());
      auto* mutex = seg.find<bip::interprocess_mutex>("mutex").first;
      auto* map = seg.find<BoostMap>("map").first;
      if (mutex == nullptr || map == nullptr) return std::nullopt;
      return BoostMapTable(std::move(seg), map, mutex);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  static void remove(const std::string& name) { (void)bip::shared_memory_object::remove(name.c_str()); }

  [[nodiscard]] const std::byte* get(std::uint64_t key) {
    const bip::scoped_lock<bip::interprocess_mutex> hold(*mutex_);
    const auto it = map_->find(key);
    if (it == map_->end()) return nullptr;
    buf_ = it->second;
    return buf_.data();
  }
  [[nodiscard]] bool set(std::uint64_t key, const Value64& value) {
    const bip::scoped_lock<bip::interprocess_mutex> hold(*mutex_);
    map_->insert_or_assign(key, value);
    return true;
  }

 private:
  // The mapping keeps its address when the segment handle moves.
  BoostMapTable(bip::managed_shared_memory seg, BoostMap* map, bip::interprocess_mutex* mutex)
      : seg_(std::move(seg)), map_(map), mutex_(mutex) {}
  bip::managed_shared_memory seg_;
  BoostMap* map_;
  bip::interprocess_mutex* mutex_;
  Value64 buf_{};
};

enum class Op : std::uint8_t { get, set };

// One operation on `key`; a process's n-th set writes n into the value's
// first bytes: the values written change, as real updates' do.
template <Op kOp, class Table>
[[nodiscard]] bool table_op(Table& t, std::uint64_t key, std::uint64_t n, Value64& value) {
  if constexpr (kOp == Op::get) {
    const std::byte* v = t.get(key);
    benchmark::DoNotOptimize(v);
    return v != nullptr;
  } else {
    std::memcpy(value.data(), &n, sizeof(n));
    return t.set(key, value);
  }
}

// P processes (range(0): 1 or 2) on one table filled with every key of the
// working set: this one, pinned to CPU 0, one operation per iteration, and
// P - 1 forked peers on CPU 1 on, each opening the table by name and
// running the same operation without pause. Reported: the operations of
// all of them while the clock ran; peer_share, the peers' part of them.
template <class Table, Op kOp>
void table_ops(benchmark::State& state) {
  const int processes = static_cast<int>(state.range(0));
  NameGuard name(unique_name(Table::kTag), &Table::remove);
  std::optional<Table> table = Table::create(name.name());
  if (!table) {
    state.SkipWithError("could not create the table");
    return;
  }
  Value64 value{};
  value.fill(std::byte{0x5a});
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    if (!table->set(k, value)) {
      state.SkipWithError("could not fill the table");
      return;
    }
  }
  Peers peers(processes - 1, true, [&](PeerControl& ctl, int id) {
    std::optional<Table> mine = Table::open(name.name());
    if (!mine) return;
    ctl.ready.fetch_add(1, std::memory_order_acq_rel);
    KeySequence keys(id + 1);
    Value64 v = value;
    for (std::uint64_t n = 1;; ++n) {
      if (!table_op<kOp>(*mine, keys.next(), n, v)) return;
      // relaxed: a count, read only for its value; it orders nothing.
      if (n % kFlushEvery == 0) ctl.ops.fetch_add(kFlushEvery, std::memory_order_relaxed);
    }
  });
  if (!peers.started()) {
    state.SkipWithError("a peer process did not start");
    return;
  }
  name.release();  // every process has the table open: the name is no longer needed
  KeySequence keys(0);
  PeerControl& ctl = peers.control();
  const std::uint64_t peer_before = ctl.ops.load(std::memory_order_relaxed);
  const CpuMeter cpu(peers.pids());
  std::uint64_t n = 0;
  for (auto _ : state) {
    if (!table_op<kOp>(*table, keys.next(), ++n, value)) {
      state.SkipWithError("an operation failed here");
      break;
    }
  }
  const std::uint64_t theirs = ctl.ops.load(std::memory_order_relaxed) - peer_before;
  const std::uint64_t total = static_cast<std::uint64_t>(state.iterations()) + theirs;
  cpu.stop(state, total);
  if (!peers.healthy()) state.SkipWithError("a peer process failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  if (processes > 1) {
    state.counters["peer_share"] = total > 0 ? static_cast<double>(theirs) / static_cast<double>(total) : 0;
  }
}

// ---- many senders on one end: the shared-ends Pipe vs pipe(2) ----------------------------

constexpr int kSenders = 4;
constexpr std::size_t kPipeMessage = 64;
// The pipe(2) reader's read size: 1024 messages a call, few calls, and a
// destination that stays in cache (not the whole pipe buffer).
constexpr std::size_t kPipe2Read = 64u << 10;

// A sender's messages: its id and a sequence number, then filler.
class SenderMessage {
 public:
  explicit SenderMessage(int id) {
    bytes_.fill(std::byte{0x5a});
    const auto sender = static_cast<std::uint64_t>(id);
    std::memcpy(bytes_.data(), &sender, sizeof(sender));
  }
  [[nodiscard]] std::span<const std::byte> next() noexcept {
    ++seq_;
    std::memcpy(bytes_.data() + sizeof(std::uint64_t), &seq_, sizeof(seq_));
    return bytes_;
  }

 private:
  std::array<std::byte, kPipeMessage> bytes_{};
  std::uint64_t seq_ = 0;
};

// Both rows: four forked senders (unpinned: five processes on the
// machine's cores, placed by the scheduler) stream without pause; this
// process receives batch_for(64) messages per iteration. The channel is
// full before the clock starts and stays so: a continuous stream. Counted:
// the messages received while the clock ran.
void BM_SharedPipe_4Senders(benchmark::State& state) {
  NameGuard name(unique_name("spipe"), [](const std::string& n) { (void)Pipe::unlink(n); });
  auto ends = Pipe::create(name.name(), {.duplex = false, .capacity_bytes = stream_capacity(kPipeMessage)});
  if (!ends) {
    state.SkipWithError("could not create the pipe");
    return;
  }
  Connection& rx = ends->first;
  Connection& tx = ends->second;
  Peers senders(kSenders, false, [&](PeerControl& ctl, int id) {
    rx.close();  // this sender's copy of the receiving end
    ctl.ready.fetch_add(1, std::memory_order_acq_rel);
    SenderMessage msg(id);
    while (tx.send(msg.next()) == ConnStatus::ok) {
    }
  });
  tx.close();  // this process's copy of the senders' end: only the senders hold it
  name.release();
  if (!senders.started()) {
    state.SkipWithError("a sender process did not start");
    return;
  }
  const std::uint64_t batch = batch_for(kPipeMessage);
  std::array<std::byte, kPipeMessage> buf{};
  std::uint64_t received = 0;
  const CpuMeter cpu(senders.pids());
  for (auto _ : state) {
    std::uint64_t i = 0;
    for (; i < batch; ++i) {
      const RecvInto r = rx.recv_bytes_into(buf);
      if (r.status != ConnStatus::ok || r.size != kPipeMessage) break;
    }
    received += i;
    benchmark::DoNotOptimize(buf.data());
    if (i != batch) {
      state.SkipWithError("recv failed");
      break;
    }
  }
  cpu.stop(state, received);
  if (!senders.healthy()) state.SkipWithError("a sender process failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(received));
  state.SetBytesProcessed(static_cast<std::int64_t>(received * kPipeMessage));
  state.counters["capacity_bytes"] = static_cast<double>(rx.capacity_bytes());
}

// pipe(2), its buffer raised to the stream's capacity as PipeChannel's
// (channels.hpp). Each write() is one 64-byte message (at most PIPE_BUF: never
// interleaved with another sender's); the reader takes whatever is there,
// up to kPipe2Read bytes a read(), and counts messages by bytes.
void BM_Pipe2_4Senders(benchmark::State& state) {
  int fd[2] = {-1, -1};
  if (::pipe2(fd, O_CLOEXEC) != 0) {
    state.SkipWithError("pipe2 failed");
    return;
  }
  struct Fds {
    int* fd;
    ~Fds() {
      for (int i = 0; i < 2; ++i) {
        if (fd[i] >= 0) ::close(fd[i]);
      }
    }
  } const close_both{fd};
  const auto capacity = stream_capacity(kPipeMessage);
  (void)::fcntl(fd[1], F_SETPIPE_SZ, static_cast<int>(capacity));
  const int got_capacity = ::fcntl(fd[1], F_GETPIPE_SZ);
  Peers senders(kSenders, false, [&](PeerControl& ctl, int id) {
    ::close(fd[0]);  // this sender's copy of the read end
    ctl.ready.fetch_add(1, std::memory_order_acq_rel);
    SenderMessage msg(id);
    for (std::span<const std::byte> m = msg.next();;) {
      const ssize_t n = ::write(fd[1], m.data(), m.size());
      if (n == static_cast<ssize_t>(m.size())) {
        m = msg.next();
      } else if (n >= 0 || errno != EINTR) {
        return;
      }
    }
  });
  ::close(fd[1]);  // this process's copy of the write end: only the senders hold it
  fd[1] = -1;
  if (!senders.started()) {
    state.SkipWithError("a sender process did not start");
    return;
  }
  const std::uint64_t batch_bytes = batch_for(kPipeMessage) * kPipeMessage;
  std::vector<std::byte> buf(kPipe2Read);
  std::uint64_t bytes = 0;
  std::uint64_t target = 0;
  const CpuMeter cpu(senders.pids());
  for (auto _ : state) {
    target += batch_bytes;
    while (bytes < target) {
      const ssize_t n = ::read(fd[0], buf.data(), buf.size());
      if (n > 0) {
        bytes += static_cast<std::uint64_t>(n);
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    benchmark::DoNotOptimize(buf.data());
    if (bytes < target) {
      state.SkipWithError("read failed");
      break;
    }
  }
  const std::uint64_t received = bytes / kPipeMessage;
  cpu.stop(state, received);
  if (!senders.healthy()) state.SkipWithError("a sender process failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(received));
  state.SetBytesProcessed(static_cast<std::int64_t>(received * kPipeMessage));
  state.counters["capacity_bytes"] = got_capacity > 0 ? static_cast<double>(got_capacity) : 0;
}

// ---- Pool map vs a fork + pipe pool ----------------------------------------------------------

constexpr std::size_t kMapTasks = 100'000;

std::uint64_t tiny_task(std::uint64_t x) { return x * x + 1; }

// One iteration: a map of kMapTasks tasks, every result checked.
void BM_Pool_Map(benchmark::State& state) {
  auto pool = Pool::create(2);
  if (!pool) {
    state.SkipWithError("could not create the pool");
    return;
  }
  std::vector<std::uint64_t> xs(kMapTasks);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = i;
  const auto chunksize = static_cast<std::size_t>(state.range(0));
  std::vector<pid_t> workers;
  for (const int pid : pool->worker_pids()) workers.push_back(static_cast<pid_t>(pid));
  std::uint64_t done = 0;
  const CpuMeter cpu(workers);
  for (auto _ : state) {
    const std::vector<PoolResult> r = pool->map_values(&tiny_task, xs, chunksize);
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (r[i].value<std::uint64_t>() != tiny_task(xs[i])) {
        state.SkipWithError("a wrong or missing result");
        return;
      }
    }
    done += r.size();
  }
  cpu.stop(state, done);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  pool->close();
  pool->join();
}

// The same map on two forked workers fed through pipes: task i goes to
// worker i % 2 as one 8-byte write(); each worker answers with one 16-byte
// write() (index, result) on a results pipe the parent reads in bulk. The
// pipes are raised to 1 MiB, so the parent writes every task before it reads
// (a map's 800 KB of tasks fit) and nobody waits on a full pipe for long.
void BM_ForkPipePool_Map(benchmark::State& state) {
  int tasks[2][2] = {{-1, -1}, {-1, -1}};
  int results[2] = {-1, -1};
  struct Fds {
    std::vector<int*> fds;
    ~Fds() {
      for (int* f : fds) {
        if (*f >= 0) ::close(*f);
      }
    }
  } closer{{&tasks[0][0], &tasks[0][1], &tasks[1][0], &tasks[1][1], &results[0], &results[1]}};
  if (::pipe2(tasks[0], O_CLOEXEC) != 0 || ::pipe2(tasks[1], O_CLOEXEC) != 0 || ::pipe2(results, O_CLOEXEC) != 0) {
    state.SkipWithError("pipe2 failed");
    return;
  }
  for (int* f : {&tasks[0][1], &tasks[1][1], &results[1]}) (void)::fcntl(*f, F_SETPIPE_SZ, 1 << 20);
  Peers workers(2, false, [&](PeerControl& ctl, int id) {
    ::close(tasks[id][1]);
    ::close(tasks[1 - id][0]);
    ::close(tasks[1 - id][1]);
    ::close(results[0]);
    ctl.ready.fetch_add(1, std::memory_order_acq_rel);
    std::uint64_t index = 0;
    for (;;) {
      std::uint64_t x = 0;
      if (::read(tasks[id][0], &x, sizeof x) != static_cast<ssize_t>(sizeof x)) return;
      const std::uint64_t out[2] = {index * 2 + static_cast<std::uint64_t>(id), tiny_task(x)};
      if (::write(results[1], out, sizeof out) != static_cast<ssize_t>(sizeof out)) return;
      ++index;
    }
  });
  for (int* f : {&tasks[0][0], &tasks[1][0], &results[1]}) {
    ::close(*f);
    *f = -1;
  }
  if (!workers.started()) {
    state.SkipWithError("a worker did not start");
    return;
  }
  std::vector<std::uint64_t> xs(kMapTasks);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = i;
  std::vector<std::uint64_t> out(kMapTasks);
  std::vector<std::byte> buf(1 << 16);
  std::uint64_t done = 0;
  std::uint64_t round_base[2] = {0, 0};  // worker w's index of its first task this iteration
  const CpuMeter cpu(workers.pids());
  for (auto _ : state) {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (::write(tasks[i % 2][1], &xs[i], sizeof xs[i]) != static_cast<ssize_t>(sizeof xs[i])) {
        state.SkipWithError("task write failed");
        return;
      }
    }
    std::size_t got = 0;
    std::size_t partial = 0;  // bytes of a 16-byte result split across reads
    while (got < xs.size()) {
      const ssize_t n = ::read(results[0], buf.data() + partial, buf.size() - partial);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        state.SkipWithError("results read failed");
        return;
      }
      const std::size_t have = partial + static_cast<std::size_t>(n);
      std::size_t k = 0;
      for (; k + 16 <= have; k += 16) {
        std::uint64_t r[2];
        std::memcpy(r, buf.data() + k, sizeof r);
        const std::uint64_t w = r[0] % 2;
        const std::uint64_t slot = (r[0] / 2 - round_base[w]) * 2 + w;  // the task's index in xs
        if (slot < out.size()) out[slot] = r[1];
        ++got;
      }
      partial = have - k;
      std::memmove(buf.data(), buf.data() + k, partial);
    }
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (out[i] != tiny_task(xs[i])) {
        state.SkipWithError("a wrong or missing result");
        return;
      }
    }
    round_base[0] += (xs.size() + 1) / 2;
    round_base[1] += xs.size() / 2;
    done += xs.size();
  }
  cpu.stop(state, done);
  if (!workers.healthy()) state.SkipWithError("a worker failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
}

// ---- the ratio table ---------------------------------------------------------------------

// Shows every run through the reporter --benchmark_format asks for and
// keeps each row's items_per_second; at the end prints, on stderr (stdout
// stays the chosen format), each shmring row beside its peer and their
// ratio: the medians over repetitions, shmring ÷ peer, higher is better.
class RatioReporter : public benchmark::BenchmarkReporter {
 public:
  explicit RatioReporter(benchmark::BenchmarkReporter* shown) : shown_(shown) {}
  bool ReportContext(const Context& context) override { return shown_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    shown_->ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const auto rate = r.counters.find("items_per_second");
      if (rate != r.counters.end()) rates_[r.benchmark_name()].push_back(rate->second.value);
    }
  }
  void Finalize() override {
    shown_->Finalize();
    static constexpr std::array<std::pair<const char*, const char*>, 3> kPeers{{
        {"BM_Dict_", "BM_BoostMap_"},
        {"BM_SharedPipe_", "BM_Pipe2_"},
        {"BM_Pool_Map", "BM_ForkPipePool_Map"},
    }};
    bool header = false;
    for (const auto& [row, values] : rates_) {
      for (const auto& [ours, theirs] : kPeers) {
        if (row.rfind(ours, 0) != 0) continue;
        // A row's arguments name its peer's too; a Pool row's chunk size
        // (its first argument) does not: then the peer has none.
        std::string rest = row.substr(std::strlen(ours));
        std::string peer = theirs + rest;
        if (rates_.find(peer) == rates_.end() && rest.size() > 1 && rest[0] == '/') {
          const std::size_t next = rest.find('/', 1);
          peer = theirs + (next == std::string::npos ? std::string() : rest.substr(next));
        }
        const auto p = rates_.find(peer);
        if (p == rates_.end()) continue;
        if (!header) {
          std::fprintf(stderr, "\n%-32s %-36s %12s %12s %7s\n", "shmring", "peer", "shmring/s", "peer/s", "ratio");
          header = true;
        }
        const double a = median(values);
        const double b = median(p->second);
        std::fprintf(stderr, "%-32s %-36s %12.4g %12.4g %7.2f\n", row.c_str(), peer.c_str(), a, b, b > 0 ? a / b : 0);
      }
    }
  }

 private:
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
  }
  benchmark::BenchmarkReporter* shown_;  // the library's, which owns it
  std::map<std::string, std::vector<double>> rates_;
};

void register_all() {
  using benchmark::RegisterBenchmark;
  for (auto* b : {RegisterBenchmark("BM_Dict_Get", table_ops<DictTable, Op::get>),
                  RegisterBenchmark("BM_BoostMap_Get", table_ops<BoostMapTable, Op::get>),
                  RegisterBenchmark("BM_Dict_Set", table_ops<DictTable, Op::set>),
                  RegisterBenchmark("BM_BoostMap_Set", table_ops<BoostMapTable, Op::set>)}) {
    b->Arg(1)->Arg(2)->UseRealTime();
  }
  RegisterBenchmark("BM_SharedPipe_4Senders", BM_SharedPipe_4Senders)->UseRealTime();
  RegisterBenchmark("BM_Pipe2_4Senders", BM_Pipe2_4Senders)->UseRealTime();
  RegisterBenchmark("BM_Pool_Map", BM_Pool_Map)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
  RegisterBenchmark("BM_ForkPipePool_Map", BM_ForkPipePool_Map)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace shmring::perf

int main(int argc, char** argv) {
  shmring::perf::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  shmring::perf::RatioReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
