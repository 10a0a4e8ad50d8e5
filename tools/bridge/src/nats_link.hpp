// The bridge's NATS side: one connection and its JetStream context, and
// the stream the bridge works on (created when missing). nats.c objects
// are owned here and destroyed in order; every failure comes back as text.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "shmring/bridge/bridge.hpp"

namespace shmring::bridge::detail {

// "what: nats status text (JetStream error code)" for people.
[[nodiscard]] std::string nats_error(const char* what, natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

class NatsLink {
 public:
  NatsLink() = default;
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;
  ~NatsLink();

  // Connects (retrying while the server is absent, until `stop`), makes the
  // JetStream context and makes sure the stream exists. Empty: ok; else why not.
  // `js_options`: the JetStream context's (asynchronous publishing), or null.
  // `send_asap`: every publish written at once (else nats.c's flusher
  // gathers them, which a small window waits for).
  [[nodiscard]] std::string open(const StreamOptions& o, const std::atomic<bool>& stop, jsOptions* js_options = nullptr,
                                 bool send_asap = false);

  // Only the connection and its JetStream context (the bridge kv: its
  // bucket is a stream nats.c's KV calls make). Empty: ok; else why not.
  [[nodiscard]] std::string connect(const std::string& server, const std::atomic<bool>& stop,
                                    jsOptions* js_options = nullptr, bool send_asap = false);

  [[nodiscard]] natsConnection* connection() const noexcept { return nc_; }
  [[nodiscard]] jsCtx* js() const noexcept { return js_; }
  [[nodiscard]] const std::string& stream() const noexcept { return stream_; }
  // The server's largest message payload (bytes), as it told us at connect.
  [[nodiscard]] std::int64_t max_payload() const noexcept;
  // How many times the connection was lost so far (the client reconnects by
  // itself; what was in flight then may be lost both ways).
  [[nodiscard]] std::uint64_t disconnects() const noexcept { return disconnects_.load(std::memory_order_acquire); }

 private:
  [[nodiscard]] std::string ensure_stream(const StreamOptions& o);
  static void on_disconnected(natsConnection* nc, void* self);
  static void on_closed(natsConnection* nc, void* self);

  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::string stream_;
  // Raised by nats.c's thread (disconnected callback); read by the bridge's.
  std::atomic<std::uint64_t> disconnects_{0};
  // nats.c runs the connection's callbacks on a thread of its own, in the
  // order they were posted, the closed callback last: the destructor waits
  // for it, so no callback runs on this object after it is gone.
  std::mutex closed_mutex_;
  std::condition_variable closed_cv_;
  bool closed_ = false;
};

// Sleeps `ms` milliseconds in slices, returning early once `stop` is set.
void sleep_unless_stopped(int ms, const std::atomic<bool>& stop);

}  // namespace shmring::bridge::detail
