// Each engine's part of create and open: the ring shape a QueueOptions asks
// for, and the checks of a mapped file before any index in it is used
// (every value is read from memory another process controls; `c` is the
// opener's private copy of the config, so the checked values are the used ones).
#include "engines.hpp"

#include "shmring/engine/live_positions.hpp"

#include <algorithm>
#include <bit>

namespace shmring::detail {

Result<void> validate_byte_ring(const QueueConfigLayout& c, std::uint64_t payload_size, std::uint64_t max_capacity,
                                std::uint64_t max_payload) {
  if (c.capacity < kMinCapacity || c.capacity > max_capacity || !std::has_single_bit(c.capacity)) {
    return fail(Errc::bad_size, "queue capacity is not a power of two in [4 KiB, 1 TiB (16 GiB for MPMC)]");
  }
  if (c.capacity > payload_size - sizeof(QueueLayout)) return fail(Errc::bad_size, "queue capacity exceeds the file");
  if (c.max_message == 0 || c.max_message > max_payload) return fail(Errc::bad_size, "queue max_message out of range");
  if (c.chunk != 0 && (!std::has_single_bit(c.chunk) || c.chunk < 4096 || c.chunk > c.capacity / 4)) {
    return fail(Errc::bad_size, "queue memory chunk");
  }
  return {};
}

Result<RingShape> byte_ring_shape(const QueueOptions& o, std::uint32_t engine,
                                  std::uint64_t max_payload_for_capacity(std::uint64_t)) {
  const std::uint64_t capacity = std::bit_ceil(std::max(o.capacity_bytes, kMinCapacity));
  const std::uint64_t largest = max_payload_for_capacity(capacity);
  if (o.max_message > largest) {
    return fail(Errc::invalid_argument, "max_message must fit in half the capacity minus the record headers");
  }
  return RingShape{engine, capacity, o.max_message == 0 ? largest : o.max_message};
}

Result<void> SpscBytesEngine::validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload) {
  if (auto ok = validate_byte_ring(c, payload, kMaxCapacity, SpscRing::max_payload_for(c.capacity)); !ok) return ok;
  if (!SpscRing::layout_sane(q.ring, c.capacity)) {
    return fail(Errc::corrupt, "ring positions out of range or more messages taken than put");
  }
  return {};
}

Result<void> MpmcEngine::validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload) {
  if (auto ok = validate_byte_ring(c, payload, kMpmcMaxCapacity, MpmcRing::max_payload_for(c.capacity)); !ok) {
    return ok;
  }
  // The SPSC block is unused by this engine, and a sound file keeps it at rest.
  if (!MpmcRing::layout_sane(q.mpmc, c.capacity) || !SpscRing::layout_sane(q.ring, c.capacity)) {
    return fail(Errc::corrupt, "ring positions out of range");
  }
  return {};
}

Result<RingShape> MpmcEngine::shape(const QueueOptions& o) {
  if (o.capacity_bytes > kMpmcMaxCapacity) {
    return fail(Errc::invalid_argument, "capacity_bytes above 16 GiB (the MPMC engine's limit)");
  }
  return byte_ring_shape(o, kStored, MpmcRing::max_payload_for);
}

Result<void> SpscSlotEngine::validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload) {
  const std::uint64_t slots = c.max_message != 0 ? slot_count(c) : 0;
  if (c.max_message == 0 || c.capacity % c.max_message != 0 || slots < 2 || !std::has_single_bit(slots) ||
      c.capacity > kMaxCapacity) {
    return fail(Errc::bad_size, "queue slots: capacity is not a power-of-two number (>= 2) of messages");
  }
  if (c.capacity > payload - sizeof(QueueLayout)) return fail(Errc::bad_size, "queue capacity exceeds the file");
  if (c.chunk != 0) return fail(Errc::bad_size, "queue memory chunk");
  // Head read twice: the peers may be moving the ring meanwhile (live_positions.hpp).
  if (!LivePositions::read(q.ring.consumer.head, q.ring.producer.tail).within(slots)) {
    return fail(Errc::corrupt, "ring positions out of range");
  }
  return {};
}

