// Dict <-> KV bucket (bridge.hpp, docs/bridge.md "bridge kv").
//
// Per KV key the bridge keeps `Synced`: the value last known equal in the
// dict and the bucket (absent: erased or never set in both) and the bucket
// revision it had. What keeps every site converging to the bucket's latest
// revision:
// - A bucket entry at or below Synced.rev is one the bridge already has
//   (its own push coming back through the watcher, or an older one).
// - A bucket entry above it is applied with Dict::compare_set(expected =
//   Synced.value): it cannot overwrite a local write the bridge has not
//   seen. If the dict holds something else, that is a local change not in
//   the bucket, and the bucket's revision wins: the dict's current value is
//   replaced (compare_set again), logged and counted as a conflict.
// - A dict entry that differs from Synced.value is a local change: it is
//   published with the expected last revision Synced.rev (no message for a
//   key the bucket never had). If a revision came in between, the server
//   refuses; that revision reaches the watcher, which applies it (above).
// - Before each push or apply the state file gets the value's hash as
//   pending, so a bridge killed around it is settled at start (kv_state.hpp
//   and reconcile() below).
#include <algorithm>
#include <chrono>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "bridged_queue.hpp"
#include "kv_key.hpp"
#include "kv_state.hpp"
#include "nats_link.hpp"
#include "shmring/bridge/bridge.hpp"

namespace shmring::bridge {

namespace {

using Clock = std::chrono::steady_clock;
using detail::KeyState;
using detail::Pending;
using MaybeBytes = std::optional<Bytes>;

// The longest KV key pushed: its subject must fit the server's control line
// (4096 bytes by default) with the bucket's prefix.
constexpr std::size_t kMaxKvKey = 2048;

std::uint64_t hash_of(const MaybeBytes& v) noexcept { return v ? detail::value_hash(v->data(), v->size()) : 0; }

std::optional<ByteView> view_of(const MaybeBytes& v) noexcept {
  if (!v) return std::nullopt;
  return ByteView(*v);
}

// DIR/.DICT.BUCKET.bridge-kv: one per dict and bucket (bucket names are
// [A-Za-z0-9_-]), so a bridge of the dict to another bucket keeps its own.
std::string default_state_path(const std::string& dict_path, const std::string& bucket) {
  const std::size_t slash = dict_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : dict_path.substr(0, slash);
  return dir + "/." + dict_path.substr(slash + 1) + "." + bucket + ".bridge-kv";
}

struct Synced {
  MaybeBytes value;
  std::uint64_t rev = 0;
  Clock::time_point retry_after{};  // a push refused for a newer revision: wait for the watcher first
  std::uint64_t refused_hash = 0;   // a value the server refused for good: not pushed again
  // A push whose answer was lost (connection broken, timeout): it may be
  // stored. Until that is known (settle_unknown), the key is not pushed
  // again, and a bucket revision with this value is the push's own.
  bool unknown = false;
  std::uint64_t unknown_hash = 0;
};

struct BucketEntry {
  MaybeBytes value;
  std::uint64_t rev = 0;
};

enum class Push { ok, conflict, transient, refused };

class KvBridge {
 public:
  KvBridge(const KvOptions& o, const std::atomic<bool>& stop, Dict& dict, KvResult& r)
      : o_(o), stop_(stop), dict_(dict), r_(r) {}
  KvBridge(const KvBridge&) = delete;
  KvBridge& operator=(const KvBridge&) = delete;
  ~KvBridge() {
    if (watcher_ != nullptr) kvWatcher_Destroy(watcher_);
    if (kv_ != nullptr) kvStore_Destroy(kv_);
  }

