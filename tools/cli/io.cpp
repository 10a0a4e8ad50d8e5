// `shmring put`, `get`, `create`, `rm` and `gc`.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "commands.hpp"
#include "shmring/ipc/barrier.hpp"
#include "shmring/ipc/condition.hpp"
#include "shmring/ipc/dict.hpp"
#include "shmring/ipc/event.hpp"
#include "shmring/ipc/list.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/pipe.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/ipc/semaphore.hpp"
#include "shmring/platform/segment.hpp"

namespace shmring::cli {

namespace {

Wait wait_for(double seconds) {
  if (seconds < 0) return forever;
  return std::chrono::duration<double>(seconds);
}

// The queue at NAME (a Queue or a JoinableQueue, as its header says).
int open_queue(const std::string& name, std::optional<Queue>& q) {
  FileInfo f;
  if (const int rc = examine_named(name, f); rc != kExitOk) return rc;
  if (!f.problem.empty()) {
    // Not published: the API's open would wait for a live creator, and
    // remove a dead one's leftover; the command leaves both to gc.
    std::fprintf(stderr, "shmring: %s: not ready (its creator has not finished creating it)\n", name.c_str());
    return kExitDamaged;
  }
  if (f.header.kind == kJoinableQueueKind) {
    auto j = JoinableQueue::open(f.path);
    if (!j) return report(name, j.error());
    q.emplace(std::move(*j));
  } else if (f.header.kind == kQueueKind) {
    auto p = Queue::open(f.path);
    if (!p) return report(name, p.error());
    q.emplace(std::move(*p));
  } else {
    std::fprintf(stderr, "shmring: %s: a %s, not a queue (put and get take queues)\n", name.c_str(),
                 kind_name(f.header.kind).c_str());
    return kExitOther;
  }
  return kExitOk;
}

int put_status(const std::string& name, PutStatus s) {
  if (s == PutStatus::ok) return kExitOk;
  std::fprintf(stderr, "shmring: %s: put: %s\n", name.c_str(), to_string(s));
  return s == PutStatus::full ? kExitTimeout : kExitOther;
}

}  // namespace

int run_put(const PutOptions& o) {
  if (o.text.has_value() == o.file.has_value()) {
    std::fprintf(stderr, "shmring put: give either TEXT (or - for stdin lines) or --file F\n");
    return kExitUsage;
  }
  std::optional<Queue> q;
  if (const int rc = open_queue(o.name, q); rc != kExitOk) return rc;
  const Wait w = wait_for(o.timeout);
  if (o.file) {
    const int fd = ::open(o.file->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      return report(*o.file, Error{e == ENOENT   ? Errc::not_found
                                   : e == EACCES ? Errc::permission_denied
                                                 : Errc::system,
                                   e, "open --file"});
    }
    std::string bytes;
    char buf[1 << 16];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int e = errno;
        ::close(fd);
        return report(*o.file, Error{Errc::system, e, "read --file"});
      }
      bytes.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return put_status(o.name, q->put(std::string_view(bytes), w));
  }
  if (*o.text != "-") return put_status(o.name, q->put(std::string_view(*o.text), w));
  char* line = nullptr;
  std::size_t cap = 0;
  int rc = kExitOk;
  for (ssize_t n; rc == kExitOk && (n = ::getline(&line, &cap, stdin)) >= 0;) {
    auto len = static_cast<std::size_t>(n);
    if (len > 0 && line[len - 1] == '\n') --len;
    rc = put_status(o.name, q->put(std::string_view(line, len), w));
  }
  std::free(line);
  return rc;
}

