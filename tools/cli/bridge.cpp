// `shmring bridge out`, `shmring bridge in` and `shmring bridge kv` (docs/bridge.md): the
// bridge library (tools/bridge/) run until its end or SIGINT/SIGTERM, and a
// summary line.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "shmring/bridge/bridge.hpp"

namespace shmring::cli {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

void stop_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  (void)sigaction(SIGINT, &sa, nullptr);
  (void)sigaction(SIGTERM, &sa, nullptr);
}

void log_line(std::string_view line) {
  std::fprintf(stderr, "shmring bridge: %.*s\n", static_cast<int>(line.size()), line.data());
}

bridge::StreamOptions stream_of(const BridgeOptions& o) {
  return {.server = o.server,
          .subject = o.subject,
          .stream = o.stream,
          .work_queue = o.retention == "work-queue",
          .duplicate_window_ms = static_cast<std::int64_t>(o.duplicate_window * 1000)};
}

int report(const char* direction, const bridge::RunResult& r, bool json) {
  if (!r.error.empty()) std::fprintf(stderr, "shmring bridge %s: %s\n", direction, r.error.c_str());
  if (json) {
    std::printf("{\"direction\":\"%s\",\"messages\":%llu,\"duplicates\":%llu,\"retries\":%llu,\"exit\":%d}\n",
                direction, static_cast<unsigned long long>(r.messages), static_cast<unsigned long long>(r.duplicates),
                static_cast<unsigned long long>(r.retries), r.code);
  } else {
    std::printf("%s: %llu messages, %llu duplicates, %llu retries\n", direction,
                static_cast<unsigned long long>(r.messages), static_cast<unsigned long long>(r.duplicates),
                static_cast<unsigned long long>(r.retries));
  }
  std::fflush(stdout);
  return r.code;
}

}  // namespace

int run_bridge_out(const BridgeOptions& o) {
  stop_on_signals();
  const bridge::OutOptions out{.queue = o.queue,
                               .stream = stream_of(o),
                               .count = o.count,
                               .idle_seconds = o.idle,
                               .window = o.window,
                               .log = log_line};
  return report("out", bridge::run_out(out, g_stop), o.json);
}

int run_bridge_in(const BridgeOptions& o) {
  stop_on_signals();
  const bridge::InOptions in{.queue = o.queue,
                             .stream = stream_of(o),
                             .durable = o.durable,
                             .state = o.state,
                             .count = o.count,
                             .idle_seconds = o.idle,
                             .ack_wait_seconds = o.ack_wait,
                             .log = log_line};
  return report("in", bridge::run_in(in, g_stop), o.json);
}

int run_bridge_kv(const BridgeOptions& o) {
  stop_on_signals();
  const bridge::KvOptions kv{.dict = o.queue,
                             .bucket = o.bucket,
                             .server = o.server,
                             .state = o.state,
                             .interval_ms = o.interval_ms,
                             .history = o.history,
                             .idle_seconds = o.idle,
                             .log = log_line};
  const bridge::KvResult r = bridge::run_kv(kv, g_stop);
  if (!r.error.empty()) std::fprintf(stderr, "shmring bridge kv: %s\n", r.error.c_str());
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  if (o.json) {
    std::printf(
        "{\"direction\":\"kv\",\"pushed\":%llu,\"applied\":%llu,\"conflicts\":%llu,\"skipped\":%llu,"
        "\"retries\":%llu,\"exit\":%d}\n",
        u(r.pushed), u(r.applied), u(r.conflicts), u(r.skipped), u(r.retries), r.code);
  } else {
    std::printf("kv: %llu pushed, %llu applied, %llu conflicts, %llu skipped, %llu retries\n", u(r.pushed),
                u(r.applied), u(r.conflicts), u(r.skipped), u(r.retries));
  }
  std::fflush(stdout);
  return r.code;
}

}  // namespace shmring::cli