  // Connects, opens (or creates) the bucket and the state file. Empty: ok.
  std::string open() {
    if (std::string e = link_.connect(o_.server, stop_); !e.empty()) return e;
    natsStatus s = js_KeyValue(&kv_, link_.js(), o_.bucket.c_str());
    if (s == NATS_NOT_FOUND) {
      kvConfig cfg;
      kvConfig_Init(&cfg);
      cfg.Bucket = o_.bucket.c_str();
      cfg.History = static_cast<std::uint8_t>(o_.history < 1 ? 1 : o_.history > 64 ? 64 : o_.history);
      cfg.StorageType = js_FileStorage;
      s = js_CreateKeyValue(&kv_, link_.js(), &cfg);
      // Another bridge created it meanwhile: use that one.
      if (s != NATS_OK) s = js_KeyValue(&kv_, link_.js(), o_.bucket.c_str());
    }
    if (s != NATS_OK) return detail::nats_error(("bucket " + o_.bucket).c_str(), s);
    jsStreamInfo* si = nullptr;
    const std::string stream = "KV_" + o_.bucket;
    s = js_GetStreamInfo(&si, link_.js(), stream.c_str(), nullptr, nullptr);
    if (s != NATS_OK) return detail::nats_error(("bucket " + o_.bucket).c_str(), s);
    const std::string bucket_id = stream + "@" + std::to_string(si->Created);
    jsStreamInfo_Destroy(si);
    prefix_ = "$KV." + o_.bucket + ".";
    std::string e = state_.open(o_.state.empty() ? default_state_path(dict_.path(), o_.bucket) : o_.state, bucket_id);
    if (e.empty() && !state_.note().empty()) log(state_.note());
    return e;
  }

  // The start: the bucket's current values, the dict's, the state; then
  // every key settled (see reconcile_key). Empty: ok.
  std::string start() {
    std::unordered_map<std::string, BucketEntry> bucket;
    for (;;) {
      if (stop_.load(std::memory_order_relaxed)) return {};
      if (std::string e = watch(); !e.empty()) {
        log(e + ": trying again");
        detail::sleep_unless_stopped(500, stop_);
        continue;
      }
      bucket.clear();
      bool done = false;
      while (!done && !stop_.load(std::memory_order_relaxed)) {
        kvEntry* e = nullptr;
        const natsStatus s = kvWatcher_Next(&e, watcher_, 5000);
        if (s != NATS_OK) {
          log(detail::nats_error("watch", s) + ": watching again");
          break;
        }
        if (e == nullptr) {
          done = true;  // the initial values are all in
          break;
        }
        BucketEntry& b = bucket[kvEntry_Key(e)];
        b.rev = kvEntry_Revision(e);
        if (kvEntry_Operation(e) == kvOp_Put) {
          const auto* p = static_cast<const std::byte*>(kvEntry_Value(e));
          b.value = Bytes(p, p + kvEntry_ValueLen(e));
        } else {
          b.value.reset();
        }
        kvEntry_Destroy(e);
      }
      if (done) break;
    }
    disconnects_ = link_.disconnects();
    std::unordered_map<std::string, MaybeBytes> local;
    for (auto& [k, v] : dict_.items()) local.emplace(detail::kv_key_of(k), std::move(v));
    std::unordered_set<std::string> keys;
    for (const auto& [k, b] : bucket) keys.insert(k);
    for (const auto& [k, v] : local) keys.insert(k);
    for (const std::string& k : keys) {
      const auto l = local.find(k);
      const auto b = bucket.find(k);
      reconcile_key(k, l != local.end() ? l->second : MaybeBytes{}, b != bucket.end() ? b->second : BucketEntry{});
    }
    state_.loaded().clear();
    if (std::string e = state_.flush(); !e.empty()) return e;
    return compact(true);
  }

