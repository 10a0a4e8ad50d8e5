// Dict (dict.hpp): an open-addressing hash table with linear probing in a
// named segment (dict_layout.hpp). Writers hold the dict's lock; readers
// hold nothing.
//
// Why a reader's copy is a value that was there (the slot's argument):
// - A writer changes a slot only while holding the lock, in this order: a
//   release fence, then the slot's fields (hash, key, sizes, the bytes of
//   the value buffer that is not current), then one release store of
//   `state` with a higher version. It never writes the buffer `state`
//   names as current.
// - A reader loads `state` (acquire), copies the fields it needs, issues an
//   acquire fence, and loads `state` again; it keeps the copy only if both
//   loads agree. If its copy read any byte of a later write, the fence pair
//   (the writer's release fence before that byte, the reader's acquire
//   fence after it) makes the state store that preceded that writer's fence
//   visible to the second load — every earlier publish of the slot, which
//   already raised the version: the loads differ and the copy is dropped.
//   If it read none, it read the fields the first load's publish made
//   visible, and the buffer that state names, which no write touches until
//   another publish has moved `state` on.
// - Versions only grow (61 bits), so equal loads mean no publish between.
// The copies are plain memcpys that may race with a writer's; the race is
// the speculation above and its result is discarded (a ThreadSanitizer run
// would report it: the Dict has no TSan twin test yet).
//
// Probing: a key lives in the first slot of its probe run (from hash &
// (slots - 1) onwards) that is live with that key; a run ends at an empty
// slot. Keys never move. An erased slot becomes a tombstone, or empty when
// the slot after it is empty (then the tombstones before it too): no run
// passes through a slot whose successor is empty.
//
// A writer killed anywhere: its unpublished fields are invisible; the next
// writer takes the lock over (owner_died) and recounts size and tombstones.
#include "shmring/ipc/dict.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <limits>
#include <new>

#include "shmring/ipc/dict_layout.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/platform/segment.hpp"
#include "writer_hold.hpp"

namespace shmring {

const char* to_string(DictStatus s) noexcept {
  switch (s) {
    case DictStatus::ok: return "ok";
    case DictStatus::not_found: return "not_found";
    case DictStatus::full: return "full";
    case DictStatus::too_large: return "too_large";
    case DictStatus::handle_closed: return "handle_closed";
    case DictStatus::corrupt: return "corrupt";
    case DictStatus::mismatch: return "mismatch";
  }
  return "?";
}

namespace {

constexpr std::uint32_t kMaxKeyLimit = 4096;
constexpr std::uint32_t kMaxValueLimit = 1u << 20;
constexpr std::uint64_t kMaxSlots = std::uint64_t{1} << 32;

constexpr std::uint64_t round8(std::uint64_t n) noexcept { return (n + 7) / 8 * 8; }
constexpr std::uint64_t round64(std::uint64_t n) noexcept { return (n + 63) / 64 * 64; }

constexpr std::uint64_t slot_bytes_for(std::uint32_t max_key, std::uint32_t max_value) noexcept {
  return round64(sizeof(DictSlotHeader) + round8(max_key) + 2 * round8(max_value));
}

// The key's hash, eight bytes at a time, each word folded in with a
// multiply and a finalizer so that the low bits (the slot index) depend on
// every byte. Part of the file format (kDictHashFunction).
std::uint64_t hash_key(std::span<const std::byte> key) noexcept {
  const auto mix = [](std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
  };
  std::uint64_t h = 0x9e3779b97f4a7c15ull ^ key.size();
  std::size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, key.data() + i, 8);
    h = mix(h ^ w) * 0x9e3779b97f4a7c15ull;
  }
  if (i < key.size()) {
    std::uint64_t w = 0;
    std::memcpy(&w, key.data() + i, key.size() - i);
    h = mix(h ^ w) * 0x9e3779b97f4a7c15ull;
  }
  return mix(h);
}

// The speculative copy of the argument above.
inline void dict_speculative_copy(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if (n != 0) std::memcpy(dst, src, n);
}

std::uint64_t kind_of(std::uint64_t st) noexcept { return st & kDictKindMask; }
unsigned buffer_of(std::uint64_t st) noexcept { return (st & kDictBufferBit) != 0 ? 1u : 0u; }
std::uint64_t next_state(std::uint64_t st, std::uint64_t kind, unsigned buffer) noexcept {
  return ((st & ~(kDictKindMask | kDictBufferBit)) + kDictVersionStep) | kind | (buffer != 0 ? kDictBufferBit : 0);
}

}  // namespace

