// _shmring: the C++ objects as Python types. The pure-Python package
// (python/shmring/) subclasses these and adds what Python programmers expect
// (pickling by name, repr, Pool, Manager); everything that runs per message
// lives here, so a put or a get costs one call into C++.
//
// What must stay true:
//  * Python objects are touched only with the GIL held. Every wait releases
//    the GIL and runs in slices of at most kSlice, checking for signals
//    between slices, so another thread runs meanwhile and Ctrl-C raises
//    KeyboardInterrupt within a slice. A slice that ends early changes
//    nothing (put, get, acquire, wait for an event are retried as a whole),
//    except for Condition.wait and Barrier.wait, which are not sliced: a
//    barrier counts an arrival once, and a condition waiter that left
//    between slices could miss a notify.
//  * Queue and Connection handles are not thread-safe in C++: each Python
//    thread that uses one gets its own C++ handle, opened by name on first
//    use (PerThread). Looking it up and adding it happen under the GIL.
//  * Message format, shared with C++ programs: a message that begins with
//    pickle's PROTO opcode (0x80) and a protocol number 2..5 is a pickle;
//    any other message is bytes, returned unchanged. put(bytes) sends the
//    bytes as they are unless they begin like a pickle (then it pickles
//    them, so they come back as the same bytes); put_bytes/get_bytes never
//    pickle.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cxxabi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shmring/ipc/barrier.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/ipc/condition.hpp"
#include "shmring/ipc/dict.hpp"
#include "shmring/ipc/event.hpp"
#include "shmring/ipc/list.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/semaphore.hpp"
#include "shmring/ipc/value.hpp"

namespace py = pybind11;
using namespace shmring;

