// `shmring ls`, `stat` and `watch`: what inspect.hpp reads, plus the
// counters the public API exposes (an API open, only of a file whose header
// checked out), in a table, in JSON, or refreshed in place.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "commands.hpp"
#include "shmring/ipc/dict.hpp"
#include "shmring/ipc/dict_layout.hpp"
#include "shmring/ipc/list.hpp"
#include "shmring/ipc/list_layout.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/platform/poll_socket.hpp"

namespace shmring::cli {

int report(const std::string& name, const Error& e) {
  std::fprintf(stderr, "shmring: %s: %s\n", name.c_str(), e.message().c_str());
  return exit_code_for(e.code);
}

int examine_named(const std::string& name, FileInfo& out) {
  auto path = path_of(name);
  if (!path) return report(name, path.error());
  auto info = examine(name, *path);
  if (!info) return report(name, info.error());
  if (info->damaged) {
    std::fprintf(stderr, "shmring: %s: %s\n", name.c_str(), info->problem.c_str());
    out = std::move(*info);
    return exit_code_for(out.damage);
  }
  out = std::move(*info);
  return kExitOk;
}

namespace {

struct Attached {
  std::uint32_t pid;
  ProcState state;
  std::string via;  // "map" or the role the layout records
};

// Processes that map the file (alive or stopped), then the holders the
// layout records (dead ones included: they are what gc waits for).
std::vector<Attached> attached(const FileInfo& f, const MapsIndex& maps) {
  std::vector<Attached> out;
  std::set<std::uint32_t> seen;
  for (const std::uint32_t pid : maps.pids_mapping(f.dev, f.ino)) {
    const ProcState s = proc_state({pid, platform::process_start_time(pid)});
    out.push_back({pid, s == ProcState::dead ? ProcState::dead : s, "map"});
    seen.insert(pid);
  }
  for (const Holder& h : f.holders) {
    if (seen.count(h.id.pid) != 0) {
      for (auto& a : out) {
        if (a.pid == h.id.pid && a.via == "map") a.via = h.role;
      }
      continue;
    }
    seen.insert(h.id.pid);
    out.push_back({h.id.pid, h.state, h.role});
  }
  return out;
}

std::int64_t now_realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::string human_age(double seconds) {
  char buf[32];
  if (seconds < 0) seconds = 0;
  if (seconds < 120) {
    std::snprintf(buf, sizeof(buf), "%.0fs", seconds);
  } else if (seconds < 7200) {
    std::snprintf(buf, sizeof(buf), "%.0fm", seconds / 60);
  } else if (seconds < 172800) {
    std::snprintf(buf, sizeof(buf), "%.0fh", seconds / 3600);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0fd", seconds / 86400);
  }
  return buf;
}

std::string human_bytes(std::uint64_t b) {
  char buf[32];
  if (b >= (1ULL << 30) && b % (1ULL << 30) == 0) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 "G", b >> 30);
  } else if (b >= (1ULL << 20) && b % (1ULL << 20) == 0) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 "M", b >> 20);
  } else if (b >= (1ULL << 10) && b % (1ULL << 10) == 0) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 "K", b >> 10);
  } else {
    std::snprintf(buf, sizeof(buf), "%" PRIu64, b);
  }
  return buf;
}

ProcState creator_state(const FileInfo& f) {
  return proc_state({static_cast<std::uint32_t>(f.header.creator_pid), f.header.creator_start_time});
}

std::string state_word(const FileInfo& f) {
  // Another header or layout version, or the other byte order: made by
  // another build of shmring, not necessarily damaged.
  if (f.damaged && (f.damage == Errc::bad_version || f.damage == Errc::bad_layout)) return "incompatible";
  if (f.damaged) return "damaged";
  if (!f.problem.empty()) return f.problem;  // "initializing"
  return "ok";
}

