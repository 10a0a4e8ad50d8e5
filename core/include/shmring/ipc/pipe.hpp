// Pipe and Connection: Python's multiprocessing.Pipe over a named segment.
// Pipe::create(name) makes the segment and returns its two ends;
// any process may open an end by name with Connection::open(name, End::a|b).
// Messages are byte spans.
//
// Ends. Pipe({.duplex = true}) gives two ends that both send and receive.
// Pipe({.duplex = false}) gives (receive end, send end) as Python's
// Pipe(False): End::a only receives, End::b only sends; the wrong call
// returns not_writable / not_readable at once.
//
// Two kinds of pipe (docs/api.md, "Using a Pipe"):
//
// Shared ends (the default). Any number of handles on each end, in any
// number of processes: the two Pipe::create returns, each
// Connection::open, and each copy a forked child inherits (it counts as the
// child's from the fork on). Each direction is a queue of the lane engine:
// many senders on one end never corrupt each other and are never refused
// (order is kept per sender); many receivers each take distinct whole
// messages. close() (and the destructor) ends that handle only. Once every
// handle of an end is closed or its process dead (gone, a zombie, its pid
// reused; never a stopped one), the end is closed for good: the other
// side's recv returns what was sent, then closed (EOFError); its send
// returns closed (BrokenPipeError); a later open of the end gives a closed
// handle. A death sends no wake-up: waiters look every kOwnerCheckInterval
// (20 ms, intervals.hpp); a send that does not wait looks at most once per
// interval (one clock read per send). At most 256 handles per end at once.
//
// One owner per end (PipeOptions::one_owner): each end is held by at most
// one process at a time (its owner word: pid + start time,
// platform/process.hpp), each direction an SPSC ring (spsc_ring.hpp).
// Connection::open takes the end at once and fails with Errc::role_taken
// while another live process holds it (also another handle of the same
// process); the two handles Pipe::create returns take their end on first
// use (send, recv, poll, or attach()), so a parent can create a pipe, fork,
// and let the child use one end while it uses the other. A handle inherited
// through fork() holds nothing in the child. The end of a process that died
// may be taken over by the next process that opens or uses it; messages its
// owner committed are kept, a message it was reading may be delivered
// again. A recv that finds nothing while the other end is closed or its
// owner dead returns closed, after everything sent was received; a send to
// such an end returns closed. An end nobody has taken yet is not a closed
// end. close() of the holding handle closes the end for good; a handle that
// never took its end only drops itself.
//
// A handle is movable, not copyable, and not thread-safe (one thread at a
// time, as for a Queue handle). A moved-from handle holds nothing and is
// closed: every call returns handle_closed (poll() true: a recv would not
// wait), close() does nothing, and the observers answer closed() true,
// attached(), readable() and writable() false, sizes 0, path() "", end() a.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmring/blocking/blocking.hpp"
#include "shmring/platform/error.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {

enum class ConnStatus : std::uint8_t {
  ok,
  empty,          // recv: nothing arrived before the wait ended
  full,           // send: no room before the wait ended
  closed,         // recv: the other end is closed or dead and nothing is left (EOFError);
                  // send: the other end is closed or dead (BrokenPipeError)
  handle_closed,  // this handle (or its end) was closed (Python: OSError "handle is closed")
  too_large,      // send: larger than max_message; could never fit
  too_short,      // recv_bytes_into: the buffer is too small; the message stays queued (BufferTooShort)
  wrong_size,     // recv_value<T>: the next message is not sizeof(T) bytes; it stays queued
  out_of_range,   // send_bytes / recv_bytes_into: offset or size outside the buffer (ValueError)
  not_readable,   // recv or poll on the send-only end of a one-way pipe
  not_writable,   // send on the receive-only end of a one-way pipe
  end_taken,      // one owner: another live process (or another handle here) holds this end;
                  // shared ends: no free handle slot (256 per end) for a forked copy's first call
  corrupt,        // a record or position is out of range (a damaged or hostile file)
};

[[nodiscard]] const char* to_string(ConnStatus s) noexcept;

enum class End : std::uint8_t { a = 0, b = 1 };

struct PipeOptions {
  bool duplex = true;                       // false: End::a receives only, End::b sends only
  std::uint64_t capacity_bytes = 1u << 20;  // ring bytes per direction, rounded up to a power of two (>= 4 KiB)
  // Largest payload; 0: the most a direction can take (shared ends: half a
  // lane, capacity / 16 for 8 lanes; one owner: half the ring).
  std::uint64_t max_message = 0;
  std::uint32_t mode = 0600;                 // file permissions
  Barriers barriers = Barriers::asymmetric;  // as for the Queue (queue.hpp)
  // true: each end is held by one process at a time (an SPSC ring per
  // direction: faster, see perf/RESULTS.md); false: any number of handles
  // on each end (see "Two kinds of pipe" above).
  bool one_owner = false;
};

struct ConnectionOpenOptions {
  // One owner: take the end now (false: on first use). Shared ends: a
  // handle always counts from its open.
  bool attach = true;
  // How long to wait for a creator that has not finished creating the pipe.
  // (Too large to represent: as long as it takes; see Timeout, wait.hpp.)
  Timeout ready_timeout = std::chrono::milliseconds(1000);
  bool allow_foreign_owner = false;  // open a file owned by another user
};