namespace {

constexpr auto kSlice = std::chrono::milliseconds(50);

// ---- Python objects looked up once ------------------------------------------

struct Py {
  py::object dumps, loads, full, empty, broken_barrier, buffer_too_short;
  py::object shut_down;  // shmring.ShutDown, made in PYBIND11_MODULE
  int protocol = 5;
};
Py* g = nullptr;

[[noreturn]] void raise(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}
[[noreturn]] void raise(const py::object& type, const std::string& message) { raise(type.ptr(), message); }

PyObject* type_of(const Error& e) {
  switch (e.code) {
    case Errc::exists: return PyExc_FileExistsError;
    case Errc::not_found: return PyExc_FileNotFoundError;
    case Errc::permission_denied:
    case Errc::foreign_owner: return PyExc_PermissionError;
    case Errc::invalid_argument:
    case Errc::invalid_name: return PyExc_ValueError;
    case Errc::no_space: return PyExc_MemoryError;
    default: return PyExc_OSError;
  }
}

template <class T>
T take(Result<T>&& r, const char* what, std::string_view name) {
  if (!r) raise(type_of(r.error()), std::string(what) + " '" + std::string(name) + "': " + r.error().message());
  return std::move(*r);
}
void check(const Result<void>& r, const char* what, std::string_view name) {
  if (!r) raise(type_of(r.error()), std::string(what) + " '" + std::string(name) + "': " + r.error().message());
}

// ---- waiting ------------------------------------------------------------------

// A Python timeout (None: forever; negative counts as 0) as an absolute
// deadline, or none.
std::optional<std::chrono::steady_clock::time_point> deadline_of(const py::object& timeout) {
  if (timeout.is_none()) return std::nullopt;
  double s = timeout.cast<double>();
  if (!(s > 0)) s = 0;                  // NaN and negatives: do not wait
  s = std::min(s, 10.0 * 365 * 86400);  // ten years: forever in practice, and representable
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

// Runs attempt(Wait) until again(result) is false: once without waiting and
// with the GIL held (the fast path), then, if `block`, in slices of at most
// kSlice with the GIL released until the deadline. Between slices it
// checks for signals (KeyboardInterrupt is raised from here).
//
// Before the first slice it polls for up to kPollNs without waiting (GIL
// released). The C++ wait spins for a few microseconds and then parks,
// which suits C++ partners; a Python partner takes longer to answer (a
// round trip through two interpreters), and once both sides of a
// conversation park, every answer costs a futex wake on a virtual CPU (tens
// of microseconds) and both sides stay parked: a Pipe ping-pong ran at
// 35 us a round trip where polling first keeps it near 1 us. The poll costs
// at most kPollNs of CPU per wait that lasts longer.
constexpr std::int64_t kPollNs = 50'000;

// Runs f() with the GIL released. Not py::gil_scoped_release: at interpreter
// exit, a daemon thread that takes the GIL back is ended by pthread_exit,
// whose forced unwind must not start in a destructor (destructors are
// noexcept: std::terminate, "terminate called without an active
// exception"). Here it starts in PyEval_RestoreThread, called as a plain
// function, and unwinds through frames that let it pass.
template <class F>
auto without_gil(F&& f) {
  PyThreadState* state = PyEval_SaveThread();
  std::optional<decltype(f())> r;
  std::exception_ptr error;
  try {
    r.emplace(f());
  } catch (abi::__forced_unwind&) {
    throw;  // the thread is ending (a Barrier action at exit): let it
  } catch (...) {
    error = std::current_exception();
  }
  PyEval_RestoreThread(state);
  if (error) std::rethrow_exception(error);
  return std::move(*r);
}

template <class Attempt, class Again>
auto wait_loop(bool block, const py::object& timeout, Attempt&& attempt, Again&& again) {
  auto r = attempt(nowait);
  if (!block || !again(r)) return r;
  const auto deadline = deadline_of(timeout);
  r = without_gil([&] {
    const std::int64_t until = platform::monotonic_ns() + kPollNs;
    for (unsigned i = 1;; ++i) {
      platform::cpu_relax();
      auto polled = attempt(nowait);
      if (!again(polled)) return polled;
      if (i % 64 == 0 &&
          (platform::monotonic_ns() > until || (deadline && std::chrono::steady_clock::now() >= *deadline))) {
        return polled;
      }
    }
  });
  if (!again(r)) return r;
  for (;;) {
    std::chrono::nanoseconds slice = kSlice;
    if (deadline) {
      const auto left = *deadline - std::chrono::steady_clock::now();
      if (left <= left.zero()) return r;
      slice = std::min<std::chrono::nanoseconds>(slice, left);
    }
    r = without_gil([&] { return attempt(Wait(slice)); });
    if (!again(r)) return r;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

// ---- the message format ---------------------------------------------------------

bool looks_pickled(const char* p, std::size_t n) {
  return n >= 2 && static_cast<unsigned char>(p[0]) == 0x80 && p[1] >= 2 && p[1] <= 5;
}

// The bytes that carry `obj`: its own if it is a bytes object that does not
// look like a pickle, else its pickle. `keep` owns them.
struct Encoded {
  py::object keep;
  std::span<const std::byte> bytes;
};
Encoded encode(const py::handle& obj) {
  char* p = nullptr;
  Py_ssize_t n = 0;
  if (PyBytes_CheckExact(obj.ptr())) {
    PyBytes_AsStringAndSize(obj.ptr(), &p, &n);
    if (!looks_pickled(p, static_cast<std::size_t>(n))) {
      return {py::reinterpret_borrow<py::object>(obj),
              std::as_bytes(std::span<const char>(p, static_cast<std::size_t>(n)))};
    }
  }
  py::object pickled = g->dumps(obj, g->protocol);
  PyBytes_AsStringAndSize(pickled.ptr(), &p, &n);
  return {std::move(pickled), std::as_bytes(std::span<const char>(p, static_cast<std::size_t>(n)))};
}

py::object decode(std::span<const std::byte> b) {
  const auto* p = reinterpret_cast<const char*>(b.data());
  if (looks_pickled(p, b.size())) {
    return g->loads(py::memoryview::from_memory(p, static_cast<py::ssize_t>(b.size())));
  }
  return py::bytes(p, b.size());
}

// A read-only view of a bytes-like argument (bytes, bytearray, memoryview...).
struct BufferView {
  py::buffer_info info;
  explicit BufferView(const py::object& o) : info(py::buffer(o).request()) {}
  [[nodiscard]] std::span<const std::byte> bytes() const {
    return {static_cast<const std::byte*>(info.ptr), static_cast<std::size_t>(info.size * info.itemsize)};
  }
};

// ---- per-thread C++ handles -------------------------------------------------------

// One C++ handle per Python thread, the first made by create/open, the others
// opened by name on first use in their thread. Used with the GIL held.
template <class H>
class PerThread {
 public:
  using Opener = std::function<H()>;
  PerThread(H first, Opener opener)
      : owner_(std::this_thread::get_id()), first_(std::make_unique<H>(std::move(first))), opener_(std::move(opener)) {}
  H& get() {
    const auto me = std::this_thread::get_id();
    if (me == owner_) return *first_;
    for (auto& [id, h] : others_) {
      if (id == me) return *h;
    }
    others_.emplace_back(me, std::make_unique<H>(opener_()));
    return *others_.back().second;
  }
  H& first() { return *first_; }
  template <class F>
  void each(F&& f) {
    f(*first_);
    for (auto& [id, h] : others_) f(*h);
  }

 private:
  std::thread::id owner_;
  std::unique_ptr<H> first_;
  std::vector<std::pair<std::thread::id, std::unique_ptr<H>>> others_;
  Opener opener_;
};

// ---- Queue and JoinableQueue ------------------------------------------------------

class PyQueue {
 public:
  PyQueue(std::string name, bool joinable, Queue first)
      : name_(std::move(name)),
        joinable_(joinable),
        handles_(std::move(first), [n = name_, joinable] { return open_handle(n, joinable); }) {}

  static Queue open_handle(const std::string& name, bool joinable) {
    if (joinable) return Queue(take(JoinableQueue::open(name), "cannot open the JoinableQueue", name));
    return take(Queue::open(name), "cannot open the Queue", name);
  }
  static std::unique_ptr<PyQueue> create(const std::string& name, std::int64_t maxsize, std::uint64_t capacity,
                                         std::uint64_t max_message, bool joinable) {
    QueueOptions o;
    o.maxsize = maxsize;
    o.capacity_bytes = capacity;
    o.max_message = max_message;
    if (joinable) {
      return std::make_unique<PyQueue>(
          name, true, Queue(take(JoinableQueue::create(name, o), "cannot create the JoinableQueue", name)));
    }
    return std::make_unique<PyQueue>(name, false, take(Queue::create(name, o), "cannot create the Queue", name));
  }
  static std::unique_ptr<PyQueue> open(const std::string& name, bool joinable) {
    return std::make_unique<PyQueue>(name, joinable, open_handle(name, joinable));
  }

  Queue& q() {
    if (closed_) raise(PyExc_ValueError, "Queue '" + name_ + "' is closed (close() was called on this handle)");
    return handles_.get();
  }

  void put_span(std::span<const std::byte> b, bool block, const py::object& timeout) {
    Queue& h = q();
    const PutStatus st = wait_loop(
        block, timeout, [&](Wait w) { return h.put(b, w); }, [](PutStatus s) { return s == PutStatus::full; });
    if (st != PutStatus::ok) raise_put(st, b.size());
  }
  void put(const py::object& obj, bool block, const py::object& timeout) {
    const Encoded e = encode(obj);
    put_span(e.bytes, block, timeout);
  }
  void put_bytes(const py::object& buf, bool block, const py::object& timeout) {
    const BufferView v(buf);
    put_span(v.bytes(), block, timeout);
  }

  // The next message, decoded by `f` with the GIL held; consumed even if f throws.
  template <class F>
  py::object get_with(bool block, const py::object& timeout, F&& f) {
    Queue& h = q();
    const GetView v = wait_loop(
        block, timeout, [&](Wait w) { return h.read(w); },
        [](const GetView& r) { return r.status == GetStatus::empty; });
    if (v.status != GetStatus::ok) {
      if (v.status == GetStatus::empty) rearm();
      raise_get(v.status);
    }
    struct Release {
      Queue& h;
      ~Release() { h.release(); }
    } release{h};
    return f(v.bytes);
  }
  py::object get(bool block, const py::object& timeout) { return get_with(block, timeout, decode); }
  py::object get_bytes(bool block, const py::object& timeout) {
    return get_with(block, timeout, [](std::span<const std::byte> b) {
      return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
    });
  }

  void task_done() {
    if (!joinable_) raise(PyExc_AttributeError, "task_done() belongs to JoinableQueue");
    auto& j = static_cast<JoinableQueue&>(q());
    if (j.task_done() == TaskDoneStatus::too_many) raise(PyExc_ValueError, "task_done() called too many times");
  }
  bool join(const py::object& timeout) {
    if (!joinable_) raise(PyExc_AttributeError, "join() belongs to JoinableQueue");
    auto& j = static_cast<JoinableQueue&>(q());
    const JoinStatus st = wait_loop(
        true, timeout, [&](Wait w) { return j.join(w); }, [](JoinStatus s) { return s == JoinStatus::timed_out; });
    return st == JoinStatus::done;
  }

  // The event-loop descriptor (Queue::fileno()) of a handle kept for it:
  // the per-thread handles' empty gets re-arm it through rearm().
  int fileno() {
    if (closed_) raise(PyExc_ValueError, "Queue '" + name_ + "' is closed (close() was called on this handle)");
    if (!poll_) poll_ = std::make_unique<Queue>(open_handle(name_, joinable_));
    return take(poll_->fileno(), "cannot make a descriptor for the Queue", name_);
  }
  void rearm() {
    if (poll_) (void)poll_->fileno();
  }

  std::size_t qsize() { return handles_.first().qsize(); }
  bool empty() { return handles_.first().empty(); }
  bool full() { return handles_.first().full(); }
  void shutdown() { handles_.first().close(); }
  bool is_shut_down() { return handles_.first().closed(); }
  void close() {
    closed_ = true;
    poll_.reset();
  }
  bool closed() const { return closed_; }
  const std::string& name() const { return name_; }
  std::string path() { return handles_.first().path(); }
  std::int64_t maxsize() { return handles_.first().maxsize(); }
  std::uint64_t capacity_bytes() { return handles_.first().capacity_bytes(); }
  std::uint64_t max_message() { return handles_.first().max_message(); }
  std::uint64_t unfinished_tasks() {
    return joinable_ ? static_cast<JoinableQueue&>(handles_.first()).unfinished_tasks() : 0;
  }
  bool joinable() const { return joinable_; }

  [[noreturn]] void raise_put(PutStatus st, std::size_t size) {
    switch (st) {
      case PutStatus::full: raise(g->full, "");
      case PutStatus::closed: raise(g->shut_down, "Queue '" + name_ + "' was shut down: no more puts");
      case PutStatus::too_large:
        raise(PyExc_ValueError, "a message of " + std::to_string(size) + " bytes is larger than Queue '" + name_ +
                                    "' can hold (max_message " + std::to_string(max_message()) +
                                    "): create it with a larger capacity_bytes or max_message");
      case PutStatus::no_memory: raise(PyExc_MemoryError, "no memory left for Queue '" + name_ + "' (tmpfs full?)");
      default: raise(PyExc_OSError, std::string("put on Queue '") + name_ + "' failed: " + to_string(st));
    }
  }
  [[noreturn]] void raise_get(GetStatus st) {
    switch (st) {
      case GetStatus::empty: raise(g->empty, "");
      case GetStatus::closed: raise(g->shut_down, "Queue '" + name_ + "' was shut down and is drained");
      default: raise(PyExc_OSError, std::string("get on Queue '") + name_ + "' failed: " + to_string(st));
    }
  }

 private:
  std::string name_;
  bool joinable_;
  bool closed_ = false;
  PerThread<Queue> handles_;
  std::unique_ptr<Queue> poll_;  // fileno()'s handle
};

// ---- Pipe and Connection ------------------------------------------------------------

class PyConnection {
 public:
  PyConnection(std::string name, End end, Connection first)
      : name_(std::move(name)),
        end_(end),
        readable_(first.readable()),
        writable_(first.writable()),
        handles_(std::move(first), [n = name_, end] { return open_handle(n, end); }) {}

  static Connection open_handle(const std::string& name, End end) {
    return take(Connection::open(name, end), "cannot open the Pipe", name);
  }
  static std::pair<std::unique_ptr<PyConnection>, std::unique_ptr<PyConnection>> create(const std::string& name,
                                                                                        bool duplex,
                                                                                        std::uint64_t capacity) {
    PipeOptions o;
    o.duplex = duplex;
    o.capacity_bytes = capacity;
    auto pair = take(Pipe::create(name, o), "cannot create the Pipe", name);
    return {std::make_unique<PyConnection>(name, End::a, std::move(pair.first)),
            std::make_unique<PyConnection>(name, End::b, std::move(pair.second))};
  }
  static std::unique_ptr<PyConnection> open(const std::string& name, int end) {
    const End e = end == 0 ? End::a : End::b;
    return std::make_unique<PyConnection>(name, e, open_handle(name, e));
  }

  Connection& c() {
    if (closed_) raise(PyExc_OSError, "handle is closed");
    return handles_.get();
  }

  void send_span(std::span<const std::byte> b) {
    Connection& h = c();
    const ConnStatus st = wait_loop(
        true, py::none(), [&](Wait w) { return h.send(b, w); }, [](ConnStatus s) { return s == ConnStatus::full; });
    if (st != ConnStatus::ok) raise_status(st, b.size());
  }
  void send(const py::object& obj) {
    const Encoded e = encode(obj);
    send_span(e.bytes);
  }
  void send_bytes(const py::object& buf, std::size_t offset, const py::object& size) {
    const BufferView v(buf);
    const auto all = v.bytes();
    if (offset > all.size()) raise(PyExc_ValueError, "offset is negative or larger than the buffer");
    std::size_t n = all.size() - offset;
    if (!size.is_none()) {
      const auto s = size.cast<std::int64_t>();
      if (s < 0) raise(PyExc_ValueError, "size is negative");
      if (static_cast<std::size_t>(s) > n) raise(PyExc_ValueError, "buffer length < offset + size");
      n = static_cast<std::size_t>(s);
    }
    send_span(all.subspan(offset, n));
  }

  template <class F>
  py::object recv_with(F&& f) {
    Connection& h = c();
    const auto v = wait_loop(
        true, py::none(), [&](Wait w) { return h.read(w); },
        [](const Connection::View& r) { return r.status == ConnStatus::empty; });
    if (v.status != ConnStatus::ok) raise_status(v.status, 0);
    struct Release {
      Connection& h;
      ~Release() { h.release(); }
    } release{h};
    return f(v.bytes);
  }
  py::object recv() { return recv_with(decode); }
  py::object recv_bytes(const py::object& maxlength) {
    std::int64_t most = -1;
    if (!maxlength.is_none()) {
      most = maxlength.cast<std::int64_t>();
      if (most < 0) raise(PyExc_ValueError, "negative maxlength");
    }
    return recv_with([&](std::span<const std::byte> b) -> py::object {
      if (most >= 0 && b.size() > static_cast<std::size_t>(most)) raise(PyExc_OSError, "bad message length");
      return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
    });
  }
  std::size_t recv_bytes_into(const py::object& buf, std::size_t offset) {
    py::buffer_info info = py::buffer(buf).request(true);
    const auto total = static_cast<std::size_t>(info.size * info.itemsize);
    if (offset > total) raise(PyExc_ValueError, "offset is negative or larger than the buffer");
    std::size_t got = 0;
    recv_with([&](std::span<const std::byte> b) -> py::object {
      if (b.size() > total - offset) {  // multiprocessing: the whole message, as bytes, is args[0]
        PyErr_SetObject(g->buffer_too_short.ptr(), py::bytes(reinterpret_cast<const char*>(b.data()), b.size()).ptr());
        throw py::error_already_set();
      }
      std::memcpy(static_cast<char*>(info.ptr) + offset, b.data(), b.size());
      got = b.size();
      return py::none();
    });
    return got;
  }
  bool poll(const py::object& timeout) {
    Connection& h = c();
    if (!readable_) raise(PyExc_OSError, "connection is write-only");
    const bool ready = wait_loop(
        true, timeout, [&](Wait w) { return h.poll(w); }, [](bool r) { return !r; });
    if (!ready && poll_) (void)poll_->fileno();  // re-armed, as an empty poll of its own handle would be
    return ready;
  }
  // The event-loop descriptor (Connection::fileno()) of a handle kept for
  // it; each call re-arms it (multiprocessing.connection.wait calls it on
  // every wait).
  int fileno() {
    if (closed_) raise(PyExc_OSError, "handle is closed");
    if (!readable_) raise(PyExc_OSError, "connection is write-only: it has no descriptor to wait on");
    if (!poll_) poll_ = std::make_unique<Connection>(open_handle(name_, end_));
    return take(poll_->fileno(), "cannot make a descriptor for the Pipe", name_);
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    poll_.reset();
    handles_.each([](Connection& h) { h.close(); });
  }
  bool closed() const { return closed_; }
  bool readable() const { return readable_; }
  bool writable() const { return writable_; }
  const std::string& name() const { return name_; }
  int end() const { return end_ == End::a ? 0 : 1; }

  [[noreturn]] void raise_status(ConnStatus st, std::size_t size) {
    switch (st) {
      case ConnStatus::closed:
        if (size == 0) raise(PyExc_EOFError, "");
        raise(PyExc_BrokenPipeError, "the other end of Pipe '" + name_ + "' is closed");
      case ConnStatus::handle_closed: raise(PyExc_OSError, "handle is closed");
      case ConnStatus::too_large:
        raise(PyExc_ValueError, "a message of " + std::to_string(size) + " bytes is larger than Pipe '" + name_ +
                                    "' can carry: create it with a larger capacity_bytes");
      case ConnStatus::not_readable: raise(PyExc_OSError, "connection is write-only");
      case ConnStatus::not_writable: raise(PyExc_OSError, "connection is read-only");
      default: raise(PyExc_OSError, std::string("Pipe '") + name_ + "': " + to_string(st));
    }
  }

 private:
  std::string name_;
  End end_;
  bool readable_, writable_;
  bool closed_ = false;
  PerThread<Connection> handles_;
  std::unique_ptr<Connection> poll_;  // fileno()'s handle: a holder of this end until close()
};

// ---- Lock, RLock, Semaphore, BoundedSemaphore, Event --------------------------------

bool acquired(AcquireStatus s) { return s == AcquireStatus::acquired || s == AcquireStatus::owner_died; }

// A Lock or RLock: a named one, or the lock inside a Value/Array (`keep`
// holds that object's mapping).
class PyLock {
 public:
  PyLock(std::shared_ptr<void> keep, LockLayout* layout, bool recursive)
      : keep_(std::move(keep)), layout_(layout), recursive_(recursive) {}
  static std::shared_ptr<PyLock> make(const std::string& name, bool create, bool recursive) {
    if (recursive) {
      auto l = std::make_shared<RLock>(create ? take(RLock::create(name), "cannot create the RLock", name)
                                              : take(RLock::open(name), "cannot open the RLock", name));
      return std::make_shared<PyLock>(l, l->layout(), true);
    }
    auto l = std::make_shared<Lock>(create ? take(Lock::create(name), "cannot create the Lock", name)
                                           : take(Lock::open(name), "cannot open the Lock", name));
    return std::make_shared<PyLock>(l, l->layout(), false);
  }
  AcquireStatus acquire_status(Wait w) {
    return recursive_ ? RLockRef(*layout_).acquire(w) : LockRef(*layout_).acquire(w);
  }
  bool acquire(bool block, const py::object& timeout) {
    const AcquireStatus st = wait_loop(
        block, timeout, [&](Wait w) { return acquire_status(w); },
        [](AcquireStatus s) { return s == AcquireStatus::timeout; });
    if (st == AcquireStatus::owner_died) ++takeovers_seen_;
    return acquired(st);
  }
  void release() {
    const ReleaseStatus st = recursive_ ? RLockRef(*layout_).release() : LockRef(*layout_).release();
    if (st == ReleaseStatus::not_held) raise(PyExc_ValueError, "semaphore or lock released too many times");
    if (st == ReleaseStatus::not_owner)
      raise(PyExc_AssertionError, "attempt to release recursive lock not owned by thread");
  }
  bool locked() const { return recursive_ ? RLockRef(*layout_).locked() : LockRef(*layout_).locked(); }
  bool is_owned() const { return recursive_ ? RLockRef(*layout_).is_owned() : LockRef(*layout_).is_owned(); }
  bool recursive() const { return recursive_; }
  std::uint64_t takeovers_seen() const { return takeovers_seen_; }
  LockLayout* layout() const { return layout_; }

 private:
  std::shared_ptr<void> keep_;
  LockLayout* layout_;
  bool recursive_;
  std::uint64_t takeovers_seen_ = 0;
};

class PySemaphore {
 public:
  explicit PySemaphore(std::shared_ptr<SemaphoreRef> s) : s_(std::move(s)) {}
  static std::unique_ptr<PySemaphore> create(const std::string& name, std::uint32_t value, bool bounded) {
    if (bounded) {
      return std::make_unique<PySemaphore>(std::make_shared<BoundedSemaphore>(
          take(BoundedSemaphore::create(name, value), "cannot create the BoundedSemaphore", name)));
    }
    return std::make_unique<PySemaphore>(
        std::make_shared<Semaphore>(take(Semaphore::create(name, value), "cannot create the Semaphore", name)));
  }
  static std::unique_ptr<PySemaphore> open(const std::string& name, bool bounded) {
    if (bounded) {
      return std::make_unique<PySemaphore>(std::make_shared<BoundedSemaphore>(
          take(BoundedSemaphore::open(name), "cannot open the BoundedSemaphore", name)));
    }
    return std::make_unique<PySemaphore>(
        std::make_shared<Semaphore>(take(Semaphore::open(name), "cannot open the Semaphore", name)));
  }
  bool acquire(bool block, const py::object& timeout) {
    return acquired(wait_loop(
        block, timeout, [&](Wait w) { return s_->acquire(w); },
        [](AcquireStatus s) { return s == AcquireStatus::timeout; }));
  }
  void release() {
    if (s_->release() == ReleaseStatus::too_many) raise(PyExc_ValueError, "semaphore or lock released too many times");
  }
  std::uint32_t get_value() const { return s_->get_value(); }
  bool bounded() const { return s_->bounded(); }

 private:
  std::shared_ptr<SemaphoreRef> s_;
};

class PyEvent {
 public:
  explicit PyEvent(Event e) : e_(std::move(e)) {}
  static std::unique_ptr<PyEvent> create(const std::string& name) {
    return std::make_unique<PyEvent>(take(Event::create(name), "cannot create the Event", name));
  }
  static std::unique_ptr<PyEvent> open(const std::string& name) {
    return std::make_unique<PyEvent>(take(Event::open(name), "cannot open the Event", name));
  }
  bool wait(const py::object& timeout) {
    return wait_loop(
        true, timeout, [&](Wait w) { return e_.wait(w); }, [](bool set) { return !set; });
  }
  void set() { e_.set(); }
  void clear() { e_.clear(); }
  bool is_set() const { return e_.is_set(); }

 private:
  Event e_;
};

// ---- Condition and Barrier ------------------------------------------------------------

// A Condition with its own RLock (lock=None), or over a Lock/RLock given to
// it (`lock` keeps that lock's mapping).
class PyCondition {
 public:
  PyCondition(Condition c, std::shared_ptr<PyLock> lock) : c_(std::move(c)), lock_(std::move(lock)) {
    if (lock_) {
      ref_ = lock_->recursive() ? ConditionRef(*c_.layout(), RLockRef(*lock_->layout()))
                                : ConditionRef(*c_.layout(), LockRef(*lock_->layout()));
    } else {
      ref_ = c_;
    }
  }
  static std::unique_ptr<PyCondition> create(const std::string& name, std::shared_ptr<PyLock> lock) {
    return std::make_unique<PyCondition>(take(Condition::create(name), "cannot create the Condition", name),
                                         std::move(lock));
  }
  static std::unique_ptr<PyCondition> open(const std::string& name, std::shared_ptr<PyLock> lock) {
    return std::make_unique<PyCondition>(take(Condition::open(name), "cannot open the Condition", name),
                                         std::move(lock));
  }
  bool acquire(bool block, const py::object& timeout) {
    return acquired(wait_loop(
        block, timeout, [&](Wait w) { return ref_.acquire(w); },
        [](AcquireStatus s) { return s == AcquireStatus::timeout; }));
  }
  void release() {
    const ReleaseStatus st = ref_.release();
    if (st == ReleaseStatus::not_held) raise(PyExc_ValueError, "semaphore or lock released too many times");
    if (st == ReleaseStatus::not_owner)
      raise(PyExc_AssertionError, "attempt to release recursive lock not owned by thread");
  }
  bool wait(const py::object& timeout) {
    const auto deadline = deadline_of(timeout);
    const ConditionStatus st = without_gil(
        [&] { return deadline ? ref_.wait(Wait(*deadline - std::chrono::steady_clock::now())) : ref_.wait(forever); });
    check_status(st);
    return st != ConditionStatus::timeout;
  }
  void notify(std::uint32_t n) { check_status(ref_.notify(n)); }
  void notify_all() { check_status(ref_.notify_all()); }
  bool is_owned() const { return ref_.is_owned(); }
  std::shared_ptr<PyLock> lock() const { return lock_; }

 private:
  static void check_status(ConditionStatus st) {
    if (st == ConditionStatus::not_owner) raise(PyExc_AssertionError, "must acquire() condition before using it");
    if (st == ConditionStatus::too_many_waiters) raise(PyExc_RuntimeError, "too many processes wait on this Condition");
  }
  Condition c_;
  std::shared_ptr<PyLock> lock_;
  ConditionRef ref_;
};

class PyBarrier {
 public:
  explicit PyBarrier(Barrier b) : b_(std::move(b)) {}
  // The action runs in whichever waiter arrives last, with the GIL taken.
  static BarrierRef::Action wrap(py::object action) {
    if (action.is_none()) return {};
    auto keep = std::make_shared<py::object>(std::move(action));
    return [keep] {
      py::gil_scoped_acquire gil;
      (*keep)();
    };
  }
  static std::unique_ptr<PyBarrier> create(const std::string& name, std::uint32_t parties, py::object action) {
    if (parties < 1) raise(PyExc_ValueError, "parties must be >= 1");
    return std::make_unique<PyBarrier>(
        take(Barrier::create(name, parties, wrap(std::move(action))), "cannot create the Barrier", name));
  }
  static std::unique_ptr<PyBarrier> open(const std::string& name, py::object action) {
    return std::make_unique<PyBarrier>(
        take(Barrier::open(name, wrap(std::move(action))), "cannot open the Barrier", name));
  }
  std::uint32_t wait(const py::object& timeout) {
    const auto deadline = deadline_of(timeout);
    const BarrierResult r = without_gil(
        [&] { return deadline ? b_.wait(Wait(*deadline - std::chrono::steady_clock::now())) : b_.wait(forever); });
    if (!r.passed()) raise(g->broken_barrier, "");
    return r.index;
  }
  void reset() { b_.reset(); }
  void abort() { b_.abort(); }
  bool broken() const { return b_.broken(); }
  std::uint32_t parties() const { return b_.parties(); }
  std::uint32_t n_waiting() const { return b_.n_waiting(); }

 private:
  Barrier b_;
};

// ---- Value and Array: typed shared memory as a buffer --------------------------------

template <class T>
detail::TypedSpec spec_of(std::uint32_t kind) {
  return {kind, sizeof(T), alignof(T), typed_hash<T>(0)};
}
// The ctypes typecodes (multiprocessing.sharedctypes) as C++ element types,
// so a C++ Value<double> opens a Python Value('d').
detail::TypedSpec spec_for(char code, bool array) {
  const std::uint32_t kind = array ? kArrayKind : kValueKind;
  switch (code) {
    case 'c': return spec_of<char>(kind);
    case 'u': return spec_of<wchar_t>(kind);
    case 'b': return spec_of<signed char>(kind);
    case 'B': return spec_of<unsigned char>(kind);
    case '?': return spec_of<bool>(kind);
    case 'h': return spec_of<short>(kind);
    case 'H': return spec_of<unsigned short>(kind);
    case 'i': return spec_of<int>(kind);
    case 'I': return spec_of<unsigned int>(kind);
    case 'l': return spec_of<long>(kind);
    case 'L': return spec_of<unsigned long>(kind);
    case 'q': return spec_of<long long>(kind);
    case 'Q': return spec_of<unsigned long long>(kind);
    case 'f': return spec_of<float>(kind);
    case 'd': return spec_of<double>(kind);
    default: raise(PyExc_TypeError, std::string("unsupported typecode '") + code + "'");
  }
}

struct TypedMemory {
  std::optional<platform::Segment> segment;
  detail::TypedView view;
  std::size_t elem_size;
};

class PyTyped {
 public:
  explicit PyTyped(std::shared_ptr<TypedMemory> m) : m_(std::move(m)) {}
  static std::unique_ptr<PyTyped> create(const std::string& name, char code, bool array, std::uint64_t count,
                                         const py::object& init, bool lock) {
    const auto spec = spec_for(code, array);
    ValueOptions o;
    o.lock = lock;
    auto m = std::make_shared<TypedMemory>();
    m->elem_size = spec.elem_size;
    const void* data = nullptr;
    std::optional<BufferView> v;
    if (!init.is_none()) {
      v.emplace(init);
      if (v->bytes().size() != count * spec.elem_size) raise(PyExc_ValueError, "initializer of the wrong size");
      data = v->bytes().data();
    }
    m->segment.emplace(
        take(detail::create_typed(name, spec, count, data, o, m->view), "cannot create the shared memory", name));
    return std::make_unique<PyTyped>(std::move(m));
  }
  static std::unique_ptr<PyTyped> open(const std::string& name, char code, bool array) {
    auto m = std::make_shared<TypedMemory>();
    const auto spec = spec_for(code, array);
    m->elem_size = spec.elem_size;
    m->segment.emplace(take(detail::open_typed(name, spec, {}, m->view), "cannot open the shared memory", name));
    return std::make_unique<PyTyped>(std::move(m));
  }
  py::buffer_info buffer() {
    return py::buffer_info(m_->view.data, 1, "B", static_cast<py::ssize_t>(m_->view.count * m_->elem_size));
  }
  std::uint64_t count() const { return m_->view.count; }
  bool has_lock() const { return m_->view.has_lock; }
  std::shared_ptr<PyLock> lock() { return std::make_shared<PyLock>(m_, m_->view.lock, true); }

 private:
  std::shared_ptr<TypedMemory> m_;
};

// ---- Dict and List: keys and values in a compact tagged form -----------------------------

// Keys and values are stored as one tag byte and a payload: 's' UTF-8 text,
// 'i' a signed 64-bit little-endian integer, 'f' a double, 'b' bytes, 'n'
// None, 't'/'F' True/False, 'p' a pickle of anything else. Equal str, int
// and bytes keys give equal bytes; equal keys of other types give equal
// bytes only if their pickles are equal (a tuple of those types is; 1 and
// 1.0 are two keys, unlike in a dict).
std::string pack(const py::handle& o) {
  PyObject* p = o.ptr();
  std::string out;
  if (PyUnicode_CheckExact(p)) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(p, &n);
    if (s == nullptr) throw py::error_already_set();
    out.reserve(static_cast<std::size_t>(n) + 1);
    out.push_back('s');
    out.append(s, static_cast<std::size_t>(n));
    return out;
  }
  if (PyLong_CheckExact(p)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(p, &overflow);
    if (overflow == 0) {
      out.resize(9);
      out[0] = 'i';
      std::memcpy(out.data() + 1, &v, 8);
      return out;
    }
  } else if (PyFloat_CheckExact(p)) {
    const double v = PyFloat_AS_DOUBLE(p);
    out.resize(9);
    out[0] = 'f';
    std::memcpy(out.data() + 1, &v, 8);
    return out;
  } else if (PyBytes_CheckExact(p)) {
    out.push_back('b');
    out.append(PyBytes_AS_STRING(p), static_cast<std::size_t>(PyBytes_GET_SIZE(p)));
    return out;
  } else if (p == Py_None) {
    return "n";
  } else if (p == Py_True) {
    return "t";
  } else if (p == Py_False) {
    return "F";
  }
  py::bytes pickled = g->dumps(o, g->protocol);
  out.push_back('p');
  out.append(PyBytes_AS_STRING(pickled.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(pickled.ptr())));
  return out;
}

py::object unpack(std::span<const std::byte> b) {
  if (b.empty()) raise(PyExc_ValueError, "an empty entry (not written by shmring's Python package)");
  const auto* p = reinterpret_cast<const char*>(b.data()) + 1;
  const std::size_t n = b.size() - 1;
  switch (static_cast<char>(b[0])) {
    case 's': return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(p, static_cast<Py_ssize_t>(n), nullptr));
    case 'i':
      if (n == 8) {
        long long v;
        std::memcpy(&v, p, 8);
        return py::int_(v);
      }
      break;
    case 'f':
      if (n == 8) {
        double v;
        std::memcpy(&v, p, 8);
        return py::float_(v);
      }
      break;
    case 'b': return py::bytes(p, n);
    case 'n': return py::none();
    case 't': return py::bool_(true);
    case 'F': return py::bool_(false);
    case 'p': return g->loads(py::memoryview::from_memory(p, static_cast<py::ssize_t>(n)));
    default: break;
  }
  raise(PyExc_ValueError, "an entry in an unknown format (not written by shmring's Python package)");
}

ByteView view_of(const std::string& s) { return ByteView(std::string_view(s)); }

[[noreturn]] void raise_key_error(const py::object& key) {
  PyErr_SetObject(PyExc_KeyError, key.ptr());
  throw py::error_already_set();
}

class PyDict {
 public:
  explicit PyDict(Dict d) : d_(std::move(d)) {}
  static std::unique_ptr<PyDict> create(const std::string& name, std::uint64_t capacity, std::uint32_t max_key,
                                        std::uint32_t max_value) {
    DictOptions o;
    o.capacity = capacity;
    o.max_key = max_key;
    o.max_value = max_value;
    return std::make_unique<PyDict>(take(Dict::create(name, o), "cannot create the dict", name));
  }
  static std::unique_ptr<PyDict> open(const std::string& name) {
    return std::make_unique<PyDict>(take(Dict::open(name), "cannot open the dict", name));
  }
  // A buffer per call, never a member: unpickling can run Python code that
  // lets another thread of this process read the same Dict meanwhile.
  py::object getitem(const py::object& key) {
    const std::string k = pack(key);
    Bytes buf;
    if (d_.get_into(view_of(k), buf) != DictStatus::ok) raise_key_error(key);
    return unpack(buf);
  }
  py::object get(const py::object& key, const py::object& dflt) {
    const std::string k = pack(key);
    Bytes buf;
    if (d_.get_into(view_of(k), buf) != DictStatus::ok) return dflt;
    return unpack(buf);
  }
  void setitem(const py::object& key, const py::object& value) {
    const std::string k = pack(key);
    const std::string v = pack(value);
    check(d_.set(view_of(k), view_of(v)), k.size(), v.size());
  }
  void delitem(const py::object& key) {
    const std::string k = pack(key);
    if (d_.erase(view_of(k)) != DictStatus::ok) raise_key_error(key);
  }
  bool contains(const py::object& key) { return d_.contains(view_of(pack(key))); }
  std::size_t size() const { return d_.size(); }
  py::list keys() const {
    py::list out;
    for (const auto& k : d_.keys()) out.append(unpack(k));
    return out;
  }
  py::list values() const {
    py::list out;
    for (const auto& v : d_.values()) out.append(unpack(v));
    return out;
  }
  py::list items() const {
    py::list out;
    for (const auto& [k, v] : d_.items()) out.append(py::make_tuple(unpack(k), unpack(v)));
    return out;
  }
  py::object pop(const py::object& key, const py::object& dflt, bool has_default) {
    const std::string k = pack(key);
    DictValue v = d_.pop(view_of(k));
    if (v.status != DictStatus::ok) {
      if (has_default) return dflt;
      raise_key_error(key);
    }
    return unpack(v.bytes);
  }
  py::object setdefault(const py::object& key, const py::object& dflt) {
    const std::string k = pack(key);
    const std::string v = pack(dflt);
    DictValue r = d_.setdefault(view_of(k), view_of(v));
    if (r.status != DictStatus::ok) check(r.status, k.size(), v.size());
    return unpack(r.bytes);
  }
  void clear() { d_.clear(); }
  std::uint64_t capacity() const { return d_.capacity(); }
  std::uint32_t max_key() const { return d_.max_key(); }
  std::uint32_t max_value() const { return d_.max_value(); }

 private:
  void check(DictStatus st, std::size_t k, std::size_t v) const {
    switch (st) {
      case DictStatus::ok: return;
      case DictStatus::full:
        raise(PyExc_MemoryError, "the dict is full (capacity " + std::to_string(d_.capacity()) +
                                     " entries): create it with a larger capacity=");
      case DictStatus::too_large:
        raise(PyExc_ValueError, "key of " + std::to_string(k) + " bytes or value of " + std::to_string(v) +
                                    " bytes (packed) is above max_key " + std::to_string(d_.max_key()) +
                                    " / max_value " + std::to_string(d_.max_value()) +
                                    ": create the dict with larger max_key= / max_value=");
      default: raise(PyExc_OSError, std::string("dict: ") + to_string(st));
    }
  }
  Dict d_;
};

class PyList {
 public:
  explicit PyList(List l) : l_(std::move(l)) {}
  static std::unique_ptr<PyList> create(const std::string& name, std::uint64_t capacity, std::uint32_t max_value) {
    ListOptions o;
    o.capacity = capacity;
    o.max_value = max_value;
    return std::make_unique<PyList>(take(List::create(name, o), "cannot create the list", name));
  }
  static std::unique_ptr<PyList> open(const std::string& name) {
    return std::make_unique<PyList>(take(List::open(name), "cannot open the list", name));
  }
  py::object getitem(std::int64_t i) {
    ListValue v = l_.get(i);
    if (v.status != ListStatus::ok) raise(PyExc_IndexError, "list index out of range");
    return unpack(v.bytes);
  }
  void setitem(std::int64_t i, const py::object& value) {
    const std::string v = pack(value);
    check(l_.set(i, view_of(v)), v.size());
  }
  void append(const py::object& value) {
    const std::string v = pack(value);
    check(l_.append(view_of(v)), v.size());
  }
  void insert(std::int64_t i, const py::object& value) {
    const std::string v = pack(value);
    check(l_.insert(i, view_of(v)), v.size());
  }
  py::object pop(std::int64_t i) {
    ListValue v = l_.pop(i);
    if (v.status != ListStatus::ok) raise(PyExc_IndexError, "pop index out of range");
    return unpack(v.bytes);
  }
  py::list snapshot() const {
    py::list out;
    const auto n = static_cast<std::int64_t>(l_.size());
    for (std::int64_t i = 0; i < n; ++i) {
      ListValue v = l_.get(i);
      if (v.status == ListStatus::ok) out.append(unpack(v.bytes));
    }
    return out;
  }
  std::size_t size() const { return l_.size(); }
  void clear() { l_.clear(); }
  std::uint64_t capacity() const { return l_.capacity(); }

 private:
  void check(ListStatus st, std::size_t v) const {
    switch (st) {
      case ListStatus::ok: return;
      case ListStatus::out_of_range: raise(PyExc_IndexError, "list assignment index out of range");
      case ListStatus::full:
        raise(PyExc_MemoryError, "the list is full (capacity " + std::to_string(l_.capacity()) +
                                     " elements): create it with a larger capacity=");
      case ListStatus::too_large:
        raise(PyExc_ValueError, "an element of " + std::to_string(v) +
                                    " bytes (packed) is above max_value: create the list with a larger max_value=");
      default: raise(PyExc_OSError, std::string("list: ") + to_string(st));
    }
  }
  List l_;
};

template <class F>
void unlink_as(const std::string& name, F&& f, const char* what) {
  check(f(name), what, name);
}

}  // namespace

// ---- the hot calls without pybind11's dispatcher ---------------------------------
//
// put/get, d[k], d[k] = v, send/recv run once per message: they are bound as
// METH_FASTCALL methods, which skip pybind11's overload resolution and
// argument casting (about 150 ns a call). They reach the C++ object through
// pybind11's instance layout: one C++ base, so its pointer sits in
// simple_value_holder[0] (null until __init__ ran).

template <class T>
T& self_of(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  void* p = inst->simple_layout ? inst->simple_value_holder[0] : inst->get_value_and_holder().value_ptr();
  if (p == nullptr) raise(PyExc_ValueError, "the object was not initialized (call __init__ or open())");
  return *static_cast<T*>(p);
}

// Positional-or-keyword arguments of a fastcall method, by name, with defaults.
struct FastArgs {
  PyObject* const* args;
  Py_ssize_t nargs;
  PyObject* kwnames;
  // The argument at `pos` or named `name`, or `dflt` (borrowed).
  PyObject* get(Py_ssize_t pos, const char* name, PyObject* dflt) const {
    if (pos < nargs) return args[pos];
    if (kwnames != nullptr) {
      const Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
      for (Py_ssize_t i = 0; i < n; ++i) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), name) == 0) return args[nargs + i];
      }
    }
    return dflt;
  }
  void check(Py_ssize_t most, const char* fn) const {
    const Py_ssize_t total = nargs + (kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0);
    if (total > most || nargs > most)
      raise(PyExc_TypeError, std::string(fn) + "() takes at most " + std::to_string(most) + " arguments");
  }
  PyObject* required(Py_ssize_t pos, const char* name, const char* fn) const {
    PyObject* o = get(pos, name, nullptr);
    if (o == nullptr) raise(PyExc_TypeError, std::string(fn) + "() missing required argument '" + name + "'");
    return o;
  }
};

