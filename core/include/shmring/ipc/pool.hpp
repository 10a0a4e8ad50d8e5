// Pool: Python's multiprocessing.Pool — forked worker processes that run
// tasks, fed and answered through shmring queues.
//
// A task is a function the workers can call: they are forked from the
// process that made the pool, so a function pointer names the same code
// there. Its arguments and its result are bytes (PoolFunction); typed
// helpers carry trivially copyable values (apply_value, map_values), and
// anything else is serialised by the caller (the bytes are the hook). A
// task that throws comes back as PoolStatus::error with the exception's
// what().
//
// Workers. Each worker has its own inbox (an SPSC queue; the pool keeps a
// bounded window of chunks in flight per worker and hands out the rest as
// results come back) and all answer on one results queue (the lane engine).
// Both queues are unlinked as soon as they exist: only the pool and its
// workers (which inherit the handles) reach them, and no file outlives
// them. A worker that dies — killed with SIGKILL, crashed, exited — is
// reaped and replaced; the chunk it was running is run again `retries`
// times and then reported as worker_died; the chunks it had not started go
// to the other workers. Never a hang (CPython's Pool hangs then, #96062).
//
// Progress. The pool has no thread of its own: it does its bookkeeping
// (results, deaths, replacements, handing out work) inside its calls —
// apply, map, a result's get() or wait(), an iterator's next(), join().
// Between calls, each worker goes on with the chunks it holds (up to
// `window` of them, 32 by default); the rest start once the caller waits
// on something.
//
// A Pool is movable, not copyable; use it from one thread at a time.
// The destructor terminates the workers unless join() was called (as
// leaving Python's `with Pool() as p:` block does).
#pragma once

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

#include "shmring/blocking/wait.hpp"
#include "shmring/ipc/dict.hpp"  // Bytes, ByteView, bytes_of
#include "shmring/platform/error.hpp"

namespace shmring {

enum class PoolStatus : std::uint8_t {
  ok,
  error,          // the task threw: PoolResult::error holds its what()
  worker_died,    // the worker running it died (after `retries` reruns)
  timeout,        // get(wait): not ready when the wait ended (the task goes on)
  closed,         // submitted after close() or terminate(), or terminated before it ran
  too_large,      // the arguments (or the result) do not fit PoolOptions::max_message
  handle_closed,  // a moved-from pool, or a default-constructed result
};

[[nodiscard]] const char* to_string(PoolStatus s) noexcept;

struct PoolResult {
  PoolStatus status = PoolStatus::handle_closed;
  Bytes bytes;        // ok: the task's result
  std::string error;  // error: the exception's message; worker_died: how it died
  explicit operator bool() const noexcept { return status == PoolStatus::ok; }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] std::optional<T> value() const noexcept {
    if (status != PoolStatus::ok || bytes.size() != sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, bytes.data(), sizeof(T));
    return v;
  }
};

// A task: runs in a worker; its arguments and result are bytes.
using PoolFunction = Bytes (*)(std::span<const std::byte> args);

struct PoolOptions {
  void (*initializer)() = nullptr;       // run once in each worker as it starts
  std::uint64_t maxtasksperchild = 0;    // a worker exits after this many chunks and is replaced; 0: never
  unsigned retries = 0;                  // reruns of a chunk whose worker died before worker_died
  std::uint64_t max_message = 1u << 16;  // largest arguments or result of one task, bytes
  std::uint32_t window = 32;             // chunks in flight per worker
};

namespace detail {
struct PoolTask;
struct PoolCore;
// Runs `fn` (a function pointer of the type the trampoline knows) on `args`.
using PoolTrampoline = Bytes (*)(std::uintptr_t fn, std::span<const std::byte> args);
Bytes call_bytes(std::uintptr_t fn, std::span<const std::byte> args);
template <class Out, class In>
Bytes call_typed(std::uintptr_t fn, std::span<const std::byte> args) {
  In in{};
  if (args.size() != sizeof(In)) throw std::invalid_argument("argument of the wrong size");
  std::memcpy(&in, args.data(), sizeof(In));
  const Out out = reinterpret_cast<Out (*)(In)>(fn)(in);
  const auto b = bytes_of(out);
  return Bytes(b.begin(), b.end());
}
}  // namespace detail

class Pool;

// apply_async's result (Python's AsyncResult).
class AsyncResult {
 public:
  AsyncResult() = default;
  // The result once ready; timeout when the wait ends first.
  [[nodiscard]] PoolResult get(Wait wait = forever);
  // True once ready (false: the wait ended first).
  bool wait(Wait wait = forever);
  [[nodiscard]] bool ready() const noexcept;
  [[nodiscard]] bool successful() const noexcept;  // ready and ok (Python raises when not ready)

