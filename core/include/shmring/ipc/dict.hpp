// Dict: Python's Manager().dict() without a server process — a hash table
// of byte-string keys and values in a named segment that any process opens
// by name.
//
// Reads (get, contains, size, keys/values/items) take no lock and never
// wait for a writer: each copies what a slot holds and keeps the copy only
// if no write to that slot was published meanwhile, else looks again. A
// writer that dies anywhere leaves no slot in a state a reader waits on.
// Writes (set, erase, pop, setdefault, update, clear) take the dict's lock
// (a Lock, lock.hpp: one writer at a time; a dead writer's lock is taken
// over within kOwnerCheckInterval, and the taker recounts the entries).
//
// Never torn: a write fills the slot's value buffer that readers are not
// using and then publishes it with one store, so a writer killed at any
// instruction leaves every entry with its old value or its new one.
//
// Sizes are fixed at create: keys up to max_key bytes, values up to
// max_value bytes (larger: too_large), at most `capacity` entries (a set of
// a new key beyond: full). To grow, create a larger Dict and copy:
// `big->update(small->items())`. Keys are compared as bytes; typed values
// go through bytes_of() / get_value<T>(). Snapshots (keys, values, items)
// are in table order, not insertion order as Python's dict; each entry in
// them is whole, and the set of entries is what the table held while the
// scan passed (entries written during the scan may or may not appear).
//
// A handle is movable, not copyable; use it from one thread at a time (as a
// Queue handle). A moved-from handle reports handle_closed.
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
#include <utility>
#include <vector>

#include "shmring/blocking/wait.hpp"
#include "shmring/platform/error.hpp"

namespace shmring {

enum class DictStatus : std::uint8_t {
  ok,
  not_found,      // get, pop, erase: no such key (Python's KeyError)
  full,           // set or setdefault of a new key: the dict holds `capacity` entries
  too_large,      // a key above max_key or a value above max_value bytes; nothing changed
  handle_closed,  // a moved-from handle
  corrupt,        // a slot of the file is damaged (a size out of range)
  mismatch,       // compare_set: the key did not hold the expected value; nothing changed
};

[[nodiscard]] const char* to_string(DictStatus s) noexcept;

struct DictOptions {
  std::uint64_t capacity = 1024;  // entries; the table has at least 4/3 as many slots (a power of two)
  std::uint32_t max_key = 64;     // bytes, 1..4096
  std::uint32_t max_value = 256;  // bytes, 0..1 MiB
  std::uint32_t mode = 0600;      // file permissions
};

struct DictOpenOptions {
  // How long to wait for a creator that has not finished creating it.
  Timeout ready_timeout = std::chrono::milliseconds(1000);
  bool allow_foreign_owner = false;  // open a file owned by another user
};

using Bytes = std::vector<std::byte>;

// A byte string argument: text, bytes, or bytes_of(value).
class ByteView {
 public:
  ByteView(std::span<const std::byte> b) noexcept : b_(b) {}  // NOLINT: implicit by design
  ByteView(std::string_view s) noexcept                       // NOLINT: implicit by design
      : b_(std::as_bytes(std::span<const char>(s.data(), s.size()))) {}
  ByteView(const char* s) noexcept : ByteView(std::string_view(s)) {}         // NOLINT: implicit by design
  ByteView(const std::string& s) noexcept : ByteView(std::string_view(s)) {}  // NOLINT: implicit by design
  ByteView(const Bytes& b) noexcept : b_(b.data(), b.size()) {}               // NOLINT: implicit by design
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return b_; }
  [[nodiscard]] std::size_t size() const noexcept { return b_.size(); }

 private:
  std::span<const std::byte> b_;
};

// The bytes of a trivially copyable value (a key or a value).
template <class T>
  requires std::is_trivially_copyable_v<T>
[[nodiscard]] std::span<const std::byte> bytes_of(const T& v) noexcept {
  return std::as_bytes(std::span<const T, 1>(&v, 1));
}