  // Until stopped or idle. Empty: ok; else a fatal error.
  std::string run() {
    Clock::time_point next_scan = Clock::now();
    Clock::time_point active = Clock::now();
    while (!stop_.load(std::memory_order_relaxed)) {
      const std::uint64_t moved = r_.pushed + r_.applied + r_.conflicts;
      if (const std::uint64_t d = link_.disconnects(); d != disconnects_ || watcher_ == nullptr) {
        // Updates in flight when the connection broke may be lost with it: a
        // fresh watcher delivers every key's latest revision again (those at
        // or below Synced.rev are skipped).
        if (std::string e = watch(); !e.empty()) {
          log(e + ": trying again");
          detail::sleep_unless_stopped(200, stop_);
          continue;
        }
        disconnects_ = d;
      }
      // Bucket updates until the next scan.
      for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_scan - Clock::now()).count();
        if (left <= 0 || stop_.load(std::memory_order_relaxed)) break;
        kvEntry* e = nullptr;
        const natsStatus s = kvWatcher_Next(&e, watcher_, left);
        if (s == NATS_TIMEOUT) break;
        if (s != NATS_OK) {
          log(detail::nats_error("watch", s) + ": watching again");
          ++r_.retries;
          kvWatcher_Destroy(watcher_);
          watcher_ = nullptr;
          break;
        }
        if (e == nullptr) continue;  // a fresh watcher's initial values are all in
        MaybeBytes v;
        if (kvEntry_Operation(e) == kvOp_Put) {
          const auto* p = static_cast<const std::byte*>(kvEntry_Value(e));
          v = Bytes(p, p + kvEntry_ValueLen(e));
        }
        const std::string key = kvEntry_Key(e);
        const std::uint64_t rev = kvEntry_Revision(e);
        kvEntry_Destroy(e);
        if (std::string err = remote(key, std::move(v), rev); !err.empty()) return err;
      }
      if (watcher_ == nullptr) continue;
      if (std::string err = scan(); !err.empty()) return err;
      if (std::string err = state_.flush(); !err.empty()) return err;
      if (std::string err = compact(false); !err.empty()) return err;
      next_scan = Clock::now() + std::chrono::milliseconds(o_.interval_ms);
      if (r_.pushed + r_.applied + r_.conflicts != moved) active = Clock::now();
      if (o_.idle_seconds >= 0 && Clock::now() - active > std::chrono::duration<double>(o_.idle_seconds)) break;
    }
    return state_.flush();
  }

 private:
  void log(const std::string& line) const {
    if (o_.log) o_.log(line);
  }

  std::string watch() {
    if (watcher_ != nullptr) kvWatcher_Destroy(watcher_);
    watcher_ = nullptr;
    const natsStatus s = kvStore_WatchAll(&watcher_, kv_, nullptr);
    if (s != NATS_OK) {
      watcher_ = nullptr;
      return detail::nats_error("watch bucket", s);
    }
    return {};
  }

  std::string compact(bool force) {
    if (!force && !state_.compact_due(synced_.size())) return {};
    std::unordered_map<std::string, KeyState> all;
    all.reserve(synced_.size());
    for (const auto& [k, s] : synced_) all.emplace(k, KeyState{hash_of(s.value), s.rev, 0, Pending::none, 0});
    return state_.rewrite(all);
  }

  // Records `pending` for key k before acting on it; the write is flushed
  // at once (the act must not come before it). Empty: ok.
  std::string intend(const std::string& k, const KeyState& st) {
    state_.record(k, st);
    return state_.flush();
  }
  void settled(const std::string& k, const Synced& s) {
    state_.record(k, {hash_of(s.value), s.rev, 0, Pending::none, 0});
  }

  // A bucket entry the dict cannot take: why, or empty.
  std::string unfit(const std::optional<Bytes>& key, const MaybeBytes& v) const {
    if (!key) return "not a key of this bridge's encoding";
    if (key->size() > dict_.max_key()) return "key of " + std::to_string(key->size()) + " bytes above max_key";
    if (v && v->size() > dict_.max_value()) {
      return "value of " + std::to_string(v->size()) + " bytes above the dict's max_value " +
             std::to_string(dict_.max_value());
    }
    return {};
  }

  // The value of key `dk` in the dict now (nullopt: absent).
  MaybeBytes current(const Bytes& dk) const {
    DictValue v = dict_.get(dk);
    if (v.status == DictStatus::ok) return std::move(v.bytes);
    return std::nullopt;
  }

  // Writes `v` over whatever the dict holds for `dk` (the rule's "the
  // bucket wins"), unless a local write keeps coming in between (mismatch)
  // or the dict cannot take it (full, ...).
  DictStatus overwrite(const Bytes& dk, const MaybeBytes& v, MaybeBytes* replaced) {
    DictStatus st = DictStatus::mismatch;
    for (int i = 0; i < 8 && st == DictStatus::mismatch; ++i) {
      MaybeBytes cur = current(dk);
      st = dict_.compare_set(dk, view_of(cur), view_of(v));
      if (st == DictStatus::ok) *replaced = std::move(cur);
    }
    return st;
  }

