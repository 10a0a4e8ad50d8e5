// shmring: inspect and drive shmring objects from the command line
// (docs/cli.md). The subcommands are in ls_stat.cpp, io.cpp and bench.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"

namespace {

constexpr const char* kExitCodes =
    "\n\nExit codes: 0 ok, 1 usage, 2 not found, 3 damaged or not a shmring object (bad magic, version or\n"
    "layout, truncated, corrupt, a symlink, a FIFO), 4 permission denied, 5 timed out (get/put),\n"
    "6 any other error (wrong kind, exists, closed, no space, system error).\n";

std::string footer(const char* examples) { return std::string("\nExamples:\n") + examples + kExitCodes; }

}  // namespace

int main(int argc, char** argv) {
  using namespace shmring::cli;
  CLI::App app{
      "shmring: inspect and drive shmring objects (queues, pipes, locks...) by name.\n"
      "NAME is a plain name (a file in /dev/shm) or an absolute path."};
  app.require_subcommand(1);
  app.footer(
      footer("  shmring ls\n  shmring stat orders\n  shmring put orders hello\n  shmring get orders -n 3\n"
             "  shmring gc --dry-run"));

  LsOptions ls;
  auto* c_ls = app.add_subcommand("ls", "list every shmring object in DIR (default /dev/shm)");
  c_ls->add_option("DIR", ls.dir, "directory to list");
  c_ls->add_flag("--json", ls.json, "one JSON object per line (fields: docs/cli.md)");
  c_ls->footer(footer("  shmring ls\n  shmring ls /tmp/myobjects --json | jq .depth_messages"));

  StatOptions st;
  auto* c_stat = app.add_subcommand(
      "stat", "every header field, live counter, attached process and event-loop poller of one object");
  c_stat->add_option("NAME", st.name, "object name or absolute path")->required();
  c_stat->add_flag("--json", st.json, "one JSON document (fields: docs/cli.md)");
  c_stat->footer(footer(
      "  shmring stat orders\n  shmring stat /dev/shm/orders --json\n  shmring stat orders --json | jq .pollers"));

  WatchOptions wa;
  auto* c_watch = app.add_subcommand("watch", "rates in and out, depth and attached processes, refreshed");
  c_watch->add_option("NAME", wa.names, "objects to watch")->required();
  c_watch->add_option("--interval", wa.interval, "seconds between samples (default 1)")->check(CLI::PositiveNumber);
  c_watch->add_option("--count", wa.count, "samples to take (default: until Ctrl-C)");
  c_watch->footer(footer("  shmring watch orders\n  shmring watch orders results --interval 0.5 --count 10 > log"));

  PutOptions pu;
  auto* c_put = app.add_subcommand("put", "put TEXT as one message, or each stdin line with -");
  c_put->add_option("NAME", pu.name, "queue name")->required();
  c_put->add_option("TEXT", pu.text, "the message; - reads stdin lines, one message each");
  c_put->add_option("--file", pu.file, "put the whole file as one message");
  c_put->add_option("--timeout", pu.timeout, "seconds to wait for room (default: as long as it takes)");
  c_put->footer(
      footer("  shmring put orders 'order 1'\n  seq 1 100 | shmring put orders -\n"
             "  shmring put orders --file blob.bin --timeout 2"));

  GetOptions ge;
  auto* c_get = app.add_subcommand("get", "get messages and print them, one per line");
  c_get->add_option("NAME", ge.name, "queue name")->required();
  c_get->add_option("-n", ge.count, "messages to get (default 1)")->check(CLI::PositiveNumber);
  c_get->add_option("--timeout", ge.timeout, "seconds to wait for each message (default: as long as it takes)");
  c_get->add_flag("--hex", ge.hex, "print each message as hex");
  c_get->footer(footer("  shmring get orders\n  shmring get orders -n 10 --timeout 1 --hex"));

  CreateOptions cr;
  auto* c_create = app.add_subcommand("create", "create an object");
  c_create->add_option("NAME", cr.name, "object name or absolute path")->required();
  c_create->add_option("--kind", cr.kind,
                       "queue (default), joinable-queue, pipe, lock, rlock, semaphore, bounded-semaphore, event, "
                       "condition, barrier, dict, list");
  c_create->add_option("--maxsize", cr.maxsize, "queue: message limit (<= 0: bytes only); dict, list: entries");
  c_create->add_option("--capacity", cr.capacity, "queue, pipe: ring bytes (default 1 MiB)");
  c_create->add_option("--engine", cr.engine, "queue engine: lanes (default), mpmc, spsc");
  c_create->add_option("--lanes", cr.lanes, "lanes engine: lanes (2..64; default 0: chosen)");
  c_create->add_option("--max-message", cr.max_message, "largest message (default: what the ring takes)");
  c_create->add_option("--value", cr.value, "semaphore: initial value (default 1)");
  c_create->add_option("--parties", cr.parties, "barrier: parties (default 2)");
  c_create->add_option("--mode", cr.mode, "octal file permissions (default 600)");
  c_create->add_flag("--one-owner", cr.one_owner,
                     "pipe: one owner per end (required: a shared-ends pipe would close when this command exits)");
  c_create->footer(
      footer("  shmring create orders --maxsize 1000 --capacity 4194304\n"
             "  shmring create jobs --kind joinable-queue --engine mpmc\n"
             "  shmring create gate --kind semaphore --value 3"));

  std::vector<std::string> rm_names;
  auto* c_rm = app.add_subcommand("rm", "remove objects (only shmring files, by the kind in their header)");
  c_rm->add_option("NAME", rm_names, "objects to remove")->required();
  c_rm->footer(footer("  shmring rm orders\n  shmring rm /tmp/objs/a /tmp/objs/b"));

  GcOptions gc;
  auto* c_gc = app.add_subcommand("gc", "remove objects whose creator and every holder are dead");
  c_gc->add_option("DIR", gc.dir, "directory (default /dev/shm)");
  c_gc->add_flag("--dry-run", gc.dry_run, "print what would be removed, remove nothing");
  c_gc->footer(footer("  shmring gc --dry-run\n  shmring gc /tmp/myobjects"));

  BenchOptions be;
  auto* c_bench = app.add_subcommand("bench", "quick throughput and round-trip check of this machine");
  c_bench->add_option("--seconds", be.seconds, "seconds of throughput run (default 1)")->check(CLI::PositiveNumber);
  c_bench->add_option("--size", be.size, "message bytes (default 64)")->check(CLI::Range(8, 65536));
  c_bench->footer(footer("  shmring bench\n  shmring bench --seconds 3 --size 256"));

#ifdef SHMRING_HAS_BRIDGE
  BridgeOptions br;
  auto* c_bridge = app.add_subcommand(
      "bridge", "move messages between a local queue and a NATS JetStream stream, or mirror a dict in a KV bucket");
  c_bridge->require_subcommand(1);
  c_bridge->footer(
      footer("  shmring create orders --engine spsc\n"
             "  shmring bridge out orders --subject orders --server nats://10.0.0.5:4222\n"
             "  shmring bridge in --subject orders orders-copy --server nats://10.0.0.5:4222\n"
             "  shmring bridge kv config --bucket config --server nats://10.0.0.5:4222\n"
             "(docs/bridge.md: the queues must be of the spsc engine)"));
  const auto common = [&](CLI::App* c) {
    c->add_option("--subject", br.subject, "the stream's subject")->required();
    c->add_option("--server", br.server, "NATS server URL (default nats://127.0.0.1:4222)");
    c->add_option("--stream", br.stream, "stream name (default: the subject, '.' and wildcards made '_')");
    c->add_option("--retention", br.retention, "limits (default) or work-queue, for a stream created here")
        ->check(CLI::IsMember({"limits", "work-queue"}));
    c->add_option("--duplicate-window", br.duplicate_window,
                  "seconds the server remembers message ids, for a stream created here (default 120)")
        ->check(CLI::PositiveNumber);
    c->add_option("--count", br.count, "stop after this many messages (default: no limit)");
    c->add_option("--idle", br.idle, "stop once nothing came for this many seconds (default: never)");
    c->add_flag("--json", br.json, "the summary on stdout as one JSON object");
  };
  auto* c_bridge_out = c_bridge->add_subcommand("out", "publish a local queue's messages to the stream");
  c_bridge_out->add_option("QUEUE", br.queue, "queue name (spsc engine)")->required();
  common(c_bridge_out);
  c_bridge_out
      ->add_option("--window", br.window,
                   "messages published and not yet acknowledged at most (default 256); a killed bridge's successor "
                   "republishes up to this many, which the server drops as duplicates")
      ->check(CLI::Range(1, 65536));
  c_bridge_out->footer(
      footer("  shmring bridge out orders --subject orders\n"
             "  shmring bridge out orders --subject orders --server nats://10.0.0.5:4222 --retention work-queue\n"
             "  shmring bridge out orders --subject orders --idle 2   # stop once the queue stayed empty 2 s"));
  auto* c_bridge_in = c_bridge->add_subcommand("in", "put the stream's messages into a local queue");
  c_bridge_in->add_option("QUEUE", br.queue, "queue name (spsc engine)")->required();
  common(c_bridge_in);
  c_bridge_in->add_option("--durable", br.durable, "durable consumer name (default shmring-in-QUEUE)");
  c_bridge_in->add_option("--state", br.state, "state file (default DIR/.QUEUE.DURABLE.bridge-in next to the queue)");
  c_bridge_in->add_option("--ack-wait", br.ack_wait, "seconds before an unacked delivery is redelivered (default 30)")
      ->check(CLI::PositiveNumber);
  c_bridge_in->footer(
      footer("  shmring bridge in --subject orders orders-copy\n"
             "  shmring bridge in orders-copy --subject orders --server nats://10.0.0.5:4222 --count 1000"));
  auto* c_bridge_kv = c_bridge->add_subcommand(
      "kv", "mirror a local dict in a JetStream KV bucket, both ways (the bucket's revision order decides conflicts)");
  c_bridge_kv->add_option("DICT", br.queue, "dict name")->required();
  c_bridge_kv->add_option("--bucket", br.bucket, "KV bucket (created if missing: file storage)")->required();
  c_bridge_kv->add_option("--server", br.server, "NATS server URL (default nats://127.0.0.1:4222)");
  c_bridge_kv->add_option("--interval", br.interval_ms, "milliseconds between two scans of the dict (default 50)")
      ->check(CLI::Range(1, 60000));
  c_bridge_kv->add_option("--history", br.history, "revisions kept per key, for a bucket created here (default 1)")
      ->check(CLI::Range(1, 64));
  c_bridge_kv->add_option("--state", br.state, "state file (default DIR/.DICT.BUCKET.bridge-kv next to the dict)");
  c_bridge_kv->add_option("--idle", br.idle, "stop once nothing moved either way for this many seconds");
  c_bridge_kv->add_flag("--json", br.json, "the summary on stdout as one JSON object");
  c_bridge_kv->footer(
      footer("  # two machines, one bucket: a set or erase on either side reaches the other\n"
             "  machine-a$ shmring bridge kv config --bucket config --server nats://10.0.0.5:4222\n"
             "  machine-b$ shmring bridge kv config --bucket config --server nats://10.0.0.5:4222\n"
             "(docs/bridge.md, \"bridge kv\": keys outside [-/_=.a-zA-Z0-9] are stored as '=' + base64url;\n"
             " a local change that had not reached the bucket when another site's did is replaced, and logged)"));
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (c_ls->parsed()) return run_ls(ls);
  if (c_stat->parsed()) return run_stat(st);
  if (c_watch->parsed()) return run_watch(wa);
  if (c_put->parsed()) return run_put(pu);
  if (c_get->parsed()) return run_get(ge);
  if (c_create->parsed()) return run_create(cr);
  if (c_rm->parsed()) return run_rm(rm_names);
  if (c_gc->parsed()) return run_gc(gc);
  if (c_bench->parsed()) return run_bench(be);
#ifdef SHMRING_HAS_BRIDGE
  if (c_bridge_out->parsed()) return run_bridge_out(br);
  if (c_bridge_in->parsed()) return run_bridge_in(br);
  if (c_bridge_kv->parsed()) return run_bridge_kv(br);
#endif
  return kExitUsage;
}
