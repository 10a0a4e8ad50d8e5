// Value<T> and Array<T>: named shared typed memory with the semantics of
// Python's multiprocessing.Value and Array (sharedctypes), for trivially
// copyable T.
//
//   auto n = Value<double>::create("n", 0.0);          // Python: Value('d', 0.0)
//   auto a = Array<std::int32_t>::create("a", 10);     // Python: Array('i', 10)
//   { std::scoped_lock g(n->get_lock()); n->set(n->get() + 1); }
//
// The lock. lock = true (the default, as in Python) gives the object an
// embedded RLock — recursive, as Python's Value/Array create, so get() and
// set(), which take the lock themselves, also work inside a
// `scoped_lock g(v.get_lock())` block (the tutorial's `with v.get_lock():
// v.value += 1`). A single get() or set() is atomic; a read-modify-write
// needs the block, as in Python. get()/set() take the lock like lock() does:
// a holder that died is taken over silently (use get_lock().acquire() to see
// owner_died). lock = false: get()/set() do not lock (Python's RawValue,
// lock=False); get_lock() still returns the embedded lock for callers that
// want to coordinate themselves.
//
// The atomic fast path. For T whose std::atomic_ref is always lock-free
// (integers, float/double, small PODs on 64-bit targets), load()/store()
// (and fetch_add/fetch_sub for integral T) are single atomic instructions
// on the shared memory that never take the lock. Do not mix them with
// locked read-modify-write blocks on the same value: the block does not
// exclude them. get()/set() on such T read and write with relaxed atomic
// accesses too, so even lock = false never tears them.
//
// Validation at open: segment kind (Value or Array), element size,
// alignment, a class (bool, signed or unsigned integer, floating point,
// enum, other) and an optional user tag (ValueOptions::type_tag, for
// telling apart two structs of one size), the count against the file size.
// Different T of the same size and class (two 8-byte structs) are only told
// apart by the tag. Handles are views (threads may share one).
//
// Element access (Python's a[i], a[i] = x). a[i] is a proxy: `T v = a[i]`
// reads and `a[i] = v` writes, each under the lock (never a copy whose
// assignment silently writes nothing). Keep it to those two forms:
// `auto v = a[i]` holds the proxy, not a value (use a[i].get() or T).
// Indexes are checked everywhere (Python's IndexError), never undefined:
// at(i) answers nullopt and set(i, v) false; a[i], get(i) and the atomic
// fast path (load, store, fetch_add, fetch_sub, compare_exchange) throw
// std::out_of_range, since they have no status to return.
//
// A moved-from handle holds no memory: size() 0 (so every index is out of
// range, as above), get_span() empty, get_obj() null, has_lock() false,
// get_lock() a lock handle that answers handle_closed, path() "",
// valid() false; Value's get() and load() throw std::out_of_range and its
// set() returns false.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmring/ipc/lock.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/ipc/sync_layout.hpp"