  static std::string describe(const MaybeBytes& v) {
    return v ? "a value of " + std::to_string(v->size()) + " bytes" : "its erase";
  }

  // A bucket entry from the watcher.
  std::string remote(const std::string& k, MaybeBytes v, std::uint64_t rev) {
    Synced& s = synced_[k];
    if (rev <= s.rev) return {};  // ours coming back, or older than what we have
    if (s.unknown && hash_of(v) == s.unknown_hash) {
      // The push whose answer was lost was stored: the dict has that value
      // or a later local change, which the next scan pushes over `rev`.
      s.unknown = false;
      s.value = std::move(v);
      s.rev = rev;
      settled(k, s);
      return {};
    }
    s.unknown = false;
    const std::optional<Bytes> dk = detail::dict_key_of(k);
    if (std::string why = unfit(dk, v); !why.empty()) {
      ++r_.skipped;
      log("bucket key " + k + " revision " + std::to_string(rev) + ": " + why + ": skipped");
      s.rev = rev;  // what the dict holds stays, against this revision
      settled(k, s);
      return {};
    }
    const std::uint64_t hs = hash_of(s.value);
    if (std::string e = intend(k, {hs, s.rev, hash_of(v), Pending::apply, hs}); !e.empty()) return e;
    const DictStatus st = dict_.compare_set(*dk, view_of(s.value), view_of(v));
    if (st == DictStatus::ok) {
      ++r_.applied;
    } else if (st == DictStatus::mismatch) {
      // A local change the bucket has not got: this revision came first.
      MaybeBytes replaced;
      const DictStatus ow = overwrite(*dk, v, &replaced);
      if (ow == DictStatus::ok && replaced != v) {
        ++r_.conflicts;
        ++r_.applied;
        log("key " + k + ": conflict: the local change (" + describe(replaced) + ") never reached the bucket; " +
            "revision " + std::to_string(rev) + " (" + describe(v) + ") came first and replaces it");
      } else if (ow == DictStatus::mismatch) {
        // Local writes keep coming: the next scan pushes the newest over `rev`.
        ++r_.conflicts;
        log("key " + k + ": conflict: local writes kept coming while revision " + std::to_string(rev) + " (" +
            describe(v) + ") was applied; the dict's newest is pushed over it");
      } else if (ow != DictStatus::ok) {
        // The dict cannot take it: it keeps its value, against this revision.
        ++r_.skipped;
        log("bucket key " + k + " revision " + std::to_string(rev) + ": dict: " + to_string(ow) +
            ": skipped; the dict keeps its local value");
        s.value = current(*dk);
        s.rev = rev;
        settled(k, s);
        return {};
      }
    } else {
      ++r_.skipped;
      log("bucket key " + k + " revision " + std::to_string(rev) + ": dict: " + to_string(st) + ": skipped");
      s.rev = rev;
      settled(k, s);
      return {};
    }
    s.value = std::move(v);
    s.rev = rev;
    settled(k, s);
    return {};
  }

