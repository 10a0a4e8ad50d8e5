// Queue: a named queue that unrelated processes open by name, with the
// semantics of Python's multiprocessing.Queue. Messages are byte
// spans; put/get take a Wait (forever, nowait, or a timeout).
//
// Engines. By default (Engine::lanes) any number of processes put and get at
// once, as in Python: each producer handle writes a lane of its own (an SPSC
// byte ring, lane_ring.hpp; producers beyond lanes - 1 share the last lane,
// one put at a time), and consumers take from any lane with one
// compare-and-swap per message (per run, with get_many). A producer's room
// is its lane: capacity_bytes / lanes. Every message is delivered once, each
// producer's in its order. Nobody waits for a dead consumer; a dead
// producer's lane is drained and taken over by the next producer that proves
// it dead (pid + start time, never a stopped process). A consumer killed
// while taking or holding messages loses those (counted: reads_lost()).
// Engine::mpmc is the earlier many-producer engine (mpmc_ring.hpp, at most
// 256 handles): one shared ring, so one producer may fill the whole
// capacity and a message may be half of it.
//
// Declared single-producer/single-consumer (Engine::spsc), the queue uses the
// faster SPSC ring and admits one producer process and one consumer process
// at a time. A handle takes the producer role on its first put (or at open
// with OpenOptions::role) and the consumer role on its first get; while
// another live process holds a role, put/get return role_taken and open fails
// with Errc::role_taken. The role of a process that died is taken over.
//
// Fixed-size messages (QueueOptions::message_size, with Engine::spsc): every
// message is exactly that many bytes, kept in slots with no record header
// (spsc_slot_ring.hpp). A 64-byte message then fills one cache line instead
// of sharing lines with its neighbours as a 72-byte record: the fastest path
// for fixed structs (perf/RESULTS.md). A put of another size is wrong_size.
//
// A handle is movable, not copyable, and not thread-safe: use one handle per
// thread. A handle inherited through fork() holds no role and no participant
// slot in the child; the child takes its own on first use.
//
// A moved-from handle holds no queue: every call that returns a status
// returns handle_closed (put, claim, get, read, task_done, join...);
// commit(), release() and close() do nothing; the observers answer as for
// an empty queue that is closed: qsize() 0, empty() true, full() false,
// closed() true, the sizes and counters 0, path() "", roles_held() none.
// Assigning a live handle to it makes it usable again (misuse_test.cpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "shmring/blocking/blocking.hpp"
#include "shmring/blocking/intervals.hpp"  // kDeadOwnerCheck: the detection window
#include "shmring/platform/error.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/engine/spsc_slot_ring.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {

enum class PutStatus : std::uint8_t {
  ok,
  full,           // no room before the wait ended (maxsize or byte capacity)
  closed,         // the queue was closed
  too_large,      // larger than max_message: could never fit
  role_taken,     // SPSC: another live process is the producer; MPMC: 256 live handles attached
  corrupt,        // the shared positions are inconsistent (a damaged or hostile file)
  no_memory,      // on-demand memory: tmpfs or memory is full, the next chunk could not be reserved
  wrong_size,     // fixed-size messages: not message_size() bytes
  claim_open,     // this handle has a claim() not yet committed: commit it first (nothing changed)
  handle_closed,  // a moved-from handle: it holds no queue
};

enum class GetStatus : std::uint8_t {
  ok,
  empty,          // nothing arrived before the wait ended
  closed,         // closed and drained
  wrong_size,     // get_value<T>: the next message is not sizeof(T) bytes (it stays queued)
  role_taken,     // SPSC: another live process is the consumer; MPMC: 256 live handles attached
  corrupt,        // a record or position is out of range (a damaged or hostile file)
  handle_closed,  // a moved-from handle: it holds no queue
};

enum class TaskDoneStatus : std::uint8_t {
  ok,
  too_many,       // more task_done() calls than items put (Python: ValueError); nothing changed
  handle_closed,  // a moved-from handle: it holds no queue
};

enum class JoinStatus : std::uint8_t {
  done,           // every item put so far was marked done
  timed_out,      // the wait ended first
  handle_closed,  // a moved-from handle: it holds no queue
};

[[nodiscard]] const char* to_string(PutStatus s) noexcept;
[[nodiscard]] const char* to_string(GetStatus s) noexcept;
[[nodiscard]] const char* to_string(TaskDoneStatus s) noexcept;
[[nodiscard]] const char* to_string(JoinStatus s) noexcept;

