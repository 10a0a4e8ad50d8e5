// Read-only inspection (inspect.hpp): pread, never mmap; every value read
// from a file is untrusted and bounds-checked before it is used as an offset.
#include "inspect.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

#include "shmring/engine/lane_ring_layout.hpp"
#include "shmring/ipc/barrier.hpp"
#include "shmring/ipc/condition.hpp"
#include "shmring/ipc/dict_layout.hpp"
#include "shmring/ipc/list_layout.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/ipc/sync_layout.hpp"
#include "shmring/ipc/value.hpp"
#include "shmring/platform/segment.hpp"

namespace shmring::cli {

int exit_code_for(Errc e) noexcept {
  switch (e) {
    case Errc::not_found:
    case Errc::invalid_name: return kExitNotFound;
    case Errc::is_symlink:
    case Errc::not_regular_file:
    case Errc::empty_file:
    case Errc::truncated:
    case Errc::bad_magic:
    case Errc::bad_version:
    case Errc::bad_layout:
    case Errc::bad_size:
    case Errc::corrupt:
    case Errc::not_ready:
    case Errc::creator_died: return kExitDamaged;
    case Errc::permission_denied:
    case Errc::foreign_owner: return kExitPermission;
    default: return kExitOther;
  }
}

const char* to_string(ProcState s) noexcept {
  switch (s) {
    case ProcState::alive: return "alive";
    case ProcState::stopped: return "stopped";
    case ProcState::dead: return "dead";
  }
  return "?";
}

namespace {

// Field 3 of /proc/<pid>/stat (after the last ')'), or '?'.
char proc_state_char(std::uint32_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%u/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return '?';
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  return (p != nullptr && p[1] == ' ') ? p[2] : '?';
}

}  // namespace

ProcState proc_state(platform::ProcessId id) noexcept {
  if (id.pid == 0 || platform::liveness(id) == platform::Liveness::dead) return ProcState::dead;
  const char c = proc_state_char(id.pid);
  return (c == 'T' || c == 't') ? ProcState::stopped : ProcState::alive;
}

namespace {

struct KindName {
  std::uint32_t kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {kQueueKind, "queue"},
    {kJoinableQueueKind, "joinable-queue"},
    {kPipeKind, "pipe"},
    {kLockKind, "lock"},
    {kRLockKind, "rlock"},
    {kSemaphoreKind, "semaphore"},
    {kBoundedSemaphoreKind, "bounded-semaphore"},
    {kEventKind, "event"},
    {kConditionKind, "condition"},
    {kBarrierKind, "barrier"},
    {kValueKind, "value"},
    {kArrayKind, "array"},
    {kDictKind, "dict"},
    {kListKind, "list"},
};

// Memory aligned for any layout (128 bytes), filled by pread.
struct AlignedBytes {
  struct Free {
    void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{128}); }
  };
  std::unique_ptr<std::byte[], Free> p;
  std::size_t size = 0;
  explicit AlignedBytes(std::size_t n)
      : p(static_cast<std::byte*>(::operator new[](n, std::align_val_t{128}))), size(n) {
    std::memset(p.get(), 0, n);
  }
  template <class Layout>
  [[nodiscard]] const Layout& as(std::size_t offset = 0) const noexcept {
    return *platform::layout_at<const Layout>(p.get() + offset);
  }
};

// Reads exactly `n` bytes at `offset`; false on a short read or an error.
bool read_exact(int fd, void* out, std::size_t n, std::uint64_t offset) {
  auto* dst = static_cast<char*>(out);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<std::size_t>(r);
  }
  return true;
}

class Examiner {
 public:
  Examiner(int fd, FileInfo& info) : fd_(fd), info_(info) {}

