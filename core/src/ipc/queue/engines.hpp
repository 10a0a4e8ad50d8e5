// The Queue's engines: one type per ring, each giving the Queue the same
// vocabulary (QueueEngine, below), so the claim/commit/read/release/wait
// loops in queue.cpp are written once and an engine is added without
// touching the others.
//
//   engine            ring (core/include/shmring/engine/)   who may use it
//   SpscBytesEngine   SpscRing: records of any size           1 producer, 1 consumer process
//   MpmcEngine        MpmcRing: records of any size           any number (<= 256 attached)
//   SpscSlotEngine    SpscSlotRing: fixed-size slots          1 producer, 1 consumer process
//   LanesEngine       LaneRing: an SPSC byte ring per producer any number; producers beyond
//                     (lane_ring.hpp)                          lanes - 1 share the last lane
//
// What stays with each engine: how it claims and publishes, how it tells
// sleepers (SPSC: the one waiter there is, notify(); MPMC: one of many,
// notify_one()), who may hold a role (SPSC: an owner word per role,
// role_slot.hpp; MPMC: a participant slot for both roles), what blocks a
// waiter and how a dead blocker is repaired (MPMC only), whether its memory
// comes on demand, and how its part of a mapped file is checked before use.
//
// The handle holds the engine it opened, chosen once from the file's engine
// number (kStored, which is also the engine's index in AnyEngine). Every
// engine method is called by the handle's owner thread only.
//
// engine_vocabulary.hpp holds what they share; each engine has its own header.
#pragma once

#include <type_traits>
#include <variant>

#include "lanes_engine.hpp"
#include "mpmc_engine.hpp"
#include "spsc_bytes_engine.hpp"
#include "spsc_slot_engine.hpp"

namespace shmring::detail {

// The engine a handle holds; its index is the file's engine number.
using AnyEngine = std::variant<SpscBytesEngine, MpmcEngine, SpscSlotEngine, LanesEngine>;
static_assert(QueueEngine<SpscBytesEngine> && QueueEngine<MpmcEngine> && QueueEngine<SpscSlotEngine> &&
              QueueEngine<LanesEngine>);
static_assert(std::is_same_v<std::variant_alternative_t<SpscBytesEngine::kStored, AnyEngine>, SpscBytesEngine> &&
              std::is_same_v<std::variant_alternative_t<MpmcEngine::kStored, AnyEngine>, MpmcEngine> &&
              std::is_same_v<std::variant_alternative_t<SpscSlotEngine::kStored, AnyEngine>, SpscSlotEngine> &&
              std::is_same_v<std::variant_alternative_t<LanesEngine::kStored, AnyEngine>, LanesEngine>);

}  // namespace shmring::detail
