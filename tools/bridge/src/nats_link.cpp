#include "nats_link.hpp"

#include <chrono>
#include <thread>

namespace shmring::bridge {

std::string stream_name(const StreamOptions& o) {
  if (!o.stream.empty()) return o.stream;
  std::string s = o.subject;
  for (char& c : s) {
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!keep) c = '_';
  }
  return s;
}

namespace detail {

std::string nats_error(const char* what, natsStatus s, jsErrCode jerr) {
  std::string m = std::string(what) + ": " + natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0')
    m += std::string(" (") + last + ")";
  if (jerr != 0) m += " [JetStream error " + std::to_string(static_cast<int>(jerr)) + "]";
  return m;
}

void sleep_unless_stopped(int ms, const std::atomic<bool>& stop) {
  for (int slept = 0; slept < ms && !stop.load(std::memory_order_relaxed); slept += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

NatsLink::~NatsLink() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) {
    (void)natsConnection_FlushTimeout(nc_, 1000);
    natsConnection_Close(nc_);
    std::unique_lock<std::mutex> lock(closed_mutex_);
    // Bounded: a client that never calls back must not hang the bridge's exit.
    (void)closed_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return closed_; });
    lock.unlock();
    natsConnection_Destroy(nc_);
  }
  if (opts_ != nullptr) natsOptions_Destroy(opts_);
}

void NatsLink::on_disconnected(natsConnection*, void* self) {
  // SYNC(disconnect): release — pairs with disconnects()' acquire; orders nothing else.
  static_cast<NatsLink*>(self)->disconnects_.fetch_add(1, std::memory_order_release);
}

void NatsLink::on_closed(natsConnection*, void* self) {
  auto* link = static_cast<NatsLink*>(self);
  std::lock_guard<std::mutex> lock(link->closed_mutex_);
  link->closed_ = true;
  link->closed_cv_.notify_all();
}

std::int64_t NatsLink::max_payload() const noexcept { return nc_ != nullptr ? natsConnection_GetMaxPayload(nc_) : 0; }

std::string NatsLink::open(const StreamOptions& o, const std::atomic<bool>& stop, jsOptions* js_options,
                           bool send_asap) {
  if (o.subject.empty()) return "no subject (--subject)";
  if (std::string e = connect(o.server, stop, js_options, send_asap); !e.empty()) return e;
  stream_ = stream_name(o);
  return ensure_stream(o);
}

std::string NatsLink::connect(const std::string& server, const std::atomic<bool>& stop, jsOptions* js_options,
                              bool send_asap) {
  natsStatus s = natsOptions_Create(&opts_);
  if (s == NATS_OK) s = natsOptions_SetURL(opts_, server.c_str());
  // Once connected, reconnect for ever (the server restarting is a pause,
  // not an end); the publish and fetch calls time out meanwhile and retry.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts_, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts_, 100);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts_, 2000);
  if (s == NATS_OK && send_asap) s = natsOptions_SetSendAsap(opts_, true);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts_, &NatsLink::on_disconnected, this);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts_, &NatsLink::on_closed, this);
  if (s != NATS_OK) return nats_error("nats options", s);
  // The server absent at start: try again until it is there or we are stopped.
  for (;;) {
    s = natsConnection_Connect(&nc_, opts_);
    if (s == NATS_OK) break;
    if (stop.load(std::memory_order_relaxed)) return nats_error("connect", s);
    if (s != NATS_NO_SERVER && s != NATS_TIMEOUT && s != NATS_IO_ERROR) return nats_error("connect", s);
    sleep_unless_stopped(200, stop);
  }
  s = natsConnection_JetStream(&js_, nc_, js_options);
  if (s != NATS_OK) return nats_error("JetStream context", s);
  return {};
}

std::string NatsLink::ensure_stream(const StreamOptions& o) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, stream_.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return {};
  }
  if (s != NATS_NOT_FOUND) return nats_error(("stream " + stream_).c_str(), s, jerr);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {o.subject.c_str()};
  cfg.Name = stream_.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = o.work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
  cfg.Duplicates = o.duplicate_window_ms * 1'000'000;  // nanoseconds
  jerr = static_cast<jsErrCode>(0);
  s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return {};
  }
  // Another bridge created it meanwhile: fine if it is there now.
  if (js_GetStreamInfo(&si, js_, stream_.c_str(), nullptr, nullptr) == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return {};
  }
  return nats_error(("create stream " + stream_).c_str(), s, jerr);
}

}  // namespace detail
}  // namespace shmring::bridge
