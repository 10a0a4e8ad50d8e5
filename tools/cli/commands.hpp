// The `shmring` subcommands (main.cpp parses the command line; each
// run_* returns the process exit code, inspect.hpp's ExitCode).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "inspect.hpp"

namespace shmring::cli {

struct LsOptions {
  std::string dir = "/dev/shm";
  bool json = false;
};
int run_ls(const LsOptions& o);

struct StatOptions {
  std::string name;
  bool json = false;
};
int run_stat(const StatOptions& o);

struct WatchOptions {
  std::vector<std::string> names;
  double interval = 1.0;
  long count = 0;  // 0: until interrupted
};
int run_watch(const WatchOptions& o);

struct PutOptions {
  std::string name;
  std::optional<std::string> text;  // "-": stdin lines
  std::optional<std::string> file;
  double timeout = -1;  // < 0: wait as long as it takes
};
int run_put(const PutOptions& o);

struct GetOptions {
  std::string name;
  long count = 1;
  double timeout = -1;
  bool hex = false;
};
int run_get(const GetOptions& o);

struct CreateOptions {
  std::string name;
  std::string kind = "queue";
  std::int64_t maxsize = 0;
  std::uint64_t capacity = 1u << 20;
  std::string engine = "lanes";
  std::uint32_t lanes = 0;
  std::uint64_t max_message = 0;
  std::uint32_t value = 1;    // semaphores
  std::uint32_t parties = 2;  // barrier
  std::string mode = "600";
  bool one_owner = false;  // pipe: one owner per end (the only pipe that outlives this command)
};
int run_create(const CreateOptions& o);

int run_rm(const std::vector<std::string>& names);

struct GcOptions {
  std::string dir = "/dev/shm";
  bool dry_run = false;
};
int run_gc(const GcOptions& o);

struct BenchOptions {
  double seconds = 1.0;
  std::uint64_t size = 64;
};
int run_bench(const BenchOptions& o);

// Shared by the commands: "error: NAME: what" on stderr, and the exit code.
int report(const std::string& name, const Error& e);
// The object files' names in `dir` (sorted), or the exit code of why not
// (reported on stderr).
int list_dir(const std::string& dir, std::vector<std::string>& names);
// Examines NAME (a plain name or an absolute path); prints the error and
// returns its exit code when it cannot be examined or is damaged.
int examine_named(const std::string& name, FileInfo& out);

#ifdef SHMRING_HAS_BRIDGE
// `shmring bridge out|in|kv` (bridge.cpp, docs/bridge.md): run until the count,
// the idle time, the queue's close, or SIGINT/SIGTERM.
struct BridgeOptions {
  std::string queue;
  std::string server = "nats://127.0.0.1:4222";
  std::string subject;
  std::string stream;
  std::string retention = "limits";  // or work-queue: when the stream is created
  double duplicate_window = 120;     // seconds: when the stream is created
  std::uint64_t count = 0;
  double idle = -1;
  std::string durable;         // in
  std::string state;           // in
  double ack_wait = 30;        // in
  std::uint32_t window = 256;  // out: messages published and not yet acknowledged at most
  bool json = false;           // the summary line on stdout as JSON
  std::string bucket;          // kv
  int interval_ms = 50;        // kv
  int history = 1;             // kv
};
int run_bridge_out(const BridgeOptions& o);
int run_bridge_in(const BridgeOptions& o);
// `shmring bridge kv DICT --bucket B` (queue: the dict's name).
int run_bridge_kv(const BridgeOptions& o);
#endif

}  // namespace shmring::cli