namespace shmring {

inline constexpr std::uint32_t kValueKind = 0x554c4156u;  // "VALU"
inline constexpr std::uint32_t kArrayKind = 0x59525241u;  // "ARRY"

// The payload: this header, the lock, then the elements at data_offset.
struct alignas(platform::kFalseSharingRange) TypedHeaderLayout {
  std::uint32_t elem_size;
  std::uint32_t elem_align;
  std::uint64_t count;
  std::uint64_t type_hash;    // typed_hash<T>(tag)
  std::uint64_t data_offset;  // from the payload start: a multiple of 128 and of elem_align
  std::uint32_t has_lock;     // 1: get()/set() take the lock
  std::uint32_t reserved0;
};
struct TypedLayout {
  TypedHeaderLayout header;
  LockLayout lock;  // elements follow at header.data_offset
};
static_assert(std::is_standard_layout_v<TypedLayout> && sizeof(TypedLayout) == 384 &&
                  offsetof(TypedLayout, lock) == 128,
              "header and lock each own 128-byte blocks; offsets are the file format");

inline constexpr std::uint64_t kTypedLayoutHash =
    platform::layout_hash(sizeof(TypedLayout), offsetof(TypedHeaderLayout, count),
                          offsetof(TypedHeaderLayout, type_hash), offsetof(TypedHeaderLayout, data_offset),
                          offsetof(TypedHeaderLayout, has_lock), offsetof(TypedLayout, lock), kLockLayoutHash);

// What open() can check about T.
template <class T>
[[nodiscard]] constexpr std::uint64_t typed_hash(std::uint64_t tag) noexcept {
  const std::uint64_t cls = std::is_same_v<T, bool>       ? 1
                            : std::is_integral_v<T>       ? (std::is_signed_v<T> ? 2 : 3)
                            : std::is_floating_point_v<T> ? 4
                            : std::is_enum_v<T>           ? 5
                                                          : 6;
  return platform::layout_hash(sizeof(T), alignof(T), cls, tag);
}

struct ValueOptions : SyncOptions {
  bool lock = true;            // Python's lock=True: get()/set() take the embedded RLock
  std::uint64_t type_tag = 0;  // part of the type check at open (same value in every process)
};
struct ValueOpenOptions : SyncOpenOptions {
  std::uint64_t type_tag = 0;
};

namespace detail {
struct TypedSpec {
  std::uint32_t kind;
  std::uint32_t elem_size;
  std::uint32_t elem_align;
  std::uint64_t type_hash;
};
struct TypedView {
  std::byte* data = nullptr;
  LockLayout* lock = nullptr;
  std::uint64_t count = 0;
  bool has_lock = false;
};
// `init`: count * elem_size bytes, or null for zeroes.
[[nodiscard]] Result<platform::Segment> create_typed(std::string_view name, const TypedSpec& spec, std::uint64_t count,
                                                     const void* init, const ValueOptions& o, TypedView& view);
[[nodiscard]] Result<platform::Segment> open_typed(std::string_view name, const TypedSpec& spec,
                                                   const ValueOpenOptions& o, TypedView& view);

// One element: relaxed atomic accesses when T's atomic_ref is always
// lock-free (never torn, no data race), else a copy. Under the lock the
// lock orders them; without it, this is the raw access lock = false asks for.
// Elements sit at data_offset (a multiple of 128) + i * sizeof(T), so the
// atomic path needs a required alignment that divides both.
template <class T>
inline constexpr bool kAtomicT =
    std::atomic_ref<T>::is_always_lock_free &&
    sizeof(T) % std::atomic_ref<T>::required_alignment == 0 && std::atomic_ref<T>::required_alignment <= 128;
template <class T>
[[nodiscard]] T load_elem(T* p) noexcept {
  if constexpr (kAtomicT<T>) {
    return std::atomic_ref<T>(*p).load(std::memory_order_relaxed);
  } else {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
}
template <class T>
void store_elem(T* p, const T& v) noexcept {
  if constexpr (kAtomicT<T>) {
    std::atomic_ref<T>(*p).store(v, std::memory_order_relaxed);
  } else {
    std::memcpy(p, &v, sizeof(T));
  }
}
}  // namespace detail

// Array<T>: `size()` elements of T. Value<T> is an Array of one with value-shaped names.
template <class T>
class Value;

template <class T>
class Array {
  static_assert(std::is_trivially_copyable_v<T>, "shared typed memory holds trivially copyable types only");
  static_assert(!std::is_pointer_v<T>, "a pointer means nothing in another process");
  friend class Value<T>;

 public:
  // The atomic fast path exists for this T.
  static constexpr bool kLockFree = detail::kAtomicT<T>;

