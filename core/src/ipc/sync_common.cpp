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
  return platform::Segment::create(name, {.kind = kind,
                                          .layout_version = kSyncLayoutVersion,
                                          .layout_hash = layout_hash,
                                          .payload_size = size,
                                          .mode = options.mode});
}

Result<platform::Segment> open_sync_segment(std::string_view name, std::uint32_t kind, std::uint64_t layout_hash,
                                            std::uint64_t size, const SyncOpenOptions& options) {
  return platform::Segment::open(name, {.kind = kind,
                                        .layout_version = kSyncLayoutVersion,
                                        .layout_hash = layout_hash,
                                        .min_payload_size = size,
                                        .ready_timeout = options.ready_timeout,
                                        .allow_foreign_owner = options.allow_foreign_owner});
}

}  // namespace detail
}  // namespace shmring