// The API's view of a queue, added to `f` (stat: every counter; ls: only
// what the layout cannot give, qsize of an MPMC queue). The queue is opened
// with no role, which changes nothing in the file.
// Returns the API's open error, if any (stat reports it; ls and watch
// show the layout's view alone).
std::optional<Error> add_queue_counters(FileInfo& f, bool all) {
  OpenOptions o;
  o.ready_timeout = std::chrono::milliseconds(0);
  o.allow_foreign_owner = true;
  auto use = [&](Queue& q) {
    f.depth_msgs = q.qsize();
    if (!all) return;
    auto num = [&](const char* n, std::uint64_t v) { f.fields.emplace_back(n, std::to_string(v)); };
    num("qsize", q.qsize());
    f.fields.emplace_back("empty", q.empty() ? "true" : "false");
    f.fields.emplace_back("full", q.full() ? "true" : "false");
    num("capacity_bytes", q.capacity_bytes());
    num("memory_bytes", q.memory_bytes());
    num("message_size", q.message_size());
    num("claims_repaired_api", q.claims_repaired());
    num("reads_lost_api", q.reads_lost());
  };
  if (f.header.kind == kJoinableQueueKind) {
    auto q = JoinableQueue::open(f.path, o);
    if (!q) return q.error();
    use(*q);
    if (all) f.fields.emplace_back("unfinished_tasks_api", std::to_string(q->unfinished_tasks()));
  } else {
    auto q = Queue::open(f.path, o);
    if (!q) return q.error();
    use(*q);
  }
  return std::nullopt;
}

// Dict and List: their own open checks their layout; len() and limits.
int add_table_counters(FileInfo& f) {
  if (f.header.kind == kDictKind) {
    auto d = Dict::open(f.path, {.ready_timeout = std::chrono::milliseconds(0), .allow_foreign_owner = true});
    if (!d) return report(f.name, d.error());
    f.capacity = d->capacity();
    f.fields.emplace_back("len", std::to_string(d->size()));
    f.fields.emplace_back("max_key", std::to_string(d->max_key()));
    f.fields.emplace_back("max_value", std::to_string(d->max_value()));
    f.fields.emplace_back("repairs", std::to_string(d->repairs()));
  } else if (f.header.kind == kListKind) {
    auto l = List::open(f.path, {.ready_timeout = std::chrono::milliseconds(0), .allow_foreign_owner = true});
    if (!l) return report(f.name, l.error());
    f.capacity = l->capacity();
    f.fields.emplace_back("len", std::to_string(l->size()));
    f.fields.emplace_back("max_value", std::to_string(l->max_value()));
    f.fields.emplace_back("repairs", std::to_string(l->repairs()));
  }
  return kExitOk;
}

std::string opt_num(const std::optional<std::uint64_t>& v) { return v ? std::to_string(*v) : "null"; }

std::string attached_json(const std::vector<Attached>& a) {
  std::string s = "[";
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i != 0) s += ",";
    s += "{\"pid\":" + std::to_string(a[i].pid) + ",\"state\":\"" + to_string(a[i].state) +
         "\",\"via\":" + json_str(a[i].via) + "}";
  }
  return s + "]";
}

std::string ls_json(const FileInfo& f, const std::vector<Attached>& a, std::int64_t now) {
  const bool header_ok = f.header.magic == platform::kSegmentMagic;
  std::string s = "{\"name\":" + json_str(f.name) + ",\"path\":" + json_str(f.path);
  s += ",\"kind\":" + (header_ok ? json_str(kind_name(f.header.kind)) : std::string("null"));
  s += ",\"engine\":" + (f.engine.empty() ? std::string("null") : json_str(f.engine));
  s += ",\"capacity\":" + opt_num(f.capacity);
  s += ",\"depth_messages\":" + opt_num(f.depth_msgs);
  s += ",\"depth_bytes\":" + opt_num(f.depth_bytes);
  s += ",\"pollers\":" + (f.pollers && !f.damaged ? std::to_string(*f.pollers) : std::string("null"));
  s += ",\"file_bytes\":" + std::to_string(f.file_bytes);
  s += ",\"attached\":" + attached_json(a);
  if (header_ok) {
    s += ",\"creator\":{\"pid\":" + std::to_string(f.header.creator_pid) + ",\"state\":\"" +
         to_string(creator_state(f)) + "\"}";
    char age[32];
    std::snprintf(age, sizeof(age), "%.3f", static_cast<double>(now - f.header.created_realtime_ns) / 1e9);
    s += ",\"age_seconds\":" + std::string(age);
  } else {
    s += ",\"creator\":null,\"age_seconds\":null";
  }
  s += ",\"state\":" + json_str(state_word(f));
  s += ",\"problem\":" + (f.damaged ? json_str(f.problem) : std::string("null"));
  return s + "}";
}

