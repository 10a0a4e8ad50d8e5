// Shared by the fuzz targets: a unique segment name per fuzzing process, the
// address range a file is mapped at (from /proc/self/maps), and a driver that
// runs nowait operations on a queue and checks what it gets back.
//
// The oracle. ASan and UBSan catch bad accesses to the heap and the stack and
// undefined arithmetic; they cannot see a read that strays from the shared
// mapping into other mapped memory. So every view a get hands out is checked
// to lie inside the queue's mapping and to be no longer than max_message;
// anything else traps (a crash libFuzzer saves as a reproducer). A hang is a
// libFuzzer timeout (scripts/fuzz.sh passes -timeout).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "shmring/ipc/queue.hpp"

namespace shmring::fuzz {

// One name per fuzzing process (libFuzzer -jobs/-fork start several).
inline const std::string& segment_name(const char* target) {
  static const std::string name = std::string("shmring-fuzz-") + target + "-" + std::to_string(::getpid());
  return name;
}
inline std::string segment_path(const std::string& name) { return "/dev/shm/" + name; }

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "shmring fuzz oracle: %s\n", what);
  __builtin_trap();
}

// The lowest and highest address of the mappings of `path` (a queue handle
// maps its file once; several handles give several ranges, all accepted).
struct Range {
  std::uintptr_t lo;
  std::uintptr_t hi;
};
inline std::vector<Range> mappings_of(const std::string& path) {
  std::vector<Range> out;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.size() < path.size() || line.compare(line.size() - path.size(), path.size(), path) != 0) continue;
    unsigned long lo = 0;
    unsigned long hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2) out.push_back({lo, hi});
  }
  return out;
}

inline void check_view(std::span<const std::byte> bytes, const Queue& q, const std::vector<Range>& maps) {
  if (bytes.size() > q.max_message()) fail("a message longer than max_message");
  if (bytes.empty()) return;
  // The lane engine's read() hands out a view of the handle's own copy (a
  // lane consumer takes the message before the view is given); ASan checks
  // that the bytes are there when the driver reads them.
  if (q.engine() == Engine::lanes) return;
  const auto lo = reinterpret_cast<std::uintptr_t>(bytes.data());
  const auto hi = lo + bytes.size();
  for (const Range& r : maps) {
    if (lo >= r.lo && hi <= r.hi) return;
  }
  fail("a view outside the queue's mapping");
}

// Runs `ops` (one byte each) on `q` with nowait; every status is fine, only
// crashes, hangs, sanitizer reports and oracle failures are findings.
inline void drive(Queue& q, std::span<const std::uint8_t> ops, const std::vector<Range>& maps) {
  std::vector<std::byte> buf;
  std::vector<std::byte> payload(300);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 7);
  std::size_t n = 0;
  for (const std::uint8_t op : ops) {
    if (++n > 64) break;
    const std::size_t len = op >> 3;  // 0..31
    switch (op & 7u) {
      case 0: {
        Message m = q.get(nowait);
        if (m && m.bytes.size() > q.max_message()) fail("get: a message longer than max_message");
        break;
      }
      case 1: (void)q.put(std::span<const std::byte>(payload.data(), len * 9), nowait); break;
      case 2: {
        const GetView v = q.read(nowait);
        if (v.status == GetStatus::ok) {
          check_view(v.bytes, q, maps);
          volatile std::byte sink{};
          for (const std::byte b : v.bytes) sink = b;  // touch every byte
          (void)sink;
          q.release();
        }
        break;
      }
      case 3: {
        const PutClaim c = q.claim(len * 5, nowait);
        if (c.status == PutStatus::ok) {
          if (c.bytes.size() < len * 5) fail("claim: fewer bytes than asked");
          check_view(c.bytes, q, maps);
          std::memset(c.bytes.data(), 0x5a, c.bytes.size());
          q.commit(len * 3);
        }
        break;
      }
      case 4: {
        std::uint64_t v = 0;
        (void)q.get_value(v, nowait);
        break;
      }
      case 5: (void)q.get_into(buf, nowait); break;
      case 6:
        (void)q.qsize();
        (void)q.empty();
        (void)q.full();
        (void)q.closed();
        (void)q.memory_bytes();
        break;
      case 7:
        if (len == 31) {
          q.close();
        } else if (len == 30) {
          (void)q.recover();
        } else if (len == 26 || len == 28) {  // the bridge's read-ahead window
          const AheadView v = q.read_ahead();
          if (v.status == AheadStatus::ok) {
            check_view(v.bytes, q, maps);
            volatile std::byte sink{};
            for (const std::byte b : v.bytes) sink = b;
            (void)sink;
          }
        } else if (len == 27 || len == 29) {
          q.release_ahead(len - 25);  // 2 or 4 of those shown
        } else {
          (void)q.put_value(static_cast<std::uint64_t>(n), nowait);
        }
        break;
      default: break;
    }
  }
}

}  // namespace shmring::fuzz