  // Python's Array(typecode, size): zero-filled.
  [[nodiscard]] static Result<Array> create(std::string_view name, std::size_t count,
                                            const ValueOptions& options = {}) {
    return make(name, count, nullptr, options);
  }
  // Python's Array(typecode, sequence).
  [[nodiscard]] static Result<Array> create(std::string_view name, std::span<const T> init,
                                            const ValueOptions& options = {}) {
    return make(name, init.size(), init.data(), options);
  }
  [[nodiscard]] static Result<Array> open(std::string_view name, const ValueOpenOptions& options = {}) {
    detail::TypedView v;
    auto seg = detail::open_typed(name, spec(kArrayKind, options.type_tag), options, v);
    if (!seg) return seg.error();
    return Array(std::move(*seg), v);
  }
  // Removes the name if it holds an Array (Errc::wrong_kind, bad_magic... otherwise: the
  // file is left alone). An absolute path may name a file on hugetlbfs or a disk; it must
  // be one Array::create made.
  [[nodiscard]] static Result<void> unlink(std::string_view name) {
    return platform::Segment::unlink(name, kArrayKind);
  }

 private:
  // Only Array makes element proxies.
  class Key {
    friend class Array;
    Key() = default;
  };

 public:
  // a[i] on a mutable array: reads and writes element i (see the header comment).
  class Element {
   public:
    // The element now, under the lock; std::out_of_range when i >= size().
    operator T() const { return a_->get(i_); }  // NOLINT: implicit by design (T v = a[i])
    [[nodiscard]] T get() const { return a_->get(i_); }
    // Writes the element under the lock; std::out_of_range when i >= size().
    Element& operator=(const T& v) {
      a_->checked_set(i_, v);
      return *this;
    }
    // a[i] = a[j] copies the value (an implicit copy would rebind the proxy
    // and write nothing).
    Element& operator=(const Element& other) { return *this = other.get(); }
    Element(const Element&) = default;

   private:
    friend class Array;
    // The tag keeps a braced `a[i] = {x, y}` from ever meaning this constructor.
    Element(Array* a, std::size_t i, Key /*unused*/) noexcept : a_(a), i_(i) {}
    Array* a_;
    std::size_t i_;
  };
  // a[i] on a const array: reads only (assigning to it does not compile).
  class ConstElement {
   public:
    operator T() const { return a_->get(i_); }  // NOLINT: implicit by design (T v = a[i])
    [[nodiscard]] T get() const { return a_->get(i_); }
    ConstElement& operator=(const ConstElement&) = delete;
    ConstElement(const ConstElement&) = default;

   private:
    friend class Array;
    ConstElement(const Array* a, std::size_t i, Key /*unused*/) noexcept : a_(a), i_(i) {}
    const Array* a_;
    std::size_t i_;
  };

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  // False for a moved-from handle (size() is then 0).
  [[nodiscard]] bool valid() const noexcept { return data_ != nullptr; }
  // Python's a[i] and a[i] = x: see Element.
  [[nodiscard]] Element operator[](std::size_t i) noexcept { return Element(this, i, Key{}); }
  [[nodiscard]] ConstElement operator[](std::size_t i) const noexcept { return ConstElement(this, i, Key{}); }
  // A copy of element i, under the lock if it has one; std::out_of_range
  // when i >= size() (Python's IndexError).
  [[nodiscard]] T get(std::size_t i) const {
    check(i);
    Guard g(*this);
    return detail::load_elem(data_ + i);
  }
  // Checked: nullopt when i >= size() (Python's IndexError).
  [[nodiscard]] std::optional<T> at(std::size_t i) const noexcept {
    if (i >= count_) return std::nullopt;
    return get(i);
  }
  // false (nothing written) when i >= size() (Python's IndexError).
  [[nodiscard]] bool set(std::size_t i, const T& v) noexcept {
    if (i >= count_) return false;
    Guard g(*this);
    detail::store_elem(data_ + i, v);
    return true;
  }
  // Python's a[:]: a copy of every element, taken under the lock.
  [[nodiscard]] std::vector<T> to_vector() const {
    std::vector<T> out(count_);
    Guard g(*this);
    for (std::size_t i = 0; i < count_; ++i) out[i] = detail::load_elem(data_ + i);
    return out;
  }
  // The raw elements (Python's get_obj()): use them while holding get_lock(),
  // or without it for lock = false data you synchronize yourself. Empty
  // for a moved-from handle.
  [[nodiscard]] std::span<T> get_span() const noexcept { return {data_, count_}; }

