// The peer of the bridge's throughput check (perf/bridge/bridge_bench.sh):
// a plain nats.c JetStream asynchronous publisher, as an application would
// write one without shmring — N messages of SIZE bytes, each with a
// Nats-Msg-Id as the bridge sends, at most WINDOW unacknowledged. Prints
// messages per second from the first publish to the last ack.
//
//   shmring_bridge_plain_publisher URL SUBJECT STREAM N SIZE WINDOW
#include <nats/nats.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s URL SUBJECT STREAM N SIZE WINDOW\n", argv[0]);
    return 1;
  }
  const char* url = argv[1];
  const char* subject = argv[2];
  const char* stream = argv[3];
  const long n = std::atol(argv[4]);
  const int size = std::atoi(argv[5]);
  const int window = std::atoi(argv[6]);
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_ConnectTo(&nc, url); s != NATS_OK) {
    std::fprintf(stderr, "connect: %s\n", natsStatus_GetText(s));
    return 1;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = window;
  if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) return 1;
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject};
  cfg.Name = stream;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  if (js_AddStream(&si, js, &cfg, nullptr, nullptr) == NATS_OK) jsStreamInfo_Destroy(si);

  const std::vector<char> data(static_cast<std::size_t>(size), 'x');
  jsPubOptions po;
  jsPubOptions_Init(&po);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    const std::string id = "plain@0000000000000000:" + std::to_string(i);
    po.MsgId = id.c_str();
    if (natsStatus s = js_PublishAsync(js, subject, data.data(), size, &po); s != NATS_OK) {
      std::fprintf(stderr, "publish: %s\n", natsStatus_GetText(s));
      return 1;
    }
  }
  jsPubOptions done;
  jsPubOptions_Init(&done);
  done.MaxWait = 120000;
  if (natsStatus s = js_PublishAsyncComplete(js, &done); s != NATS_OK) {
    std::fprintf(stderr, "waiting for the acks: %s\n", natsStatus_GetText(s));
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.0f\n", static_cast<double>(n) / seconds);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return 0;
}
