#include "in_state.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace shmring::bridge::detail {

namespace {

constexpr std::uint64_t kMagic = 0x4e49'4547'4449'5242ull;  // "BRIDGEIN"
constexpr off_t kSlotBytes = 2048;
static_assert(sizeof(InStateRecord) <= kSlotBytes, "a record fits its slot");

std::uint64_t fnv(const void* p, std::size_t n) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<const unsigned char*>(p)[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t checksum_of(const InStateRecord& r) noexcept { return fnv(&r, offsetof(InStateRecord, checksum)); }

}  // namespace

std::uint64_t InState::source_key(const std::string& source) noexcept {
  const std::uint64_t h = fnv(source.data(), source.size());
  return h == 0 ? 1 : h;
}

InState::~InState() {
  if (fd_ >= 0) ::close(fd_);
}

std::string InState::open(const std::string& path, std::uint64_t put_seq) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return path + ": " + std::strerror(errno);
  InStateRecord best{};
  bool found = false;
  for (off_t slot = 0; slot < 2; ++slot) {
    InStateRecord r{};
    if (::pread(fd_, &r, sizeof(r), slot * kSlotBytes) != static_cast<ssize_t>(sizeof(r))) continue;
    if (r.magic != kMagic || r.checksum != checksum_of(r)) continue;
    if (!found || r.generation > best.generation) best = r;
    found = true;
  }
  if (found) {
    r_ = best;
  } else {
    r_ = InStateRecord{};
    r_.magic = kMagic;
  }
  // The put count moved past the intent: the put happened (the bridge is the
  // queue's only producer).
  if (r_.pending_stream_seq != 0 && put_seq > r_.pending_put_before) {
    found_put_ = r_.pending_stream_seq;
    apply_pending();
  } else {
    found_unput_ = r_.pending_stream_seq;
  }
  r_.pending_stream_seq = 0;
  return {};
}

bool InState::already_put(std::uint64_t stream_seq, std::uint64_t source, std::uint64_t seq) const noexcept {
  if (stream_seq <= r_.last_stream_seq) return true;
  if (source == 0) return false;
  for (const auto& s : r_.sources) {
    if (s.key == source) return seq <= s.last_seq;
  }
  return false;
}

std::string InState::intend(std::uint64_t stream_seq, std::uint64_t source, std::uint64_t seq,
                            std::uint64_t put_before) {
  ++r_.generation;
  r_.pending_stream_seq = stream_seq;
  r_.pending_source = source;
  r_.pending_seq = seq;
  r_.pending_put_before = put_before;
  r_.checksum = checksum_of(r_);
  const off_t at = static_cast<off_t>(r_.generation & 1) * kSlotBytes;
  if (::pwrite(fd_, &r_, sizeof(r_), at) != static_cast<ssize_t>(sizeof(r_))) {
    return std::string("bridge state: write: ") + std::strerror(errno);
  }
  return {};
}

void InState::bind_stream(std::uint64_t created) noexcept {
  if (r_.stream_created == created) return;
  r_.stream_created = created;
  r_.last_stream_seq = 0;
}

void InState::done() noexcept {
  apply_pending();
  r_.pending_stream_seq = 0;
}

void InState::apply_pending() noexcept {
  if (r_.pending_stream_seq > r_.last_stream_seq) r_.last_stream_seq = r_.pending_stream_seq;
  if (r_.pending_source == 0) return;
  InStateRecord::Source* slot = &r_.sources[0];
  for (auto& s : r_.sources) {
    if (s.key == r_.pending_source) {
      slot = &s;
      break;
    }
    if (s.touched < slot->touched) slot = &s;  // free (0) or least recent
  }
  if (slot->key != r_.pending_source) *slot = {r_.pending_source, 0, 0};
  if (r_.pending_seq > slot->last_seq || slot->touched == 0) slot->last_seq = r_.pending_seq;
  slot->touched = r_.generation;
}

}  // namespace shmring::bridge::detail