  void run() {
    const auto& h = info_.header;
    payload_ = h.payload_offset;
    payload_end_ = h.payload_offset + h.payload_size;
    switch (h.kind) {
      case kQueueKind:
      case kJoinableQueueKind:
        if (!expect(kQueueLayoutVersion, kQueueLayoutHash)) return;
        queue();
        break;
      case kPipeKind:
        if (!expect(kPipeLayoutVersion, kPipeLayoutHash)) return;
        pipe();
        break;
      case kLockKind:
      case kRLockKind:
        if (!expect(kSyncLayoutVersion, kLockLayoutHash)) return;
        lock(0, "owner");
        break;
      case kSemaphoreKind:
      case kBoundedSemaphoreKind:
        if (!expect(kSyncLayoutVersion, kSemaphoreLayoutHash)) return;
        semaphore();
        break;
      case kEventKind:
        if (!expect(kSyncLayoutVersion, kEventLayoutHash)) return;
        event();
        break;
      case kConditionKind:
        if (!expect(kSyncLayoutVersion, kConditionLayoutHash)) return;
        lock(0, "lock owner");
        break;
      case kBarrierKind:
        if (!expect(kSyncLayoutVersion, kBarrierLayoutHash)) return;
        barrier();
        break;
      case kValueKind:
      case kArrayKind: typed(); break;
      case kDictKind: dict(); break;
      case kListKind: list(); break;
      default: break;
    }
  }

 private:
  bool expect(std::uint32_t version, std::uint64_t hash) {
    if (info_.header.layout_version != version)
      return damage(Errc::bad_version, "layout version differs from this build");
    if (info_.header.layout_hash != hash) return damage(Errc::bad_layout, "layout hash differs from this build");
    return true;
  }
  bool damage(Errc e, const char* what) {
    info_.damaged = true;
    info_.damage = e;
    info_.problem = what;
    return false;
  }
  // `n` bytes of the payload at `offset` (from the payload start), if the
  // payload holds them.
  std::optional<AlignedBytes> read_payload(std::uint64_t offset, std::uint64_t n) {
    if (offset > info_.header.payload_size || n > info_.header.payload_size - offset) {
      damage(Errc::bad_size, "payload smaller than its layout");
      return std::nullopt;
    }
    AlignedBytes b(static_cast<std::size_t>(n));
    if (!read_exact(fd_, b.p.get(), b.size, payload_ + offset)) {
      damage(Errc::truncated, "short read of the payload");
      return std::nullopt;
    }
    return b;
  }
  void holder(const char* role, std::uint64_t token) {
    if (token == 0) return;
    const platform::ProcessId id = platform::unpack_owner(token);
    info_.holders.push_back(Holder{role, id, proc_state(id)});
  }
  // The poller slots in use on parking word `w` (read from the copy, like
  // every other word: a snapshot). Bits of `armed` past kPollerMask are
  // ignored, as the library ignores them.
  void pollers(const ParkingLayout& w, const char* where) {
    const std::uint32_t armed = w.armed.load(std::memory_order_relaxed) & kPollerMask;
    std::uint32_t n = info_.pollers.value_or(0);
    for (std::uint32_t i = 0; i < kPollerSlots; ++i) {
      const std::uint64_t token = w.pollers[i].load(std::memory_order_relaxed);
      if (token == 0) continue;
      ++n;
      info_.poller_slots.push_back(PollerSlot{where, i, token, ((armed >> i) & 1u) != 0});
    }
    info_.pollers = n;
  }
  void field(const char* name, std::uint64_t v) { info_.fields.emplace_back(name, std::to_string(v)); }
  void field_i(const char* name, std::int64_t v) { info_.fields.emplace_back(name, std::to_string(v)); }
  void field_b(const char* name, bool v) { info_.fields.emplace_back(name, v ? "true" : "false"); }
  void field_s(const char* name, std::string_view v) { info_.fields.emplace_back(name, json_str(v)); }

