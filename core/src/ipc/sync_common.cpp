#include "shmring/ipc/sync_common.hpp"

#include "shmring/ipc/sync_layout.hpp"

namespace shmring {

const char* to_string(AcquireStatus s) noexcept {
  switch (s) {
    case AcquireStatus::acquired: return "acquired";
    case AcquireStatus::owner_died: return "owner_died";
    case AcquireStatus::timeout: return "timeout";
    case AcquireStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

const char* to_string(ReleaseStatus s) noexcept {
  switch (s) {
    case ReleaseStatus::ok: return "ok";
    case ReleaseStatus::not_held: return "not_held";
    case ReleaseStatus::not_owner: return "not_owner";
    case ReleaseStatus::too_many: return "too_many";
    case ReleaseStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

namespace detail {

Result<platform::Segment> create_sync_segment(std::string_view name, std::uint32_t kind, std::uint64_t layout_hash,
                                              std::uint64_t size, const SyncOptions& options) {
  platform::SegmentSpec spec;
  spec.kind = kind;
  spec.layout_version = kSyncLayoutVersion;
  spec.layout_hash = layout_hash;
  spec.payload_size = size;
  spec.mode = options.mode;
  return platform::Segment::create(name, spec);
}

Result<platform::Segment> open_sync_segment(std::string_view name, std::uint32_t kind, std::uint64_t layout_hash,
                                            std::uint64_t size, const SyncOpenOptions& options) {
  platform::SegmentExpect expect;
  expect.kind = kind;
  expect.layout_version = kSyncLayoutVersion;
  expect.layout_hash = layout_hash;
  expect.min_payload_size = size;
  expect.ready_timeout = options.ready_timeout;
  expect.allow_foreign_owner = options.allow_foreign_owner;
  return platform::Segment::open(name, expect);
}

}  // namespace detail
}  // namespace shmring
