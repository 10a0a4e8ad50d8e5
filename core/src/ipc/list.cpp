// List (list.hpp) over ListLayout (list_layout.hpp). Writers hold the
// list's lock; readers hold nothing.
//
// Why a reader's copy is one state of the list (the Dict's argument,
// dict.cpp, with two levels):
// - A writer writes slot bytes only after a release fence, and publishes
//   with release stores: a slot's state (set) or the header word (every
//   change of shape). It never writes the buffer a slot's state names as
//   current, nor a slot of the current array below the length, except
//   through set()'s free buffer.
// - A reader loads the header (acquire), then each slot's state (acquire),
//   copies, issues an acquire fence and reloads the slot states and the
//   header; it keeps the copy only if all are unchanged. If its copy read
//   any byte of a later write, the fence pair makes the publish that
//   preceded that write visible to the reloads (a later shape change
//   publishes the header before it writes the array it read; a later set
//   publishes the slot's state before it writes the buffer it read), and
//   versions only grow: the reloads differ and the copy is dropped.
// Element copies are plain memcpys racing with a writer's; the result of a
// lost race is discarded (a ThreadSanitizer run would report it: the List
// has no TSan twin test yet).
//
// A writer killed anywhere: nothing it wrote is named by a published word
// until its one publishing store, so the next writer needs no repair (it
// counts the takeover in `repairs`).
#include "shmring/ipc/list.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <new>

#include "shmring/ipc/list_layout.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/platform/segment.hpp"
#include "writer_hold.hpp"

namespace shmring {

const char* to_string(ListStatus s) noexcept {
  switch (s) {
    case ListStatus::ok: return "ok";
    case ListStatus::out_of_range: return "out_of_range";
    case ListStatus::full: return "full";
    case ListStatus::too_large: return "too_large";
    case ListStatus::handle_closed: return "handle_closed";
    case ListStatus::corrupt: return "corrupt";
  }
  return "?";
}

namespace {

constexpr std::uint32_t kMaxValueLimit = 1u << 20;

constexpr std::uint64_t round8(std::uint64_t n) noexcept { return (n + 7) / 8 * 8; }
constexpr std::uint64_t slot_bytes_for(std::uint32_t max_value) noexcept {
  return (sizeof(ListSlotHeader) + 2 * round8(max_value) + 63) / 64 * 64;
}

unsigned array_of(std::uint64_t h) noexcept { return (h & kListArrayBit) != 0 ? 1u : 0u; }
std::uint64_t length_of(std::uint64_t h) noexcept { return (h >> kListLengthShift) & kListMaxCapacity; }
std::uint64_t make_header(std::uint64_t old, unsigned array, std::uint64_t length) noexcept {
  const std::uint64_t version = (old >> kListVersionShift) + 1;
  return (version << kListVersionShift) | (length << kListLengthShift) | (array != 0 ? kListArrayBit : 0);
}

inline void list_speculative_copy(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  if (n != 0) std::memcpy(dst, src, n);
}

// Python's index: negative counts from the end. -1: none.
std::int64_t normalize(std::int64_t i, std::uint64_t length) noexcept {
  const auto n = static_cast<std::int64_t>(length);
  if (i < 0) i += n;
  return i < 0 || i >= n ? -1 : i;
}
// Python's slice bound: clamped to [0, length].
std::uint64_t clamp_bound(std::int64_t i, std::uint64_t length) noexcept {
  const auto n = static_cast<std::int64_t>(length);
  if (i < 0) i += n;
  return static_cast<std::uint64_t>(std::clamp<std::int64_t>(i, 0, n));
}

}  // namespace

struct List::State {
  platform::Segment segment;
  ListLayout* l;
  ListConfigLayout c;
  std::byte* arrays;
  LockRef lock;

  State(platform::Segment seg, ListLayout* layout, const ListConfigLayout& config) noexcept
      : segment(std::move(seg)),
        l(layout),
        c(config),
        arrays(reinterpret_cast<std::byte*>(layout) + config.data_offset),
        lock(layout->lock) {}