int run_get(const GetOptions& o) {
  std::optional<Queue> q;
  if (const int rc = open_queue(o.name, q); rc != kExitOk) return rc;
  const Wait w = wait_for(o.timeout);
  std::vector<std::byte> out;
  for (long i = 0; i < o.count; ++i) {
    const GetStatus s = q->get_into(out, w);
    if (s != GetStatus::ok) {
      std::fprintf(stderr, "shmring: %s: get: %s\n", o.name.c_str(), to_string(s));
      return s == GetStatus::empty ? kExitTimeout : kExitOther;
    }
    if (o.hex) {
      static constexpr char kDigits[] = "0123456789abcdef";
      std::string h;
      h.reserve(out.size() * 2);
      for (const std::byte b : out) {
        h += kDigits[std::to_integer<unsigned>(b) >> 4];
        h += kDigits[std::to_integer<unsigned>(b) & 15u];
      }
      std::printf("%s\n", h.c_str());
    } else {
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
  }
  return kExitOk;
}

int run_create(const CreateOptions& o) {
  char* end = nullptr;
  const unsigned long mode = std::strtoul(o.mode.c_str(), &end, 8);
  if (*end != '\0' || mode > 0777) {
    std::fprintf(stderr, "shmring create: --mode takes octal permissions, e.g. 600\n");
    return kExitUsage;
  }
  const auto m = static_cast<std::uint32_t>(mode);
  auto done = [&](const auto& r) { return r ? kExitOk : report(o.name, r.error()); };
  const std::string& k = o.kind;
  if (k == "queue" || k == "joinable-queue") {
    QueueOptions q;
    q.maxsize = o.maxsize;
    q.capacity_bytes = o.capacity;
    q.max_message = o.max_message;
    q.lanes = o.lanes;
    q.mode = m;
    if (o.engine == "lanes") {
      q.engine = Engine::lanes;
    } else if (o.engine == "mpmc") {
      q.engine = Engine::mpmc;
    } else if (o.engine == "spsc") {
      q.engine = Engine::spsc;
    } else {
      std::fprintf(stderr, "shmring create: --engine is lanes, mpmc or spsc\n");
      return kExitUsage;
    }
    return k == "queue" ? done(Queue::create(o.name, q)) : done(JoinableQueue::create(o.name, q));
  }
  if (k == "pipe") {
    // A shared-ends pipe's end is closed for good once its last handle
    // closes (pipe.hpp), and this command's handles close when it exits:
    // the pipe would be born closed. A one-owner pipe's ends are only taken
    // on first use, so it outlives its creator untouched.
    if (!o.one_owner) {
      std::fprintf(stderr,
                   "shmring create: a pipe with shared ends closes for good when its last handle closes, and this "
                   "command's handles close when it exits: give --one-owner, or create it in the program that "
                   "uses it\n");
      return kExitUsage;
    }
    return done(Pipe::create(
        o.name, {.capacity_bytes = o.capacity, .max_message = o.max_message, .mode = m, .one_owner = true}));
  }
  const SyncOptions s{.mode = m};
  if (k == "lock") return done(Lock::create(o.name, s));
  if (k == "rlock") return done(RLock::create(o.name, s));
  if (k == "event") return done(Event::create(o.name, s));
  if (k == "semaphore") return done(Semaphore::create(o.name, o.value, s));
  if (k == "bounded-semaphore") return done(BoundedSemaphore::create(o.name, o.value, s));
  if (k == "condition") {
    ConditionOptions c;
    c.mode = m;
    return done(Condition::create(o.name, c));
  }
  if (k == "barrier") return done(Barrier::create(o.name, o.parties, {}, s));
  if (k == "dict")
    return done(
        Dict::create(o.name, {.capacity = o.maxsize > 0 ? static_cast<std::uint64_t>(o.maxsize) : 1024, .mode = m}));
  if (k == "list")
    return done(
        List::create(o.name, {.capacity = o.maxsize > 0 ? static_cast<std::uint64_t>(o.maxsize) : 1024, .mode = m}));
  std::fprintf(stderr,
               "shmring create: unknown --kind %s (queue, joinable-queue, pipe, lock, rlock, semaphore, "
               "bounded-semaphore, event, condition, barrier, dict, list)\n",
               k.c_str());
  return kExitUsage;
}

int run_rm(const std::vector<std::string>& names) {
  int rc = kExitOk;
  for (const auto& n : names) {
    FileInfo f;
    const int e = examine_named(n, f);
    // A shmring file is removed even when its layout does not match this
    // build (Segment::unlink checks the header itself); anything else stays.
    if (e != kExitOk && !(f.is_shmring && f.header.magic == platform::kSegmentMagic && f.damage != Errc::truncated)) {
      rc = e;
      continue;
    }
    if (auto r = platform::Segment::unlink(f.path, f.header.kind); !r) {
      rc = report(n, r.error());
      continue;
    }
  }
  return rc;
}

int run_gc(const GcOptions& o) {
  std::vector<std::string> names;
  if (const int rc = list_dir(o.dir, names); rc != kExitOk) return rc;
  MapsIndex maps;
  maps.scan();
  const std::string base = o.dir.back() == '/' ? o.dir : o.dir + "/";
  int rc = kExitOk;
  std::size_t removed = 0, kept = 0;
  for (const auto& n : names) {
    auto info = examine(n, base + n);
    if (!info || !info->is_shmring || info->header.magic != platform::kSegmentMagic ||
        info->damage == Errc::truncated) {
      continue;
    }
    FileInfo& f = *info;
    const platform::ProcessId creator{static_cast<std::uint32_t>(f.header.creator_pid), f.header.creator_start_time};
    std::string why;
    if (proc_state(creator) != ProcState::dead) why = "creator " + std::to_string(creator.pid) + " alive";
    for (const Holder& h : f.holders) {
      if (why.empty() && h.state != ProcState::dead) why = h.role + " " + std::to_string(h.id.pid) + " alive";
    }
    if (const auto pids = maps.pids_mapping(f.dev, f.ino); why.empty() && !pids.empty()) {
      why = "mapped by pid " + std::to_string(pids.front());
    }
    if (why.empty() && flock_held(f.path)) why = "a process holds a flock on it";
    if (!why.empty()) {
      ++kept;
      continue;
    }
    if (o.dry_run) {
      std::printf("would remove %s (%s)\n", f.path.c_str(), kind_name(f.header.kind).c_str());
      ++removed;
      continue;
    }
    if (auto r = platform::Segment::unlink(f.path, f.header.kind); !r) {
      rc = report(f.path, r.error());
      continue;
    }
    std::printf("removed %s (%s)\n", f.path.c_str(), kind_name(f.header.kind).c_str());
    ++removed;
  }
  std::fflush(stdout);
  std::fprintf(stderr, "gc: %zu %s, %zu in use\n", removed, o.dry_run ? "to remove" : "removed", kept);
  return rc;
}

}  // namespace shmring::cli