struct ConnMessage {
  ConnStatus status = ConnStatus::empty;
  std::vector<std::byte> bytes;
  explicit operator bool() const noexcept { return status == ConnStatus::ok; }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

// recv_bytes_into: `size` is the message's length — written at the offset
// (ok), or the room it needs (too_short).
struct RecvInto {
  ConnStatus status;
  std::size_t size;
};

class Connection {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // Opens end `end` of the pipe `name` and, unless options.attach is false,
  // takes it (Errc::role_taken while another live process holds it).
  [[nodiscard]] static Result<Connection> open(std::string_view name, End end,
                                               const ConnectionOpenOptions& options = {});

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();  // close()

  // One owner: takes this end now (send/recv/poll do it on first use). Shared
  // ends: a forked copy without a slot takes one. ok, end_taken,
  // handle_closed, corrupt.
  [[nodiscard]] ConnStatus attach() noexcept;

  // ---- sending (Python: send, send_bytes) ----
  [[nodiscard]] ConnStatus send(std::span<const std::byte> bytes, Wait wait = forever) noexcept;
  [[nodiscard]] ConnStatus send(std::string_view text, Wait wait = forever) noexcept {
    return send(std::as_bytes(std::span<const char>(text.data(), text.size())), wait);
  }
  // Sends buf[offset, offset + size) (size npos: to the end); out_of_range
  // when that is not inside `buf`, and nothing is sent.
  [[nodiscard]] ConnStatus send_bytes(std::span<const std::byte> buf, std::size_t offset = 0, std::size_t size = npos,
                                      Wait wait = forever) noexcept;
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] ConnStatus send_value(const T& value, Wait wait = forever) noexcept {
    return send(std::as_bytes(std::span<const T, 1>(&value, 1)), wait);
  }

  // ---- receiving (Python: recv, recv_bytes, recv_bytes_into, poll) ----
  [[nodiscard]] ConnMessage recv(Wait wait = forever);  // allocates, as Python does
  // Copies the next message into `out` (resized; its capacity is reused).
  [[nodiscard]] ConnStatus recv_into(std::vector<std::byte>& out, Wait wait = forever);
  // Copies the next message into buffer[offset...]. too_short (with the size
  // it needs) when it does not fit: the message stays queued. offset >
  // buffer.size(): out_of_range.
  [[nodiscard]] RecvInto recv_bytes_into(std::span<std::byte> buffer, std::size_t offset = 0,
                                         Wait wait = forever) noexcept;
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] ConnStatus recv_value(T& out, Wait wait = forever) noexcept {
    const View v = read(wait);
    if (v.status != ConnStatus::ok) return v.status;
    if (v.bytes.size() != sizeof(T)) return ConnStatus::wrong_size;
    std::memcpy(&out, v.bytes.data(), sizeof(T));
    release();
    return ConnStatus::ok;
  }
  // True when a recv would return without waiting: a message is there, the
  // other end is closed or dead (recv gives closed), or recv would fail at
  // once (not_readable, handle_closed, end_taken, corrupt). False when the
  // wait ended with nothing to read.
  [[nodiscard]] bool poll(Wait wait = nowait) noexcept;

  // Zero-copy receive (as the Queue's read/release): a view of the next
  // message, valid until release(), which consumes it. Status as recv. One
  // view at a time per handle; a process killed between the two loses that
  // message, as a consumer killed inside recv would.
  struct View {
    ConnStatus status;
    std::span<const std::byte> bytes;
  };
  [[nodiscard]] View read(Wait wait = forever) noexcept;
  void release() noexcept;

  // A descriptor that is readable when a recv would not block (a message,
  // or the other end closed), for event loops: Queue::fileno() on the
  // receive direction, with the same rules (owned by this handle; re-armed
  // by each call, by a recv that finds nothing without waiting and by a
  // poll() that returns false). Shared ends only (one_owner: unsupported);
  // a send-only end: invalid_argument. The other end's close() makes it
  // readable; its death is noticed by a recv or poll() (within
  // kOwnerCheckInterval), not by the descriptor: a loop that must see a
  // killed peer polls now and then.
  [[nodiscard]] Result<int> fileno() noexcept;
  // See the header comment: ends this handle (and closes the end when it
  // was the last handle of a shared end, or the owner of a one-owner end).
  void close() noexcept;

  // ---- observers ----
  [[nodiscard]] End end() const noexcept;
  [[nodiscard]] bool readable() const noexcept;
  [[nodiscard]] bool writable() const noexcept;
  [[nodiscard]] bool closed() const noexcept;    // this handle
  [[nodiscard]] bool attached() const noexcept;  // this handle counts on (holds) its end in this process
  [[nodiscard]] std::uint64_t max_message() const noexcept;
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept;
  [[nodiscard]] const std::string& path() const noexcept;
  [[nodiscard]] const BlockingStats& stats() const noexcept;
  [[nodiscard]] bool shared_ends() const noexcept;  // false: a one_owner pipe (or a moved-from handle)

 private:
  friend class Pipe;
  struct State;
  explicit Connection(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> s_;
};

class Pipe {
 public:
  // Creates the segment and returns its two ends (first: End::a, second:
  // End::b), neither taken yet: each is taken by the process that first uses it.
  [[nodiscard]] static Result<std::pair<Connection, Connection>> create(std::string_view name,
                                                                        const PipeOptions& options = {});
  // Removes the name only if it holds a Pipe; anything else is refused and
  // left alone (wrong_kind, or bad_magic / truncated / empty_file for a file
  // that is not a shmring segment). An absolute path may name a file on
  // hugetlbfs or a disk, and it must be one Pipe::create made.
  [[nodiscard]] static Result<void> unlink(std::string_view name);
};

}  // namespace shmring