bool truth(PyObject* o) {
  const int t = PyObject_IsTrue(o);
  if (t < 0) throw py::error_already_set();
  return t != 0;
}

// Runs f() and turns a C++ exception into a Python one.
// Not noexcept, and the forced unwind of pthread_exit passes (see
// without_gil): catching it for good aborts the process.
template <class F>
PyObject* guarded(F&& f) {
  try {
    return f();
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
  return nullptr;
}

PyObject* fast_put(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return guarded([&] {
    const FastArgs a{args, nargs, kwnames};
    a.check(3, "put");
    self_of<PyQueue>(self).put(py::reinterpret_borrow<py::object>(a.required(0, "obj", "put")),
                               truth(a.get(1, "block", Py_True)),
                               py::reinterpret_borrow<py::object>(a.get(2, "timeout", Py_None)));
    Py_RETURN_NONE;
  });
}
PyObject* fast_get(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return guarded([&] {
    const FastArgs a{args, nargs, kwnames};
    a.check(2, "get");
    return self_of<PyQueue>(self)
        .get(truth(a.get(0, "block", Py_True)), py::reinterpret_borrow<py::object>(a.get(1, "timeout", Py_None)))
        .release()
        .ptr();
  });
}
PyObject* fast_put_nowait(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return guarded([&] {
    const FastArgs a{args, nargs, kwnames};
    a.check(1, "put_nowait");
    self_of<PyQueue>(self).put(py::reinterpret_borrow<py::object>(a.required(0, "obj", "put_nowait")), false,
                               py::none());
    Py_RETURN_NONE;
  });
}
PyObject* fast_get_nowait(PyObject* self, PyObject* /*unused*/) {
  return guarded([&] { return self_of<PyQueue>(self).get(false, py::none()).release().ptr(); });
}
PyObject* fast_send(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return guarded([&] {
    const FastArgs a{args, nargs, kwnames};
    a.check(1, "send");
    self_of<PyConnection>(self).send(py::reinterpret_borrow<py::object>(a.required(0, "obj", "send")));
    Py_RETURN_NONE;
  });
}
PyObject* fast_recv(PyObject* self, PyObject* /*unused*/) {
  return guarded([&] { return self_of<PyConnection>(self).recv().release().ptr(); });
}
PyObject* fast_getitem(PyObject* self, PyObject* key) {
  return guarded(
      [&] { return self_of<PyDict>(self).getitem(py::reinterpret_borrow<py::object>(key)).release().ptr(); });
}
PyObject* fast_dict_get(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return guarded([&] {
    const FastArgs a{args, nargs, kwnames};
    a.check(2, "get");
    return self_of<PyDict>(self)
        .get(py::reinterpret_borrow<py::object>(a.required(0, "key", "get")),
             py::reinterpret_borrow<py::object>(a.get(1, "default", Py_None)))
        .release()
        .ptr();
  });
}
PyObject* fast_setitem(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return guarded([&] {
    if (nargs != 2) raise(PyExc_TypeError, "__setitem__ takes a key and a value");
    self_of<PyDict>(self).setitem(py::reinterpret_borrow<py::object>(args[0]),
                                  py::reinterpret_borrow<py::object>(args[1]));
    Py_RETURN_NONE;
  });
}

// The method definitions live as long as the module (the descriptors point at them).
PyMethodDef g_fast_methods[] = {
    {"put", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_put)), METH_FASTCALL | METH_KEYWORDS,
     "put(obj, block=True, timeout=None)\n--\n\nPut obj (pickled; bytes as they are). block=False or a timeout: "
     "queue.Full when there is no room."},
    {"get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_get)), METH_FASTCALL | METH_KEYWORDS,
     "get(block=True, timeout=None)\n--\n\nRemove and return the next item. block=False or a timeout: queue.Empty "
     "when there is none."},
    {"put_nowait", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_put_nowait)),
     METH_FASTCALL | METH_KEYWORDS, "put_nowait(obj)\n--\n\nput(obj, False)"},
    {"get_nowait", fast_get_nowait, METH_NOARGS, "get_nowait()\n--\n\nget(False)"},
    {"send", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_send)), METH_FASTCALL | METH_KEYWORDS,
     "send(obj)\n--\n\nSend obj (pickled; bytes as they are)."},
    {"recv", fast_recv, METH_NOARGS,
     "recv()\n--\n\nReturn the next object sent; EOFError once every handle of the other end is closed."},
    {"__getitem__", fast_getitem, METH_O, "d[key]"},
    {"get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_dict_get)), METH_FASTCALL | METH_KEYWORDS,
     "get(key, default=None)\n--\n\nd[key] if key is in the dict, else default."},
    {"__setitem__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_setitem)), METH_FASTCALL,
     "d[key] = value"},
};