enum class Role : std::uint8_t { none = 0, producer = 1, consumer = 2, both = 3 };

// How put/get order their wake-up handshake (blocking.hpp). `asymmetric`
// keeps full barriers off the hot path (a process that waits pays a
// membarrier system call per sleep instead); it needs membarrier(2), and
// falls back to `fences` when the creating process cannot use it.
enum class Barriers : std::uint8_t { fences = 0, asymmetric = 1 };

// Which ring a queue is built on (fixed at create; every opener uses it).
enum class Engine : std::uint8_t {
  mpmc = 1,  // any number of producers and consumers on one shared ring (a message up to half the capacity)
  spsc = 0,  // one producer process and one consumer process: the fastest path
  // The default. Any number of producers and consumers, a lane (an SPSC
  // byte ring) per producer: no read-modify-write per put, one
  // compare-and-swap per get. The capacity is cut into QueueOptions::lanes
  // lanes; a message must fit in half a lane; a producer's room is its lane.
  lanes = 2,
};

// Rings larger than this have on-demand memory: the file is sparse, memory
// is reserved kOnDemandChunk bytes at a time ahead of the producers and
// returned behind the consumers, so a queue of 16 GiB (an "unbounded" one in
// Python's terms, maxsize <= 0) holds memory for the bytes queued, not for its
// capacity; a full tmpfs is PutStatus::no_memory at put, never a SIGBUS.
inline constexpr std::uint64_t kOnDemandAbove = std::uint64_t{4} << 20;
inline constexpr std::uint64_t kOnDemandChunk = std::uint64_t{1} << 20;

struct QueueOptions {
  std::int64_t maxsize = 0;  // messages; <= 0: limited by bytes only
  Engine engine = Engine::lanes;
  std::uint64_t capacity_bytes = 1u << 20;  // ring bytes, rounded up to a power of two (>= 4 KiB)
  std::uint64_t max_message = 0;            // largest payload; 0: the most the ring can take
  std::uint32_t mode = 0600;                // file permissions
  Barriers barriers = Barriers::asymmetric;
  // > 0: every message is exactly this many bytes, one headerless slot each
  // (Engine::spsc only; max_message must be 0 or equal). The ring holds
  // capacity_bytes / message_size slots, rounded up to a power of two (at
  // least 2), and reserves all its memory at create. (Keep it last: positional
  // initialisers of the fields above keep their meaning.)
  std::uint64_t message_size = 0;
  // Engine::lanes: how many lanes (2..64) the capacity is cut into; 0: 8, or
  // fewer when the capacity is small (a lane is at least 4 KiB) or
  // max_message needs larger lanes. Producers beyond lanes - 1 share the
  // last lane, one put at a time.
  std::uint32_t lanes = 0;
};

struct OpenOptions {
  Role role = Role::none;  // roles to take now (none: on first put/get)
  // How long to wait for a creator that has not finished creating the queue.
  // (Too large to represent: as long as it takes; see Timeout, wait.hpp.)
  Timeout ready_timeout = std::chrono::milliseconds(1000);
  bool allow_foreign_owner = false;  // open a file owned by another user
};