  // The embedded RLock (Python's get_lock()).
  [[nodiscard]] RLockRef& get_lock() const noexcept { return lock_; }
  [[nodiscard]] bool has_lock() const noexcept { return has_lock_; }

  // The atomic fast path (never takes the lock; see the header comment).
  // std::out_of_range when i >= size(): one compare with a local field.
  [[nodiscard]] T load(std::size_t i, std::memory_order o = std::memory_order_seq_cst) const requires kLockFree {
    return std::atomic_ref<T>(data_[check(i)]).load(o);
  }
  void store(std::size_t i, T v, std::memory_order o = std::memory_order_seq_cst) requires kLockFree {
    std::atomic_ref<T>(data_[check(i)]).store(v, o);
  }
  T fetch_add(std::size_t i, T d,
              std::memory_order o = std::memory_order_seq_cst) requires(kLockFree&& std::is_integral_v<T> &&
                                                                        !std::is_same_v<T, bool>) {
    return std::atomic_ref<T>(data_[check(i)]).fetch_add(d, o);
  }
  T fetch_sub(std::size_t i, T d,
              std::memory_order o = std::memory_order_seq_cst) requires(kLockFree&& std::is_integral_v<T> &&
                                                                        !std::is_same_v<T, bool>) {
    return std::atomic_ref<T>(data_[check(i)]).fetch_sub(d, o);
  }
  bool compare_exchange(std::size_t i, T& expected, T desired) requires kLockFree {
    return std::atomic_ref<T>(data_[check(i)]).compare_exchange_strong(expected, desired);
  }

  [[nodiscard]] const std::string& path() const noexcept { return segment_.path(); }

  // The moved-from handle holds nothing (see the header comment).
  Array(Array&& o) noexcept
      : segment_(std::move(o.segment_)),
        data_(std::exchange(o.data_, nullptr)),
        count_(std::exchange(o.count_, 0)),
        lock_(std::exchange(o.lock_, RLockRef{})),
        has_lock_(std::exchange(o.has_lock_, false)) {}
  Array& operator=(Array&& o) noexcept {
    if (this != &o) {
      segment_ = std::move(o.segment_);
      data_ = std::exchange(o.data_, nullptr);
      count_ = std::exchange(o.count_, 0);
      lock_ = std::exchange(o.lock_, RLockRef{});
      has_lock_ = std::exchange(o.has_lock_, false);
    }
    return *this;
  }

 protected:
  static detail::TypedSpec spec(std::uint32_t kind, std::uint64_t tag) noexcept {
    return {kind, static_cast<std::uint32_t>(sizeof(T)), static_cast<std::uint32_t>(alignof(T)), typed_hash<T>(tag)};
  }
  static Result<Array> make(std::string_view name, std::size_t count, const T* init, const ValueOptions& o,
                            std::uint32_t kind = kArrayKind) {
    detail::TypedView v;
    auto seg = detail::create_typed(name, spec(kind, o.type_tag), count, init, o, v);
    if (!seg) return seg.error();
    return Array(std::move(*seg), v);
  }
  Array(platform::Segment seg, const detail::TypedView& v) noexcept
      : segment_(std::move(seg)),
        data_(platform::layout_at<T>(v.data)),
        count_(static_cast<std::size_t>(v.count)),
        lock_(*v.lock),
        has_lock_(v.has_lock) {}