  // Lanes of a queue layout `q` whose ring bytes start at payload offset
  // `base` (the lane table, then the lanes' bytes): holders and depth.
  struct Depth {
    std::uint64_t bytes = 0;
    std::uint64_t msgs = 0;
    std::uint64_t puts = 0;
  };
  Depth lanes(const QueueConfigLayout& c, std::uint64_t base, const char* producer_role, const char* consumer_role,
              std::uint64_t& reads_lost) {
    Depth d;
    if (c.lanes < 2 || c.lanes > kMaxLanes || c.capacity % c.lanes != 0) {
      damage(Errc::corrupt, "lane count out of range");
      return d;
    }
    auto t = read_payload(base, lane_table_bytes(c.lanes));
    if (!t) return d;
    const auto& table = t->as<LaneTableLayout>();
    reads_lost = table.mask.reads_lost.load(std::memory_order_relaxed);
    for (const auto& r : table.readers) holder(consumer_role, r.owner.load(std::memory_order_relaxed));
    const std::uint64_t lane_cap = c.capacity / c.lanes;
    const std::uint64_t in_use = table.mask.in_use.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < c.lanes; ++i) {
      const auto& lane = t->as<LaneLayout>(sizeof(LaneTableLayout) + std::size_t{i} * sizeof(LaneLayout));
      holder(producer_role, lane.control.owner.load(std::memory_order_relaxed));
      d.puts += lane.ring.producer.put_count.load(std::memory_order_relaxed);
      if ((in_use >> i & 1) == 0) continue;
      const std::uint64_t head = lane.ring.consumer.head.load(std::memory_order_relaxed);
      const std::uint64_t tail = lane.ring.producer.tail.load(std::memory_order_relaxed);
      const std::uint64_t put = lane.ring.producer.put_count.load(std::memory_order_relaxed);
      if (tail <= head || tail - head > lane_cap) continue;
      d.bytes += tail - head;
      // The record at the head carries its message number (a padding
      // record: the next message's), so the count behind it is exact.
      RecordHeader hdr{};
      const std::uint64_t at = base + lane_table_bytes(c.lanes) + std::uint64_t{i} * lane_cap + (head & (lane_cap - 1));
      if (at + sizeof(hdr) > info_.header.payload_size || !read_exact(fd_, &hdr, sizeof(hdr), payload_ + at)) continue;
      const auto behind = static_cast<std::uint32_t>(static_cast<std::uint32_t>(put) - hdr.seq);
      const std::uint64_t most = (tail - head) / record_size(0);
      d.msgs += behind <= most ? behind : most;
    }
    return d;
  }

  void queue() {
    auto b = read_payload(0, sizeof(QueueLayout));
    if (!b) return;
    const auto& q = b->as<QueueLayout>();
    const QueueConfigLayout c = q.config;
    static constexpr const char* kEngines[] = {"spsc", "mpmc", "spsc-fixed", "lanes"};
    if (c.engine > 3) {
      damage(Errc::corrupt, "unknown engine number");
      return;
    }
    if (c.capacity == 0 || (c.capacity & (c.capacity - 1)) != 0 || c.data_offset != sizeof(QueueLayout)) {
      damage(Errc::corrupt, "queue capacity or data offset out of range");
      return;
    }
    info_.engine = kEngines[c.engine];
    info_.capacity = c.capacity;
    pollers(q.not_empty, "not_empty");
    pollers(q.not_full, "not_full");
    pollers(q.all_done, "all_done");
    field_i("maxsize", c.maxsize);
    field("max_message", c.max_message);
    field("lanes", c.lanes);
    field_s("barriers", c.barriers != 0 ? "asymmetric" : "fences");
    field("on_demand_chunk", c.chunk);
    field_b("closed", q.control.closed.load(std::memory_order_relaxed) != 0);
    if (info_.header.kind == kJoinableQueueKind) {
      field("unfinished_tasks", q.tasks.unfinished.load(std::memory_order_relaxed));
    }
    const std::uint64_t head = q.ring.consumer.head.load(std::memory_order_relaxed);
    const std::uint64_t tail = q.ring.producer.tail.load(std::memory_order_relaxed);
    switch (c.engine) {
      case 0:
      case 2: {
        holder("producer", q.control.producer_owner.load(std::memory_order_relaxed));
        holder("consumer", q.control.consumer_owner.load(std::memory_order_relaxed));
        if (tail < head) break;
        if (c.engine == 0) {
          const std::uint64_t puts = q.ring.producer.put_count.load(std::memory_order_relaxed);
          const std::uint64_t gets = q.ring.consumer.get_count.load(std::memory_order_relaxed);
          field("puts", puts);
          field("gets", gets);
          info_.puts = puts;
          info_.in_pos = tail;
          info_.out_pos = head;
          info_.depth_bytes = tail - head;
          info_.depth_msgs = puts >= gets ? puts - gets : 0;
        } else {  // positions count slots of max_message bytes
          field("puts", tail);
          field("gets", head);
          info_.puts = tail;
          info_.depth_msgs = tail - head;
          info_.depth_bytes = (tail - head) * c.max_message;
        }
        break;
      }
      case 1: {
        for (const auto& p : q.mpmc.participants) holder("participant", p.owner.load(std::memory_order_relaxed));
        const std::uint64_t mt = q.mpmc.tail.value.load(std::memory_order_relaxed);
        const std::uint64_t mh = q.mpmc.head.value.load(std::memory_order_relaxed);
        if (mt >= mh) info_.depth_bytes = mt - mh;
        info_.in_pos = mt;
        info_.out_pos = mh;
        field("claims_repaired", q.mpmc.key.claims_abandoned.load(std::memory_order_relaxed));
        field("reads_lost", q.mpmc.key.reads_lost.load(std::memory_order_relaxed));
        break;
      }
      case 3: {
        std::uint64_t lost = 0;
        const Depth d = lanes(c, c.data_offset, "producer", "consumer", lost);
        info_.depth_bytes = d.bytes;
        info_.depth_msgs = d.msgs;
        info_.puts = d.puts;
        field("puts", d.puts);
        field("reads_lost", lost);
        break;
      }
      default: break;
    }
  }

  void pipe() {
    auto b = read_payload(0, sizeof(PipeLayout));
    if (!b) return;
    const auto& p = b->as<PipeLayout>();
    const PipeConfigLayout c = p.config;
    if (c.capacity == 0 || (c.capacity & (c.capacity - 1)) != 0) {
      damage(Errc::corrupt, "pipe capacity out of range");
      return;
    }
    info_.engine = c.shared != 0 ? "shared-ends" : "one-owner";
    info_.capacity = c.capacity;
    field_b("duplex", c.duplex != 0);
    field("max_message", c.max_message);
    field_b("closed_a", p.control.closed[0].load(std::memory_order_relaxed) != 0);
    field_b("closed_b", p.control.closed[1].load(std::memory_order_relaxed) != 0);
    Depth total;
    info_.pollers = 0;
    for (int d = 0; d < 2; ++d) {
      if (c.data_offset[d] == 0) continue;
      // Direction 0 carries end a's messages to end b: end b's receivers poll it.
      const char* receiver = d == 0 ? "end b" : "end a";
      if (c.shared != 0) {
        auto qb = read_payload(c.data_offset[d], sizeof(QueueLayout));
        if (!qb) return;
        const auto& dq = qb->as<QueueLayout>();
        const QueueConfigLayout qc = dq.config;
        if (qc.engine != 3 || qc.data_offset != sizeof(QueueLayout)) {
          damage(Errc::corrupt, "pipe direction is not a lane queue");
          return;
        }
        pollers(dq.not_empty, receiver);
        std::uint64_t lost = 0;
        const Depth dd = lanes(qc, c.data_offset[d] + qc.data_offset, "sender", "receiver", lost);
        total.bytes += dd.bytes;
        total.msgs += dd.msgs;
        total.puts += dd.puts;
      } else {
        pollers(p.direction[d].not_empty, receiver);
        const auto& r = p.direction[d].ring;
        const std::uint64_t head = r.consumer.head.load(std::memory_order_relaxed);
        const std::uint64_t tail = r.producer.tail.load(std::memory_order_relaxed);
        const std::uint64_t puts = r.producer.put_count.load(std::memory_order_relaxed);
        const std::uint64_t gets = r.consumer.get_count.load(std::memory_order_relaxed);
        if (tail >= head) total.bytes += tail - head;
        if (puts >= gets) total.msgs += puts - gets;
        total.puts += puts;
      }
    }
    info_.depth_bytes = total.bytes;
    info_.depth_msgs = total.msgs;
    info_.puts = total.puts;
    if (c.shared != 0) {
      for (const auto& t : p.ends[0].holder) holder("end a", t.load(std::memory_order_relaxed));
      for (const auto& t : p.ends[1].holder) holder("end b", t.load(std::memory_order_relaxed));
    } else {
      holder("end a", p.control.owner[0].load(std::memory_order_relaxed));
      holder("end b", p.control.owner[1].load(std::memory_order_relaxed));
    }
  }

  void lock(std::uint64_t offset, const char* role) {
    auto b = read_payload(offset, sizeof(LockLayout));
    if (!b) return;
    const auto& l = b->as<LockLayout>();
    const std::uint64_t owner = l.owner.load(std::memory_order_relaxed);
    field_b("locked", owner != 0);
    if (owner != 0) {
      const platform::ProcessId id = platform::unpack_owner(owner);
      field("owner_tid", id.pid);
      field_s("owner_state", to_string(proc_state(id)));
    }
    if (info_.header.kind == kRLockKind) field("depth", l.depth.load(std::memory_order_relaxed));
    field("takeovers", l.takeovers.load(std::memory_order_relaxed));
    holder(role, owner);
  }

  void semaphore() {
    auto b = read_payload(0, sizeof(SemaphoreLayout));
    if (!b) return;
    const auto& s = b->as<SemaphoreLayout>();
    field("value", s.value.load(std::memory_order_relaxed));
    field_b("bounded", s.bounded != 0);
    if (s.bounded != 0) field("bound", s.bound);
  }

  void event() {
    auto b = read_payload(0, sizeof(EventLayout));
    if (!b) return;
    field_b("set", (b->as<EventLayout>().state.load(std::memory_order_relaxed) & 1u) != 0);
  }

  void barrier() {
    lock(0, "lock owner");
    auto b = read_payload(0, sizeof(BarrierLayout));
    if (!b) return;
    const auto& l = b->as<BarrierLayout>();
    field("parties", l.parties);
    field("n_waiting", l.count.load(std::memory_order_relaxed));
    field_b("broken", l.broken.load(std::memory_order_relaxed) != 0);
    field("generation", l.generation.load(std::memory_order_relaxed));
  }

  // Dict and List: their own open checks the rest of the layout (stat
  // opens them for len); here the writers' lock and the capacity.
  void dict() {
    auto b = read_payload(0, sizeof(DictLayout));
    if (!b) return;
    const auto& d = b->as<DictLayout>();
    info_.capacity = d.config.max_entries;
    holder("writer", d.lock.owner.load(std::memory_order_relaxed));
  }
  void list() {
    auto b = read_payload(0, sizeof(ListLayout));
    if (!b) return;
    const auto& l = b->as<ListLayout>();
    info_.capacity = l.config.capacity;
    holder("writer", l.lock.owner.load(std::memory_order_relaxed));
  }

  void typed() {
    auto b = read_payload(0, sizeof(TypedLayout));
    if (!b) return;
    const auto& t = b->as<TypedLayout>();
    field("elem_size", t.header.elem_size);
    field("count", t.header.count);
    field_b("has_lock", t.header.has_lock != 0);
    info_.capacity = t.header.count;
    if (t.header.has_lock != 0) lock(offsetof(TypedLayout, lock), "lock owner");
  }

  int fd_;
  FileInfo& info_;
  std::uint64_t payload_ = 0;
  std::uint64_t payload_end_ = 0;
};