  // At start: key k as the dict (`l`) and the bucket (`b`) hold it now, and
  // as the state last knew it.
  void reconcile_key(const std::string& k, MaybeBytes l, BucketEntry b) {
    Synced& s = synced_[k];
    s.value = b.value;
    s.rev = b.rev;
    if (l == b.value) {
      settled(k, s);
      return;
    }
    bool apply = false;
    bool conflict = false;
    KeyState was{};  // the synced state loaded (none: never known equal)
    const auto& loaded = state_.loaded();
    const auto s0 = loaded.find(k);
    const std::uint64_t hl = hash_of(l);
    if (s0 == loaded.end()) {
      // Never known equal: the dict's value wins (a dict bridged for the
      // first time keeps its entries); an absent one takes the bucket's.
      apply = !l.has_value();
    } else {
      const KeyState& st = s0->second;
      was.synced_hash = st.synced_hash;
      was.synced_rev = st.synced_rev;
      const std::uint64_t hb = hash_of(b.value);
      // The bucket did not move: still the synced revision (the same value
      // written again later is a move), or the revision of our own pending
      // push. Only a push: a pending apply's value came from another site.
      const bool unmoved = (hb == st.synced_hash && b.rev == st.synced_rev) ||
                           (st.pending == Pending::push && hb == st.pending_hash && b.rev > st.synced_rev);
      if (unmoved) {
        apply = false;  // the dict moved while the bridge was away: push it
      } else if (st.pending == Pending::apply && hl == st.expected_hash) {
        // Killed before the apply: do it (with the bucket's latest). The
        // value it replaces was a local change if it was not the synced one.
        apply = true;
        conflict = st.expected_hash != st.synced_hash;
      } else if (hl == st.synced_hash || (st.pending == Pending::apply && hl == st.pending_hash)) {
        apply = true;  // the bucket moved, the dict did not (or holds the applied revision)
      } else {
        apply = true;  // both moved: the bucket's revision wins
        conflict = true;
      }
    }
    if (!apply) {
      // The dict differs from s.value: the first scan pushes it over b.rev.
      settled(k, s);
      return;
    }
    const std::optional<Bytes> dk = detail::dict_key_of(k);
    if (std::string why = unfit(dk, b.value); !why.empty()) {
      ++r_.skipped;
      log("bucket key " + k + " revision " + std::to_string(b.rev) + ": " + why + ": skipped");
      s.value = std::move(l);  // what the dict holds stays, against this revision
      settled(k, s);
      return;
    }
    // The loaded synced state stays (not the bucket's value): a kill before
    // the apply leaves a dict still holding `l`, which says it did not happen.
    if (std::string e = intend(k, {was.synced_hash, was.synced_rev, hash_of(b.value), Pending::apply, hl});
        !e.empty()) {
      log(e);
    }
    const DictStatus st = dict_.compare_set(*dk, view_of(l), view_of(b.value));
    if (st == DictStatus::ok) {
      ++r_.applied;
      if (conflict) {
        ++r_.conflicts;
        log("key " + k + ": conflict at start: the local change (" + describe(l) +
            ") made while no bridge ran never reached the bucket; revision " + std::to_string(b.rev) + " (" +
            describe(b.value) + "), written meanwhile, replaces it");
      }
    } else if (st != DictStatus::mismatch) {
      ++r_.skipped;
      log("bucket key " + k + " revision " + std::to_string(b.rev) + ": dict: " + to_string(st) + ": skipped");
      s.value = std::move(l);
    }
    // mismatch: written just now, a local change: the first scan pushes it.
    settled(k, s);
  }

  // One look at the dict: every entry that differs from what was synced is pushed.
  std::string scan() {
    seen_.clear();
    transient_ = false;
    const Clock::time_point now = Clock::now();
    for (auto& [dk, v] : dict_.items()) {
      std::string k = detail::kv_key_of(dk);
      auto it = synced_.find(k);
      if (it == synced_.end()) it = synced_.emplace(k, Synced{}).first;
      seen_.insert(k);
      Synced& s = it->second;
      if (s.value == v) continue;
      if (std::string e = push(k, s, MaybeBytes(std::move(v)), now); !e.empty()) return e;
    }
    for (auto& [k, s] : synced_) {
      if (!s.value || seen_.count(k) != 0) continue;
      // Not in the scan: erased, unless it was erased and set again while
      // the scan passed (entries written during a scan may be missed).
      const std::optional<Bytes> dk = detail::dict_key_of(k);
      if (!dk || dict_.contains(*dk)) continue;
      if (std::string e = push(k, s, std::nullopt, now); !e.empty()) return e;
    }
    return {};
  }

