// Fuzz target: reading records from a corrupted ring. Builds a valid queue
// (SPSC, MPMC, SPSC with fixed-size slots, or lanes; a 4 KiB ring, two
// 4 KiB lanes) holding a few messages, overwrites ring
// positions, participant slots, control words and record bytes with fuzzer
// data (through the file, as another process would), then runs nowait
// operations through the handle that built it and through a fresh open.
// No crash, no hang, no sanitizer report, no view outside the mapping.
//
// Input: [flags] [length seed] [damage count] then per damage
// [region] [offset lo] [offset hi] [length-1 (low 3 bits)] [bytes...],
// then one byte per operation (fuzz_common.hpp drive()).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_common.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"

namespace {

using namespace shmring;

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint64_t kQueueAt = sizeof(platform::SegmentHeaderLayout);

struct Region {
  std::uint64_t at;
  std::uint64_t size;
};
// What a damage may hit, in file offsets.
constexpr Region kRegions[] = {
    {kQueueAt + offsetof(QueueLayout, ring), sizeof(SpscRingLayout)},  // SPSC positions and counts
    {kQueueAt + offsetof(QueueLayout, mpmc), sizeof(MpmcRingLayout)},  // MPMC positions, key, participants
    {kQueueAt + sizeof(QueueLayout), kCapacity},                       // record headers and payloads
    {kQueueAt + offsetof(QueueLayout, not_empty), offsetof(QueueLayout, mpmc) - offsetof(QueueLayout, not_empty)},
    // parking words, closed flag, role owners, task count
    {kQueueAt + offsetof(QueueLayout, config), sizeof(QueueConfigLayout)},  // seen by the second open only
    {kQueueAt + offsetof(QueueLayout, backing), sizeof(QueueBackingLayout)},
    // The lane engine only (the others' files end before): its table (mask,
    // count, reader slots, the lanes' positions and owners) and its lanes' records.
    {kQueueAt + sizeof(QueueLayout), lane_table_bytes(2)},
    {kQueueAt + sizeof(QueueLayout) + lane_table_bytes(2), 2 * kCapacity},
};
constexpr std::size_t kRegionCount = sizeof(kRegions) / sizeof(kRegions[0]);
constexpr std::size_t kSharedRegions = kRegionCount - 2;  // what every engine's file has

struct Input {
  std::span<const std::uint8_t> rest;
  std::uint8_t byte() {
    if (rest.empty()) return 0;
    const std::uint8_t b = rest[0];
    rest = rest.subspan(1);
    return b;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in{std::span(data, size)};
  const std::uint8_t flags = in.byte();
  const std::uint8_t length_seed = in.byte();
  const std::string& name = fuzz::segment_name("ring");
  const std::string path = fuzz::segment_path(name);
  ::unlink(path.c_str());  // a leftover from an aborted run

  QueueOptions qo;
  qo.engine = (flags & 1u) != 0 ? Engine::mpmc : Engine::spsc;
  // MPMC with the length seed's top bit: the lane engine.
  if (qo.engine == Engine::mpmc && (length_seed & 0x80u) != 0) qo.engine = Engine::lanes;
  qo.barriers = (flags & 2u) != 0 ? Barriers::asymmetric : Barriers::fences;
  qo.capacity_bytes = kCapacity;
  // SPSC with the length seed's top bit: fixed-size slots of 8 bytes (the
  // driver's put_value) or 9 (its 9-byte puts), by the next bit.
  const bool slots = qo.engine == Engine::spsc && (length_seed & 0x80u) != 0;
  if (slots) qo.message_size = (length_seed & 0x40u) != 0 ? 8 : 9;
  auto created = Queue::create(name, qo);
  if (!created) fuzz::fail("create failed");  // not the code under test: stop the run loudly
  Queue& q = *created;
  const unsigned messages = (flags >> 2) & 7u;
  const unsigned consumed = (flags >> 5) & 7u;
  std::string text;
  for (unsigned i = 0; i < messages; ++i) {
    const std::size_t len = slots ? qo.message_size : 1 + (length_seed * (i + 1)) % 600;
    text.assign(len, static_cast<char>('a' + i));
    if (q.put(text, nowait) != PutStatus::ok) break;
  }
  for (unsigned i = 0; i < consumed; ++i) (void)q.get(nowait);

  // The damage, through the file (the mapping shares its pages).
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) fuzz::fail("open of the queue file failed");
  const unsigned damages = in.byte() & 15u;
  for (unsigned d = 0; d < damages && !in.rest.empty(); ++d) {
    const Region& r = kRegions[in.byte() % (qo.engine == Engine::lanes ? kRegionCount : kSharedRegions)];
    const std::uint64_t offset = (in.byte() | (std::uint64_t{in.byte()} << 8)) % r.size;
    std::uint8_t bytes[8];
    const std::size_t len = (in.byte() & 7u) + 1;
    for (std::size_t i = 0; i < len; ++i) bytes[i] = in.byte();
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(len, r.size - offset));
    if (::pwrite(fd, bytes, n, static_cast<off_t>(r.at + offset)) != static_cast<ssize_t>(n)) {
      fuzz::fail("pwrite failed");
    }
  }
  ::close(fd);

  const std::span<const std::uint8_t> ops = in.rest;
  fuzz::drive(q, ops, fuzz::mappings_of(path));
  // A fresh opener validates the damaged file; if it accepts, it must cope.
  OpenOptions o;
  o.ready_timeout = std::chrono::nanoseconds(0);
  if (auto q2 = Queue::open(name, o)) fuzz::drive(*q2, ops, fuzz::mappings_of(path));
  ::unlink(path.c_str());
  return 0;
}