struct Message {
  GetStatus status = GetStatus::empty;
  std::vector<std::byte> bytes;
  explicit operator bool() const noexcept { return status == GetStatus::ok; }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

namespace detail {
struct BatchAccess;
struct EmbeddedQueue;
}  // namespace detail

// What get_many() took: the messages' bytes one after another, message i
// being [end(i - 1), end(i)). clear() keeps the storage for the next batch.
class MessageBatch {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return ends_.size(); }
  [[nodiscard]] bool empty() const noexcept { return ends_.empty(); }
  [[nodiscard]] std::span<const std::byte> operator[](std::size_t i) const noexcept {
    const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
    return {bytes_.data() + begin, ends_[i] - begin};
  }
  [[nodiscard]] std::string_view text(std::size_t i) const noexcept {
    const auto b = (*this)[i];
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  void clear() noexcept { ends_.clear(); }

 private:
  friend struct detail::BatchAccess;
  // The messages' bytes are bytes_[0, ends_.back()); the storage past that
  // is kept (its growth zero-fills once, not every message).
  std::vector<std::byte> bytes_;
  std::vector<std::size_t> ends_;
};

// What put_many() did: `count` messages put, in order; `status` is ok when
// that is all of them, else why the next one was not.
struct PutManyResult {
  std::size_t count;
  PutStatus status;
};

// Zero-copy producer: write into `bytes`, then commit().
struct PutClaim {
  PutStatus status;
  std::span<std::byte> bytes;
};

// Zero-copy consumer: read `bytes`, then release().
struct GetView {
  GetStatus status;
  std::span<const std::byte> bytes;
};

// Queue::read_ahead(): a message past those already shown, not taken.
enum class AheadStatus : std::uint8_t {
  ok,
  empty,          // nothing more is there now
  closed,         // closed, and nothing more is there
  unsupported,    // not a queue of Engine::spsc with messages of any size
  role_taken,     // another live process is the consumer
  corrupt,        // a record or position is out of range (a damaged or hostile file)
  handle_closed,  // a moved-from handle: it holds no queue
};
struct AheadView {
  AheadStatus status;
  std::span<const std::byte> bytes;
  std::uint64_t seq;  // the message's number (as read_seq()): 0, 1, 2, ... since create
};

namespace detail {

// The engines fill a MessageBatch through this (engine_vocabulary.hpp).
struct BatchAccess {
  // Room for one more message of `size` bytes at the end; write it there.
  static std::byte* append(MessageBatch& b, std::size_t size) {
    const std::size_t begin = b.ends_.empty() ? 0 : b.ends_.back();
    if (b.bytes_.size() - begin < size) b.bytes_.resize(std::max(begin + size, 2 * b.bytes_.size()));
    b.ends_.push_back(begin + size);
    return b.bytes_.data() + begin;
  }
  // Back to its first `count` messages (what a lost race had copied is void).
  static void truncate(MessageBatch& b, std::size_t count) noexcept { b.ends_.resize(count); }
};

// The fast path of fixed-size messages, inline in put()/get_into()/get_value
// below. A put or get of a fixed-size message that this handle may make at
// once (it holds the role, the queue is open, the ring has room or a
// message) is done here, in the caller's code; everything else (first use,
// a forked child, closed, full, empty, waiting, other engines, errors) goes
// to the out-of-line paths in core/src/ipc/queue/queue.cpp. (What it saves
// is in docs/architecture.md.)
//
// Lives at the start of the handle's State (a stable address; the handle
// keeps a pointer to it). A moved-from handle points at a static one whose
// generations are kOff (off_hot(), queue_setup.cpp): its inline paths fall
// through to the out-of-line ones, which report handle_closed. Memory
// ordering: that of SpscSlotRing (slot release/acquire through tail and
// head) and notify() (blocking.hpp); the closed flag is read with acquire
// as in the out-of-line paths.
struct QueueHot {
  // A fork generation never reached: the fast path is off.
  static constexpr std::uint64_t kOff = ~std::uint64_t{0};

  QueueHot(const SpscSlotRing<>& ring, ParkingLayout& not_empty_park, ParkingLayout& not_full_park,
           const std::atomic<std::uint32_t>& closed_flag) noexcept
      : sring(ring), not_empty(&not_empty_park), not_full(&not_full_park), closed(&closed_flag) {}

  // The fork generation (platform/process.hpp) in which this handle took
  // the producer (consumer) role of a fixed-size queue, or kOff. One compare
  // says: this handle holds the role, in this process, and the engine is
  // the slot ring (and, for put, the queue is not a JoinableQueue, whose
  // puts count tasks out of line).
  std::uint64_t put_generation = kOff;
  std::uint64_t get_generation = kOff;
  SpscSlotRing<> sring;      // the fixed-size engine's ring (a ring of nothing for the others)
  ParkingLayout* not_empty;  // in the mapped QueueLayout
  ParkingLayout* not_full;
  const std::atomic<std::uint32_t>* closed;
  BlockingStats stats;
  BarrierPlan plan;  // this process's side of the wake-up handshake

