// The local side of a bridge: the queue, opened and checked for what the
// bridge needs (Engine::spsc, messages of any size: read_seq/put_seq), and
// the names its messages carry on the stream.
//
// Nats-Msg-Id = "<queue>@<incarnation>:<seq>". The incarnation (16 hex
// digits) hashes the queue file's creator pid, start time and creation
// time, so a queue removed and created again under the same name never
// reuses an id the server may still remember; seq is Queue::read_seq().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shmring/ipc/queue.hpp"

namespace shmring::bridge::detail {

struct OpenedQueue {
  std::optional<Queue> queue;  // empty: see code and error
  int code = 0;
  std::string error;
};

// The shmring command's exit code for an open's error (docs/cli.md).
[[nodiscard]] int exit_code(Errc e);

// Opens `name` for the bridge; `role`: producer (bridge in) takes it now.
[[nodiscard]] OpenedQueue open_bridged_queue(const std::string& name, Role role);

// "<base name>@<16 hex digits>" for the queue file at `path`; empty: unreadable.
[[nodiscard]] std::string queue_source(const std::string& path);

[[nodiscard]] std::string message_id(const std::string& source, std::uint64_t seq);
// The same into `out` (its buffer reused: no allocation once it is large enough).
void format_message_id(std::string& out, const std::string& source, std::uint64_t seq);
// The sequence number of one of our message ids (after its last ':'), without
// allocating; false: not one of ours.
[[nodiscard]] bool message_seq(std::string_view id, std::uint64_t& seq);

// A message id split at its last ':' into source and sequence number;
// nullopt: not one of ours (another publisher's, or none).
struct ParsedId {
  std::string source;
  std::uint64_t seq;
};
[[nodiscard]] std::optional<ParsedId> parse_message_id(std::string_view id);

}  // namespace shmring::bridge::detail
