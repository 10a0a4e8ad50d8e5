// Writes the seed corpus (scripts/fuzz.sh --seeds regenerates it):
//   <dir>/queue_open/*   real queue files (both engines and fixed-size slots:
//                        empty, with messages, wrapped, closed, joinable, a
//                        live participant's slot)
//   <dir>/corrupt_ring/* inputs of fuzz_corrupt_ring: no damage, and one
//                        damage to each region, for both engines
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "shmring/ipc/queue.hpp"

namespace {

using namespace shmring;

std::vector<char> file_bytes(const std::string& name) {
  std::ifstream in("/dev/shm/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void save(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

template <class Q>
Q make(const std::string& name, Engine engine, Barriers barriers = Barriers::fences, std::uint64_t message_size = 0) {
  QueueOptions o;
  o.engine = engine;
  o.capacity_bytes = 4096;
  o.barriers = barriers;
  o.message_size = message_size;
  auto q = Q::create(name, o);
  if (!q) {
    std::fprintf(stderr, "create %s: %s\n", name.c_str(), q.error().message().c_str());
    std::exit(1);
  }
  return std::move(*q);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string name = "shmring-fuzz-seed-" + std::to_string(::getpid());
  // Each kind removes only its own files: try both.
  const auto remove = [&] {
    (void)Queue::unlink(name);
    (void)JoinableQueue::unlink(name);
  };
  const auto seed = [&](const std::string& file, auto&& build) {
    remove();
    build();
    save(dir + "/queue_open/" + file, file_bytes(name));
    remove();
  };
  for (const Engine e : {Engine::spsc, Engine::mpmc, Engine::lanes}) {
    const std::string tag = e == Engine::spsc ? "spsc" : e == Engine::mpmc ? "mpmc" : "lanes";
    seed(tag + "_empty", [&] { (void)make<Queue>(name, e); });
    seed(tag + "_three_messages", [&] {
      Queue q = make<Queue>(name, e);
      for (int i = 0; i < 4; ++i) (void)q.put("message " + std::to_string(i), nowait);
      (void)q.get(nowait);
    });
    seed(tag + "_wrapped", [&] {
      Queue q = make<Queue>(name, e, Barriers::asymmetric);
      const std::string m(300, 'w');
      for (int i = 0; i < 40; ++i) {
        (void)q.put(m, nowait);
        (void)q.get(nowait);
      }
      for (int i = 0; i < 5; ++i) (void)q.put(m.substr(0, static_cast<std::size_t>(20 + 70 * i)), nowait);
    });
    seed(tag + "_closed", [&] {
      Queue q = make<Queue>(name, e);
      (void)q.put("last words", nowait);
      q.close();
    });
    seed(tag + "_joinable", [&] {
      JoinableQueue q = make<JoinableQueue>(name, e);
      (void)q.put("task", nowait);
      (void)q.put("task 2", nowait);
      (void)q.get(nowait);
      (void)q.task_done();
    });
  }
  // Fixed-size messages (the slot engine): 9-byte slots, so the fuzz driver's
  // 9-byte puts succeed and its other sizes are wrong_size.
  const auto fixed9 = [&](Barriers b = Barriers::fences) { return make<Queue>(name, Engine::spsc, b, 9); };
  const std::string nine = "123456789";
  seed("slots_empty", [&] { (void)fixed9(); });
  seed("slots_three_messages", [&] {
    Queue q = fixed9();
    for (int i = 0; i < 4; ++i) (void)q.put(nine, nowait);
    (void)q.get(nowait);
  });
  seed("slots_wrapped", [&] {
    Queue q = fixed9(Barriers::asymmetric);
    for (int i = 0; i < 700; ++i) {  // 512 slots: past the first lap
      (void)q.put(nine, nowait);
      (void)q.get(nowait);
    }
    for (int i = 0; i < 5; ++i) (void)q.put(nine, nowait);
  });
  // The file as seen while its creator still holds its slot (MPMC) and roles (SPSC).
  for (const Engine e : {Engine::spsc, Engine::mpmc, Engine::lanes}) {
    (void)Queue::unlink(name);
    Queue q = make<Queue>(name, e);
    (void)q.put("held", nowait);
    (void)q.read(nowait);  // holds the record in reading (lanes: taken, held by its reader slot)
    const char* tag = e == Engine::spsc ? "spsc" : e == Engine::mpmc ? "mpmc" : "lanes";
    save(dir + "/queue_open/" + tag + "_live_holder", file_bytes(name));
    (void)Queue::unlink(name);
  }

  // fuzz_corrupt_ring inputs: flags (bit 0 MPMC, bit 1 asymmetric, bits 2-4
  // messages, bits 5-7 consumed), length seed (SPSC: bit 7 fixed-size
  // slots), damage count, damages, ops.
  const std::vector<std::uint8_t> ops = {0, 2, 5, 1, 0x21, 3, 2, 0, 4, 6, 0x41, 2, 0, 0xff, 0, 2};
  const auto ring_seed = [&](const std::string& file, std::vector<std::uint8_t> head) {
    head.insert(head.end(), ops.begin(), ops.end());
    save(dir + "/corrupt_ring/" + file, std::vector<char>(head.begin(), head.end()));
  };
  for (const std::uint8_t engine : {std::uint8_t{0}, std::uint8_t{1}}) {
    const std::string tag = engine == 1 ? "mpmc" : "spsc";
    const std::uint8_t flags = static_cast<std::uint8_t>(engine | (5u << 2) | (2u << 5));
    ring_seed(tag + "_undamaged", {flags, 37, 0});
    // region, offset lo, offset hi, length-1, bytes
    ring_seed(tag + "_positions",
              {flags, 37, 1, static_cast<std::uint8_t>(engine == 1 ? 1 : 0), 0, 0, 7, 0x10, 0, 0, 0, 0, 0, 0, 0});
    ring_seed(tag + "_record_header", {flags, 37, 1, 2, 0, 0, 7, 0xff, 0xff, 0, 0, 0x40, 0, 0, 0});
    ring_seed(tag + "_record_length", {flags, 91, 1, 2, 8, 0, 3, 0xf0, 0xff, 0xff, 0x7f});
    ring_seed(tag + "_control", {flags, 37, 2, 3, 0, 1, 3, 1, 0, 0, 0, 3, 16, 1, 7, 1, 2, 3, 4, 5, 6, 7, 8});
  }
  // Lanes (MPMC with length seed bit 7). Regions 6 and 7: the lane table
  // (mask, count, reader slots, then the lanes' positions and owners) and
  // the lanes' records.
  const std::uint8_t lane_flags = static_cast<std::uint8_t>(1u | (5u << 2) | (2u << 5));
  ring_seed("lanes_undamaged", {lane_flags, 0x80 | 37, 0});
  // Lane 0's head (table + 256 + 32 KiB reader slots + 128: consumer block) set ahead.
  ring_seed("lanes_head", {lane_flags, 0x80 | 37, 1, 6, 0x80, 0x81, 7, 0x40, 0, 0, 0, 0, 0, 0, 0});
  ring_seed("lanes_record_length", {lane_flags, 0x80 | 91, 1, 7, 0, 0, 3, 0xf0, 0xff, 0xff, 0x7f});
  ring_seed("lanes_reader_slot", {lane_flags, 0x80 | 37, 1, 6, 0, 1, 7, 1, 2, 3, 4, 5, 6, 7, 8});
  // Fixed-size slots (SPSC, length seed bit 7; bit 6: 8-byte slots, else 9).
  const std::uint8_t slot_flags = static_cast<std::uint8_t>((5u << 2) | (2u << 5));
  ring_seed("slots_undamaged", {slot_flags, 0x80, 0});
  ring_seed("slots8_undamaged", {slot_flags, 0xc0, 0});
  ring_seed("slots_positions", {slot_flags, 0x80, 1, 0, 0, 0, 7, 0x10, 0, 0, 0, 0, 0, 0, 0});
  ring_seed("slots_head_past_tail", {slot_flags, 0xc0, 1, 0, 128, 0, 7, 0x40, 0, 0, 0, 0, 0, 0, 0});
  std::printf("seeds written under %s\n", dir.c_str());
  return 0;
}