  // Put or get now, or false: the caller takes the out-of-line path, which
  // sorts out why (and repeats nothing that took effect: a false here
  // changed nothing shared).
  [[nodiscard]] bool try_put(const std::byte* bytes, std::size_t size) noexcept {
    // SYNC(close): acquire — as Queue::State::is_closed(), pairs with close().
    if (put_generation != platform::fork_generation() || closed->load(std::memory_order_acquire) != 0) {
      return false;
    }
    return push(bytes, size) == RingStatus::ok;
  }
  // The push and its wake, for a caller that checked the role and the
  // closed flag (also the slot engine's out-of-line put, engines.hpp).
  [[nodiscard]] RingStatus push(const std::byte* bytes, std::size_t size) noexcept {
    const RingStatus r = sring.try_push(bytes, size);
    if (r == RingStatus::ok) [[likely]]
      notify(*not_empty, stats, plan);
    return r;
  }
  // kSize: the size of `out` when known at compile time (get_value<T>), else 0.
  template <std::size_t kSize = 0>
  [[nodiscard]] bool try_get(void* out, std::size_t size) noexcept {
    if (get_generation != platform::fork_generation() || size != sring.slot_size()) return false;
    if (!sring.try_pop<kSize>(out)) return false;
    notify(*not_full, stats, plan);
    return true;
  }
};

}  // namespace detail

class Queue {
 public:
  [[nodiscard]] static Result<Queue> create(std::string_view name, const QueueOptions& options = {});
  [[nodiscard]] static Result<Queue> open(std::string_view name, const OpenOptions& options = {});
  // Removes the name only if it holds a Queue (a JoinableQueue: its own
  // unlink); anything else is refused and left alone (wrong_kind, or
  // bad_magic / truncated / empty_file for a file that is not a shmring
  // segment). An absolute path may name a file on hugetlbfs or a disk, and
  // it must be one Queue::create made. Handles keep working on the removed
  // file; a dead creator's leftover of this kind is removed like any other.
  [[nodiscard]] static Result<void> unlink(std::string_view name);

  Queue(Queue&&) noexcept;
  Queue& operator=(Queue&&) noexcept;
  ~Queue();  // gives back the roles this process took through this handle

  // ---- producer ----
  [[nodiscard]] PutStatus put(std::span<const std::byte> bytes, Wait wait = forever) noexcept {
    if (hot_->try_put(bytes.data(), bytes.size())) [[likely]]
      return PutStatus::ok;
    return put_any(bytes, wait);
  }
  [[nodiscard]] PutStatus put(std::string_view text, Wait wait = forever) noexcept {
    return put(std::as_bytes(std::span<const char>(text.data(), text.size())), wait);
  }
  [[nodiscard]] PutStatus put_nowait(std::span<const std::byte> bytes) noexcept { return put(bytes, nowait); }
  [[nodiscard]] PutStatus put_nowait(std::string_view text) noexcept { return put(text, nowait); }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] PutStatus put_value(const T& value, Wait wait = forever) noexcept {
    return put(std::as_bytes(std::span<const T, 1>(&value, 1)), wait);
  }

  // Puts `messages` in order, as many as `wait` allows (it applies to each
  // message that must wait for room): one publication per run of messages
  // that fit at once where the engine can (SPSC byte ring, lanes), one put
  // each elsewhere. JoinableQueue counts a task per message.
  [[nodiscard]] PutManyResult put_many(std::span<const std::span<const std::byte>> messages,
                                       Wait wait = forever) noexcept;

  // Reserves `size` bytes in the ring (waiting for room as put does); the
  // message is published by commit(n), n <= size. One claim at a time: a
  // second claim() or a put() before the commit returns claim_open and
  // changes nothing (the open claim stays usable). Fixed-size messages:
  // `size` must be message_size(); commit(n) publishes the whole slot, bytes
  // past n zeroed. commit() without an open claim does nothing.
  [[nodiscard]] PutClaim claim(std::size_t size, Wait wait = forever) noexcept;
  void commit(std::size_t size) noexcept;