  std::string push(const std::string& k, Synced& s, MaybeBytes v, Clock::time_point now) {
    if (transient_ || now < s.retry_after || now < pause_until_) return {};
    if (s.unknown) {
      if (std::string e = settle_unknown(k, s); !e.empty()) return e;
      if (s.unknown || transient_ || now < s.retry_after || s.value == v) return {};
    }
    const std::uint64_t h = hash_of(v);
    if (h == s.refused_hash && h != 0) return {};
    if (k.size() > kMaxKvKey) {
      s.refused_hash = h;
      ++r_.skipped;
      log("key " + k.substr(0, 64) + "...: " + std::to_string(k.size()) + " bytes as a KV key, above " +
          std::to_string(kMaxKvKey) + ": not pushed");
      return {};
    }
    if (std::string e = intend(k, {hash_of(s.value), s.rev, h, Pending::push, 0}); !e.empty()) return e;
    std::uint64_t rev = 0;
    Push p = publish(k, v, s.rev, &rev);
    if (p == Push::conflict && rebase(k, s)) {
      if (std::string e = intend(k, {hash_of(s.value), s.rev, h, Pending::push, 0}); !e.empty()) return e;
      p = publish(k, v, s.rev, &rev);
    }
    switch (p) {
      case Push::ok:
        backoff_ms_ = 0;
        ++r_.pushed;
        s.value = std::move(v);
        s.rev = rev;
        s.refused_hash = 0;
        settled(k, s);
        break;
      case Push::conflict:
        // Another site's revision is newer than s.rev: the watcher brings it
        // and applies it over this change (the rule); until then, wait.
        log("key " + k + ": push of " + describe(v) + " refused: the bucket has a revision after " +
            std::to_string(s.rev) + " (another site wrote first)");
        s.retry_after = now + std::chrono::seconds(1);
        break;
      case Push::transient:
        ++r_.retries;
        transient_ = true;  // the rest waits for the next scan, and a pause growing to 1 s
        backoff_ms_ = backoff_ms_ == 0 ? 50 : std::min(2 * backoff_ms_, 1000);
        pause_until_ = now + std::chrono::milliseconds(backoff_ms_);
        s.unknown = true;
        s.unknown_hash = h;
        break;
      case Push::refused:
        ++r_.skipped;
        s.refused_hash = h;
        break;
    }
    return {};
  }

  // Was the push whose answer was lost stored? The bucket's last message of
  // the key says: still at s.rev, no (push again); above it with the
  // pushed value, yes (it is synced); above it with another, another site
  // wrote after it, and the watcher brings that (the rule). Empty: ok.
  std::string settle_unknown(const std::string& k, Synced& s) {
    std::uint64_t rev = 0;
    MaybeBytes v;
    if (!last_of(k, &rev, &v)) {
      transient_ = true;  // not answering yet
      return {};
    }
    s.unknown = false;
    if (rev < s.rev) forget(k, s, rev);
    if (rev <= s.rev) return {};  // not stored
    if (hash_of(v) == s.unknown_hash) {
      s.value = std::move(v);
      s.rev = rev;
      settled(k, s);
      return {};
    }
    s.retry_after = Clock::now() + std::chrono::seconds(1);  // the watcher brings it
    return {};
  }

  // The bucket's last message of key k: its revision (0: none) and value.
  // False: no answer.
  bool last_of(const std::string& k, std::uint64_t* rev, MaybeBytes* v) {
    natsMsg* m = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus st =
        js_GetLastMsg(&m, link_.js(), ("KV_" + o_.bucket).c_str(), (prefix_ + k).c_str(), nullptr, &jerr);
    if (st != NATS_OK && st != NATS_NOT_FOUND) return false;
    *rev = 0;
    v->reset();
    if (st == NATS_OK) {
      *rev = natsMsg_GetSequence(m);
      const char* op = nullptr;
      const bool put = natsMsgHeader_Get(m, "KV-Operation", &op) != NATS_OK || op == nullptr;
      if (put) {
        const auto* p = reinterpret_cast<const std::byte*>(natsMsg_GetData(m));
        *v = Bytes(p, p + natsMsg_GetDataLength(m));
      }
      natsMsg_Destroy(m);
    }
    return true;
  }

