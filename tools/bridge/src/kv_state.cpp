#include "kv_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace shmring::bridge::detail {

namespace {

// A record: u32 payload bytes, u32 type, the payload, u64 checksum of all before it.
// Format 2 (written): kHeader2, then kKey2 records. Format 1 (read only):
// kHeader1, then kKey1 records (no expected_hash).
constexpr std::uint32_t kHeader1 = 0x5648'4b42;  // "BKHV": payload = the bucket id
constexpr std::uint32_t kKey1 = 0x594b'4b42;     // "BKKY": payload = KeyState fields but expected_hash, then the key
constexpr std::size_t kKey1Fixed = 8 * 3 + 1;
constexpr std::uint32_t kHeader2 = 0x3248'4b42;  // "BKH2": payload = the bucket id
constexpr std::uint32_t kKey2 = 0x3259'4b42;     // "BKY2": payload = KeyState fields, then the key
constexpr std::size_t kKey2Fixed = 8 * 4 + 1;
constexpr std::uint32_t kMaxPayload = 1u << 20;

std::uint64_t fnv(const void* p, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ull) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<const unsigned char*>(p)[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

void put_u64(std::string& s, std::uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_u32(std::string& s, std::uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

void append_record(std::string& out, std::uint32_t type, const std::string& payload) {
  const std::size_t at = out.size();
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, type);
  out += payload;
  put_u64(out, fnv(out.data() + at, out.size() - at));
}

std::string key_payload(const std::string& key, const KeyState& s) {
  std::string p;
  put_u64(p, s.synced_hash);
  put_u64(p, s.synced_rev);
  put_u64(p, s.pending_hash);
  p.push_back(static_cast<char>(s.pending));
  put_u64(p, s.expected_hash);
  p += key;
  return p;
}

std::string write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string("bridge kv state: write: ") + std::strerror(errno);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

std::uint64_t value_hash(const void* p, std::size_t n) noexcept { return fnv(p, n) | 1; }

KvState::~KvState() {
  if (fd_ >= 0) ::close(fd_);
}

std::string KvState::open(const std::string& path, const std::string& bucket_id) {
  path_ = path;
  bucket_id_ = bucket_id;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    std::string all;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      all.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::size_t at = 0;
    bool ours = false;
    std::string theirs;  // the bucket id of a header not ours
    int format = 0;
    std::size_t dropped = 0;  // format 1's pending applies
    while (at + 16 <= all.size()) {
      std::uint32_t size = 0, type = 0;
      std::memcpy(&size, all.data() + at, 4);
      std::memcpy(&type, all.data() + at + 4, 4);
      if (size > kMaxPayload || at + 16 + size > all.size()) break;
      std::uint64_t sum = 0;
      std::memcpy(&sum, all.data() + at + 8 + size, 8);
      if (sum != fnv(all.data() + at, 8 + size)) break;  // cut short: the log ends here
      const std::string_view payload(all.data() + at + 8, size);
      if (type == kHeader1 || type == kHeader2) {
        ours = payload == bucket_id;
        if (!ours) theirs = std::string(payload);
        format = type == kHeader1 ? 1 : 2;
      } else if (ours && ((type == kKey1 && format == 1 && size >= kKey1Fixed) ||
                          (type == kKey2 && format == 2 && size >= kKey2Fixed))) {
        KeyState s;
        std::memcpy(&s.synced_hash, payload.data(), 8);
        std::memcpy(&s.synced_rev, payload.data() + 8, 8);
        std::memcpy(&s.pending_hash, payload.data() + 16, 8);
        s.pending = static_cast<Pending>(payload[24]);
        if (type == kKey2) std::memcpy(&s.expected_hash, payload.data() + 25, 8);
        if (type == kKey1 && s.pending == Pending::apply) {
          // Whether the apply happened cannot be told without the value it
          // replaced: the key is settled at start from its synced state alone.
          s.pending = Pending::none;
          ++dropped;
        }
        loaded_[std::string(payload.substr(type == kKey1 ? kKey1Fixed : kKey2Fixed))] = s;
      }
      at += 16 + size;
    }
    // The state of another bucket is never overwritten: it is that bucket's
    // bridge's memory of what it synced (losing it turns its next start into
    // a first run). The same bucket made again (another creation time) has
    // nothing the old state could say: that state is dropped.
    const auto name_of = [](std::string_view id) { return id.substr(0, id.rfind('@')); };
    if (!ours && !theirs.empty() && name_of(theirs) != name_of(bucket_id)) {
      return path + ": the state of another bucket (" + std::string(name_of(theirs)) +
             "); give this bucket's bridge a state file of its own (--state)";
    }
    found_ = ours;
    if (!ours) loaded_.clear();
    if (ours && format == 1) {
      note_ = path + ": state of format 1 read (rewritten as format 2); " + std::to_string(dropped) +
              " pending apply(s) without the value they replaced were dropped";
    }
  }
  // A fresh file with what was loaded; appends go to it from now on.
  return rewrite(loaded_);
}

void KvState::record(const std::string& kv_key, const KeyState& s) {
  append_record(queued_, kKey2, key_payload(kv_key, s));
  ++queued_records_;
}

std::string KvState::flush() {
  if (queued_.empty()) return {};
  std::string e = write_all(fd_, queued_);
  records_ += queued_records_;
  queued_records_ = 0;
  queued_.clear();
  return e;
}

std::string KvState::rewrite(const std::unordered_map<std::string, KeyState>& all) {
  queued_.clear();
  queued_records_ = 0;
  std::string bytes;
  append_record(bytes, kHeader2, bucket_id_);
  for (const auto& [k, s] : all) append_record(bytes, kKey2, key_payload(k, s));
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return tmp + ": " + std::strerror(errno);
  if (std::string e = write_all(fd, bytes); !e.empty()) {
    ::close(fd);
    return e;
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::close(fd);
    return path_ + ": rename: " + std::strerror(err);
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;  // positioned at the end: later records are appended
  records_ = all.size();
  return {};
}

}  // namespace shmring::bridge::detail