  // ---- consumer ----
  [[nodiscard]] Message get(Wait wait = forever);  // allocates, as Python does
  [[nodiscard]] Message get_nowait() { return get(nowait); }
  // Copies the next message into `out` (resized; its capacity is reused).
  [[nodiscard]] GetStatus get_into(std::vector<std::byte>& out, Wait wait = forever) {
    if (hot_->try_get(out.data(), out.size())) [[likely]]
      return GetStatus::ok;
    return get_any(out, wait);
  }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] GetStatus get_value(T& out, Wait wait = forever) noexcept {
    if (hot_->try_get<sizeof(T)>(&out, sizeof(T))) [[likely]]
      return GetStatus::ok;
    return get_copy(&out, sizeof(T), wait);
  }

  // Appends up to `max_messages` messages to `out` (at least one: waits for
  // the first as get does, then takes what is there without waiting). The
  // lane engine takes a run of one lane's messages with one
  // compare-and-swap; the others one message at a time. ok: at least one
  // appended; otherwise, as get, why not (nothing appended).
  [[nodiscard]] GetStatus get_many(MessageBatch& out, std::size_t max_messages, Wait wait = forever);

  // A view of the next message, valid until release() (which consumes it).
  [[nodiscard]] GetView read(Wait wait = forever) noexcept;
  void release() noexcept;

  // ---- message identity (Engine::spsc, messages of any size) ----
  // Sequence numbers that outlive the process holding a message: the
  // JetStream bridge names each message by them (bridge/, docs/bridge.md).
  // read_seq(): the number (0, 1, 2, ... since create) of the message
  // read() shows, i.e. how many messages consumers have released. A
  // consumer killed between read() and release() leaves that message at
  // the head of the ring, and the next consumer's read() shows it under the
  // same number (the count is re-derived from the record at attach).
  // put_seq(): how many messages have been put, i.e. the number the next
  // put will get; exact while this handle holds the producer role.
  // nullopt: this handle does not hold the role, or the queue is of another
  // engine or of fixed-size messages. A lane or MPMC consumer takes a
  // message before it holds it, so no number of a message it held survives
  // its death (reads_lost()).
  [[nodiscard]] std::optional<std::uint64_t> read_seq() const noexcept;
  [[nodiscard]] std::optional<std::uint64_t> put_seq() const noexcept;

  // Read-ahead (Engine::spsc, messages of any size): a window of messages
  // shown without taking them, for a consumer that must hand several on
  // before it may take them (the bridge's publish window). Each
  // read_ahead() shows the message after the last one it showed (the
  // first: the head's), without waiting; release_ahead(n) takes the n
  // oldest shown, in order, with one publication. The views stay valid
  // until their messages are taken. A consumer killed with messages shown
  // leaves every one of them queued, and its successor reads them under
  // the same numbers (AheadView::seq, read_seq()). read()/release() and
  // the gets take from the head as before: a message they take that was
  // shown counts as taken. To wait for a message, read(wait) (it takes
  // nothing), then read_ahead().
  [[nodiscard]] AheadView read_ahead() noexcept;
  void release_ahead(std::size_t n) noexcept;

  // ---- event loops ----
  // A descriptor that is readable when a get would not block — a message is
  // there or the queue is closed — for epoll, poll, select, Python's
  // selectors and asyncio (a datagram socket: blocking/poller.hpp). Made on
  // the first call and owned by this handle (closed with it: never close it
  // yourself); later calls return the same one. Each call, and each get of
  // this handle that finds the queue empty without waiting (get_nowait, a
  // timeout that ran out), re-arms it. The loop: wait until readable, then
  // get_nowait until empty. Readable with nothing to get is possible (another
  // consumer was first; after blocking gets, which do not re-arm): the next
  // empty get_nowait re-arms. Streaming costs no system call while the
  // consumer finds messages; producers pay one send per wake-up of the loop.
  // At most kPollerSlots (14) descriptors per queue at once (no_space).
  [[nodiscard]] Result<int> fileno() noexcept;

  // ---- both / observers ----
  [[nodiscard]] std::size_t qsize() const noexcept;  // exact when quiescent
  [[nodiscard]] bool empty() const noexcept;
  [[nodiscard]] bool full() const noexcept;
  // Closes the queue for everyone: blocked and later puts get closed; gets
  // drain what is left, then get closed; every blocked waiter wakes now.
  void close() noexcept;
  [[nodiscard]] bool closed() const noexcept;

  [[nodiscard]] std::int64_t maxsize() const noexcept;
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept;
  [[nodiscard]] std::uint64_t max_message() const noexcept;
  // Fixed-size messages: their size; 0: messages of any size up to max_message().
  [[nodiscard]] std::uint64_t message_size() const noexcept;
  [[nodiscard]] const std::string& path() const noexcept;
  [[nodiscard]] Role roles_held() const noexcept;
  [[nodiscard]] const BlockingStats& stats() const noexcept;
  [[nodiscard]] Barriers barriers() const noexcept;
  [[nodiscard]] Engine engine() const noexcept;
  // Bytes of memory the queue's file holds now (on-demand memory follows the
  // bytes queued; otherwise the whole ring).
  [[nodiscard]] std::uint64_t memory_bytes() const noexcept;
  // MPMC: repairs of dead participants' records on this queue so far, by
  // every process (0 for SPSC).
  [[nodiscard]] std::uint64_t claims_repaired() const noexcept;  // a dead producer's uncommitted message
  [[nodiscard]] std::uint64_t reads_lost() const noexcept;       // a message a dead consumer held: lost
  // MPMC: repairs now every record a dead consumer still holds (they are
  // otherwise repaired when a producer needs their room); returns how many.
  // The handle attaches as a participant first (as a get would) if it is not.
  std::uint64_t recover() noexcept;

  // The handle's state: opaque here (core/src/ipc/queue/state.hpp).
  struct State;

 protected:
  friend struct detail::EmbeddedQueue;
  explicit Queue(std::unique_ptr<State> state) noexcept;
  [[nodiscard]] static Result<Queue> create_kind(std::string_view name, const QueueOptions& options,
                                                 std::uint32_t kind);
  [[nodiscard]] static Result<Queue> open_kind(std::string_view name, const OpenOptions& options, std::uint32_t kind);
  std::unique_ptr<State> s_;  // null once moved from
  // The start of *s_; once moved from, a QueueHot whose fast path is off
  // (both generations kOff), so the inline paths fall through to the
  // out-of-line ones, which check s_ once. Never null: the inline paths
  // dereference it without a check.
  detail::QueueHot* hot_;

 private:
  // put() and get_into() when their inline fast path could not finish.
  [[nodiscard]] PutStatus put_any(std::span<const std::byte> bytes, Wait wait) noexcept;
  [[nodiscard]] GetStatus get_any(std::vector<std::byte>& out, Wait wait);
  // get_value() off its inline path: the next message, which must be `size` bytes.
  [[nodiscard]] GetStatus get_copy(void* out, std::size_t size, Wait wait) noexcept;
  [[nodiscard]] PutStatus put_unjoined(std::span<const std::byte> bytes, Wait wait) noexcept;
  [[nodiscard, gnu::noinline]] PutStatus put_counted(std::span<const std::byte> bytes, Wait wait) noexcept;
  // One fast path per engine (queue.cpp; E: an engine of engines.hpp), and
  // the slow paths under them.
  template <class E>
  [[nodiscard, gnu::noinline]] PutStatus put_on(std::span<const std::byte> bytes, Wait wait) noexcept;
  template <class E>
  [[nodiscard, gnu::noinline]] GetStatus get_on(std::vector<std::byte>& out, Wait wait);
  [[nodiscard, gnu::noinline]] PutStatus put_slow(std::span<const std::byte> bytes, Wait wait) noexcept;
  [[nodiscard, gnu::noinline]] GetStatus get_slow(std::vector<std::byte>& out, Wait wait);
};

