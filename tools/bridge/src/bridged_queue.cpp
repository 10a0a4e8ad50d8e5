#include "bridged_queue.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "shmring/platform/segment_layout.hpp"

namespace shmring::bridge::detail {

// The shmring command's exit codes (tools/cli/inspect.hpp, docs/cli.md).
int exit_code(Errc e) {
  switch (e) {
    case Errc::not_found: return 2;
    case Errc::bad_magic:
    case Errc::bad_version:
    case Errc::bad_layout:
    case Errc::truncated:
    case Errc::empty_file:
    case Errc::bad_size:
    case Errc::corrupt:
    case Errc::is_symlink:
    case Errc::not_regular_file: return 3;
    case Errc::permission_denied:
    case Errc::foreign_owner: return 4;
    default: return 6;
  }
}

namespace {

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

}  // namespace

OpenedQueue open_bridged_queue(const std::string& name, Role role) {
  OpenedQueue r;
  Result<Queue> q = Queue::open(name, {.role = role});
  if (!q) {
    r.code = exit_code(q.error().code);
    r.error = name + ": " + q.error().message();
    return r;
  }
  if (q->engine() != Engine::spsc || q->message_size() != 0) {
    r.code = 6;
    r.error = name +
              ": the bridge needs a queue of the spsc engine with messages of any size (shmring create NAME "
              "--engine spsc): a consumer of the other engines takes a message before it holds it, so a bridge "
              "killed holding one would lose it (docs/bridge.md)";
    return r;
  }
  r.queue.emplace(std::move(*q));
  return r;
}

std::string queue_source(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return {};
  using H = platform::SegmentHeaderLayout;
  unsigned char h[sizeof(H)];
  const ssize_t n = ::pread(fd, h, sizeof(h), 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof(h))) return {};
  const auto field = [&](std::size_t offset) {
    std::uint64_t v = 0;
    std::memcpy(&v, h + offset, sizeof(v));
    return v;
  };
  const std::uint64_t id = mix(mix(mix(0, field(offsetof(H, creator_pid))), field(offsetof(H, creator_start_time))),
                               field(offsetof(H, created_realtime_ns)));
  std::string base = path.substr(path.rfind('/') + 1);
  for (char& c : base) {
    if (c == ':' || c == '@' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) c = '_';
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(id));
  return base + "@" + hex;
}

std::string message_id(const std::string& source, std::uint64_t seq) {
  std::string id;
  format_message_id(id, source, seq);
  return id;
}

void format_message_id(std::string& out, const std::string& source, std::uint64_t seq) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, seq);
  out.assign(source);
  out.push_back(':');
  out.append(digits, end);
}

bool message_seq(std::string_view id, std::uint64_t& seq) {
  const std::size_t colon = id.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || id.find('@') == std::string_view::npos) return false;
  const char* first = id.data() + colon + 1;
  const char* last = id.data() + id.size();
  const auto [end, ec] = std::from_chars(first, last, seq);
  return ec == std::errc{} && end == last && first != last;
}

std::optional<ParsedId> parse_message_id(std::string_view id) {
  std::uint64_t seq = 0;
  if (!message_seq(id, seq)) return std::nullopt;
  return ParsedId{std::string(id.substr(0, id.rfind(':'))), seq};
}

}  // namespace shmring::bridge::detail
