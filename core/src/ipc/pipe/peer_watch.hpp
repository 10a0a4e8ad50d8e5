// The peer watch: one thread per process that, while event loops wait on
// pipes' descriptors (Connection::fileno()), looks every
// kOwnerCheckInterval at the other end of each such pipe. A dead process
// sends no wake-up, so without it a loop would never see a killed peer's
// EOF: recv and poll notice a dead peer when called (shared_end.cpp,
// peer_gone_due), a loop asleep in epoll never calls them. When the other
// end is closed or every holder of it is dead, the watch closes the receive
// direction, which pokes the loop's descriptor (blocking.hpp, notify_all).
//
// Checks run on the watch thread under its lock, so after unwatch_peer()
// returns the check is not running and never runs again. The thread exists
// only while some check is registered. Its state is never destroyed (a
// detached thread may outlive static destruction), and a forked child
// starts with an empty watch of its own (the parent's checks stay the
// parent's; their tickets are never reused in the child).
#pragma once

#include <cstdint>
#include <functional>

#include "shmring/platform/error.hpp"

namespace shmring::detail {

// Returns true when its work is done (the check is then dropped).
using PeerCheck = std::function<bool()>;

// Registers `check` (Errc::system when the thread cannot be started).
[[nodiscard]] Result<std::uint64_t> watch_peer(PeerCheck check);
// Drops a check (a ticket of another process's, or 0: nothing).
void unwatch_peer(std::uint64_t ticket) noexcept;

}  // namespace shmring::detail
