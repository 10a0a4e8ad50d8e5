// PollSocket: the file descriptor an event loop waits on for a shmring
// object (Queue::fileno(), Connection::fileno()), and the poke that makes it
// readable from any process on the machine.
//
// The descriptor is a datagram socket bound to a name in Linux's abstract
// socket namespace, "\0shmring-poll-<16 hex digits>": the digits are the
// socket's token, a random 64-bit number the poller writes into the shared
// object (ParkingLayout::pollers, blocking.hpp). A notifier in another
// process sends one byte to that name (poke()); the socket is then readable
// until its owner drains it. Why a socket and not an eventfd: an eventfd
// cannot be reached by an unrelated process, and a named FIFO would leave a
// file behind when its owner is killed; an abstract name is gone with the
// last descriptor of its socket, so a killed poller leaves nothing, and a
// poke at it fails with ECONNREFUSED, which proves the slot free.
//
// Scope: abstract names belong to a network namespace, so a poller and a
// notifier must share one (they share /dev/shm in the usual case of one
// container). Any local process may poke any name: a stranger's poke is a
// spurious readiness, never a lost one.
#pragma once

#include <cstdint>

#include "shmring/platform/error.hpp"

namespace shmring::platform {

class PollSocket {
 public:
  // A new socket under a fresh token (no_space: out of descriptors).
  [[nodiscard]] static Result<PollSocket> create() noexcept;
  PollSocket() noexcept = default;  // no socket (fd() -1)

  PollSocket(PollSocket&& other) noexcept;
  PollSocket& operator=(PollSocket&& other) noexcept;
  PollSocket(const PollSocket&) = delete;
  PollSocket& operator=(const PollSocket&) = delete;
  ~PollSocket();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] std::uint64_t token() const noexcept { return token_; }
  // Takes every queued poke (one system call); the socket is then not
  // readable until the next poke.
  void drain() const noexcept;
  // Pokes this socket (the owner makes its own descriptor readable).
  void poke_self() const noexcept;

 private:
  PollSocket(int fd, std::uint64_t token) noexcept : fd_(fd), token_(token) {}
  int fd_ = -1;
  std::uint64_t token_ = 0;
};

enum class PokeResult : std::uint8_t {
  delivered,  // queued (or the socket already holds pokes: it is readable)
  gone,       // nobody is bound to the token: its poller closed or died
  failed,     // this process could not send (no descriptor left): try again later
};

// Sends one byte to the poller named by `token` (never blocks).
[[nodiscard]] PokeResult poke(std::uint64_t token) noexcept;

// Whether a socket is bound to `token` now, without sending it anything
// (a connect probe). Used to take back the slots of pollers that died.
[[nodiscard]] bool poller_alive(std::uint64_t token) noexcept;

}  // namespace shmring::platform