Result<RingShape> SpscSlotEngine::shape(const QueueOptions& o) {
  const std::uint64_t size = o.message_size;
  if (o.engine != Engine::spsc) {
    return fail(Errc::invalid_argument, "fixed-size messages (message_size) need Engine::spsc");
  }
  if (o.max_message != 0 && o.max_message != size) {
    return fail(Errc::invalid_argument, "max_message must be 0 or equal to message_size");
  }
  if (size > kMaxCapacity / 2) return fail(Errc::invalid_argument, "message_size above 512 GiB");
  const std::uint64_t wanted = std::max<std::uint64_t>((o.capacity_bytes + size - 1) / size, 2);
  const std::uint64_t slots = std::bit_ceil(wanted);
  if (slots > kMaxCapacity / size) return fail(Errc::invalid_argument, "capacity_bytes above 1 TiB");
  return RingShape{kStored, slots * size, size};
}

Result<void> LanesEngine::validate(const QueueConfigLayout& c, const QueueLayout& q, std::uint64_t payload) {
  if (c.lanes < 2 || c.lanes > kMaxLanes || c.capacity % c.lanes != 0) return fail(Errc::bad_size, "queue lanes");
  const std::uint64_t lane = c.capacity / c.lanes;
  if (lane < kMinCapacity || !std::has_single_bit(lane) || c.capacity > kMpmcMaxCapacity) {
    return fail(Errc::bad_size, "queue lane capacity is not a power of two in [4 KiB, 16 GiB / lanes]");
  }
  if (c.capacity + lane_table_bytes(c.lanes) > payload - sizeof(QueueLayout)) {
    return fail(Errc::bad_size, "queue lanes exceed the file");
  }
  if (c.max_message == 0 || c.max_message > LaneRing::max_payload_for(lane)) {
    return fail(Errc::bad_size, "queue max_message out of range");
  }
  if (c.chunk != 0 && (!std::has_single_bit(c.chunk) || c.chunk < 4096 || c.chunk > lane / 4)) {
    return fail(Errc::bad_size, "queue memory chunk");
  }
  if (!LaneRing::layout_sane(ring_bytes(const_cast<QueueLayout&>(q), c), c.lanes, lane) ||
      !SpscRing::layout_sane(q.ring, c.capacity)) {
    return fail(Errc::corrupt, "lane positions out of range");
  }
  return {};
}

// Lanes: as asked, else 8 (fewer for small capacities), halved (down to 2)
// until a lane holds max_message.
Result<RingShape> LanesEngine::shape(const QueueOptions& o) {
  if (o.lanes == 1 || o.lanes > kMaxLanes) return fail(Errc::invalid_argument, "lanes must be 0 or in [2, 64]");
  if (o.capacity_bytes > kMpmcMaxCapacity) return fail(Errc::invalid_argument, "capacity_bytes above 16 GiB");
  const auto lane_for = [&](std::uint32_t lanes) {
    return std::bit_ceil(std::max<std::uint64_t>((o.capacity_bytes + lanes - 1) / lanes, kMinCapacity));
  };
  // Unasked: 8 lanes, fewer for a small capacity (a lane is at least 4 KiB).
  std::uint32_t lanes =
      o.lanes != 0 ? o.lanes
                   : static_cast<std::uint32_t>(std::clamp<std::uint64_t>(o.capacity_bytes / kMinCapacity, 2, 8));
  while (o.lanes == 0 && lanes > 2 && o.max_message > LaneRing::max_payload_for(lane_for(lanes))) lanes /= 2;
  const std::uint64_t lane = lane_for(lanes);
  const std::uint64_t largest = LaneRing::max_payload_for(lane);
  if (o.max_message > largest) {
    return fail(Errc::invalid_argument, "max_message must fit in half a lane (capacity_bytes / lanes / 2)");
  }
  return RingShape{kStored, lane * lanes, o.max_message == 0 ? largest : o.max_message, lanes};
}

void detach_spsc(QueueLayout& q, Role held, std::uint64_t me) noexcept {
  for (const Role r : {Role::producer, Role::consumer}) {
    if (has_role(held, r)) give_back_role_slot(owner_slot(q, r), me);
  }
}

}  // namespace shmring::detail
