// List: Python's Manager().list() without a server process — a list of
// byte strings in a named segment that any process opens by name.
//
// Reads (get, len, slices, the whole list) take no lock and never wait for
// a writer: a read copies what it needs and keeps the copy only if nothing
// it read was republished meanwhile, else reads again. A slice or to_vector
// is one state of the list, never a mix of two shapes (elements set by
// another process during the read may be old or new each). Writes (append,
// extend, set, insert, pop, clear) take the list's lock (a Lock, lock.hpp:
// one writer at a time; a dead writer's lock is taken over after 200 µs).
//
// Never torn: every write is published with one store — an element's new
// value goes into its free buffer first; a change of shape is written into
// the list's other array (or past its end, for append) first — so a writer
// killed at any instruction leaves the list as it was before that write or
// as it is after it, every element whole. insert and pop from the middle
// copy the list (O(n), as Python's); append, pop from the end, set and
// get are O(1).
//
// Sizes are fixed at create: `capacity` elements (beyond: full), each up to
// max_value bytes (too_large). Indices are Python's: negative ones count
// from the end; insert and slices clamp.
//
// A handle is movable, not copyable; use it from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "shmring/ipc/dict.hpp"  // Bytes, ByteView, bytes_of
#include "shmring/platform/error.hpp"

namespace shmring {

enum class ListStatus : std::uint8_t {
  ok,
  out_of_range,   // no element at that index (Python's IndexError); pop from an empty list
  full,           // the list holds `capacity` elements
  too_large,      // an element above max_value bytes; nothing changed
  handle_closed,  // a moved-from handle
  corrupt,        // a damaged file (a size out of range)
};

[[nodiscard]] const char* to_string(ListStatus s) noexcept;

struct ListOptions {
  std::uint64_t capacity = 1024;  // elements (at most 2^24 - 1)
  std::uint32_t max_value = 256;  // bytes per element (at most 1 MiB)
  std::uint32_t mode = 0600;      // file permissions
};

struct ListOpenOptions {
  Timeout ready_timeout = std::chrono::milliseconds(1000);
  bool allow_foreign_owner = false;
};

struct ListValue {
  ListStatus status = ListStatus::out_of_range;
  Bytes bytes;
  explicit operator bool() const noexcept { return status == ListStatus::ok; }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

class List;

// l[i]: reads and writes through the list.
class ListEntry {
 public:
  ListEntry(List& l, std::int64_t i) noexcept : l_(&l), i_(i) {}
  ListStatus operator=(ByteView value) noexcept;  // NOLINT: returns the status, not *this
  [[nodiscard]] ListValue get() const;

 private:
  List* l_;
  std::int64_t i_;
};

class List {
 public:
  [[nodiscard]] static Result<List> create(std::string_view name, const ListOptions& options = {});
  [[nodiscard]] static Result<List> open(std::string_view name, const ListOpenOptions& options = {});
  // Removes the name only if it holds a List; anything else is left alone.
  [[nodiscard]] static Result<void> unlink(std::string_view name);

  List(List&&) noexcept;
  List& operator=(List&&) noexcept;
  ~List();

  // ---- reads: no lock, never wait ----
  [[nodiscard]] ListValue get(std::int64_t index) const;
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] std::optional<T> get_value(std::int64_t index) const {
    const ListValue v = get(index);
    if (!v || v.bytes.size() != sizeof(T)) return std::nullopt;
    T out;
    std::memcpy(&out, v.bytes.data(), sizeof(T));
    return out;
  }
  [[nodiscard]] std::size_t size() const noexcept;  // len(l)
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  // l[start:stop] (clamped, negative from the end; stop npos: to the end).
  static constexpr std::int64_t npos = INT64_MAX;
  [[nodiscard]] std::vector<Bytes> slice(std::int64_t start, std::int64_t stop = npos) const;
  [[nodiscard]] std::vector<Bytes> to_vector() const { return slice(0); }

  // ---- writes: under the list's lock ----
  [[nodiscard]] ListStatus append(ByteView value) noexcept;
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] ListStatus append_value(const T& v) noexcept { return append(bytes_of(v)); }
  // Appends every element of `values` (byte strings) or none (full, too_large).
  template <class Range>
  [[nodiscard]] ListStatus extend(const Range& values) {
    std::vector<std::span<const std::byte>> views;
    for (const auto& v : values) views.push_back(ByteView(v).bytes());
    return extend_views(views);
  }
  [[nodiscard]] ListStatus set(std::int64_t index, ByteView value) noexcept;
  [[nodiscard]] ListEntry operator[](std::int64_t index) noexcept { return ListEntry(*this, index); }
  // Python's insert: before `index`, clamped to [0, len].
  [[nodiscard]] ListStatus insert(std::int64_t index, ByteView value) noexcept;
  // Removes and returns element `index` (default the last).
  [[nodiscard]] ListValue pop(std::int64_t index = -1);
  void clear() noexcept;

  [[nodiscard]] std::uint64_t capacity() const noexcept;
  [[nodiscard]] std::uint32_t max_value() const noexcept;
  [[nodiscard]] std::uint64_t repairs() const noexcept;
  [[nodiscard]] const std::string& path() const noexcept;

  struct State;

 private:
  explicit List(std::unique_ptr<State> s) noexcept;
  [[nodiscard]] ListStatus extend_views(std::span<const std::span<const std::byte>> values) noexcept;
  std::unique_ptr<State> s_;
};

}  // namespace shmring