  // The bucket's revisions of key k after `rev` are gone (a delete marker
  // purged, a TTL): pushes expect `rev` from now on.
  void forget(const std::string& k, Synced& s, std::uint64_t rev) {
    log("key " + k + ": the bucket no longer has revision " + std::to_string(s.rev) +
        " (purged or expired; its last: " + std::to_string(rev) + "): pushing over that");
    s.rev = rev;
    settled(k, s);
  }

  // A push refused for a wrong last revision: true if the bucket's last
  // revision of k is below s.rev (then s.rev is lowered to it: push
  // again); false if another site wrote after s.rev (the watcher brings it).
  bool rebase(const std::string& k, Synced& s) {
    std::uint64_t rev = 0;
    MaybeBytes v;
    if (!last_of(k, &rev, &v) || rev >= s.rev) return false;
    forget(k, s, rev);
    return true;
  }

  // Refusals that pushing again cannot change; the rest are repeated.
  static bool permanent(natsStatus s, jsErrCode jerr) noexcept {
    return s == NATS_MAX_PAYLOAD || s == NATS_INVALID_ARG || s == NATS_INVALID_SUBJECT || s == NATS_NO_SERVER_SUPPORT ||
           jerr == JSStreamMessageExceedsMaximumErr;
  }

  Push publish(const std::string& k, const MaybeBytes& v, std::uint64_t last, std::uint64_t* rev) {
    const std::string subject = prefix_ + k;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 2000;
    if (last == 0) {
      po.ExpectNoMessage = true;
    } else {
      po.ExpectLastSubjectSeq = last;
    }
    natsMsg* m = nullptr;
    natsStatus s = natsMsg_Create(&m, subject.c_str(), nullptr, v ? reinterpret_cast<const char*>(v->data()) : "",
                                  v ? static_cast<int>(v->size()) : 0);
    if (s == NATS_OK && !v) s = natsMsgHeader_Set(m, "KV-Operation", "DEL");
    jsPubAck* pa = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_PublishMsg(&pa, link_.js(), m, &po, &jerr);
    natsMsg_Destroy(m);
    if (s == NATS_OK) {
      *rev = pa->Sequence;
      jsPubAck_Destroy(pa);
      return Push::ok;
    }
    if (jerr == JSStreamWrongLastSequenceErr) return Push::conflict;
    const std::string why = detail::nats_error(("push of key " + k).c_str(), s, jerr);
    if (permanent(s, jerr)) {
      log(why + ": not pushed again until the key changes");
      return Push::refused;
    }
    const auto now = Clock::now();
    if (now - last_transient_log_ > std::chrono::seconds(1)) {
      log(why + ": trying again");
      last_transient_log_ = now;
    }
    return Push::transient;
  }

  const KvOptions& o_;
  const std::atomic<bool>& stop_;
  Dict& dict_;
  KvResult& r_;
  detail::NatsLink link_;
  kvStore* kv_ = nullptr;
  kvWatcher* watcher_ = nullptr;
  std::string prefix_;
  detail::KvState state_;
  std::unordered_map<std::string, Synced> synced_;
  std::unordered_set<std::string> seen_;
  std::uint64_t disconnects_ = 0;
  bool transient_ = false;
  int backoff_ms_ = 0;               // the pause after a transient failure: 50 ms doubling to 1 s
  Clock::time_point pause_until_{};  // no push before
  Clock::time_point last_transient_log_{};
};

}  // namespace

KvResult run_kv(const KvOptions& o, const std::atomic<bool>& stop) {
  KvResult r;
  const auto fail = [&r](int code, std::string e) {
    r.code = code;
    r.error = std::move(e);
    return r;
  };
  if (o.bucket.empty()) return fail(6, "no bucket (--bucket)");
  Result<Dict> d = Dict::open(o.dict);
  if (!d) return fail(detail::exit_code(d.error().code), o.dict + ": " + d.error().message());
  KvBridge b(o, stop, *d, r);
  if (std::string e = b.open(); !e.empty()) return fail(stop.load() ? 0 : 6, e);
  if (std::string e = b.start(); !e.empty()) return fail(6, e);
  if (std::string e = b.run(); !e.empty()) return fail(6, e);
  return r;
}

}  // namespace shmring::bridge