  [[nodiscard]] std::byte* slot_at(unsigned array, std::uint64_t i) const noexcept {
    return arrays + (array * c.capacity + i) * c.slot_bytes;
  }
  [[nodiscard]] ListSlotHeader& slot(unsigned array, std::uint64_t i) const noexcept {
    return *std::launder(platform::layout_at<ListSlotHeader>(slot_at(array, i)));
  }
  [[nodiscard]] std::byte* buffer(unsigned array, std::uint64_t i, unsigned b) const noexcept {
    return slot_at(array, i) + sizeof(ListSlotHeader) + b * round8(c.max_value);
  }
  [[nodiscard]] std::uint64_t header() const noexcept {
    // SYNC(list): acquire — pairs with the writer's release store of the header.
    return l->header.word.load(std::memory_order_acquire);
  }

  // ---- reads ----

  enum class Read : std::uint8_t { ok, retry, corrupt };
  // Copies element i of the list state `h` into `out` (appends); the caller
  // re-checks the header after its last element.
  Read copy(std::uint64_t h, std::uint64_t i, Bytes& out) const {
    ListSlotHeader& s = slot(array_of(h), i);
    const std::uint64_t st = s.state.load(std::memory_order_acquire);
    const unsigned b = static_cast<unsigned>(st & 1);
    const std::uint32_t size = s.size[b].load(std::memory_order_relaxed);
    const bool size_ok = size <= c.max_value;
    const std::size_t at = out.size();
    if (size_ok) {
      out.resize(at + size);
      list_speculative_copy(out.data() + at, buffer(array_of(h), i, b), size);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.state.load(std::memory_order_relaxed) != st) return Read::retry;
    return size_ok ? Read::ok : Read::corrupt;
  }

  // ---- writes (the caller holds the lock) ----

  // Holds the lock for one write (nothing to repair after a dead writer:
  // only its publishing store would have changed the list).
  struct Writing : detail::WriterHold {
    explicit Writing(State& s) noexcept
        : WriterHold(s.lock, [&s] { s.l->header.repairs.fetch_add(1, std::memory_order_relaxed); }) {}
  };