Errc errno_errc(int e) {
  switch (e) {
    case ENOENT:
    case ENOTDIR: return Errc::not_found;
    case ELOOP: return Errc::is_symlink;
    case EACCES:
    case EPERM: return Errc::permission_denied;
    case ENXIO:  // a FIFO or socket opened O_NONBLOCK
      return Errc::not_regular_file;
    default: return Errc::system;
  }
}

void check_header(int fd, FileInfo& info) {
  auto bad = [&](Errc e, const char* what) {
    info.damaged = true;
    info.damage = e;
    info.problem = what;
  };
  std::uint64_t magic = 0;
  if (info.file_bytes < sizeof(magic) || !read_exact(fd, &magic, sizeof(magic), 0)) {
    bad(info.file_bytes == 0 ? Errc::empty_file : Errc::bad_magic,
        info.file_bytes == 0 ? "empty file" : "not a shmring file (too short for a header)");
    return;
  }
  if (magic == platform::kSegmentMagicSwapped) {
    info.is_shmring = true;
    bad(Errc::bad_layout, "a shmring file of the other byte order");
    return;
  }
  if (magic != platform::kSegmentMagic) {
    bad(Errc::bad_magic, "not a shmring file (bad magic)");
    return;
  }
  info.is_shmring = true;
  AlignedBytes raw(sizeof(platform::SegmentHeaderLayout));
  if (info.file_bytes < sizeof(platform::SegmentHeaderLayout) || !read_exact(fd, raw.p.get(), raw.size, 0)) {
    bad(Errc::truncated, "truncated: shorter than its 128-byte header");
    return;
  }
  const auto& l = raw.as<platform::SegmentHeaderLayout>();
  auto& h = info.header;
  h = HeaderCopy{l.magic,
                 l.header_version,
                 l.header_size,
                 l.kind,
                 l.layout_version,
                 l.layout_hash,
                 l.file_size,
                 l.payload_offset,
                 l.payload_size,
                 l.creator_pid,
                 l.creator_start_time,
                 l.created_realtime_ns,
                 l.state.load(std::memory_order_relaxed)};
  if (h.header_version != platform::kSegmentHeaderVersion)
    return bad(Errc::bad_version, "header version differs from this build");
  if (h.header_size != sizeof(platform::SegmentHeaderLayout))
    return bad(Errc::bad_layout, "header size differs from this build");
  if (h.file_size > info.file_bytes) return bad(Errc::truncated, "truncated: shorter than its header says");
  if (h.file_size < info.file_bytes) return bad(Errc::bad_size, "longer than its header says");
  if (h.payload_offset < sizeof(platform::SegmentHeaderLayout) || h.payload_offset % 128 != 0 ||
      h.payload_offset > h.file_size || h.payload_size > h.file_size - h.payload_offset) {
    return bad(Errc::bad_size, "payload offset or size outside the file");
  }
  bool known = false;
  for (const auto& k : kKinds) known = known || k.kind == h.kind;
  if (!known) return bad(Errc::bad_version, "an object kind this build does not know");
  if (h.state != static_cast<std::uint32_t>(platform::SegmentState::ready)) {
    if (h.state != static_cast<std::uint32_t>(platform::SegmentState::initializing)) {
      return bad(Errc::corrupt, "unknown ready state");
    }
    info.problem = "initializing";
    return;
  }
  Examiner(fd, info).run();
}

}  // namespace

