// The JetStream bridge (docs/bridge.md): a local Queue to a NATS JetStream
// stream (run_out) and a stream into a local Queue (run_in), effectively
// once across kill -9 of either bridge; a local Dict mirrored in a KV
// bucket both ways (run_kv, below).
//
// Out: show the queue's next messages without taking them
// (Queue::read_ahead(), up to `window` at once), publish each
// asynchronously with Nats-Msg-Id = the queue's incarnation and the
// message's sequence number, and take (release_ahead) the acknowledged
// prefix only. A bridge killed before that leaves the messages queued; its
// successor reads them under the same numbers, and the server drops the
// republications as duplicates (within the stream's duplicate window).
//
// In: a durable pull consumer; each message is put into the queue and
// acked after the put. Before each put an intent record (the message's
// stream sequence, its Nats-Msg-Id, and the queue's put count) is written
// to a small state file; a successor finds from the queue's put count
// whether that put happened, so a message redelivered after a kill
// between put and ack is dropped, and one never put is put.
//
// Both need a queue of Engine::spsc with messages of any size: the bridge
// out is its only consumer, the bridge in its only producer (the queue's
// roles enforce one process each). The other engines' consumers take a
// message before they hold it, so a bridge killed holding one would lose it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace shmring::bridge {

// How a run ended. code: 0 ok (stopped, count reached or idle), else the
// shmring command's exit codes (docs/cli.md): 2 queue not found, 3 damaged,
// 6 any other error (unsupported engine, the server refused, a message
// larger than the server's max payload...). `error` says what, for people.
struct RunResult {
  int code = 0;
  std::string error;
  std::uint64_t messages = 0;    // out: published and released; in: put and acked
  std::uint64_t duplicates = 0;  // out: acks saying duplicate; in: deliveries dropped as already put
  std::uint64_t retries = 0;     // out: publishes repeated after a failure
};

// Events worth a line for the operator (a duplicate the server dropped, a
// publish or fetch repeated and why); null: none.
using Log = std::function<void(std::string_view)>;

struct StreamOptions {
  std::string server = "nats://127.0.0.1:4222";
  std::string subject;
  std::string stream;                          // empty: the subject with every character outside [A-Za-z0-9_-] made '_'
  bool work_queue = false;                     // retention: work-queue (true) or limits (false), when created
  std::int64_t duplicate_window_ms = 120'000;  // the stream's Nats-Msg-Id window, when created
};

struct OutOptions {
  std::string queue;
  StreamOptions stream;
  std::uint64_t count = 0;             // stop after this many messages (0: no limit)
  double idle_seconds = -1;            // stop once the queue was empty this long (< 0: never)
  double publish_timeout_seconds = 5;  // wait for one ack; then the publish is repeated (same Msg-Id)
  // Messages published and not yet acknowledged at most (Queue::read_ahead):
  // a kill republishes up to this many, which the server drops as duplicates.
  // The stream keeps queue order whatever the window (each publish expects
  // its predecessor stored: Nats-Expected-Last-Msg-Id, bridge_out.cpp).
  std::uint32_t window = 256;
  Log log;
};

struct InOptions {
  std::string queue;
  StreamOptions stream;
  std::string durable;  // empty: "shmring-in-" + the queue's name
  std::string state;    // the state file; empty: next to the queue, "." + its name + ".bridge-in"
  std::uint64_t count = 0;
  double idle_seconds = -1;
  double ack_wait_seconds = 30;  // the consumer's redelivery delay for a delivery never acked
  int batch = 64;                // messages per fetch (and the consumer's max ack pending)
  Log log;
};

// Dict <-> KV bucket (docs/bridge.md, "bridge kv"): the dict's sets and
// erases go to the bucket, the bucket's puts, deletes and purges come into
// the dict, and every site converges to the bucket's latest revision of
// each key. The dict has no change feed: the bridge scans it every
// `interval_ms` and compares each entry with what it last knew equal in
// both (the value and its bucket revision). A local change is pushed with
// a compare-and-set on that revision; a bucket update is applied with a
// compare-and-set on the dict (Dict::compare_set) against that value.
// Conflict rule: the bucket's revision order decides. A local change that
// had not reached the bucket when another site's write did (its
// compare-and-set fails) is replaced by the bucket's value, with a line on
// the log and a count in `conflicts`. A state file next to the dict
// (DIR/.DICT.BUCKET.bridge-kv) lets a restarted bridge tell a local change made
// while it was dead (pushed) from a bucket change made meanwhile (applied).
struct KvOptions {
  std::string dict;
  std::string bucket;
  std::string server = "nats://127.0.0.1:4222";
  std::string state;         // empty: next to the dict, "." + its name + "." + the bucket + ".bridge-kv"
  int interval_ms = 50;      // between two scans of the dict
  int history = 1;           // revisions the bucket keeps per key, when created here (1..64)
  double idle_seconds = -1;  // stop once nothing moved either way this long (< 0: never)
  Log log;
};

struct KvResult : RunResult {
  std::uint64_t pushed = 0;     // local sets and erases written to the bucket
  std::uint64_t applied = 0;    // bucket updates written to the dict
  std::uint64_t conflicts = 0;  // local values replaced by a newer bucket revision (the rule above)
  std::uint64_t skipped = 0;    // bucket entries the dict cannot hold (too large, full, a foreign key), and refusals
};

// Runs until `stop` is set, the count is reached, the idle time passes, the
// queue is closed (out: and drained), or an error that retrying cannot fix.
[[nodiscard]] RunResult run_out(const OutOptions& o, const std::atomic<bool>& stop);
[[nodiscard]] RunResult run_in(const InOptions& o, const std::atomic<bool>& stop);
// Runs until `stop`, the idle time, or an error that retrying cannot fix
// (the dict missing or damaged, the state file unwritable): code as above.
[[nodiscard]] KvResult run_kv(const KvOptions& o, const std::atomic<bool>& stop);

// The stream name used for `o` (StreamOptions::stream, or from the subject).
[[nodiscard]] std::string stream_name(const StreamOptions& o);

}  // namespace shmring::bridge
