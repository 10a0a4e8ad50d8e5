// Pool (pool.hpp): forked workers, an inbox queue each, one results queue.
//
// Messages. A chunk (parent -> a worker's inbox): first task id (u64), the
// trampoline and the function (u64 each), the task count (u32), then per
// task its argument length (u32) and bytes. Results (a worker -> the
// results queue): first task id (u64), the offset of the first task in its
// chunk (u32), the count (u32), then per task a status byte (0 ok, 1
// error), a length (u32) and the bytes (the result, or the error's
// message). A chunk's results may come in several messages, each within
// the results queue's max_message.
//
// What the parent keeps true (all in its own memory, changed only inside
// the pool's calls): every task is either ready, or in `pending`, or in
// exactly one worker's in-flight list (a chunk handed to that worker's
// inbox and not fully answered). A worker's in-flight chunks are answered in
// order, so when it dies its first unanswered chunk is the one it was
// running (or had just taken) and the others never started. Results are
// drained again before a death is handled: a worker's last put precedes its
// exit, so an answered chunk is never counted as lost.
#include "shmring/ipc/pool.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <deque>
#include <exception>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "shmring/ipc/queue.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/platform/process.hpp"

namespace shmring {

const char* to_string(PoolStatus s) noexcept {
  switch (s) {
    case PoolStatus::ok: return "ok";
    case PoolStatus::error: return "error";
    case PoolStatus::worker_died: return "worker_died";
    case PoolStatus::timeout: return "timeout";
    case PoolStatus::closed: return "closed";
    case PoolStatus::too_large: return "too_large";
    case PoolStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

namespace detail {

Bytes call_bytes(std::uintptr_t fn, std::span<const std::byte> args) {
  return reinterpret_cast<PoolFunction>(fn)(args);
}

namespace {

constexpr std::size_t kChunkHeader = 8 + 8 + 8 + 4;
constexpr std::size_t kResultHeader = 8 + 4 + 4;
constexpr std::int64_t kSliceNs = 20'000'000;  // deaths are looked for at least this often while waiting
constexpr std::int64_t kReapNs = 2'000'000;    // and at most this often while results stream in

template <class T>
void put_raw(Bytes& out, const T& v) {
  const auto b = bytes_of(v);
  out.insert(out.end(), b.begin(), b.end());
}
template <class T>
bool get_raw(std::span<const std::byte>& in, T& v) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(&v, in.data(), sizeof(T));
  in = in.subspan(sizeof(T));
  return true;
}

std::uint64_t pool_serial() noexcept {
  static std::atomic<std::uint64_t> serial{0};
  return serial.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

struct PoolTask {
  bool ready = false;
  PoolResult result;
};

// A chunk owns its tasks' outcomes (one allocation for all of them); an
// AsyncResult shares ownership of the chunk through its task.
struct PoolChunk {
  std::uint64_t first_id;
  std::vector<PoolTask> tasks;  // reserved up front: never reallocated (AsyncResults point into it)
  Bytes message;                // encoded, kept to hand out again
  unsigned retries_left;
};

struct PoolWorker {
  int pid = -1;
  std::optional<Queue> inbox;
  std::deque<std::shared_ptr<PoolChunk>> in_flight;
  std::uint64_t chunks_sent = 0;
};

struct PoolCore {
  PoolOptions o;
  std::optional<Queue> results;
  std::vector<PoolWorker> workers;
  std::deque<std::shared_ptr<PoolChunk>> pending;
  std::unordered_map<std::uint64_t, std::pair<std::size_t, std::shared_ptr<PoolChunk>>> in_flight;
  std::uint64_t next_id = 1;
  std::uint64_t replacements = 0;
  std::uint64_t inbox_bytes = 0;
  std::string prefix;
  std::uint64_t serial = 0;
  bool closed = false;
  bool terminated = false;
  bool joined = false;
  std::int64_t next_reap = 0;  // monotonic ns
  std::string start_error;     // why the last start of a worker failed
  int owner_pid = 0;           // the process that made the pool: only its calls act
  MessageBatch batch;

  // ---- workers ----

  [[nodiscard]] Result<void> start_worker(std::size_t w) {
    const std::string name = prefix + "-w" + std::to_string(serial++);
    auto inbox = Queue::create(
        name,
        {.engine = Engine::spsc, .capacity_bytes = inbox_bytes, .max_message = o.max_message + kChunkHeader + 4 * 64});
    if (!inbox) return inbox.error();
    (void)Queue::unlink(name);  // reached through the handles only: no file outlives the pool
    workers[w].inbox.emplace(std::move(*inbox));
    workers[w].in_flight.clear();
    workers[w].chunks_sent = 0;
    const int pid = platform::fork_process();
    if (pid < 0) {
      workers[w].inbox.reset();
      return fail(Errc::system, "fork for a pool worker");
    }
    if (pid == 0) run_worker(w);  // never returns
    workers[w].pid = pid;
    return {};
  }

  [[noreturn]] void run_worker(std::size_t w) noexcept {
    int code = 0;
    try {
      // The other workers' inboxes are not this worker's to keep mapped.
      for (std::size_t j = 0; j < workers.size(); ++j) {
        if (j != w) workers[j].inbox.reset();
      }
      if (o.initializer != nullptr) o.initializer();
      Queue& inbox = *workers[w].inbox;
      Queue& out = *results;
      const std::size_t out_max = static_cast<std::size_t>(out.max_message());
      std::vector<std::byte> msg;
      Bytes reply;
      for (std::uint64_t done = 0;;) {
        if (inbox.get_into(msg, forever) != GetStatus::ok) break;  // closed: the pool is done
        std::span<const std::byte> in(msg);
        std::uint64_t first = 0, tramp = 0, fn = 0;
        std::uint32_t count = 0;
        if (!get_raw(in, first) || !get_raw(in, tramp) || !get_raw(in, fn) || !get_raw(in, count)) break;
        reply.clear();
        std::uint32_t offset = 0, in_reply = 0;
        const auto flush = [&] {
          if (in_reply == 0) return;
          std::memcpy(reply.data() + 8, &offset, 4);
          std::memcpy(reply.data() + 12, &in_reply, 4);
          // An answer that cannot be sent (no memory left for the queue, a
          // damaged queue) ends this worker: the parent then fails or reruns
          // the chunk, where a dropped answer would leave it waiting.
          if (out.put(reply, forever) != PutStatus::ok) platform::exit_now(4);
          offset += in_reply;
          in_reply = 0;
          reply.clear();
        };
        for (std::uint32_t i = 0; i < count; ++i) {
          std::uint32_t len = 0;
          if (!get_raw(in, len) || len > in.size()) break;
          const std::span<const std::byte> args = in.subspan(0, len);
          in = in.subspan(len);
          std::uint8_t status = 0;
          Bytes r;
          try {
            r = reinterpret_cast<PoolTrampoline>(tramp)(static_cast<std::uintptr_t>(fn), args);
          } catch (const std::exception& e) {
            status = 1;
            const std::string_view what = e.what();
            r.assign(reinterpret_cast<const std::byte*>(what.data()),
                     reinterpret_cast<const std::byte*>(what.data()) + what.size());
          } catch (...) {
            status = 1;
            const std::string_view what = "a task threw something that is not a std::exception";
            r.assign(reinterpret_cast<const std::byte*>(what.data()),
                     reinterpret_cast<const std::byte*>(what.data()) + what.size());
          }
          if (r.size() + 5 + kResultHeader > out_max || r.size() > o.max_message) {
            status = 1;
            const std::string_view what = "the result is larger than the pool's max_message";
            r.assign(reinterpret_cast<const std::byte*>(what.data()),
                     reinterpret_cast<const std::byte*>(what.data()) + what.size());
          }
          if (!reply.empty() && reply.size() + 5 + r.size() > out_max) flush();
          if (reply.empty()) {
            put_raw(reply, first);
            put_raw(reply, std::uint32_t{0});
            put_raw(reply, std::uint32_t{0});
          }
          put_raw(reply, status);
          put_raw(reply, static_cast<std::uint32_t>(r.size()));
          reply.insert(reply.end(), r.begin(), r.end());
          ++in_reply;
        }
        flush();
        if (o.maxtasksperchild != 0 && ++done >= o.maxtasksperchild) break;
      }
    } catch (...) {
      code = 3;  // reported as a death: the parent fails or reruns what this worker held
    }
    platform::exit_now(code);
  }

  // ---- the parent's bookkeeping ----

  static void answer(PoolTask& t, PoolStatus st, Bytes bytes, std::string error) {
    if (t.ready) return;
    t.result.status = st;
    t.result.bytes = std::move(bytes);
    t.result.error = std::move(error);
    t.ready = true;
  }

  void take_result(std::span<const std::byte> in) {
    std::uint64_t first = 0;
    std::uint32_t offset = 0, count = 0;
    if (!get_raw(in, first) || !get_raw(in, offset) || !get_raw(in, count)) return;
    const auto it = in_flight.find(first);
    if (it == in_flight.end()) return;  // a chunk already failed or rerun elsewhere
    const auto& [w, chunk] = it->second;
    for (std::uint32_t i = 0; i < count && offset + i < chunk->tasks.size(); ++i) {
      std::uint8_t status = 0;
      std::uint32_t len = 0;
      if (!get_raw(in, status) || !get_raw(in, len) || len > in.size()) return;
      const auto body = in.subspan(0, len);
      in = in.subspan(len);
      if (status == 0) {
        answer(chunk->tasks[offset + i], PoolStatus::ok, Bytes(body.begin(), body.end()), {});
      } else {
        answer(chunk->tasks[offset + i], PoolStatus::error, {},
               std::string(reinterpret_cast<const char*>(body.data()), body.size()));
      }
    }
    if (std::all_of(chunk->tasks.begin(), chunk->tasks.end(), [](const PoolTask& t) { return t.ready; })) {
      auto& list = workers[w].in_flight;
      list.erase(std::remove(list.begin(), list.end(), chunk), list.end());
      in_flight.erase(it);
    }
  }

  // Takes a run of what is in the results queue, waiting up to `wait` for
  // the first. False: nothing came.
  bool drain(Wait wait) {
    batch.clear();
    if (results->get_many(batch, 256, wait) != GetStatus::ok) return false;
    for (std::size_t i = 0; i < batch.size(); ++i) take_result(batch[i]);
    return true;
  }

  // Worker w is gone: its running chunk reruns or fails, the others go back
  // to pending (in order), and a new worker takes its place.
  void worker_gone(std::size_t w, const platform::ChildExit& how) {
    // Everything answered before it went (a get_many takes one lane's run:
    // look until the queue is empty, or an answer behind other lanes is missed).
    while (drain(nowait)) {
    }
    PoolWorker& wk = workers[w];
    std::deque<std::shared_ptr<PoolChunk>> held = std::move(wk.in_flight);
    wk.in_flight.clear();
    for (const auto& c : held) in_flight.erase(c->first_id);
    if (!held.empty()) {
      const std::shared_ptr<PoolChunk> running = held.front();
      held.pop_front();
      for (auto it = held.rbegin(); it != held.rend(); ++it) pending.push_front(*it);
      if (running->retries_left > 0) {
        --running->retries_left;
        pending.push_front(running);
      } else {
        const std::string why =
            how.state == platform::ChildExit::State::signaled
                ? "worker " + std::to_string(wk.pid) + " killed by signal " + std::to_string(how.code)
                : "worker " + std::to_string(wk.pid) + " exited with code " + std::to_string(how.code);
        for (PoolTask& t : running->tasks) answer(t, PoolStatus::worker_died, {}, why);
      }
    }
    wk.pid = -1;
    restart(w);
  }

  // A new worker in slot w, if there is work for it. A slot whose start
  // failed (fork refused, no memory for its inbox) is tried again at the
  // next reap; when no worker runs and none can be started, every task
  // waiting for one fails rather than waiting forever.
  void restart(std::size_t w) {
    if (terminated || (closed && pending.empty() && in_flight.empty())) return;
    if (auto ok = start_worker(w); ok) {
      ++replacements;
      return;
    } else {
      start_error = ok.error().message();
    }
    const bool none_left = std::none_of(workers.begin(), workers.end(), [](const PoolWorker& x) { return x.pid > 0; });
    if (!none_left) return;
    const std::string why = "no worker could be started: " + start_error;
    for (const auto& c : pending) {
      for (PoolTask& t : c->tasks) answer(t, PoolStatus::worker_died, {}, why);
    }
    pending.clear();
  }

  // Looks for ended workers: a waitpid per worker, at most every kReapNs
  // (or at once when `now`), so that a busy stream of results does not pay
  // the system calls on every round.
  void reap(bool now = false) {
    const std::int64_t t = platform::monotonic_ns();
    if (!now && t < next_reap) return;
    next_reap = t + kReapNs;
    for (std::size_t w = 0; w < workers.size(); ++w) {
      if (workers[w].pid <= 0) {
        if (!joined) restart(w);  // a start that failed before
        continue;
      }
      const platform::ChildExit how = platform::reap_child(workers[w].pid, false);
      if (how.state == platform::ChildExit::State::running) continue;
      worker_gone(w, how);
    }
  }

  void dispatch() {
    for (std::size_t w = 0; w < workers.size() && !pending.empty(); ++w) {
      PoolWorker& wk = workers[w];
      if (wk.pid <= 0 || !wk.inbox) continue;
      while (!pending.empty() && wk.in_flight.size() < o.window &&
             (o.maxtasksperchild == 0 || wk.chunks_sent < o.maxtasksperchild)) {
        const std::shared_ptr<PoolChunk>& c = pending.front();
        if (wk.inbox->put(c->message, nowait) != PutStatus::ok) break;
        ++wk.chunks_sent;
        wk.in_flight.push_back(c);
        in_flight.emplace(c->first_id, std::make_pair(w, c));
        pending.pop_front();
      }
    }
  }

  // One round of bookkeeping, waiting up to `wait` for results.
  void pump(Wait wait) {
    if (!mine()) return;  // a forked copy: the workers are not its children
    drain(nowait);
    reap();
    dispatch();
    if (!wait.is_nowait()) drain(wait);
    reap();
    dispatch();
  }

  // Pumps until done() or the wait ends; true: done.
  template <class Done>
  bool pump_until(Done&& done, Wait wait) {
    if (done() || !mine()) return done();
    const platform::Deadline deadline = wait.deadline();
    for (;;) {
      if (terminated) return done();
      pump(nowait);
      if (done()) return true;
      if (wait.is_nowait() || deadline.passed()) return false;
      std::int64_t slice = kSliceNs;
      if (!deadline.is_never()) slice = std::min(slice, deadline.ns() - platform::monotonic_ns());
      pump(std::chrono::nanoseconds(std::max<std::int64_t>(slice, 0)));
      if (done()) return true;
    }
  }

  [[nodiscard]] bool all_done() const noexcept { return pending.empty() && in_flight.empty(); }

  // The process that made the pool. A forked child (a task, or any fork of
  // the owner) inherits a copy of the pool: in it every call does nothing
  // (its destructor must not stop the owner's workers, nor its calls reap
  // children that are not its own).
  [[nodiscard]] bool mine() const noexcept { return owner_pid == static_cast<int>(platform::current_process().pid); }

  void terminate() noexcept {
    if (terminated || !mine()) return;
    terminated = true;
    for (PoolWorker& wk : workers) {
      if (wk.pid > 0) platform::kill_process(wk.pid);
    }
    for (PoolWorker& wk : workers) {
      if (wk.pid > 0) (void)platform::reap_child(wk.pid, true);
      wk.pid = -1;
      for (const auto& c : wk.in_flight) {
        for (PoolTask& t : c->tasks) answer(t, PoolStatus::closed, {}, "the pool was terminated");
      }
      wk.in_flight.clear();
      wk.inbox.reset();
    }
    for (const auto& c : pending) {
      for (PoolTask& t : c->tasks) answer(t, PoolStatus::closed, {}, "the pool was terminated");
    }
    pending.clear();
    in_flight.clear();
  }

  ~PoolCore() { terminate(); }
};

}  // namespace detail

using detail::PoolChunk;
using detail::PoolCore;
using detail::PoolTask;

// ---- AsyncResult / PoolIterator -----------------------------------------------------------

PoolResult AsyncResult::get(Wait wait) {
  if (!task_) return {};
  if (!task_->ready && core_) (void)core_->pump_until([this] { return task_->ready; }, wait);
  if (!task_->ready) {
    PoolResult r;
    r.status = PoolStatus::timeout;
    return r;
  }
  return task_->result;
}

bool AsyncResult::wait(Wait wait) {
  if (!task_) return true;
  if (!task_->ready && core_) (void)core_->pump_until([this] { return task_->ready; }, wait);
  return task_->ready;
}

bool AsyncResult::ready() const noexcept { return task_ && task_->ready; }
bool AsyncResult::successful() const noexcept { return ready() && task_->result.status == PoolStatus::ok; }

PoolIterator::PoolIterator(std::shared_ptr<PoolCore> core, std::vector<AsyncResult> tasks, bool ordered) noexcept
    : core_(std::move(core)), tasks_(std::move(tasks)), given_(tasks_.size(), false), ordered_(ordered) {}

std::optional<PoolResult> PoolIterator::next(Wait wait) {
  if (ordered_) {
    if (next_ == tasks_.size()) return std::nullopt;
    PoolResult r = tasks_[next_].get(wait);
    if (r.status != PoolStatus::timeout) ++next_;
    return r;
  }
  if (next_ == tasks_.size()) return std::nullopt;
  std::size_t found = tasks_.size();
  const auto any_ready = [&] {
    for (std::size_t i = 0; i < tasks_.size(); ++i) {
      if (!given_[i] && tasks_[i].ready()) {
        found = i;
        return true;
      }
    }
    return false;
  };
  if (!any_ready() && !(core_ && core_->pump_until(any_ready, wait))) {
    PoolResult r;
    r.status = PoolStatus::timeout;
    return r;
  }
  given_[found] = true;
  ++next_;
  return tasks_[found].get(nowait);
}

// ---- Pool ---------------------------------------------------------------------------------

Pool::Pool(std::shared_ptr<PoolCore> core) noexcept : core_(std::move(core)) {}
Pool::Pool(Pool&&) noexcept = default;
Pool& Pool::operator=(Pool&&) noexcept = default;
Pool::~Pool() {
  if (core_ && !core_->joined) core_->terminate();
}

Result<Pool> Pool::create(unsigned processes, const PoolOptions& options) {
  if (processes == 0) processes = static_cast<unsigned>(std::max(1, platform::available_cpus()));
  if (processes > 1024) return fail(Errc::invalid_argument, "Pool processes above 1024");
  if (options.max_message == 0 || options.max_message > (std::uint64_t{1} << 26)) {
    return fail(Errc::invalid_argument, "Pool max_message (1 byte .. 64 MiB)");
  }
  if (options.window == 0) return fail(Errc::invalid_argument, "Pool window must be at least 1");
  auto core = std::make_shared<PoolCore>();
  core->o = options;
  core->owner_pid = static_cast<int>(platform::current_process().pid);
  core->prefix =
      "shmring-pool-" + std::to_string(platform::current_process().pid) + "-" + std::to_string(detail::pool_serial());
  core->inbox_bytes = std::bit_ceil(std::max<std::uint64_t>(1u << 20, 4 * (options.max_message + 4096)));
  const std::string results_name = core->prefix + "-results";
  auto results = Queue::create(
      results_name,
      {.engine = Engine::lanes,
       .capacity_bytes = std::bit_ceil(std::max<std::uint64_t>(8u << 20, 32 * (options.max_message + 4096))),
       .max_message = options.max_message + 4096});
  if (!results) return results.error();
  (void)Queue::unlink(results_name);
  core->results.emplace(std::move(*results));
  core->workers.resize(processes);
  for (std::size_t w = 0; w < processes; ++w) {
    if (auto ok = core->start_worker(w); !ok) return ok.error();  // ~PoolCore stops the ones started
  }
  return Pool(std::move(core));
}

std::vector<AsyncResult> Pool::submit_chunks(detail::PoolTrampoline t, std::uintptr_t fn,
                                             std::span<const std::span<const std::byte>> args, std::size_t chunksize) {
  std::vector<AsyncResult> out;
  out.reserve(args.size());
  if (!core_) {
    for (std::size_t i = 0; i < args.size(); ++i) out.emplace_back();
    return out;
  }
  PoolCore& c = *core_;
  if (chunksize == 0) {
    const std::size_t per = 4 * c.workers.size();
    chunksize = std::max<std::size_t>(1, (args.size() + per - 1) / per);
  }
  const auto refused = [&](PoolStatus st, const char* why) {
    auto task = std::make_shared<PoolTask>();
    PoolCore::answer(*task, st, {}, why);
    out.push_back(AsyncResult(core_, std::move(task)));
  };
  std::shared_ptr<PoolChunk> chunk;
  const auto finish = [&] {
    if (!chunk) return;
    const auto n = static_cast<std::uint32_t>(chunk->tasks.size());
    std::memcpy(chunk->message.data() + 24, &n, 4);
    c.pending.push_back(std::move(chunk));
    chunk.reset();
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::span<const std::byte> a = args[i];
    if (c.closed || c.terminated || !c.mine()) {
      refused(PoolStatus::closed, c.mine() ? "the pool is closed" : "a pool is used only by the process that made it");
      continue;
    }
    if (a.size() > c.o.max_message) {
      refused(PoolStatus::too_large, "the arguments are larger than the pool's max_message");
      continue;
    }
    if (chunk && (chunk->tasks.size() == chunksize ||
                  chunk->message.size() + 4 + a.size() > c.o.max_message + detail::kChunkHeader)) {
      finish();
    }
    if (!chunk) {
      chunk = std::make_shared<PoolChunk>();
      chunk->first_id = c.next_id;
      chunk->retries_left = c.o.retries;
      chunk->tasks.reserve(std::min(chunksize, args.size() - i));
      detail::put_raw(chunk->message, chunk->first_id);
      detail::put_raw(chunk->message, reinterpret_cast<std::uint64_t>(t));
      detail::put_raw(chunk->message, static_cast<std::uint64_t>(fn));
      detail::put_raw(chunk->message, std::uint32_t{0});
    }
    ++c.next_id;
    chunk->tasks.emplace_back();
    // Shares ownership of the chunk (aliasing): no allocation per task.
    out.push_back(AsyncResult(core_, std::shared_ptr<PoolTask>(chunk, &chunk->tasks.back())));
    detail::put_raw(chunk->message, static_cast<std::uint32_t>(a.size()));
    chunk->message.insert(chunk->message.end(), a.begin(), a.end());
  }
  finish();
  c.pump(nowait);  // hands the new chunks out now
  return out;
}

namespace {
std::vector<std::span<const std::byte>> spans_of(const std::vector<Bytes>& args) {
  std::vector<std::span<const std::byte>> v;
  v.reserve(args.size());
  for (const Bytes& b : args) v.emplace_back(b.data(), b.size());
  return v;
}
}  // namespace

AsyncResult Pool::submit(detail::PoolTrampoline t, std::uintptr_t fn, ByteView args) {
  const std::span<const std::byte> one[1] = {args.bytes()};
  return std::move(submit_chunks(t, fn, one, 1).front());
}

AsyncResult Pool::apply_async(PoolFunction f, ByteView args) {
  return submit(&detail::call_bytes, reinterpret_cast<std::uintptr_t>(f), args);
}

PoolResult Pool::apply(PoolFunction f, ByteView args) { return apply_async(f, args).get(); }

std::vector<PoolResult> Pool::map_with(detail::PoolTrampoline t, std::uintptr_t fn,
                                       std::span<const std::span<const std::byte>> args, std::size_t chunksize) {
  std::vector<AsyncResult> tasks = submit_chunks(t, fn, args, chunksize);
  std::vector<PoolResult> out;
  out.reserve(tasks.size());
  for (AsyncResult& a : tasks) {
    // The map's own results: moved out, not copied (nobody else holds them).
    if (a.wait()) {
      out.push_back(std::move(a.task_->result));
    } else {
      out.push_back(a.get(nowait));
    }
  }
  return out;
}

std::vector<PoolResult> Pool::map(PoolFunction f, const std::vector<Bytes>& args, std::size_t chunksize) {
  return map_with(&detail::call_bytes, reinterpret_cast<std::uintptr_t>(f), spans_of(args), chunksize);
}

PoolIterator Pool::imap(PoolFunction f, const std::vector<Bytes>& args, std::size_t chunksize) {
  return PoolIterator(
      core_, submit_chunks(&detail::call_bytes, reinterpret_cast<std::uintptr_t>(f), spans_of(args), chunksize), true);
}

PoolIterator Pool::imap_unordered(PoolFunction f, const std::vector<Bytes>& args, std::size_t chunksize) {
  return PoolIterator(
      core_, submit_chunks(&detail::call_bytes, reinterpret_cast<std::uintptr_t>(f), spans_of(args), chunksize), false);
}

void Pool::close() noexcept {
  if (core_ && core_->mine()) core_->closed = true;
}

void Pool::join() {
  if (!core_ || !core_->mine()) return;
  PoolCore& c = *core_;
  c.closed = true;
  (void)c.pump_until([&c] { return c.all_done(); }, forever);
  // Every task is answered: each worker's inbox closes, it drains and exits.
  for (detail::PoolWorker& wk : c.workers) {
    if (wk.inbox) wk.inbox->close();
  }
  for (detail::PoolWorker& wk : c.workers) {
    if (wk.pid > 0) (void)platform::reap_child(wk.pid, true);
    wk.pid = -1;
  }
  c.joined = true;
}

void Pool::terminate() noexcept {
  if (core_) core_->terminate();
}

unsigned Pool::processes() const noexcept { return core_ ? static_cast<unsigned>(core_->workers.size()) : 0; }
std::uint64_t Pool::replacements() const noexcept { return core_ ? core_->replacements : 0; }
std::vector<int> Pool::worker_pids() const {
  std::vector<int> out;
  if (core_) {
    for (const auto& wk : core_->workers) out.push_back(wk.pid);
  }
  return out;
}

}  // namespace shmring