  // Writes `bytes` into slot i of `array` (its free buffer) and publishes the slot.
  void write_slot(unsigned array, std::uint64_t i, std::span<const std::byte> bytes) noexcept {
    ListSlotHeader& s = slot(array, i);
    const std::uint64_t st = s.state.load(std::memory_order_relaxed);
    const unsigned b = 1u - static_cast<unsigned>(st & 1);
    // SYNC(list): release fence — a reader whose copy sees a byte below sees
    // every publish before it (the argument above).
    std::atomic_thread_fence(std::memory_order_release);
    s.size[b].store(static_cast<std::uint32_t>(bytes.size()), std::memory_order_relaxed);
    if (!bytes.empty()) std::memcpy(buffer(array, i, b), bytes.data(), bytes.size());
    // SYNC(list): release — the bytes above are visible with the state.
    s.state.store(((st & ~std::uint64_t{1}) + 2) | b, std::memory_order_release);
  }
  // Element j of `array` as the writer sees it (stable: no other writer).
  [[nodiscard]] std::span<const std::byte> element(unsigned array, std::uint64_t j) const noexcept {
    ListSlotHeader& s = slot(array, j);
    const unsigned b = static_cast<unsigned>(s.state.load(std::memory_order_relaxed) & 1);
    const std::uint32_t size = std::min<std::uint32_t>(s.size[b].load(std::memory_order_relaxed), c.max_value);
    return {buffer(array, j, b), size};
  }
  void publish(std::uint64_t h, unsigned array, std::uint64_t length) noexcept {
    // SYNC(list): release — every slot written before is visible with the header.
    l->header.word.store(make_header(h, array, length), std::memory_order_release);
  }
  // The list `h` with element `drop` removed (or `value` inserted at
  // `insert_at`), written into the other array and published.
  void rebuild(std::uint64_t h, std::uint64_t drop, std::uint64_t insert_at,
               std::span<const std::byte> value) noexcept {
    const unsigned from = array_of(h);
    const unsigned to = 1u - from;
    const std::uint64_t n = length_of(h);
    std::uint64_t k = 0;
    for (std::uint64_t j = 0; j <= n; ++j) {
      if (j == insert_at) write_slot(to, k++, value);
      if (j < n && j != drop) write_slot(to, k++, element(from, j));
    }
    publish(h, to, k);
  }
};

// ---- create / open --------------------------------------------------------------------

List::List(std::unique_ptr<State> s) noexcept : s_(std::move(s)) {}
List::List(List&&) noexcept = default;
List& List::operator=(List&&) noexcept = default;
List::~List() = default;

Result<List> List::create(std::string_view name, const ListOptions& o) {
  if (o.capacity == 0 || o.capacity > kListMaxCapacity) return fail(Errc::invalid_argument, "List capacity");
  if (o.max_value > kMaxValueLimit) return fail(Errc::invalid_argument, "List max_value (at most 1 MiB)");
  const std::uint64_t slot_bytes = slot_bytes_for(o.max_value);
  if (o.capacity > (std::uint64_t{1} << 45) / slot_bytes) return fail(Errc::invalid_argument, "List too large");
  const std::uint64_t size = sizeof(ListLayout) + 2 * o.capacity * slot_bytes;
  if (size > std::numeric_limits<std::size_t>::max()) {
    return fail(Errc::invalid_argument, "List larger than this process's address space");
  }
  auto seg = detail::create_sync_segment(name, kListKind, kListLayoutHash, size, SyncOptions{.mode = o.mode});
  if (!seg) return seg.error();
  auto* l = new (seg->payload()) ListLayout{};  // zero-filled: the lock free, the list empty
  l->config.capacity = o.capacity;
  l->config.slot_bytes = slot_bytes;
  l->config.data_offset = sizeof(ListLayout);
  l->config.max_value = o.max_value;
  const ListConfigLayout config = l->config;
  seg->publish();  // SYNC(publish): release — the config is visible to openers
  return List(std::make_unique<State>(std::move(*seg), l, config));
}

Result<List> List::open(std::string_view name, const ListOpenOptions& o) {
  auto seg = detail::open_sync_segment(
      name, kListKind, kListLayoutHash, sizeof(ListLayout),
      SyncOpenOptions{.ready_timeout = o.ready_timeout, .allow_foreign_owner = o.allow_foreign_owner});
  if (!seg) return seg.error();
  auto* l = std::launder(platform::layout_at<ListLayout>(seg->payload()));
  const ListConfigLayout c = l->config;  // one copy; only it is checked and used
  if (c.capacity == 0 || c.capacity > kListMaxCapacity || c.max_value > kMaxValueLimit) {
    return fail(Errc::corrupt, "List capacity or max_value");
  }
  if (c.slot_bytes != slot_bytes_for(c.max_value) || c.data_offset != sizeof(ListLayout)) {
    return fail(Errc::corrupt, "List slot size or offset");
  }
  if ((seg->payload_size() - sizeof(ListLayout)) / c.slot_bytes / 2 < c.capacity) {
    return fail(Errc::bad_size, "List arrays exceed the file");
  }
  return List(std::make_unique<State>(std::move(*seg), l, c));
}

Result<void> List::unlink(std::string_view name) { return platform::Segment::unlink(name, kListKind); }

// ---- reads ------------------------------------------------------------------------------

ListValue List::get(std::int64_t index) const {
  ListValue v;
  if (!s_) {
    v.status = ListStatus::handle_closed;
    return v;
  }
  for (;;) {
    const std::uint64_t h = s_->header();
    const std::uint64_t n = length_of(h);
    if (n > s_->c.capacity) {
      v.status = ListStatus::corrupt;
      return v;
    }
    const std::int64_t i = normalize(index, n);
    if (i < 0) {
      v.status = ListStatus::out_of_range;
      return v;
    }
    v.bytes.clear();
    const State::Read r = s_->copy(h, static_cast<std::uint64_t>(i), v.bytes);
    if (r == State::Read::retry || s_->l->header.word.load(std::memory_order_relaxed) != h) continue;
    v.status = r == State::Read::ok ? ListStatus::ok : ListStatus::corrupt;
    if (v.status != ListStatus::ok) v.bytes.clear();
    return v;
  }
}

std::size_t List::size() const noexcept {
  if (!s_) return 0;
  return static_cast<std::size_t>(std::min(length_of(s_->header()), s_->c.capacity));
}

std::vector<Bytes> List::slice(std::int64_t start, std::int64_t stop) const {
  std::vector<Bytes> out;
  if (!s_) return out;
  for (;;) {
    out.clear();
    const std::uint64_t h = s_->header();
    const std::uint64_t n = std::min(length_of(h), s_->c.capacity);
    const std::uint64_t a = clamp_bound(start, n);
    const std::uint64_t b = stop == npos ? n : clamp_bound(stop, n);
    bool again = false;
    for (std::uint64_t i = a; i < b && !again; ++i) {
      Bytes e;
      switch (s_->copy(h, i, e)) {
        case State::Read::ok: out.push_back(std::move(e)); break;
        case State::Read::retry: again = true; break;
        case State::Read::corrupt: break;  // a damaged element is left out
      }
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (!again && s_->l->header.word.load(std::memory_order_relaxed) == h) return out;
  }
}

// ---- writes -----------------------------------------------------------------------------

ListStatus List::append(ByteView value) noexcept {
  const std::span<const std::byte> one[1] = {value.bytes()};
  return extend_views(one);
}

ListStatus List::extend_views(std::span<const std::span<const std::byte>> values) noexcept {
  if (!s_) return ListStatus::handle_closed;
  for (const auto& v : values) {
    if (v.size() > s_->c.max_value) return ListStatus::too_large;
  }
  const State::Writing w(*s_);
  const std::uint64_t h = s_->header();
  const std::uint64_t n = std::min(length_of(h), s_->c.capacity);
  if (values.size() > s_->c.capacity - n) return ListStatus::full;
  for (std::size_t k = 0; k < values.size(); ++k) s_->write_slot(array_of(h), n + k, values[k]);
  s_->publish(h, array_of(h), n + values.size());
  return ListStatus::ok;
}

ListStatus List::set(std::int64_t index, ByteView value) noexcept {
  if (!s_) return ListStatus::handle_closed;
  if (value.size() > s_->c.max_value) return ListStatus::too_large;
  const State::Writing w(*s_);
  const std::uint64_t h = s_->header();
  const std::int64_t i = normalize(index, std::min(length_of(h), s_->c.capacity));
  if (i < 0) return ListStatus::out_of_range;
  s_->write_slot(array_of(h), static_cast<std::uint64_t>(i), value.bytes());
  return ListStatus::ok;
}

ListStatus List::insert(std::int64_t index, ByteView value) noexcept {
  if (!s_) return ListStatus::handle_closed;
  if (value.size() > s_->c.max_value) return ListStatus::too_large;
  const State::Writing w(*s_);
  const std::uint64_t h = s_->header();
  const std::uint64_t n = std::min(length_of(h), s_->c.capacity);
  if (n == s_->c.capacity) return ListStatus::full;
  const std::uint64_t at = clamp_bound(index, n);
  if (at == n) {
    s_->write_slot(array_of(h), n, value.bytes());
    s_->publish(h, array_of(h), n + 1);
  } else {
    s_->rebuild(h, n, at, value.bytes());
  }
  return ListStatus::ok;
}

ListValue List::pop(std::int64_t index) {
  ListValue v;
  if (!s_) {
    v.status = ListStatus::handle_closed;
    return v;
  }
  const State::Writing w(*s_);
  const std::uint64_t h = s_->header();
  const std::uint64_t n = std::min(length_of(h), s_->c.capacity);
  const std::int64_t i = normalize(index, n);
  if (i < 0) return v;  // out_of_range
  const auto at = static_cast<std::uint64_t>(i);
  const std::span<const std::byte> e = s_->element(array_of(h), at);
  v.bytes.assign(e.begin(), e.end());
  v.status = ListStatus::ok;
  if (at == n - 1) {
    s_->publish(h, array_of(h), n - 1);
  } else {
    s_->rebuild(h, at, n + 1, {});
  }
  return v;
}

void List::clear() noexcept {
  if (!s_) return;
  const State::Writing w(*s_);
  const std::uint64_t h = s_->header();
  s_->publish(h, array_of(h), 0);
}

// ---- observers ---------------------------------------------------------------------------

namespace {
const std::string kNoPath;
}

std::uint64_t List::capacity() const noexcept { return s_ ? s_->c.capacity : 0; }
std::uint32_t List::max_value() const noexcept { return s_ ? s_->c.max_value : 0; }
std::uint64_t List::repairs() const noexcept { return s_ ? s_->l->header.repairs.load(std::memory_order_relaxed) : 0; }
const std::string& List::path() const noexcept { return s_ ? s_->segment.path() : kNoPath; }

ListStatus ListEntry::operator=(ByteView value) noexcept { return l_->set(i_, value); }
ListValue ListEntry::get() const { return l_->get(i_); }

}  // namespace shmring
