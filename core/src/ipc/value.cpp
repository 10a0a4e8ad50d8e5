#include "shmring/ipc/value.hpp"

#include <cstring>
#include <limits>
#include <new>

namespace shmring::detail {

namespace {

constexpr std::uint64_t kBlock = platform::kFalseSharingRange;

[[nodiscard]] std::uint64_t round_up(std::uint64_t v, std::uint64_t to) noexcept { return (v + to - 1) / to * to; }

[[nodiscard]] std::uint64_t data_offset_for(std::uint32_t elem_align) noexcept {
  return round_up(sizeof(TypedLayout), elem_align > kBlock ? elem_align : kBlock);
}

// Elements that fit a payload of `size` bytes after `offset`; no overflow.
[[nodiscard]] bool fits(std::uint64_t size, std::uint64_t offset, std::uint64_t count, std::uint64_t elem) noexcept {
  return offset <= size && elem != 0 && count <= (size - offset) / elem;
}

}  // namespace

Result<platform::Segment> create_typed(std::string_view name, const TypedSpec& spec, std::uint64_t count,
                                       const void* init, const ValueOptions& o, TypedView& view) {
  if (count == 0) return fail(Errc::invalid_argument, "an Array needs at least one element");
  const std::uint64_t offset = data_offset_for(spec.elem_align);
  if (count > (std::uint64_t{1} << 48) / spec.elem_size) return fail(Errc::invalid_argument, "Array too large");
  const std::uint64_t size = offset + count * spec.elem_size;
  // Refused before any file exists: a 32-bit process could reserve the
  // memory of an array it can never map.
  if (size > std::numeric_limits<std::size_t>::max()) {
    return fail(Errc::invalid_argument, "Array larger than this process's address space");
  }
  auto seg = detail::create_sync_segment(name, spec.kind, kTypedLayoutHash, size, o);
  if (!seg) return seg.error();
  auto* t = new (seg->payload()) TypedLayout{};  // the lock: free
  t->header.elem_size = spec.elem_size;
  t->header.elem_align = spec.elem_align;
  t->header.count = count;
  t->header.type_hash = spec.type_hash;
  t->header.data_offset = offset;
  t->header.has_lock = o.lock ? 1u : 0u;
  std::byte* data = seg->payload() + offset;
  // The file is zero-filled (fallocate); trivially copyable T: bytes are values.
  // The size fits size_t: the bytes are mapped (checked against the file size).
  if (init != nullptr) std::memcpy(data, init, static_cast<std::size_t>(count * spec.elem_size));
  seg->publish();  // SYNC(publish): release — header, lock and elements are visible to openers
  view = {data, &t->lock, count, o.lock};
  return std::move(*seg);
}

// Every header field is another process's word: checked against this
// build's T and the file's size before any element is touched.
Result<platform::Segment> open_typed(std::string_view name, const TypedSpec& spec, const ValueOpenOptions& o,
                                     TypedView& view) {
  auto seg = detail::open_sync_segment(name, spec.kind, kTypedLayoutHash, sizeof(TypedLayout), o);
  if (!seg) return seg.error();
  auto* t = std::launder(platform::layout_at<TypedLayout>(seg->payload()));
  const TypedHeaderLayout& h = t->header;
  if (h.elem_size != spec.elem_size || h.elem_align != spec.elem_align) {
    return fail(Errc::bad_layout, "element size or alignment differs from this T");
  }
  if (h.type_hash != spec.type_hash) return fail(Errc::bad_layout, "element type (class or type_tag) differs");
  if (h.data_offset != data_offset_for(spec.elem_align)) return fail(Errc::corrupt, "element offset");
  if (h.count == 0 || !fits(seg->payload_size(), h.data_offset, h.count, h.elem_size)) {
    return fail(Errc::bad_size, "element count vs file size");
  }
  if (h.has_lock > 1) return fail(Errc::corrupt, "lock flag");
  view = {seg->payload() + h.data_offset, &t->lock, h.count, h.has_lock == 1};
  return std::move(*seg);
}

}  // namespace shmring::detail