std::string attached_text(const std::vector<Attached>& a) {
  if (a.empty()) return "-";
  std::string s;
  for (const auto& x : a) {
    if (!s.empty()) s += ",";
    s += std::to_string(x.pid) + ":" + to_string(x.state);
  }
  return s;
}

}  // namespace

int list_dir(const std::string& dir, std::vector<std::string>& names) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    const int e = errno;
    return report(dir, Error{e == ENOENT   ? Errc::not_found
                             : e == EACCES ? Errc::permission_denied
                                           : Errc::system,
                             e, "opendir"});
  }
  if (const int e = read_dir(d, names); e != 0) return report(dir, Error{Errc::system, e, "readdir"});
  return kExitOk;
}

int run_ls(const LsOptions& o) {
  std::vector<std::string> names;
  if (const int rc = list_dir(o.dir, names); rc != kExitOk) return rc;
  MapsIndex maps;
  maps.scan();
  const std::string base = o.dir.back() == '/' ? o.dir : o.dir + "/";
  const std::int64_t now = now_realtime_ns();
  // The table: columns as wide as their widest cell (numbers right-aligned).
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      {"NAME", "KIND", "ENGINE", "CAPACITY", "DEPTH", "BYTES", "POLLERS", "CREATOR", "ATTACHED", "AGE", "STATE"});
  for (const std::string& n : names) {
    auto info = examine(n, base + n);
    if (!info || !info->is_shmring) continue;
    FileInfo& f = *info;
    if (!f.damaged && f.problem.empty() && f.engine == "mpmc") (void)add_queue_counters(f, false);
    const auto a = attached(f, maps);
    if (o.json) {
      std::printf("%s\n", ls_json(f, a, now).c_str());
      continue;
    }
    const bool header_ok = f.header.magic == platform::kSegmentMagic;
    std::string state = state_word(f);
    if (f.damaged) state += ": " + f.problem;  // "damaged: ..." or "incompatible: ..."
    rows.push_back({
        n,
        header_ok ? kind_name(f.header.kind) : "?",
        f.engine.empty() ? "-" : f.engine,
        !f.capacity        ? "-"
        : f.engine.empty() ? std::to_string(*f.capacity)  // entries or elements
                           : human_bytes(*f.capacity),
        f.depth_msgs ? std::to_string(*f.depth_msgs) : "-",
        f.depth_bytes ? std::to_string(*f.depth_bytes) : "-",
        f.pollers && !f.damaged ? std::to_string(*f.pollers) : "-",
        header_ok ? std::to_string(f.header.creator_pid) + ":" + to_string(creator_state(f)) : "-",
        attached_text(a),
        header_ok ? human_age(static_cast<double>(now - f.header.created_realtime_ns) / 1e9) : "-",
        state,
    });
  }
  if (o.json) return kExitOk;
  constexpr bool kRight[] = {false, false, false, true, true, true, true, false, false, true, false};
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) {
      const std::size_t pad = width[c] - r[c].size();
      if (c != 0) line += "  ";
      if (kRight[c]) line.append(pad, ' ');
      line += r[c];
      if (!kRight[c] && c + 1 != r.size()) line.append(pad, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  return kExitOk;
}

int run_stat(const StatOptions& o) {
  FileInfo f;
  if (const int rc = examine_named(o.name, f); rc != kExitOk) return rc;
  if (!f.problem.empty()) {  // initializing: a header and no object yet
    std::fprintf(stderr, "shmring: %s: not ready (its creator is still initializing it)\n", o.name.c_str());
    return kExitDamaged;
  }
  if (f.header.kind == kQueueKind || f.header.kind == kJoinableQueueKind) {
    if (auto e = add_queue_counters(f, true)) return report(o.name, *e);
  }
  if (const int rc = add_table_counters(f); rc != kExitOk) return rc;
  MapsIndex maps;
  maps.scan();
  const auto a = attached(f, maps);
  const auto& h = f.header;
  const std::int64_t now = now_realtime_ns();
  char hexbuf[32];
  auto hex = [&](std::uint64_t v) {
    std::snprintf(hexbuf, sizeof(hexbuf), "0x%016" PRIx64, v);
    return std::string(hexbuf);
  };
  std::vector<std::pair<std::string, std::string>> header = {
      {"magic", json_str(hex(h.magic))},
      {"header_version", std::to_string(h.header_version)},
      {"header_size", std::to_string(h.header_size)},
      {"kind", json_str(kind_name(h.kind))},
      {"kind_code", json_str([&] {
         char k[16];
         std::snprintf(k, sizeof(k), "0x%08x", h.kind);
         return std::string(k);
       }())},
      {"layout_version", std::to_string(h.layout_version)},
      {"layout_hash", json_str(hex(h.layout_hash))},
      {"file_size", std::to_string(h.file_size)},
      {"payload_offset", std::to_string(h.payload_offset)},
      {"payload_size", std::to_string(h.payload_size)},
      {"creator_pid", std::to_string(h.creator_pid)},
      {"creator_start_time", std::to_string(h.creator_start_time)},
      {"creator_state", json_str(to_string(creator_state(f)))},
      {"created_realtime_ns", std::to_string(h.created_realtime_ns)},
      {"age_seconds", std::to_string((now - h.created_realtime_ns) / 1000000000)},
      {"state", json_str("ready")},
  };
  std::vector<std::pair<std::string, std::string>> file = {
      {"path", json_str(f.path)},
      {"bytes", std::to_string(f.file_bytes)},
      {"allocated_bytes", std::to_string(f.allocated_bytes)},
      {"uid", std::to_string(f.uid)},
      {"mode", json_str([&] {
         char m[8];
         std::snprintf(m, sizeof(m), "%04o", f.mode);
         return std::string(m);
       }())},
  };
  std::vector<std::pair<std::string, std::string>> object;
  if (!f.engine.empty()) object.emplace_back("engine", json_str(f.engine));
  if (f.capacity) object.emplace_back("capacity", std::to_string(*f.capacity));
  if (f.depth_msgs) object.emplace_back("depth_messages", std::to_string(*f.depth_msgs));
  if (f.depth_bytes) object.emplace_back("depth_bytes", std::to_string(*f.depth_bytes));
  if (f.pollers) object.emplace_back("pollers", std::to_string(*f.pollers));
  for (auto& kv : f.fields) object.push_back(kv);
  // The pollers' sockets: does each still exist (a connect probe, nothing sent)?
  std::vector<bool> poller_alive;
  for (const PollerSlot& p : f.poller_slots) poller_alive.push_back(platform::poller_alive(p.token));
  auto section_json = [](const std::vector<std::pair<std::string, std::string>>& kvs) {
    std::string s = "{";
    for (std::size_t i = 0; i < kvs.size(); ++i) {
      if (i != 0) s += ',';
      s += json_str(kvs[i].first);
      s += ':';
      s += kvs[i].second;
    }
    s += '}';
    return s;
  };
  if (o.json) {
    std::string pollers = "null";
    if (f.pollers) {
      pollers = "[";
      for (std::size_t i = 0; i < f.poller_slots.size(); ++i) {
        const PollerSlot& p = f.poller_slots[i];
        if (i != 0) pollers += ",";
        pollers += "{\"where\":" + json_str(p.where) + ",\"slot\":" + std::to_string(p.slot) +
                   ",\"token\":" + json_str(hex(p.token)) + ",\"alive\":" + (poller_alive[i] ? "true" : "false") +
                   ",\"armed\":" + (p.armed ? "true" : "false") + "}";
      }
      pollers += "]";
    }
    std::printf("{\"name\":%s,\"header\":%s,\"file\":%s,\"object\":%s,\"attached\":%s,\"pollers\":%s}\n",
                json_str(o.name).c_str(), section_json(header).c_str(), section_json(file).c_str(),
                section_json(object).c_str(), attached_json(a).c_str(), pollers.c_str());
    return kExitOk;
  }
  auto plain = [](const std::string& v) { return (v.size() >= 2 && v.front() == '"') ? v.substr(1, v.size() - 2) : v; };
  std::printf("%s\n", o.name.c_str());
  auto section = [&](const char* title, const std::vector<std::pair<std::string, std::string>>& kvs) {
    std::printf("%s:\n", title);
    for (const auto& [k, v] : kvs) std::printf("  %-22s %s\n", k.c_str(), plain(v).c_str());
  };
  section("header", header);
  section("file", file);
  section("object", object);
  std::printf("attached:\n");
  if (a.empty()) std::printf("  (none)\n");
  for (const auto& x : a) std::printf("  pid %-8u %-8s %s\n", x.pid, to_string(x.state), x.via.c_str());
  if (f.pollers) {
    std::printf("pollers:\n");
    if (f.poller_slots.empty()) std::printf("  (none)\n");
    for (std::size_t i = 0; i < f.poller_slots.size(); ++i) {
      const PollerSlot& p = f.poller_slots[i];
      std::printf("  slot %-2u  %-9s  token %s  %-5s  %s\n", p.slot, p.where.c_str(), hex(p.token).c_str(),
                  poller_alive[i] ? "alive" : "dead", p.armed ? "armed" : "not armed");
    }
  }
  return kExitOk;
}

namespace {
volatile sig_atomic_t g_stop = 0;
void on_sigint(int) { g_stop = 1; }
}  // namespace

int run_watch(const WatchOptions& o) {
  struct Prev {
    bool have = false;
    std::uint64_t puts = 0, depth = 0, in_pos = 0, out_pos = 0;
  };
  std::vector<Prev> prev(o.names.size());
  std::vector<std::string> paths;
  for (const auto& n : o.names) {
    FileInfo f;
    if (const int rc = examine_named(n, f); rc != kExitOk) return rc;
    paths.push_back(f.path);
  }
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  int name_width = 4;
  for (const auto& n : o.names)
    name_width = std::max(name_width, static_cast<int>(std::min<std::size_t>(n.size(), 200)));
  ::signal(SIGINT, on_sigint);
  auto last = std::chrono::steady_clock::now();
  for (long round = 0; (o.count <= 0 || round < o.count) && g_stop == 0; ++round) {
    if (round != 0) {
      const auto wake = last + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(o.interval));
      while (g_stop == 0 && std::chrono::steady_clock::now() < wake) {
        const std::chrono::steady_clock::duration left = wake - std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
      }
      if (g_stop != 0) break;
    }
    const auto t = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(t - last).count();
    last = t;
    MapsIndex maps;
    maps.scan();
    if (tty) std::printf("\x1b[H\x1b[2J");
    if (tty || round == 0) {
      std::printf("%-10s %-*s %12s %12s %8s %12s %s\n", "TIME", name_width, "NAME", "IN/s", "OUT/s", "DEPTH", "BYTES",
                  "ATTACHED");
    }
    for (std::size_t i = 0; i < o.names.size(); ++i) {
      auto info = examine(o.names[i], paths[i]);
      char stamp[16];
      const std::time_t wall = std::time(nullptr);
      std::tm tmv{};
      ::localtime_r(&wall, &tmv);
      std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tmv);
      if (!info || info->damaged) {
        std::printf("%-10s %-*s %s\n", stamp, name_width, o.names[i].c_str(),
                    !info ? info.error().message().c_str() : info->problem.c_str());
        prev[i].have = false;
        continue;
      }
      FileInfo& f = *info;
      if (f.engine == "mpmc") (void)add_queue_counters(f, false);
      const std::uint64_t depth = f.depth_msgs.value_or(0);
      std::string in = "-", out = "-";
      char buf[32];
      if (prev[i].have && dt > 0) {
        if (f.puts) {
          const double rin = static_cast<double>(*f.puts - prev[i].puts) / dt;
          const double rout = (static_cast<double>(*f.puts - prev[i].puts) -
                               (static_cast<double>(depth) - static_cast<double>(prev[i].depth))) /
                              dt;
          std::snprintf(buf, sizeof(buf), "%.0f msg", rin);
          in = buf;
          std::snprintf(buf, sizeof(buf), "%.0f msg", rout < 0 ? 0 : rout);
          out = buf;
        } else if (f.in_pos && f.out_pos) {
          std::snprintf(buf, sizeof(buf), "%.0f B", static_cast<double>(*f.in_pos - prev[i].in_pos) / dt);
          in = buf;
          std::snprintf(buf, sizeof(buf), "%.0f B", static_cast<double>(*f.out_pos - prev[i].out_pos) / dt);
          out = buf;
        }
      }
      prev[i] = {true, f.puts.value_or(0), depth, f.in_pos.value_or(0), f.out_pos.value_or(0)};
      std::printf("%-10s %-*s %12s %12s %8s %12s %s\n", stamp, name_width, o.names[i].c_str(), in.c_str(), out.c_str(),
                  f.depth_msgs ? std::to_string(*f.depth_msgs).c_str() : "-",
                  f.depth_bytes ? std::to_string(*f.depth_bytes).c_str() : "-",
                  attached_text(attached(f, maps)).c_str());
    }
    std::fflush(stdout);
  }
  return kExitOk;
}

}  // namespace shmring::cli