// JoinableQueue: Python's multiprocessing.JoinableQueue. Every put counts an
// unfinished task (in the shared segment, so across processes); task_done()
// marks one done; join() blocks until none is left. A distinct segment kind:
// Queue::open refuses it (and JoinableQueue::open refuses a plain queue), so
// no process can put without counting.
class JoinableQueue : public Queue {
 public:
  [[nodiscard]] static Result<JoinableQueue> create(std::string_view name, const QueueOptions& options = {});
  [[nodiscard]] static Result<JoinableQueue> open(std::string_view name, const OpenOptions& options = {});
  // Removes the name only if it holds a JoinableQueue (see Queue::unlink).
  [[nodiscard]] static Result<void> unlink(std::string_view name);

  // Marks one item as processed; too_many when no item is unfinished.
  [[nodiscard]] TaskDoneStatus task_done() noexcept;
  // Blocks until every item put so far has been marked done (or the wait ends).
  [[nodiscard]] JoinStatus join(Wait wait = forever) noexcept;
  // Items put and not yet marked done (exact when quiescent).
  [[nodiscard]] std::uint64_t unfinished_tasks() const noexcept;

 private:
  explicit JoinableQueue(Queue&& q) noexcept : Queue(std::move(q)) {}
};

}  // namespace shmring