std::string kind_name(std::uint32_t kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<char>((kind >> (8 * i)) & 0xffu);
    s += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return s;
}

std::optional<std::uint32_t> kind_from_name(std::string_view name) {
  for (const auto& k : kKinds) {
    if (name == k.name) return k.kind;
  }
  return std::nullopt;
}

Result<std::string> path_of(const std::string& name) { return platform::segment_path(name); }

std::string json_str(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int read_dir(DIR* d, std::vector<std::string>& names) {
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) break;
    // Symlinks, FIFOs, directories are not objects.
    if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) names.emplace_back(e->d_name);
  }
  const int err = errno;
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return err;
}

Result<FileInfo> examine(const std::string& name, const std::string& path) {
  FileInfo info;
  info.name = name;
  info.path = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    return Error{errno_errc(e), e, "open"};
  }
  struct ::stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return Error{Errc::system, e, "fstat"};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Errc::not_regular_file, "not a regular file");
  }
  info.dev = st.st_dev;
  info.ino = st.st_ino;
  info.file_bytes = static_cast<std::uint64_t>(st.st_size);
  info.allocated_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512u;
  info.uid = st.st_uid;
  info.mode = st.st_mode & 07777u;
  check_header(fd, info);
  ::close(fd);
  return info;
}

void MapsIndex::scan() {
  by_file_.clear();
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  const auto self = static_cast<std::uint32_t>(::getpid());
  std::string line;
  std::vector<char> buf(1 << 16);
  while (const dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const unsigned long pid = std::strtoul(e->d_name, &end, 10);
    if (*end != '\0' || pid == 0 || pid == self) continue;
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%lu/maps", pid);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // One entry per (file, pid): a process maps a segment once or a few times.
    std::pair<std::uint64_t, std::uint64_t> last{~0ULL, ~0ULL};
    std::string pending;
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      pending.append(buf.data(), static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        // "addr perms offset MM:mm inode path"
        unsigned maj = 0, mnr = 0;
        unsigned long long inode = 0;
        if (std::sscanf(pending.c_str() + start, "%*s %*s %*s %x:%x %llu", &maj, &mnr, &inode) != 3 || inode == 0) {
          continue;
        }
        const std::pair<std::uint64_t, std::uint64_t> key{makedev(maj, mnr), inode};
        if (key == last) continue;
        last = key;
        auto& pids = by_file_[key];
        if (pids.empty() || pids.back() != pid) pids.push_back(static_cast<std::uint32_t>(pid));
      }
      pending.erase(0, start);
    }
    ::close(fd);
  }
  ::closedir(proc);
}

std::vector<std::uint32_t> MapsIndex::pids_mapping(dev_t dev, ino_t ino) const {
  const auto it = by_file_.find({static_cast<std::uint64_t>(dev), static_cast<std::uint64_t>(ino)});
  return it == by_file_.end() ? std::vector<std::uint32_t>{} : it->second;
}

bool flock_held(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

}  // namespace shmring::cli
