// shmring_bridge_bench: the JetStream bridge (tools/bridge/, docs/bridge.md)
// against plain nats.c doing the same work, in one binary and one run, on
// one nats-server that this binary starts on a free loopback port with a
// private store directory (nats-server -js -sd DIR -a 127.0.0.1 -p PORT).
//
//   Throughput (SIZE bytes, WINDOW = unacknowledged publishes at most)
//     BM_PlainPublisher/SIZE/WINDOW   nats.c js_PublishAsync with a Nats-Msg-Id per message, MaxPending WINDOW
//     BM_BridgeOut/SIZE/WINDOW        run_out() over an Engine::spsc queue filled beforehand, the same window
//     Each iteration moves messages(WINDOW) messages into a stream of its own,
//     created beforehand with the configuration the bridge gives a stream it
//     creates, deleted afterwards. The time of an iteration (manual time)
//     is that of the whole publishing session, the same steps for both:
//     connect, JetStream context, stream lookup (js_GetStreamInfo), every
//     publish, the last ack, close. For the bridge that is the run_out()
//     call with count = messages(WINDOW) (it also opens the queue); filling
//     the queue is outside. A window below 16 makes both write each publish
//     at once (natsOptions_SetSendAsap), as the bridge does.
//
//   Latency (one-way, one message in flight at a time, SIZE bytes)
//     BM_BridgeEndToEnd/SIZE/WINDOW   put into queue A ("machine 1") -> run_out -> stream -> run_in -> queue
//                                     B ("machine 2") -> get from B returns; the two bridges are threads
//                                     of this process with connections of their own
//     BM_NatsEndToEnd/SIZE/WINDOW     the floor: js_PublishAsync of the same message -> the same stream ->
//                                     a durable pull consumer configured as bridge in's, fetching on a
//                                     thread of its own; the time ends when its fetch returns the message
//     Counters latency_p50_ns and latency_p99_ns; the time is their mean.
//
// cpu_ns_per_op: the CPU this process (publisher or bridges, nats.c's
// threads included) spent per message while the clock ran;
// server_cpu_ns_per_op: nats-server's.
//
// The server, the store directory and every queue this run made are
// removed on the way out, by a janitor process forked first that acts when
// this process ends however it ends (its pipe reaches end of file).
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "shmring/bridge/bridge.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring::perf {
namespace {

using Clock = std::chrono::steady_clock;

// Messages per throughput iteration: a window of 256 moves tens of
// thousands a second, a window of 1 waits for each ack.
std::uint64_t messages(std::int64_t window) { return window >= 16 ? 20'000 : 2'000; }
constexpr int kBatch = 64;  // InOptions::batch's default: bridge in's fetch, and the floor consumer's
constexpr std::int64_t kDuplicateWindowMs = 120'000;  // StreamOptions' default

std::string g_prefix;  // "shmring-bridge-bench-<pid>-": every queue this run makes
std::string g_dir;     // the store directory and bridge in's state files
std::string g_url;
pid_t g_server = -1;
natsConnection* g_admin = nullptr;  // makes and deletes the streams
jsCtx* g_admin_js = nullptr;
int g_serial = 0;

std::string next_name(const char* what) { return g_prefix + what + std::to_string(++g_serial); }

// ---- the server and the janitor ---------------------------------------------------------

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

void remove_queues(const std::string& prefix) {
  if (DIR* d = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(d)) {
      if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) {
        (void)::unlink(("/dev/shm/" + std::string(e->d_name)).c_str());
      }
    }
    ::closedir(d);
  }
}

// Forked before any thread exists. Waits for end of file on the pipe (this
// process ended, or closed it after cleaning up), then kills the server
// whose pid came through the pipe and removes what the run made.
int start_janitor() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::close(p[1]);
    (void)::setsid();  // a Ctrl-C of the benchmark does not reach it first
    pid_t server = -1;
    char buf[sizeof(pid_t)];
    std::size_t got = 0;
    for (;;) {
      const ssize_t n = ::read(p[0], buf + got, sizeof(buf) - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
      if (got == sizeof(buf)) {
        std::memcpy(&server, buf, sizeof(server));
        got = 0;
      }
    }
    if (server > 0) (void)::kill(server, SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
    remove_queues(g_prefix);
    ::_exit(0);
  }
  ::close(p[0]);
  return p[1];
}