struct DictValue {
  DictStatus status = DictStatus::not_found;
  Bytes bytes;
  explicit operator bool() const noexcept { return status == DictStatus::ok; }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

class Dict;

// d[key]: reads and writes through the dict (never a copy that writes go to).
class DictEntry {
 public:
  DictEntry(Dict& d, ByteView key) : d_(&d), key_(key.bytes().begin(), key.bytes().end()) {}
  DictStatus operator=(ByteView value) noexcept;  // NOLINT: returns the status, not *this
  [[nodiscard]] DictValue get() const;
  [[nodiscard]] bool exists() const noexcept;

 private:
  Dict* d_;
  Bytes key_;
};

class Dict {
 public:
  [[nodiscard]] static Result<Dict> create(std::string_view name, const DictOptions& options = {});
  [[nodiscard]] static Result<Dict> open(std::string_view name, const DictOpenOptions& options = {});
  // Removes the name only if it holds a Dict; anything else is left alone.
  [[nodiscard]] static Result<void> unlink(std::string_view name);

  Dict(Dict&&) noexcept;
  Dict& operator=(Dict&&) noexcept;
  ~Dict();

  // ---- reads: no lock, never wait ----
  // Copies the value of `key` into `out` (resized): ok, not_found, too_large (the key), corrupt.
  [[nodiscard]] DictStatus get_into(ByteView key, Bytes& out) const;
  [[nodiscard]] DictValue get(ByteView key) const;
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] std::optional<T> get_value(ByteView key) const {
    Bytes b;
    if (get_into(key, b) != DictStatus::ok || b.size() != sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, b.data(), sizeof(T));
    return v;
  }
  [[nodiscard]] bool contains(ByteView key) const;
  [[nodiscard]] std::size_t size() const noexcept;  // exact when no write is under way
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  [[nodiscard]] std::vector<Bytes> keys() const;
  [[nodiscard]] std::vector<Bytes> values() const;
  [[nodiscard]] std::vector<std::pair<Bytes, Bytes>> items() const;

  // ---- writes: under the dict's lock ----
  [[nodiscard]] DictStatus set(ByteView key, ByteView value) noexcept;
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] DictStatus set_value(ByteView key, const T& value) noexcept { return set(key, bytes_of(value)); }
  [[nodiscard]] DictEntry operator[](ByteView key) { return DictEntry(*this, key); }
  // Python's del d[key]: ok or not_found.
  [[nodiscard]] DictStatus erase(ByteView key) noexcept;
  // Removes `key` and returns its value (not_found: nothing removed).
  [[nodiscard]] DictValue pop(ByteView key);
  // The value of `key`; if absent, sets it to `value` first (one step for
  // every process: no other writer comes between the look and the set).
  [[nodiscard]] DictValue setdefault(ByteView key, ByteView value);
  // Sets every (key, value) of `items` under one hold of the lock; stops at
  // the first that fails and returns why (those before it are set).
  template <class Range>
  [[nodiscard]] DictStatus update(const Range& items) {
    std::vector<std::pair<ByteView, ByteView>> views;
    for (const auto& [k, v] : items) views.emplace_back(ByteView(k), ByteView(v));
    return update_views(views);
  }
  void clear() noexcept;
  // Compare-and-set, one step for every process (under the lock, as
  // setdefault): if `key` now holds `expected` (nullopt: is absent), sets it
  // to `value` (nullopt: erases it) and returns ok; else changes nothing and
  // returns mismatch. full and too_large as set. For a caller that must not
  // overwrite a write it has not seen (the KV bridge, docs/bridge.md).
  [[nodiscard]] DictStatus compare_set(ByteView key, std::optional<ByteView> expected,
                                       std::optional<ByteView> value) noexcept;

  // ---- observers ----
  [[nodiscard]] std::uint64_t capacity() const noexcept;
  [[nodiscard]] std::uint32_t max_key() const noexcept;
  [[nodiscard]] std::uint32_t max_value() const noexcept;
  // Times a writer found the lock's holder dead and repaired the counts.
  [[nodiscard]] std::uint64_t repairs() const noexcept;
  [[nodiscard]] const std::string& path() const noexcept;

  struct State;

 private:
  explicit Dict(std::unique_ptr<State> s) noexcept;
  [[nodiscard]] DictStatus update_views(std::span<const std::pair<ByteView, ByteView>> items) noexcept;
  std::unique_ptr<State> s_;
};

}  // namespace shmring