  // `i`, or std::out_of_range when it is not an element (a moved-from handle has none).
  std::size_t check(std::size_t i) const {
    if (i >= count_) [[unlikely]] {
      throw std::out_of_range(data_ == nullptr ? "shmring::Array: a moved-from handle has no elements"
                                               : "shmring::Array: index out of range");
    }
    return i;
  }
  void checked_set(std::size_t i, const T& v) {
    check(i);
    Guard g(*this);
    detail::store_elem(data_ + i, v);
  }

  // Holds the lock for one access when the object has one (recursive: fine
  // inside the caller's own get_lock() block).
  class Guard {
   public:
    explicit Guard(const Array& a) noexcept : a_(a) {
      if (a_.has_lock_) a_.lock_.lock();
    }
    ~Guard() {
      if (a_.has_lock_) a_.lock_.unlock();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    const Array& a_;
  };

  platform::Segment segment_;
  T* data_ = nullptr;
  std::size_t count_ = 0;
  mutable RLockRef lock_;
  bool has_lock_ = false;
};

// Value<T>: one T (Python's Value(typecode, value)).
template <class T>
class Value : private Array<T> {
  using Base = Array<T>;

 public:
  using Base::kLockFree;
  [[nodiscard]] static Result<Value> create(std::string_view name, const T& initial = T{},
                                            const ValueOptions& options = {}) {
    auto a = Base::make(name, 1, &initial, options, kValueKind);
    if (!a) return a.error();
    return Value(std::move(*a));
  }
  [[nodiscard]] static Result<Value> open(std::string_view name, const ValueOpenOptions& options = {}) {
    detail::TypedView v;
    auto seg = detail::open_typed(name, Base::spec(kValueKind, options.type_tag), options, v);
    if (!seg) return seg.error();
    if (v.count != 1) return Error{Errc::bad_size, 0, "a Value holds one element"};
    return Value(Base(std::move(*seg), v));
  }
  // Removes the name if it holds a Value (Errc::wrong_kind, bad_magic... otherwise: the
  // file is left alone). An absolute path may name a file on hugetlbfs or a disk; it must
  // be one Value::create made.
  [[nodiscard]] static Result<void> unlink(std::string_view name) {
    return platform::Segment::unlink(name, kValueKind);
  }

  // Python's v.value (read and write), under the lock if it has one. A
  // moved-from handle: get() throws std::out_of_range, set() returns false
  // and writes nothing (true otherwise).
  [[nodiscard]] T get() const { return Base::get(0); }
  bool set(const T& v) noexcept { return Base::set(0, v); }
  // Python's get_obj(): the raw T (use it under get_lock(), or for lock =
  // false); null for a moved-from handle.
  [[nodiscard]] T* get_obj() const noexcept { return Base::data_; }
  using Base::get_lock;
  using Base::has_lock;
  using Base::path;
  using Base::valid;

  // The atomic fast path; a moved-from handle throws std::out_of_range.
  [[nodiscard]] T load(std::memory_order o = std::memory_order_seq_cst) const requires kLockFree {
    return Base::load(0, o);
  }
  void store(T v, std::memory_order o = std::memory_order_seq_cst) requires kLockFree { Base::store(0, v, o); }
  T fetch_add(T d, std::memory_order o = std::memory_order_seq_cst) requires(kLockFree&& std::is_integral_v<T> &&
                                                                             !std::is_same_v<T, bool>) {
    return Base::fetch_add(0, d, o);
  }
  T fetch_sub(T d, std::memory_order o = std::memory_order_seq_cst) requires(kLockFree&& std::is_integral_v<T> &&
                                                                             !std::is_same_v<T, bool>) {
    return Base::fetch_sub(0, d, o);
  }
  bool compare_exchange(T& expected, T desired) requires kLockFree {
    return Base::compare_exchange(0, expected, desired);
  }
  Value(Value&&) noexcept = default;
  Value& operator=(Value&&) noexcept = default;

 private:
  explicit Value(Base&& a) noexcept : Base(std::move(a)) {}
};

}  // namespace shmring