bool wait_for_server() {
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(g_server, &status, WNOHANG) == g_server) {  // it exited (not on PATH, a port taken...)
      g_server = -1;
      return false;
    }
    if (natsConnection_ConnectTo(&g_admin, g_url.c_str()) == NATS_OK) {
      if (natsConnection_JetStream(&g_admin_js, g_admin, nullptr) != NATS_OK) return false;
      jsAccountInfo* ai = nullptr;
      while (Clock::now() < deadline) {
        if (js_GetAccountInfo(&ai, g_admin_js, nullptr, nullptr) == NATS_OK) {
          jsAccountInfo_Destroy(ai);
          return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool start_server(int janitor) {
  const int port = free_port();
  if (port < 0) return false;
  g_url = "nats://127.0.0.1:" + std::to_string(port);
  const std::string store = g_dir + "/js";
  const std::string port_text = std::to_string(port);
  const std::string log = g_dir + "/server.log";
  const pid_t parent = ::getpid();
  g_server = ::fork();
  if (g_server < 0) return false;
  if (g_server == 0) {
    (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      (void)::dup2(fd, 1);
      (void)::dup2(fd, 2);
    }
    ::execlp("nats-server", "nats-server", "-js", "-sd", store.c_str(), "-a", "127.0.0.1", "-p", port_text.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  (void)!::write(janitor, &g_server, sizeof(g_server));
  return wait_for_server();
}

void stop_server() {
  if (g_admin_js != nullptr) jsCtx_Destroy(g_admin_js);
  if (g_admin != nullptr) natsConnection_Destroy(g_admin);
  g_admin_js = nullptr;
  g_admin = nullptr;
  if (g_server > 0) {
    (void)::kill(g_server, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(g_server, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (::waitpid(g_server, &status, WNOHANG) == 0) {
      (void)::kill(g_server, SIGKILL);
      (void)::waitpid(g_server, &status, 0);
    }
    g_server = -1;
  }
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
  remove_queues(g_prefix);
}

// ---- streams and queues ----------------------------------------------------------------

// A stream as the bridge creates one (nats_link.cpp): file storage, limits
// retention, a duplicate window of two minutes.
bool add_stream(const std::string& name, const std::string& subject) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject.c_str()};
  cfg.Name = name.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = js_LimitsPolicy;
  cfg.Duplicates = kDuplicateWindowMs * 1'000'000;
  jsStreamInfo* si = nullptr;
  if (js_AddStream(&si, g_admin_js, &cfg, nullptr, nullptr) != NATS_OK) return false;
  jsStreamInfo_Destroy(si);
  return true;
}

// A stream of this run, deleted when it goes out of scope.
class Stream {
 public:
  Stream() : name_(next_name("S")) {
    std::replace(name_.begin(), name_.end(), '-', '_');  // a stream name and a subject token
    subject_ = "bench." + name_;
    ok_ = add_stream(name_, subject_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    if (ok_) (void)js_DeleteStream(g_admin_js, name_.c_str(), nullptr, nullptr);
  }
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const std::string& subject() const noexcept { return subject_; }
  [[nodiscard]] bridge::StreamOptions options() const {
    return {.server = g_url, .subject = subject_, .stream = name_};
  }

 private:
  std::string name_;
  std::string subject_;
  bool ok_ = false;
};

// An Engine::spsc queue of this run, unlinked when it goes out of scope.
class QueueName {
 public:
  explicit QueueName(std::uint64_t capacity) : name_(next_name("Q")) {
    auto q = Queue::create(name_, {.engine = Engine::spsc, .capacity_bytes = capacity});
    ok_ = q.has_value();
  }
  QueueName(const QueueName&) = delete;
  QueueName& operator=(const QueueName&) = delete;
  ~QueueName() { (void)Queue::unlink(name_); }
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

std::int64_t server_cpu_ns() { return process_cpu_ns(g_server); }

// CPU of this process and of the server over the timed parts only.
struct CpuTally {
  std::int64_t self = 0;
  std::int64_t server = 0;
  std::int64_t self0 = 0;
  std::int64_t server0 = 0;
  void start() {
    self0 = process_cpu_ns(0);
    server0 = server_cpu_ns();
  }
  void stop() {
    self += process_cpu_ns(0) - self0;
    server += server_cpu_ns() - server0;
  }
  void report(benchmark::State& state, std::uint64_t ops) const {
    if (ops == 0) return;
    state.counters["cpu_ns_per_op"] = static_cast<double>(self) / static_cast<double>(ops);
    state.counters["server_cpu_ns_per_op"] = static_cast<double>(server) / static_cast<double>(ops);
  }
};

// ---- throughput --------------------------------------------------------------------------

// A plain nats.c application publishing n messages of `size` bytes, each
// with a Nats-Msg-Id of the bridge's form, at most `window` unacknowledged:
// the whole session, connect to close. Empty: ok; else what failed.
// A publisher's connection set up as bridge out sets up its own: the window
// as nats.c's MaxPending, each publish written at once below a window of 16.
natsStatus connect_publisher(int window, natsOptions*& opts, natsConnection*& nc, jsCtx*& js) {
  natsStatus st = natsOptions_Create(&opts);
  if (st == NATS_OK) st = natsOptions_SetURL(opts, g_url.c_str());
  if (st == NATS_OK && window < 16) st = natsOptions_SetSendAsap(opts, true);
  if (st == NATS_OK) st = natsConnection_Connect(&nc, opts);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = window;
  if (st == NATS_OK) st = natsConnection_JetStream(&js, nc, &jo);
  return st;
}

std::string plain_publish(const Stream& s, std::uint64_t n, int size, int window) {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::string error;
  natsStatus st = connect_publisher(window, opts, nc, js);
  jsStreamInfo* si = nullptr;
  if (st == NATS_OK) st = js_GetStreamInfo(&si, js, s.name().c_str(), nullptr, nullptr);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  const std::vector<char> data(static_cast<std::size_t>(size), 'x');
  jsPubOptions po;
  jsPubOptions_Init(&po);
  for (std::uint64_t i = 0; st == NATS_OK && i < n; ++i) {
    const std::string id = "plainQ1@0000000000000000:" + std::to_string(i);
    po.MsgId = id.c_str();
    st = js_PublishAsync(js, s.subject().c_str(), data.data(), size, &po);
  }
  if (st == NATS_OK) {
    jsPubOptions done;
    jsPubOptions_Init(&done);
    done.MaxWait = 120'000;
    st = js_PublishAsyncComplete(js, &done);
  }
  if (st != NATS_OK) error = std::string("plain publisher: ") + natsStatus_GetText(st);
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) {
    (void)natsConnection_FlushTimeout(nc, 1000);
    natsConnection_Close(nc);
    natsConnection_Destroy(nc);
  }
  if (opts != nullptr) natsOptions_Destroy(opts);
  return error;
}

void BM_PlainPublisher(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  const int window = static_cast<int>(state.range(1));
  const std::uint64_t n = messages(window);
  CpuTally cpu;
  std::uint64_t done = 0;
  for (auto _ : state) {
    const Stream s;
    if (!s.ok()) {
      state.SkipWithError("cannot create the stream");
      break;
    }
    cpu.start();
    const auto t0 = Clock::now();
    const std::string e = plain_publish(s, n, size, window);
    const auto t1 = Clock::now();
    cpu.stop();
    if (!e.empty()) {
      state.SkipWithError(e.c_str());
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    done += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.SetBytesProcessed(static_cast<std::int64_t>(done) * size);
  cpu.report(state, done);
}

void BM_BridgeOut(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  const int window = static_cast<int>(state.range(1));
  const std::uint64_t n = messages(window);
  std::uint64_t capacity = 4096;
  while (capacity < n * (static_cast<std::uint64_t>(size) + 64)) capacity *= 2;
  const std::vector<std::byte> data(static_cast<std::size_t>(size), std::byte{'x'});
  const std::atomic<bool> stop{false};
  CpuTally cpu;
  std::uint64_t done = 0;
  for (auto _ : state) {
    const Stream s;
    const QueueName qn(capacity);
    if (!s.ok() || !qn.ok()) {
      state.SkipWithError("cannot create the stream or the queue");
      break;
    }
    {
      auto q = Queue::open(qn.name());
      bool filled = q.has_value();
      for (std::uint64_t i = 0; filled && i < n; ++i) filled = q->put(data, nowait) == PutStatus::ok;
      if (!filled) {
        state.SkipWithError("cannot fill the queue");
        break;
      }
    }  // the producer role is given back: run_out opens the queue as a user's bridge would
    bridge::OutOptions o;
    o.queue = qn.name();
    o.stream = s.options();
    o.count = n;
    o.window = static_cast<std::uint32_t>(window);
    cpu.start();
    const auto t0 = Clock::now();
    const bridge::RunResult r = bridge::run_out(o, stop);
    const auto t1 = Clock::now();
    cpu.stop();
    if (r.code != 0 || r.messages != n) {
      state.SkipWithError(("bridge out: " + std::to_string(r.messages) + " messages, " + r.error).c_str());
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    done += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.SetBytesProcessed(static_cast<std::int64_t>(done) * size);
  cpu.report(state, done);
}

// ---- latency -----------------------------------------------------------------------------

constexpr auto kLatencyTimeout = std::chrono::seconds(10);
// Between two messages (outside the clock): long enough for the consumer's
// next pull request to reach the server, so each message finds the
// consumer waiting as a message on a quiet link does, not a request still
// in its client's buffer (nats.c's flusher waits a millisecond before it
// writes, natsOptions_SetSendAsap aside).
constexpr auto kLatencyGap = std::chrono::milliseconds(5);

void report_latency(benchmark::State& state, std::vector<double>& ns) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  const auto at = [&](double q) {
    return ns[std::min(ns.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ns.size())))];
  };
  state.counters["latency_p50_ns"] = at(0.50);
  state.counters["latency_p99_ns"] = at(0.99);
}

void BM_BridgeEndToEnd(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  const int window = static_cast<int>(state.range(1));
  const Stream s;
  const QueueName a(1u << 20);
  const QueueName b(1u << 20);
  if (!s.ok() || !a.ok() || !b.ok()) {
    state.SkipWithError("cannot create the stream or the queues");
    return;
  }
  const std::string in_state = g_dir + "/" + b.name() + ".bridge-in";
  std::atomic<bool> stop{false};
  bridge::RunResult out_r;
  bridge::RunResult in_r;
  bridge::OutOptions oo;
  oo.queue = a.name();
  oo.stream = s.options();
  oo.window = static_cast<std::uint32_t>(window);
  bridge::InOptions io;
  io.queue = b.name();
  io.stream = s.options();
  io.state = in_state;
  io.batch = kBatch;
  std::thread out([&] { out_r = bridge::run_out(oo, stop); });
  std::thread in([&] { in_r = bridge::run_in(io, stop); });
  auto qa = Queue::open(a.name());
  auto qb = Queue::open(b.name());
  const std::vector<std::byte> data(static_cast<std::size_t>(size), std::byte{'x'});
  std::vector<std::byte> got;
  std::vector<double> ns;
  CpuTally cpu;
  bool ok = qa.has_value() && qb.has_value();
  // The first message waits for both bridges to connect and subscribe.
  ok = ok && qa->put(data) == PutStatus::ok && qb->get_into(got, std::chrono::seconds(30)) == GetStatus::ok;
  if (!ok) state.SkipWithError("the bridges did not start");
  if (ok) {
    for (auto _ : state) {
      std::this_thread::sleep_for(kLatencyGap);
      cpu.start();
      const auto t0 = Clock::now();
      if (qa->put(data) != PutStatus::ok || qb->get_into(got, kLatencyTimeout) != GetStatus::ok) {
        state.SkipWithError("a message did not come through");
        break;
      }
      const auto t1 = Clock::now();
      cpu.stop();
      const double t = std::chrono::duration<double>(t1 - t0).count();
      state.SetIterationTime(t);
      ns.push_back(t * 1e9);
    }
  }
  stop.store(true);
  out.join();
  in.join();
  report_latency(state, ns);
  cpu.report(state, ns.size());
  state.SetItemsProcessed(static_cast<std::int64_t>(ns.size()));
}

// The floor: what a plain nats.c publisher and pull consumer take for the
// same message. The consumer is configured as bridge in's (durable, explicit
// acks, MaxAckPending = its batch) and fetches as it does.
void BM_NatsEndToEnd(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  const int window = static_cast<int>(state.range(1));
  const Stream s;
  if (!s.ok()) {
    state.SkipWithError("cannot create the stream");
    return;
  }
  // Publisher ("machine 1").
  natsOptions* popts = nullptr;
  natsConnection* pnc = nullptr;
  jsCtx* pjs = nullptr;
  natsStatus st = connect_publisher(window, popts, pnc, pjs);
  // Consumer ("machine 2").
  natsConnection* cnc = nullptr;
  jsCtx* cjs = nullptr;
  natsSubscription* sub = nullptr;
  if (st == NATS_OK) st = natsConnection_ConnectTo(&cnc, g_url.c_str());
  if (st == NATS_OK) st = natsConnection_JetStream(&cjs, cnc, nullptr);
  const std::string durable = "floor";
  if (st == NATS_OK) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = 30'000'000'000;
    cc.MaxAckPending = kBatch;
    cc.FilterSubject = s.subject().c_str();
    jsConsumerInfo* ci = nullptr;
    st = js_AddConsumer(&ci, cjs, s.name().c_str(), &cc, nullptr, nullptr);
    if (ci != nullptr) jsConsumerInfo_Destroy(ci);
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = s.name().c_str();
  so.Consumer = durable.c_str();
  if (st == NATS_OK) st = js_PullSubscribe(&sub, cjs, s.subject().c_str(), durable.c_str(), nullptr, &so, nullptr);

  std::mutex m;
  std::condition_variable cv;
  std::uint64_t received = 0;
  Clock::time_point arrived;
  std::atomic<bool> stop{false};
  std::thread consumer;
  if (st == NATS_OK) {
    consumer = std::thread([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        natsMsgList list{};
        if (natsSubscription_Fetch(&list, sub, kBatch, 200, nullptr) != NATS_OK) {
          natsMsgList_Destroy(&list);
          continue;
        }
        const auto t = Clock::now();
        for (int i = 0; i < list.Count; ++i) (void)natsMsg_Ack(list.Msgs[i], nullptr);
        {
          const std::lock_guard<std::mutex> lock(m);
          received += static_cast<std::uint64_t>(list.Count);
          arrived = t;
        }
        cv.notify_one();
        natsMsgList_Destroy(&list);
      }
    });
  }
  const std::vector<char> data(static_cast<std::size_t>(size), 'x');
  jsPubOptions po;
  jsPubOptions_Init(&po);
  std::uint64_t sent = 0;
  const auto ping = [&](Clock::time_point& t1, std::chrono::nanoseconds timeout) {
    const std::string id = "floorQ1@0000000000000000:" + std::to_string(sent);
    po.MsgId = id.c_str();
    if (js_PublishAsync(pjs, s.subject().c_str(), data.data(), size, &po) != NATS_OK) return false;
    ++sent;
    std::unique_lock<std::mutex> lock(m);
    if (!cv.wait_for(lock, timeout, [&] { return received >= sent; })) return false;
    t1 = arrived;
    return true;
  };
  std::vector<double> ns;
  CpuTally cpu;
  Clock::time_point t1;
  bool ok = st == NATS_OK && ping(t1, std::chrono::seconds(30));
  if (!ok) state.SkipWithError("the floor's publisher or consumer did not start");
  if (ok) {
    for (auto _ : state) {
      std::this_thread::sleep_for(kLatencyGap);
      cpu.start();
      const auto t0 = Clock::now();
      if (!ping(t1, kLatencyTimeout)) {
        state.SkipWithError("a message did not come through");
        break;
      }
      cpu.stop();
      const double t = std::chrono::duration<double>(t1 - t0).count();
      state.SetIterationTime(t);
      ns.push_back(t * 1e9);
    }
  }
  stop.store(true);
  if (consumer.joinable()) consumer.join();
  if (sub != nullptr) natsSubscription_Destroy(sub);
  if (cjs != nullptr) jsCtx_Destroy(cjs);
  if (cnc != nullptr) natsConnection_Destroy(cnc);
  if (pjs != nullptr) jsCtx_Destroy(pjs);
  if (pnc != nullptr) natsConnection_Destroy(pnc);
  if (popts != nullptr) natsOptions_Destroy(popts);
  report_latency(state, ns);
  cpu.report(state, ns.size());
  state.SetItemsProcessed(static_cast<std::int64_t>(ns.size()));
}

void register_all() {
  using benchmark::RegisterBenchmark;
  for (auto* b :
       {RegisterBenchmark("BM_PlainPublisher", BM_PlainPublisher), RegisterBenchmark("BM_BridgeOut", BM_BridgeOut)}) {
    b->ArgsProduct({{64, 1024}, {256, 1}});
    b->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
  }
  RegisterBenchmark("BM_BridgeEndToEnd", BM_BridgeEndToEnd)
      ->Args({64, 256})
      ->Args({64, 1})
      ->UseManualTime()
      ->Iterations(200)
      ->Unit(benchmark::kMicrosecond);
  RegisterBenchmark("BM_NatsEndToEnd", BM_NatsEndToEnd)
      ->Args({64, 256})
      ->Args({64, 1})
      ->UseManualTime()
      ->Iterations(200)
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace shmring::perf

int main(int argc, char** argv) {
  using namespace shmring::perf;
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  char dir[] = "/tmp/shmring-bridge-bench.XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  g_dir = dir;
  g_prefix = "shmring-bridge-bench-" + std::to_string(::getpid()) + "-";
  const int janitor = start_janitor();
  if (janitor < 0 || !start_server(janitor)) {
    std::fprintf(stderr, "shmring_bridge_bench: could not start nats-server on %s; its log:\n", g_url.c_str());
    if (std::FILE* log = std::fopen((g_dir + "/server.log").c_str(), "r")) {
      char line[512];
      while (std::fgets(line, sizeof(line), log) != nullptr) std::fputs(line, stderr);
      std::fclose(log);
    }
    stop_server();
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  stop_server();
  ::close(janitor);
  int status = 0;
  (void)::wait(&status);
  return 0;
}
