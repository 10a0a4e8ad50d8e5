// The bridge kv's state file (docs/bridge.md, "Restarts"): per key, what
// the bridge last knew equal in the dict and the bucket — the value's hash
// and the bucket revision — and the value it was about to make equal (a
// push to the bucket or an apply to the dict) when it may have died.
//
// An append-only log of checksummed records, loaded at start (the last
// record of a key wins; a record cut short by kill -9 ends the log) and
// rewritten whole (a temporary file renamed over it) when it grows. Its
// first record names the format and the bucket's stream and its creation
// time: a state written for another bucket, or for one deleted and made
// again, is ignored. Format 1 (no expected value of a pending apply) is
// read with its pending applies dropped: note() says so.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace shmring::bridge::detail {

// A value's hash: 0 for absent, odd for a present value (any bytes).
[[nodiscard]] std::uint64_t value_hash(const void* p, std::size_t n) noexcept;

enum class Pending : std::uint8_t { none = 0, push = 1, apply = 2 };

struct KeyState {
  std::uint64_t synced_hash = 0;   // the value last known equal in both (0: absent in both)
  std::uint64_t synced_rev = 0;    // its bucket revision (0: the bucket never had the key)
  std::uint64_t pending_hash = 0;  // the value about to be pushed or applied
  Pending pending = Pending::none;
  // apply: the dict value the apply replaces (compare_set's expected). At
  // start, a dict still holding it says the apply never happened.
  std::uint64_t expected_hash = 0;
};

class KvState {
 public:
  KvState() = default;
  KvState(const KvState&) = delete;
  KvState& operator=(const KvState&) = delete;
  ~KvState();

  // Opens or creates the file and loads it; `bucket_id`: the bucket's
  // stream name and creation time. found(): whether a state for this
  // bucket was there. Empty: ok, else why not.
  [[nodiscard]] std::string open(const std::string& path, const std::string& bucket_id);
  [[nodiscard]] bool found() const noexcept { return found_; }
  // Something about the file the log should show (an old format read), or empty.
  [[nodiscard]] const std::string& note() const noexcept { return note_; }
  // What was loaded, by KV key (the bridge takes it over at start).
  [[nodiscard]] std::unordered_map<std::string, KeyState>& loaded() noexcept { return loaded_; }

  // Queues a record (written by flush(), in order).
  void record(const std::string& kv_key, const KeyState& s);
  // Writes the queued records; empty: ok.
  [[nodiscard]] std::string flush();
  // The log holds many more records than the `keys` known: time to rewrite it.
  [[nodiscard]] bool compact_due(std::size_t keys) const noexcept { return records_ >= 4096 + 4 * keys; }
  // Replaces the file with one record per key of `all` (queued records are
  // flushed first: call with everything they say included). Empty: ok.
  [[nodiscard]] std::string rewrite(const std::unordered_map<std::string, KeyState>& all);

 private:
  std::string path_;
  std::string bucket_id_;
  int fd_ = -1;
  bool found_ = false;
  std::string note_;
  std::uint64_t records_ = 0;  // in the file
  std::string queued_;
  std::uint64_t queued_records_ = 0;
  std::unordered_map<std::string, KeyState> loaded_;
};

}  // namespace shmring::bridge::detail
