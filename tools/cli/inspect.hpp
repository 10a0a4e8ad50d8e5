// Read-only inspection of shmring files for the `shmring` command: the
// header and the holders recorded in an object's layout, read with pread
// from a file opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK (never mapped, so a
// truncated or hostile file is an error value, never a SIGBUS), and the
// processes that map each file (one scan of /proc/*/maps per invocation).
//
// Nothing here writes to a file: the counters the public API exposes come
// from the API's own open (live.cpp), only after these checks passed.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shmring/platform/error.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring::cli {

// The documented exit codes (docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,
  kExitNotFound = 2,
  kExitDamaged = 3,     // not a sound shmring object: bad magic/version/layout, truncated, corrupt, symlink, FIFO
  kExitPermission = 4,  // EACCES/EPERM, or a file of another user
  kExitTimeout = 5,     // get/put found nothing/no room before --timeout
  kExitOther = 6,       // wrong kind, exists, closed, no space, any other system error
};

[[nodiscard]] int exit_code_for(Errc e) noexcept;

// A process's state as `ls` shows it.
enum class ProcState : std::uint8_t { alive, stopped, dead };
[[nodiscard]] const char* to_string(ProcState s) noexcept;
// liveness() (pid + start time), then /proc/<pid>/stat state T/t for "stopped".
[[nodiscard]] ProcState proc_state(platform::ProcessId id) noexcept;

struct Holder {
  std::string role;  // "producer", "consumer", "participant", "lane 3", "reader", "owner", "end a"...
  platform::ProcessId id;
  ProcState state = ProcState::dead;
};

// An event-loop poller (blocking/poller.hpp: Queue::fileno(),
// Connection::fileno()) registered on one of an object's parking words: a
// slot whose token is not 0. Whether its socket still exists is asked only
// by stat (platform::poller_alive, a connect probe that sends nothing).
struct PollerSlot {
  std::string where;  // queues: "not_empty" (readers), "not_full", "all_done"; pipes: "end a" / "end b" (receiving)
  std::uint32_t slot = 0;
  std::uint64_t token = 0;
  bool armed = false;  // its bit in the word's `armed` mask: the next notify pokes it
};

// SegmentHeaderLayout's fields, copied (the layout's atomic state word
// makes the layout itself non-copyable).
struct HeaderCopy {
  std::uint64_t magic = 0;
  std::uint32_t header_version = 0;
  std::uint32_t header_size = 0;
  std::uint32_t kind = 0;
  std::uint32_t layout_version = 0;
  std::uint64_t layout_hash = 0;
  std::uint64_t file_size = 0;
  std::uint64_t payload_offset = 0;
  std::uint64_t payload_size = 0;
  std::uint64_t creator_pid = 0;
  std::uint64_t creator_start_time = 0;
  std::int64_t created_realtime_ns = 0;
  std::uint32_t state = 0;
};

// A file examined by examine(): its identity, its header and what the
// layout records of its holders.
struct FileInfo {
  std::string name;  // as given (ls: the entry name)
  std::string path;  // the path opened
  dev_t dev = 0;
  ino_t ino = 0;
  std::uint64_t file_bytes = 0;       // st_size
  std::uint64_t allocated_bytes = 0;  // st_blocks * 512
  uid_t uid = 0;
  std::uint32_t mode = 0;
  bool is_shmring = false;  // the magic matched (else: not ours; ls skips it)
  Errc damage{};            // meaningful when damaged
  bool damaged = false;
  std::string problem;  // one line: what is wrong (damaged) or "initializing"
  HeaderCopy header;
  std::vector<Holder> holders;
  // Kind-specific facts read from the layout: engine, capacity, depth...
  std::string engine;
  std::optional<std::uint64_t> capacity;         // ring bytes (queues, pipes), entries (dict, list), elements (array)
  std::optional<std::uint64_t> depth_bytes;      // queues and pipes
  std::optional<std::uint64_t> depth_msgs;       // spsc, lanes, pipes from the layout; mpmc: from qsize()
  std::optional<std::uint64_t> puts;             // messages put so far (spsc, lanes: every lane's count)
  std::optional<std::uint64_t> in_pos, out_pos;  // byte positions (spsc, mpmc): for byte rates
  std::vector<std::pair<std::string, std::string>> fields;  // extra (name, value) for stat, value as JSON
  std::optional<std::uint32_t> pollers;                     // queues and pipes: poller slots in use
  std::vector<PollerSlot> poller_slots;                     // each slot in use
};

[[nodiscard]] std::string kind_name(std::uint32_t kind);  // "queue", "lock"... or the FourCC
[[nodiscard]] std::optional<std::uint32_t> kind_from_name(std::string_view name);

// Opens `path` read-only without following a final symlink and without
// blocking on a FIFO, checks it is a regular file, reads and checks its
// header and, for the kinds whose layout this build knows, the holders and
// positions. An error only when the file cannot be examined at all
// (not_found, is_symlink, not_regular_file, permission_denied, system);
// a file that is examined but unsound comes back with damaged = true.
[[nodiscard]] Result<FileInfo> examine(const std::string& name, const std::string& path);

// Every process that maps a file, by (device, inode): one pass over
// /proc/*/maps. The calling process is left out.
class MapsIndex {
 public:
  void scan();
  [[nodiscard]] std::vector<std::uint32_t> pids_mapping(dev_t dev, ino_t ino) const;

 private:
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::uint32_t>> by_file_;
};

// Tries flock(LOCK_EX|LOCK_NB) on an O_RDONLY descriptor: true when
// another process holds a flock on the file (the Python package holds
// shared flocks on the objects it uses).
[[nodiscard]] bool flock_held(const std::string& path);

// The names of the regular (or unknown-type) entries of an open directory,
// sorted; closes it. Returns 0 or readdir's errno.
[[nodiscard]] int read_dir(DIR* d, std::vector<std::string>& names);

// "/dev/shm/<name>" for a plain name, the path itself for an absolute path.
[[nodiscard]] Result<std::string> path_of(const std::string& name);

// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
[[nodiscard]] std::string json_str(std::string_view s);

}  // namespace shmring::cli
