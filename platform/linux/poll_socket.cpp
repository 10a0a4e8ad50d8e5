#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <utility>

#include "shmring/platform/clock.hpp"
#include "shmring/platform/poll_socket.hpp"
#include "shmring/platform/syscall.hpp"

namespace shmring::platform {
namespace {

// "\0shmring-poll-" + 16 hex digits: an abstract name (sun_path[0] == 0),
// its length given by the address length, no terminator.
struct PollAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
};

PollAddress address_of(std::uint64_t token) noexcept {
  PollAddress a;
  a.addr.sun_family = AF_UNIX;
  char name[40];
  const int n = std::snprintf(name, sizeof name, "shmring-poll-%016llx", static_cast<unsigned long long>(token));
  std::memcpy(a.addr.sun_path + 1, name, static_cast<std::size_t>(n));
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<std::size_t>(n));
  return a;
}

// A token nobody else is likely to draw: the kernel's random bytes, or (no
// entropy yet, or getrandom refused) the clock, the pid and a counter mixed.
// Never 0 (0 marks a free slot). bind() is the real check: a taken name is
// refused and another token drawn.
std::uint64_t fresh_token() noexcept {
  std::uint64_t t = 0;
  if (::getrandom(&t, sizeof t, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof t)) {
    static std::atomic<std::uint64_t> counter{0};
    t = static_cast<std::uint64_t>(monotonic_ns()) * 0x9e3779b97f4a7c15ULL ^
        (static_cast<std::uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1, std::memory_order_relaxed);
  }
  return t == 0 ? 1 : t;
}

// The socket this process sends pokes from: made on the first poke, kept
// for the life of the process (a forked child shares it, which is harmless:
// sendto on an unconnected datagram socket keeps no state).
std::atomic<int> g_sender{-1};

int sender() noexcept {
  int fd = g_sender.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  const int made = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (made < 0) return -1;
  // acq_rel: the winner's descriptor is what every thread uses from now on.
  if (g_sender.compare_exchange_strong(fd, made, std::memory_order_acq_rel, std::memory_order_acquire)) return made;
  ::close(made);  // another thread made one first
  return fd;
}

}  // namespace

Result<PollSocket> PollSocket::create() noexcept {
  auto fd = sys_call("socket(AF_UNIX, SOCK_DGRAM)",
                     [] { return ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); });
  if (!fd) return fd.error();
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::uint64_t token = fresh_token();
    const PollAddress a = address_of(token);
    if (::bind(*fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0) return PollSocket(*fd, token);
    if (errno != EADDRINUSE) {
      const int err = errno;
      ::close(*fd);
      return sys_error("bind(abstract poll socket)", err);
    }
  }
  ::close(*fd);
  return fail(Errc::system, "bind(abstract poll socket): every token drawn was taken");
}

PollSocket::PollSocket(PollSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), token_(std::exchange(other.token_, 0)) {}

PollSocket& PollSocket::operator=(PollSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    token_ = std::exchange(other.token_, 0);
  }
  return *this;
}

PollSocket::~PollSocket() {
  if (fd_ >= 0) ::close(fd_);
}

void PollSocket::drain() const noexcept {
  // One call takes up to 16 pokes; more than one is rare (a self-poke racing
  // a notifier's, or strangers'), and what is left only makes the next
  // readiness spurious.
  char bytes[16];
  mmsghdr msgs[16]{};
  iovec iov[16];
  for (int i = 0; i < 16; ++i) {
    iov[i] = {&bytes[i], 1};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  (void)::recvmmsg(fd_, msgs, 16, MSG_DONTWAIT, nullptr);
}

void PollSocket::poke_self() const noexcept { (void)poke(token_); }

PokeResult poke(std::uint64_t token) noexcept {
  const int fd = sender();
  if (fd < 0) return PokeResult::failed;
  const PollAddress a = address_of(token);
  const char byte = 1;
  for (;;) {
    if (::sendto(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 1) {
      return PokeResult::delivered;
    }
    switch (errno) {
      case EINTR: continue;
      case EAGAIN: return PokeResult::delivered;  // its queue is full: it is readable already
      case ECONNREFUSED:
      case ENOENT: return PokeResult::gone;
      default: return PokeResult::failed;  // ENOBUFS, ENOMEM...: the caller keeps the request
    }
  }
}

bool poller_alive(std::uint64_t token) noexcept {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell: never take a slot on a guess
  const PollAddress a = address_of(token);
  const bool refused = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0 &&
                       (errno == ECONNREFUSED || errno == ENOENT);
  ::close(fd);
  return !refused;
}

}  // namespace shmring::platform
