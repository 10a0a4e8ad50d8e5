// The bridge in's state file: what it has put into its queue, so a
// successor drops what was already put and puts what was not.
//
// Before each put the bridge writes an intent: the delivery's stream
// sequence, its source and sequence (Nats-Msg-Id), and the queue's put
// count before the put (Queue::put_seq()). Whoever loads the file later
// applies the intent when the queue's put count has moved past it (the put
// happened: the bridge is the queue's only producer), else forgets it.
// Each write is a whole record with a checksum, into the older of two
// slots: a write cut short by kill -9 leaves the other slot, one step
// older, which the put count then completes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shmring::bridge::detail {

inline constexpr std::uint32_t kSources = 64;  // publishers remembered; the least recent is forgotten first

struct InStateRecord {
  std::uint64_t magic;
  std::uint64_t generation;          // written records so far; the larger valid slot is the newer
  std::uint64_t last_stream_seq;     // every delivery at or below it was put
  std::uint64_t pending_stream_seq;  // 0: no intent
  std::uint64_t pending_put_before;  // Queue::put_seq() before the intended put
  std::uint64_t pending_source;      // hash of the source, 0: the message had no id of ours
  std::uint64_t pending_seq;         // its sequence number at the source
  std::uint64_t stream_created;      // the stream's creation time (ns): its sequence numbers mean nothing in another
  struct Source {
    std::uint64_t key;       // hash of the source ("<queue>@<incarnation>"); 0: free
    std::uint64_t last_seq;  // the last of its messages put
    std::uint64_t touched;   // generation of its last put
  } sources[kSources];
  std::uint64_t checksum;
};

class InState {
 public:
  // Opens (or creates) the file and loads the newer valid slot; `put_seq`:
  // the queue's put count now, to settle an intent. Empty: ok, else why not.
  [[nodiscard]] std::string open(const std::string& path, std::uint64_t put_seq);
  ~InState();

  [[nodiscard]] std::uint64_t last_stream_seq() const noexcept { return r_.last_stream_seq; }
  // What open() found: the stream sequence of an intent whose put had been
  // made (the predecessor died before its ack), of one whose put had not, or 0.
  [[nodiscard]] std::uint64_t intent_found_put() const noexcept { return found_put_; }
  [[nodiscard]] std::uint64_t intent_found_unput() const noexcept { return found_unput_; }
  // The stream as it is now (its creation time): a stream deleted and made
  // again numbers from 1, so what was put is then known by message ids only.
  void bind_stream(std::uint64_t created) noexcept;
  // Was this delivery put already (by stream sequence or by source sequence)?
  [[nodiscard]] bool already_put(std::uint64_t stream_seq, std::uint64_t source, std::uint64_t seq) const noexcept;
  // Writes the intent; empty: ok.
  [[nodiscard]] std::string intend(std::uint64_t stream_seq, std::uint64_t source, std::uint64_t seq,
                                   std::uint64_t put_before);
  // The intended put happened (in memory; the next intent writes it).
  void done() noexcept;

  [[nodiscard]] static std::uint64_t source_key(const std::string& source) noexcept;

 private:
  void apply_pending() noexcept;
  int fd_ = -1;
  InStateRecord r_{};
  std::uint64_t found_put_ = 0;
  std::uint64_t found_unput_ = 0;
};

}  // namespace shmring::bridge::detail