 private:
  friend class Pool;
  friend class PoolIterator;
  AsyncResult(std::shared_ptr<detail::PoolCore> core, std::shared_ptr<detail::PoolTask> task) noexcept
      : core_(std::move(core)), task_(std::move(task)) {}
  std::shared_ptr<detail::PoolCore> core_;
  std::shared_ptr<detail::PoolTask> task_;
};

// imap / imap_unordered: next() gives each result (in order, or as they
// finish); nullopt after the last. A wait that ends first gives timeout.
class PoolIterator {
 public:
  [[nodiscard]] std::optional<PoolResult> next(Wait wait = forever);

 private:
  friend class Pool;
  PoolIterator(std::shared_ptr<detail::PoolCore> core, std::vector<AsyncResult> tasks, bool ordered) noexcept;
  std::shared_ptr<detail::PoolCore> core_;
  std::vector<AsyncResult> tasks_;
  std::vector<bool> given_;
  std::size_t next_ = 0;
  bool ordered_;
};

class Pool {
 public:
  // `processes` 0: one per available CPU. Forks the workers now.
  [[nodiscard]] static Result<Pool> create(unsigned processes = 0, const PoolOptions& options = {});

  Pool(Pool&&) noexcept;
  Pool& operator=(Pool&&) noexcept;
  ~Pool();  // terminate() unless join() was called

  [[nodiscard]] PoolResult apply(PoolFunction f, ByteView args);
  [[nodiscard]] AsyncResult apply_async(PoolFunction f, ByteView args);
  // Results in the order of `args`. chunksize 0: as Python picks it
  // (len / (4 * processes), rounded up).
  [[nodiscard]] std::vector<PoolResult> map(PoolFunction f, const std::vector<Bytes>& args, std::size_t chunksize = 0);
  // Python's starmap: in C++ each argument tuple is already one byte string.
  [[nodiscard]] std::vector<PoolResult> starmap(PoolFunction f, const std::vector<Bytes>& args,
                                                std::size_t chunksize = 0) {
    return map(f, args, chunksize);
  }
  [[nodiscard]] PoolIterator imap(PoolFunction f, const std::vector<Bytes>& args, std::size_t chunksize = 1);
  [[nodiscard]] PoolIterator imap_unordered(PoolFunction f, const std::vector<Bytes>& args, std::size_t chunksize = 1);

  // Typed tasks: Out f(In), both trivially copyable.
  template <class Out, class In>
    requires std::is_trivially_copyable_v<Out> && std::is_trivially_copyable_v<In>
  [[nodiscard]] AsyncResult apply_value_async(Out (*f)(In), const In& arg) {
    return submit(&detail::call_typed<Out, In>, reinterpret_cast<std::uintptr_t>(f), bytes_of(arg));
  }
  template <class Out, class In>
    requires std::is_trivially_copyable_v<Out> && std::is_trivially_copyable_v<In>
  [[nodiscard]] std::vector<PoolResult> map_values(Out (*f)(In), const std::vector<In>& args,
                                                   std::size_t chunksize = 0) {
    std::vector<std::span<const std::byte>> b;
    b.reserve(args.size());
    for (const In& a : args) b.push_back(bytes_of(a));
    return map_with(&detail::call_typed<Out, In>, reinterpret_cast<std::uintptr_t>(f), b, chunksize);
  }

  // No more tasks; the workers exit once every submitted task is done.
  void close() noexcept;
  // Waits for every submitted task and for the workers to exit (after close()
  // or terminate(); called before close(), it closes first).
  void join();
  // Stops the workers now (SIGKILL); tasks not finished report closed.
  void terminate() noexcept;

  [[nodiscard]] unsigned processes() const noexcept;
  // Workers started to replace ones that died or retired (maxtasksperchild).
  [[nodiscard]] std::uint64_t replacements() const noexcept;
  // The worker processes' pids now (for tests and monitoring).
  [[nodiscard]] std::vector<int> worker_pids() const;

 private:
  explicit Pool(std::shared_ptr<detail::PoolCore> core) noexcept;
  [[nodiscard]] AsyncResult submit(detail::PoolTrampoline t, std::uintptr_t fn, ByteView args);
  [[nodiscard]] std::vector<AsyncResult> submit_chunks(detail::PoolTrampoline t, std::uintptr_t fn,
                                                       std::span<const std::span<const std::byte>> args,
                                                       std::size_t chunksize);
  [[nodiscard]] std::vector<PoolResult> map_with(detail::PoolTrampoline t, std::uintptr_t fn,
                                                 std::span<const std::span<const std::byte>> args,
                                                 std::size_t chunksize);
  std::shared_ptr<detail::PoolCore> core_;
};

}  // namespace shmring