struct Dict::State {
  platform::Segment segment;
  DictLayout* d;
  DictConfigLayout c;  // the creator's values or the opener's checked copy
  std::byte* slots;
  LockRef lock;
  mutable Bytes key_scratch;  // a reader's copy of a slot's key

  State(platform::Segment seg, DictLayout* layout, const DictConfigLayout& config) noexcept
      : segment(std::move(seg)),
        d(layout),
        c(config),
        slots(reinterpret_cast<std::byte*>(layout) + config.data_offset),
        lock(layout->lock) {}

  [[nodiscard]] DictSlotHeader& header(std::uint64_t i) const noexcept {
    return *std::launder(platform::layout_at<DictSlotHeader>(slots + i * c.slot_bytes));
  }
  [[nodiscard]] std::byte* key_at(std::uint64_t i) const noexcept {
    return slots + i * c.slot_bytes + sizeof(DictSlotHeader);
  }
  [[nodiscard]] std::byte* value_at(std::uint64_t i, unsigned b) const noexcept {
    return key_at(i) + round8(c.max_key) + b * round8(c.max_value);
  }
  [[nodiscard]] std::uint64_t mask() const noexcept { return c.slots - 1; }

  // ---- reads ----

  // One consistent look at a live slot: its key (into key_scratch) and, when
  // `value` is given, its value. False: a write was published meanwhile (look
  // again). `corrupt`: a size out of range in a stable slot.
  struct Look {
    bool stable;
    bool corrupt;
  };
  Look look(std::uint64_t i, std::uint64_t st, Bytes* value) const {
    DictSlotHeader& h = header(i);
    // relaxed: ordered by the acquire of `st` and the fence below (the argument above).
    const std::uint32_t ks = h.key_size.load(std::memory_order_relaxed);
    const std::uint32_t vs = h.value_size[buffer_of(st)].load(std::memory_order_relaxed);
    const bool sizes_ok = ks <= c.max_key && vs <= c.max_value;
    if (sizes_ok) {
      key_scratch.resize(ks);
      dict_speculative_copy(key_scratch.data(), key_at(i), ks);
      if (value != nullptr) {
        value->resize(vs);
        dict_speculative_copy(value->data(), value_at(i, buffer_of(st)), vs);
      }
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    const bool stable = h.state.load(std::memory_order_relaxed) == st;
    return {stable, stable && !sizes_ok};
  }

  DictStatus find(std::span<const std::byte> key, Bytes* value) const {
    if (key.size() > c.max_key) return DictStatus::too_large;
    const std::uint64_t hash = hash_key(key);
    for (std::uint64_t n = 0; n < c.slots; ++n) {
      const std::uint64_t i = (hash + n) & mask();
      DictSlotHeader& h = header(i);
      for (;;) {
        // SYNC(dict-slot): acquire — pairs with the writer's release store of `state`.
        const std::uint64_t st = h.state.load(std::memory_order_acquire);
        if (kind_of(st) == kDictEmpty) return DictStatus::not_found;
        if (kind_of(st) != kDictLive) break;
        // relaxed, and the key compared where it lies: all of it speculative,
        // kept only if the state is unchanged after the fence below.
        bool same = h.hash.load(std::memory_order_relaxed) == hash &&
                    h.key_size.load(std::memory_order_relaxed) == key.size() &&
                    (key.empty() || std::memcmp(key_at(i), key.data(), key.size()) == 0);
        bool sizes_ok = true;
        if (same && value != nullptr) {
          const std::uint32_t vs = h.value_size[buffer_of(st)].load(std::memory_order_relaxed);
          sizes_ok = vs <= c.max_value;
          if (sizes_ok) {
            value->resize(vs);
            dict_speculative_copy(value->data(), value_at(i, buffer_of(st)), vs);
          }
        }
        std::atomic_thread_fence(std::memory_order_acquire);
        if (h.state.load(std::memory_order_relaxed) != st) continue;  // republished: look again
        if (!same) break;
        return sizes_ok ? DictStatus::ok : DictStatus::corrupt;
      }
    }
    return DictStatus::not_found;
  }

  // Calls f(key, value) for every live slot, each whole.
  template <class F>
  void scan(bool values, F&& f) const {
    Bytes value;
    for (std::uint64_t i = 0; i < c.slots; ++i) {
      for (;;) {
        const std::uint64_t st = header(i).state.load(std::memory_order_acquire);
        if (kind_of(st) != kDictLive) break;
        const Look l = look(i, st, values ? &value : nullptr);
        if (!l.stable) continue;
        if (!l.corrupt) f(key_scratch, value);
        break;
      }
    }
  }

  // ---- writes (the caller holds the lock) ----

  // Holds the lock for one write; a dead writer's half-done work is
  // repaired first.
  struct Writing : detail::WriterHold {
    explicit Writing(State& s) noexcept : WriterHold(s.lock, [&s] { s.repair(); }) {}
  };

  // The counts, from the slots (a dead writer may have published a slot
  // without counting it).
  void repair() noexcept {
    std::uint64_t live = 0, erased = 0;
    for (std::uint64_t i = 0; i < c.slots; ++i) {
      const std::uint64_t k = kind_of(header(i).state.load(std::memory_order_relaxed));
      live += k == kDictLive ? 1 : 0;
      erased += k == kDictErased ? 1 : 0;
    }
    d->counts.size.store(live, std::memory_order_relaxed);
    d->counts.tombstones.store(erased, std::memory_order_relaxed);
    d->counts.repairs.fetch_add(1, std::memory_order_relaxed);
  }

  struct Place {
    bool found;
    std::uint64_t slot;  // found: the key's slot; else where it goes (kSlots: nowhere)
  };
  // Under the lock nothing else writes: plain looks.
  Place place(std::span<const std::byte> key, std::uint64_t hash) const noexcept {
    std::uint64_t free_slot = c.slots;
    for (std::uint64_t n = 0; n < c.slots; ++n) {
      const std::uint64_t i = (hash + n) & mask();
      DictSlotHeader& h = header(i);
      const std::uint64_t st = h.state.load(std::memory_order_relaxed);
      const std::uint64_t k = kind_of(st);
      if (k == kDictEmpty) return {false, free_slot != c.slots ? free_slot : i};
      if (k == kDictErased) {
        if (free_slot == c.slots) free_slot = i;
        continue;
      }
      if (h.hash.load(std::memory_order_relaxed) == hash && h.key_size.load(std::memory_order_relaxed) == key.size() &&
          std::memcmp(key_at(i), key.data(), key.size()) == 0) {
        return {true, i};
      }
    }
    return {false, free_slot};
  }

  // Writes `value` into slot i's free buffer (and, for a new entry, the
  // key), then publishes it live.
  void publish(std::uint64_t i, std::span<const std::byte> key, std::uint64_t hash, std::span<const std::byte> value,
               bool new_entry) noexcept {
    DictSlotHeader& h = header(i);
    const std::uint64_t st = h.state.load(std::memory_order_relaxed);
    const unsigned b = kind_of(st) == kDictLive ? 1u - buffer_of(st) : 0u;
    // SYNC(dict-slot): release fence — a reader whose copy sees any byte
    // below sees every earlier publish of this slot (the argument above).
    std::atomic_thread_fence(std::memory_order_release);
    if (new_entry) {
      h.hash.store(hash, std::memory_order_relaxed);
      h.key_size.store(static_cast<std::uint32_t>(key.size()), std::memory_order_relaxed);
      if (!key.empty()) std::memcpy(key_at(i), key.data(), key.size());
    }
    h.value_size[b].store(static_cast<std::uint32_t>(value.size()), std::memory_order_relaxed);
    if (!value.empty()) std::memcpy(value_at(i, b), value.data(), value.size());
    // SYNC(dict-slot): release — the fields above are visible with the state.
    h.state.store(next_state(st, kDictLive, b), std::memory_order_release);
  }

  DictStatus set_locked(std::span<const std::byte> key, std::span<const std::byte> value) noexcept {
    const std::uint64_t hash = hash_key(key);
    const Place p = place(key, hash);
    if (p.found) {
      publish(p.slot, key, hash, value, false);
      return DictStatus::ok;
    }
    if (d->counts.size.load(std::memory_order_relaxed) >= c.max_entries || p.slot == c.slots) return DictStatus::full;
    const bool reused = kind_of(header(p.slot).state.load(std::memory_order_relaxed)) == kDictErased;
    publish(p.slot, key, hash, value, true);
    d->counts.size.fetch_add(1, std::memory_order_relaxed);
    if (reused) d->counts.tombstones.fetch_sub(1, std::memory_order_relaxed);
    return DictStatus::ok;
  }

  // Slot i's entry goes: a tombstone, or empty (with the tombstones before
  // it) when the slot after it is empty.
  void remove_locked(std::uint64_t i) noexcept {
    const auto kind_at = [&](std::uint64_t j) { return kind_of(header(j).state.load(std::memory_order_relaxed)); };
    DictSlotHeader& h = header(i);
    const std::uint64_t st = h.state.load(std::memory_order_relaxed);
    d->counts.size.fetch_sub(1, std::memory_order_relaxed);
    if (kind_at((i + 1) & mask()) != kDictEmpty) {
      h.state.store(next_state(st, kDictErased, buffer_of(st)), std::memory_order_release);
      d->counts.tombstones.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    h.state.store(next_state(st, kDictEmpty, 0), std::memory_order_release);
    for (std::uint64_t j = (i - 1) & mask(); j != i && kind_at(j) == kDictErased; j = (j - 1) & mask()) {
      const std::uint64_t sj = header(j).state.load(std::memory_order_relaxed);
      header(j).state.store(next_state(sj, kDictEmpty, 0), std::memory_order_release);
      d->counts.tombstones.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // Checks the sizes a write is given; ok or too_large.
  [[nodiscard]] DictStatus fits(std::size_t key, std::size_t value) const noexcept {
    return key <= c.max_key && value <= c.max_value ? DictStatus::ok : DictStatus::too_large;
  }
};

// ---- create / open -----------------------------------------------------------------

Dict::Dict(std::unique_ptr<State> s) noexcept : s_(std::move(s)) {}
Dict::Dict(Dict&&) noexcept = default;
Dict& Dict::operator=(Dict&&) noexcept = default;
Dict::~Dict() = default;

Result<Dict> Dict::create(std::string_view name, const DictOptions& o) {
  if (o.capacity == 0 || o.capacity > kMaxSlots / 4 * 3) return fail(Errc::invalid_argument, "Dict capacity");
  if (o.max_key == 0 || o.max_key > kMaxKeyLimit) return fail(Errc::invalid_argument, "Dict max_key (1..4096)");
  if (o.max_value > kMaxValueLimit) return fail(Errc::invalid_argument, "Dict max_value (at most 1 MiB)");
  const std::uint64_t slots = std::bit_ceil(o.capacity + (o.capacity + 2) / 3);
  const std::uint64_t slot_bytes = slot_bytes_for(o.max_key, o.max_value);
  if (slots > (std::uint64_t{1} << 46) / slot_bytes) return fail(Errc::invalid_argument, "Dict too large");
  const std::uint64_t size = sizeof(DictLayout) + slots * slot_bytes;
  if (size > std::numeric_limits<std::size_t>::max()) {
    return fail(Errc::invalid_argument, "Dict larger than this process's address space");
  }
  auto seg = detail::create_sync_segment(name, kDictKind, kDictLayoutHash, size, SyncOptions{.mode = o.mode});
  if (!seg) return seg.error();
  auto* d = new (seg->payload()) DictLayout{};  // zero-filled: the lock free, every slot empty
  d->config.slots = slots;
  d->config.slot_bytes = slot_bytes;
  d->config.data_offset = sizeof(DictLayout);
  d->config.max_entries = o.capacity;
  d->config.max_key = o.max_key;
  d->config.max_value = o.max_value;
  const DictConfigLayout config = d->config;
  seg->publish();  // SYNC(publish): release — the config is visible to openers
  return Dict(std::make_unique<State>(std::move(*seg), d, config));
}

Result<Dict> Dict::open(std::string_view name, const DictOpenOptions& o) {
  auto seg = detail::open_sync_segment(
      name, kDictKind, kDictLayoutHash, sizeof(DictLayout),
      SyncOpenOptions{.ready_timeout = o.ready_timeout, .allow_foreign_owner = o.allow_foreign_owner});
  if (!seg) return seg.error();
  auto* d = std::launder(platform::layout_at<DictLayout>(seg->payload()));
  const DictConfigLayout c = d->config;  // one copy; only it is checked and used
  if (c.max_key == 0 || c.max_key > kMaxKeyLimit || c.max_value > kMaxValueLimit) {
    return fail(Errc::corrupt, "Dict key or value limit");
  }
  if (c.slots < 2 || c.slots > kMaxSlots || !std::has_single_bit(c.slots) || c.max_entries == 0 ||
      c.max_entries >= c.slots) {
    return fail(Errc::corrupt, "Dict slot count");
  }
  if (c.slot_bytes != slot_bytes_for(c.max_key, c.max_value) || c.data_offset != sizeof(DictLayout)) {
    return fail(Errc::corrupt, "Dict slot size or offset");
  }
  if ((seg->payload_size() - sizeof(DictLayout)) / c.slot_bytes < c.slots) {
    return fail(Errc::bad_size, "Dict slots exceed the file");
  }
  return Dict(std::make_unique<State>(std::move(*seg), d, c));
}

Result<void> Dict::unlink(std::string_view name) { return platform::Segment::unlink(name, kDictKind); }

// ---- reads ---------------------------------------------------------------------------

DictStatus Dict::get_into(ByteView key, Bytes& out) const {
  if (!s_) return DictStatus::handle_closed;
  return s_->find(key.bytes(), &out);
}

DictValue Dict::get(ByteView key) const {
  DictValue v;
  v.status = get_into(key, v.bytes);
  if (v.status != DictStatus::ok) v.bytes.clear();
  return v;
}

bool Dict::contains(ByteView key) const { return s_ && s_->find(key.bytes(), nullptr) == DictStatus::ok; }

std::size_t Dict::size() const noexcept {
  return s_ ? static_cast<std::size_t>(s_->d->counts.size.load(std::memory_order_relaxed)) : 0;
}

std::vector<Bytes> Dict::keys() const {
  std::vector<Bytes> out;
  if (s_) s_->scan(false, [&](const Bytes& k, const Bytes&) { out.push_back(k); });
  return out;
}

std::vector<Bytes> Dict::values() const {
  std::vector<Bytes> out;
  if (s_) s_->scan(true, [&](const Bytes&, const Bytes& v) { out.push_back(v); });
  return out;
}

std::vector<std::pair<Bytes, Bytes>> Dict::items() const {
  std::vector<std::pair<Bytes, Bytes>> out;
  if (s_) s_->scan(true, [&](const Bytes& k, const Bytes& v) { out.emplace_back(k, v); });
  return out;
}

// ---- writes --------------------------------------------------------------------------

DictStatus Dict::set(ByteView key, ByteView value) noexcept {
  if (!s_) return DictStatus::handle_closed;
  if (const DictStatus st = s_->fits(key.size(), value.size()); st != DictStatus::ok) return st;
  const State::Writing w(*s_);
  return s_->set_locked(key.bytes(), value.bytes());
}

DictStatus Dict::update_views(std::span<const std::pair<ByteView, ByteView>> items) noexcept {
  if (!s_) return DictStatus::handle_closed;
  for (const auto& [k, v] : items) {
    if (const DictStatus st = s_->fits(k.size(), v.size()); st != DictStatus::ok) return st;
  }
  const State::Writing w(*s_);
  for (const auto& [k, v] : items) {
    if (const DictStatus st = s_->set_locked(k.bytes(), v.bytes()); st != DictStatus::ok) return st;
  }
  return DictStatus::ok;
}

DictStatus Dict::erase(ByteView key) noexcept {
  if (!s_) return DictStatus::handle_closed;
  if (key.size() > s_->c.max_key) return DictStatus::not_found;
  const State::Writing w(*s_);
  const State::Place p = s_->place(key.bytes(), hash_key(key.bytes()));
  if (!p.found) return DictStatus::not_found;
  s_->remove_locked(p.slot);
  return DictStatus::ok;
}

DictValue Dict::pop(ByteView key) {
  DictValue v;
  if (!s_) {
    v.status = DictStatus::handle_closed;
    return v;
  }
  if (key.size() > s_->c.max_key) return v;  // not_found
  const State::Writing w(*s_);
  const State::Place p = s_->place(key.bytes(), hash_key(key.bytes()));
  if (!p.found) return v;
  // Under the lock the slot is stable: its current value, then its removal.
  const std::uint64_t st = s_->header(p.slot).state.load(std::memory_order_relaxed);
  const std::uint32_t vs = s_->header(p.slot).value_size[buffer_of(st)].load(std::memory_order_relaxed);
  if (vs > s_->c.max_value) {
    v.status = DictStatus::corrupt;
    return v;
  }
  v.bytes.assign(s_->value_at(p.slot, buffer_of(st)), s_->value_at(p.slot, buffer_of(st)) + vs);
  s_->remove_locked(p.slot);
  v.status = DictStatus::ok;
  return v;
}

DictValue Dict::setdefault(ByteView key, ByteView value) {
  DictValue v;
  if (!s_) {
    v.status = DictStatus::handle_closed;
    return v;
  }
  if (const DictStatus st = s_->fits(key.size(), value.size()); st != DictStatus::ok) {
    v.status = st;
    return v;
  }
  const State::Writing w(*s_);
  v.status = s_->find(key.bytes(), &v.bytes);
  if (v.status != DictStatus::not_found) return v;
  v.status = s_->set_locked(key.bytes(), value.bytes());
  if (v.status == DictStatus::ok) v.bytes.assign(value.bytes().begin(), value.bytes().end());
  return v;
}

DictStatus Dict::compare_set(ByteView key, std::optional<ByteView> expected, std::optional<ByteView> value) noexcept {
  if (!s_) return DictStatus::handle_closed;
  if (const DictStatus st = s_->fits(key.size(), value ? value->size() : 0); st != DictStatus::ok) return st;
  const State::Writing w(*s_);
  const std::uint64_t hash = hash_key(key.bytes());
  const State::Place p = s_->place(key.bytes(), hash);
  if (p.found != expected.has_value()) return DictStatus::mismatch;
  if (p.found) {
    // Under the lock the slot is stable: compare its current value in place.
    const std::uint64_t st = s_->header(p.slot).state.load(std::memory_order_relaxed);
    const std::uint32_t vs = s_->header(p.slot).value_size[buffer_of(st)].load(std::memory_order_relaxed);
    if (vs > s_->c.max_value) return DictStatus::corrupt;
    if (vs != expected->size() ||
        (vs != 0 && std::memcmp(s_->value_at(p.slot, buffer_of(st)), expected->bytes().data(), vs) != 0)) {
      return DictStatus::mismatch;
    }
  }
  if (value) return s_->set_locked(key.bytes(), value->bytes());
  if (p.found) s_->remove_locked(p.slot);
  return DictStatus::ok;
}

void Dict::clear() noexcept {
  if (!s_) return;
  const State::Writing w(*s_);
  // Two passes, so that a writer killed in the middle leaves no live entry
  // behind an empty slot of its probe run: first every entry becomes a
  // tombstone (runs stay whole), then every slot empty.
  for (const std::uint64_t kind : {kDictErased, kDictEmpty}) {
    for (std::uint64_t i = 0; i < s_->c.slots; ++i) {
      DictSlotHeader& h = s_->header(i);
      const std::uint64_t st = h.state.load(std::memory_order_relaxed);
      if (kind_of(st) == kDictEmpty || kind_of(st) == kind) continue;
      h.state.store(next_state(st, kind, buffer_of(st)), std::memory_order_release);
    }
  }
  s_->d->counts.size.store(0, std::memory_order_relaxed);
  s_->d->counts.tombstones.store(0, std::memory_order_relaxed);
}

// ---- observers -----------------------------------------------------------------------

namespace {
const std::string kNoPath;
}

std::uint64_t Dict::capacity() const noexcept { return s_ ? s_->c.max_entries : 0; }
std::uint32_t Dict::max_key() const noexcept { return s_ ? s_->c.max_key : 0; }
std::uint32_t Dict::max_value() const noexcept { return s_ ? s_->c.max_value : 0; }
std::uint64_t Dict::repairs() const noexcept { return s_ ? s_->d->counts.repairs.load(std::memory_order_relaxed) : 0; }
const std::string& Dict::path() const noexcept { return s_ ? s_->segment.path() : kNoPath; }

// ---- d[key] ----------------------------------------------------------------------------

DictStatus DictEntry::operator=(ByteView value) noexcept { return d_->set(key_, value); }
DictValue DictEntry::get() const { return d_->get(key_); }
bool DictEntry::exists() const noexcept { return d_->contains(key_); }

}  // namespace shmring