void bind_fast(const py::handle& cls, PyMethodDef& def) {
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &def);
  if (descr == nullptr || PyObject_SetAttrString(cls.ptr(), def.ml_name, descr) != 0) {
    Py_XDECREF(descr);
    throw py::error_already_set();
  }
  Py_DECREF(descr);
}

// Created pipes wait here until the two Connection objects take their ends.
struct PipePair {
  std::string name;
  std::optional<Connection> ends[2];
};

PYBIND11_MODULE(_shmring, m) {
  m.doc() = "shmring's C++ objects; use the package `shmring`, which wraps them.";
  // Never freed: its references must not be dropped after the interpreter
  // is gone (a static's destructor would run then, without the GIL).
  g = new Py();  // NOLINT(cppcoreguidelines-owning-memory)
  auto pickle = py::module_::import("pickle");
  g->dumps = pickle.attr("dumps");
  g->loads = pickle.attr("loads");
  g->protocol = pickle.attr("HIGHEST_PROTOCOL").cast<int>();
  auto queue = py::module_::import("queue");
  g->full = queue.attr("Full");
  g->empty = queue.attr("Empty");
  g->broken_barrier = py::module_::import("threading").attr("BrokenBarrierError");
  g->buffer_too_short = py::module_::import("multiprocessing").attr("BufferTooShort");
  g->shut_down = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "shmring.ShutDown", "Raised by put() on a Queue that was shut down, and by get() once it is drained.",
      PyExc_Exception, nullptr));
  m.attr("ShutDown") = g->shut_down;
  m.attr("SLICE_SECONDS") = std::chrono::duration<double>(kSlice).count();

  const auto block = py::arg("block") = true;
  const auto timeout = py::arg("timeout") = py::none();

  py::class_<PyQueue>(m, "_Queue")
      .def(py::init([](const std::string& name, bool create, std::int64_t maxsize, std::uint64_t capacity,
                       std::uint64_t max_message, bool joinable) {
             return create ? PyQueue::create(name, maxsize, capacity, max_message, joinable)
                           : PyQueue::open(name, joinable);
           }),
           py::arg("name"), py::arg("create"), py::arg("maxsize") = 0, py::arg("capacity_bytes") = 1u << 20,
           py::arg("max_message") = 0, py::arg("joinable") = false)
      .def("put", &PyQueue::put, py::arg("obj"), block, timeout,
           "Put obj (pickled; bytes as they are). block=False or a timeout: queue.Full when there is no room.")
      .def("get", &PyQueue::get, block, timeout,
           "Remove and return the next item. block=False or a timeout: queue.Empty when there is none.")
      .def(
          "put_nowait", [](PyQueue& q, const py::object& o) { q.put(o, false, py::none()); }, py::arg("obj"),
          "put(obj, False)")
      .def(
          "get_nowait", [](PyQueue& q) { return q.get(false, py::none()); }, "get(False)")
      .def("put_bytes", &PyQueue::put_bytes, py::arg("data"), block, timeout,
           "Put the bytes of a bytes-like object exactly as they are (never pickled): what a C++ get() receives.")
      .def("get_bytes", &PyQueue::get_bytes, block, timeout,
           "Remove and return the next message's bytes exactly as they are (never unpickled).")
      .def("fileno", &PyQueue::fileno,
           "A file descriptor that is readable when a get would not block (a message, or shut down): for "
           "selectors, asyncio's add_reader and multiprocessing.connection.wait. Owned by this handle (never close "
           "it). After it is readable, take with get_nowait() until queue.Empty: that re-arms it.")
      .def("qsize", &PyQueue::qsize, "Messages in the queue (approximate while others put or get).")
      .def("empty", &PyQueue::empty)
      .def("full", &PyQueue::full)
      .def("shutdown", &PyQueue::shutdown,
           "Close the queue for every process: later puts raise ShutDown, gets drain what is left, then raise "
           "ShutDown; blocked callers wake at once.")
      .def_property_readonly("is_shut_down", &PyQueue::is_shut_down, "True once shutdown() was called by any process.")
      .def("_close_handle", &PyQueue::close)
      .def_property_readonly("_closed", &PyQueue::closed)
      .def_property_readonly("name", &PyQueue::name,
                             "The segment name: Queue.open(name) attaches to this queue from any process.")
      .def_property_readonly("path", &PyQueue::path,
                             "The file behind the name (in /dev/shm unless the name is an absolute path).")
      .def_property_readonly("maxsize", &PyQueue::maxsize,
                             "The limit in messages given at creation (0: only the byte capacity limits).")
      .def_property_readonly("capacity_bytes", &PyQueue::capacity_bytes, "The ring's size in bytes.")
      .def_property_readonly("max_message", &PyQueue::max_message,
                             "The largest message, in bytes, the queue can hold (larger: ValueError).")
      .def_property_readonly("_joinable", &PyQueue::joinable)
      .def_property_readonly("unfinished_tasks", &PyQueue::unfinished_tasks,
                             "JoinableQueue: items put and not yet marked done (0 for a Queue).")
      .def("task_done", &PyQueue::task_done, "Mark one item taken with get() as done (JoinableQueue).")
      .def("join", &PyQueue::join, timeout,
           "Block until every item put has been marked done (JoinableQueue). With a timeout: False if it passed.");

  py::class_<PipePair>(m, "_PipePair")
      .def(py::init([](const std::string& name, bool duplex, std::uint64_t capacity) {
             PipeOptions o;
             o.duplex = duplex;
             o.capacity_bytes = capacity;
             auto pair = take(Pipe::create(name, o), "cannot create the Pipe", name);
             auto p = std::make_unique<PipePair>();
             p->name = name;
             p->ends[0].emplace(std::move(pair.first));
             p->ends[1].emplace(std::move(pair.second));
             return p;
           }),
           py::arg("name"), py::arg("duplex") = true, py::arg("capacity_bytes") = 1u << 20);

  py::class_<PyConnection>(m, "_Connection")
      .def(py::init([](PipePair& pair, int end) {
             auto& slot = pair.ends[end == 0 ? 0 : 1];
             if (!slot) raise(PyExc_ValueError, "this end was taken already");
             auto c = std::make_unique<PyConnection>(pair.name, end == 0 ? End::a : End::b, std::move(*slot));
             slot.reset();
             return c;
           }),
           py::arg("pair"), py::arg("end"))
      .def(py::init([](const std::string& name, int end) { return PyConnection::open(name, end); }), py::arg("name"),
           py::arg("end"))
      .def("send", &PyConnection::send, py::arg("obj"), "Send obj (pickled; bytes as they are).")
      .def("recv", &PyConnection::recv, "Return the next object sent; EOFError once the other end is closed.")
      .def("send_bytes", &PyConnection::send_bytes, py::arg("buf"), py::arg("offset") = 0, py::arg("size") = py::none())
      .def("recv_bytes", &PyConnection::recv_bytes, py::arg("maxlength") = py::none())
      .def("recv_bytes_into", &PyConnection::recv_bytes_into, py::arg("buf"), py::arg("offset") = 0)
      .def("poll", &PyConnection::poll, py::arg("timeout") = 0.0,
           "True if there is something to recv (or the other end is closed). timeout=None waits forever.")
      .def("close", &PyConnection::close,
           "Close this handle; the other end sees EOF once every handle of this end is closed.")
      .def("fileno", &PyConnection::fileno,
           "A file descriptor that is readable when recv() would not block (a message, or EOF): for "
           "multiprocessing.connection.wait, selectors and asyncio. Owned by this handle (never close it). Each "
           "call, and each poll() that finds nothing, re-arms it.")
      .def_property_readonly("closed", &PyConnection::closed, "True once close() was called on this handle.")
      .def_property_readonly("readable", &PyConnection::readable, "True if this end can recv.")
      .def_property_readonly("writable", &PyConnection::writable, "True if this end can send.")
      .def_property_readonly("name", &PyConnection::name,
                             "The pipe's segment name: Connection.open(name) with the end attaches to it.")
      .def_property_readonly("_end", &PyConnection::end);

  py::class_<PyLock, std::shared_ptr<PyLock>>(m, "_Lock")
      .def(py::init(&PyLock::make), py::arg("name"), py::arg("create"), py::arg("recursive"))
      .def("acquire", &PyLock::acquire, block, timeout,
           "Take the lock; True when taken. block=False or a timeout: False if it was not free in time. A holder "
           "that died holding it is taken over (never a hang).")
      .def("release", &PyLock::release)
      .def("__enter__", [](PyLock& l) { return l.acquire(true, py::none()); })
      .def("__exit__", [](PyLock& l, const py::args&) { l.release(); })
      .def("_is_owned", &PyLock::is_owned)
      .def_property_readonly("_locked", &PyLock::locked)
      .def_property_readonly("_recursive", &PyLock::recursive)
      .def_property_readonly("takeovers", &PyLock::takeovers_seen,
                             "How many times this handle took the lock over from a holder that had died.");

  py::class_<PySemaphore>(m, "_Semaphore")
      .def(py::init([](const std::string& name, bool create, std::uint32_t value, bool bounded) {
             return create ? PySemaphore::create(name, value, bounded) : PySemaphore::open(name, bounded);
           }),
           py::arg("name"), py::arg("create"), py::arg("value") = 1, py::arg("bounded") = false)
      .def("acquire", &PySemaphore::acquire, block, timeout)
      .def("release", &PySemaphore::release)
      .def("get_value", &PySemaphore::get_value)
      .def("__enter__", [](PySemaphore& s) { return s.acquire(true, py::none()); })
      .def("__exit__", [](PySemaphore& s, const py::args&) { s.release(); });

  py::class_<PyEvent>(m, "_Event")
      .def(py::init([](const std::string& name, bool create) {
             return create ? PyEvent::create(name) : PyEvent::open(name);
           }),
           py::arg("name"), py::arg("create"))
      .def("is_set", &PyEvent::is_set)
      .def("set", &PyEvent::set)
      .def("clear", &PyEvent::clear)
      .def("wait", &PyEvent::wait, timeout, "Block until the flag is set; False if the timeout passed first.");

  py::class_<PyCondition>(m, "_Condition")
      .def(py::init([](const std::string& name, bool create, std::shared_ptr<PyLock> lock) {
             return create ? PyCondition::create(name, std::move(lock)) : PyCondition::open(name, std::move(lock));
           }),
           py::arg("name"), py::arg("create"), py::arg("lock") = nullptr)
      .def("acquire", &PyCondition::acquire, block, timeout)
      .def("release", &PyCondition::release)
      .def("__enter__", [](PyCondition& c) { return c.acquire(true, py::none()); })
      .def("__exit__", [](PyCondition& c, const py::args&) { c.release(); })
      .def("wait", &PyCondition::wait, timeout)
      .def("notify", &PyCondition::notify, py::arg("n") = 1)
      .def("notify_all", &PyCondition::notify_all)
      .def("_is_owned", &PyCondition::is_owned)
      .def_property_readonly("_lock", &PyCondition::lock);

  py::class_<PyBarrier>(m, "_Barrier")
      .def(py::init([](const std::string& name, bool create, std::uint32_t parties, py::object action) {
             return create ? PyBarrier::create(name, parties, std::move(action))
                           : PyBarrier::open(name, std::move(action));
           }),
           py::arg("name"), py::arg("create"), py::arg("parties") = 1, py::arg("action") = py::none())
      .def("_wait", &PyBarrier::wait, timeout)
      .def("reset", &PyBarrier::reset)
      .def("abort", &PyBarrier::abort)
      .def_property_readonly("broken", &PyBarrier::broken,
                             "True if the barrier is broken (a timeout or abort()); reset() mends it.")
      .def_property_readonly("parties", &PyBarrier::parties, "How many parties must arrive to pass.")
      .def_property_readonly("n_waiting", &PyBarrier::n_waiting, "How many parties wait now.");

  py::class_<PyTyped>(m, "_Typed", py::buffer_protocol())
      .def(py::init([](const std::string& name, bool create, const std::string& code, bool array, std::uint64_t count,
                       const py::object& init, bool lock) {
             if (code.size() != 1) raise(PyExc_TypeError, "a typecode is one character");
             return create ? PyTyped::create(name, code[0], array, count, init, lock)
                           : PyTyped::open(name, code[0], array);
           }),
           py::arg("name"), py::arg("create"), py::arg("typecode"), py::arg("array"), py::arg("count") = 1,
           py::arg("init") = py::none(), py::arg("lock") = true)
      .def_buffer(&PyTyped::buffer)
      .def_property_readonly("_count", &PyTyped::count)
      .def_property_readonly("_has_lock", &PyTyped::has_lock)
      .def("_lock", &PyTyped::lock);

  py::class_<PyDict>(m, "_Dict")
      .def(py::init([](const std::string& name, bool create, std::uint64_t capacity, std::uint32_t max_key,
                       std::uint32_t max_value) {
             return create ? PyDict::create(name, capacity, max_key, max_value) : PyDict::open(name);
           }),
           py::arg("name"), py::arg("create"), py::arg("capacity") = 1024, py::arg("max_key") = 128,
           py::arg("max_value") = 1024)
      .def("__getitem__", &PyDict::getitem)
      .def("__setitem__", &PyDict::setitem)
      .def("__delitem__", &PyDict::delitem)
      .def("__contains__", &PyDict::contains)
      .def("__len__", &PyDict::size)
      .def("get", &PyDict::get, py::arg("key"), py::arg("default") = py::none())
      .def("keys", &PyDict::keys, "A list of the keys (a snapshot).")
      .def("values", &PyDict::values, "A list of the values (a snapshot).")
      .def("items", &PyDict::items, "A list of (key, value) pairs (a snapshot).")
      .def("_pop", &PyDict::pop)
      .def("setdefault", &PyDict::setdefault, py::arg("key"), py::arg("default") = py::none())
      .def("clear", &PyDict::clear)
      .def_property_readonly("capacity", &PyDict::capacity, "The most entries the dict can hold (set at creation).")
      .def_property_readonly("max_key", &PyDict::max_key, "The largest key, in packed bytes.")
      .def_property_readonly("max_value", &PyDict::max_value, "The largest value, in packed bytes.");

  py::class_<PyList>(m, "_List")
      .def(py::init([](const std::string& name, bool create, std::uint64_t capacity, std::uint32_t max_value) {
             return create ? PyList::create(name, capacity, max_value) : PyList::open(name);
           }),
           py::arg("name"), py::arg("create"), py::arg("capacity") = 1024, py::arg("max_value") = 1024)
      .def("_get", &PyList::getitem)
      .def("_set", &PyList::setitem)
      .def("append", &PyList::append, py::arg("value"))
      .def("_insert", &PyList::insert)
      .def("_pop", &PyList::pop)
      .def("_snapshot", &PyList::snapshot)
      .def("__len__", &PyList::size)
      .def("clear", &PyList::clear)
      .def_property_readonly("capacity", &PyList::capacity, "The most elements the list can hold (set at creation).");

  const py::handle queue_cls = m.attr("_Queue");
  const py::handle conn_cls = m.attr("_Connection");
  const py::handle dict_cls = m.attr("_Dict");
  for (int i = 0; i < 4; ++i) bind_fast(queue_cls, g_fast_methods[i]);
  bind_fast(conn_cls, g_fast_methods[4]);
  bind_fast(conn_cls, g_fast_methods[5]);
  for (int i = 6; i < 9; ++i) bind_fast(dict_cls, g_fast_methods[i]);

  m.def(
      "_unlink",
      [](const std::string& kind, const std::string& name) {
        if (kind == "queue") return unlink_as(name, Queue::unlink, "cannot unlink the Queue");
        if (kind == "joinable") return unlink_as(name, JoinableQueue::unlink, "cannot unlink the JoinableQueue");
        if (kind == "pipe") return unlink_as(name, Pipe::unlink, "cannot unlink the Pipe");
        if (kind == "lock") return unlink_as(name, Lock::unlink, "cannot unlink the Lock");
        if (kind == "rlock") return unlink_as(name, RLock::unlink, "cannot unlink the RLock");
        if (kind == "semaphore") return unlink_as(name, Semaphore::unlink, "cannot unlink the Semaphore");
        if (kind == "bounded") return unlink_as(name, BoundedSemaphore::unlink, "cannot unlink the BoundedSemaphore");
        if (kind == "event") return unlink_as(name, Event::unlink, "cannot unlink the Event");
        if (kind == "condition") return unlink_as(name, Condition::unlink, "cannot unlink the Condition");
        if (kind == "barrier") return unlink_as(name, Barrier::unlink, "cannot unlink the Barrier");
        if (kind == "value") return unlink_as(name, Value<char>::unlink, "cannot unlink the Value");
        if (kind == "array") return unlink_as(name, Array<char>::unlink, "cannot unlink the Array");
        if (kind == "dict") return unlink_as(name, Dict::unlink, "cannot unlink the dict");
        if (kind == "list") return unlink_as(name, List::unlink, "cannot unlink the list");
        raise(PyExc_ValueError, "unknown kind " + kind);
      },
      py::arg("kind"), py::arg("name"));
}
