// Queue -> stream (bridge.hpp). One message in flight: read() shows the
// queue's next message without taking it, and only the server's ack lets
// release() take it. A publish that fails or times out is repeated under
// the same Nats-Msg-Id until it is acked, so a lost ack costs a duplicate
// the server drops, never a loss.
#include <chrono>
#include <cstdio>

#include "bridged_queue.hpp"
#include "nats_link.hpp"
#include "shmring/bridge/bridge.hpp"

namespace shmring::bridge {

namespace {

using Clock = std::chrono::steady_clock;

// The server said no for good: retrying cannot help (a message larger than
// its max payload, a subject no stream takes...).
bool permanent(natsStatus s, jsErrCode jerr) {
  return s == NATS_MAX_PAYLOAD || (s == NATS_ERR && jerr != 0) || s == NATS_INVALID_ARG;
}

}  // namespace

RunResult run_out(const OutOptions& o, const std::atomic<bool>& stop) {
  RunResult r;
  detail::OpenedQueue oq = detail::open_bridged_queue(o.queue, Role::none);
  if (!oq.queue) return {oq.code, oq.error};
  Queue& q = *oq.queue;
  const std::string source = detail::queue_source(q.path());
  if (source.empty()) return {6, o.queue + ": cannot read the queue file's header"};

  detail::NatsLink link;
  if (std::string e = link.open(o.stream, stop); !e.empty()) return {stop.load() ? 0 : 6, e};

  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = static_cast<std::int64_t>(o.publish_timeout_seconds * 1000);
  po.ExpectStream = link.stream().c_str();
  Clock::time_point idle_since = Clock::now();
  while (!stop.load(std::memory_order_relaxed) && (o.count == 0 || r.messages < o.count)) {
    const GetView v = q.read(std::chrono::milliseconds(100));
    if (v.status == GetStatus::empty) {
      if (o.idle_seconds >= 0 && Clock::now() - idle_since > std::chrono::duration<double>(o.idle_seconds)) break;
      continue;
    }
    if (v.status == GetStatus::closed) break;
    if (v.status != GetStatus::ok)
      return {6, o.queue + ": read: " + to_string(v.status), r.messages, r.duplicates, r.retries};
    const std::optional<std::uint64_t> seq = q.read_seq();
    if (!seq) return {6, o.queue + ": no message sequence number", r.messages, r.duplicates, r.retries};
    if (static_cast<std::int64_t>(v.bytes.size()) > link.max_payload()) {
      // Kept in the queue (never released): the user moves it aside.
      return {6,
              o.queue + ": message " + std::to_string(*seq) + " is " + std::to_string(v.bytes.size()) +
                  " bytes, more than the server's max payload (" + std::to_string(link.max_payload()) +
                  "): it stays at the head of the queue",
              r.messages, r.duplicates, r.retries};
    }
    const std::string id = detail::message_id(source, *seq);
    po.MsgId = id.c_str();
    for (;;) {
      jsPubAck* ack = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      const natsStatus s = js_Publish(&ack, link.js(), o.stream.subject.c_str(), v.bytes.data(),
                                      static_cast<int>(v.bytes.size()), &po, &jerr);
      if (s == NATS_OK) {
        if (ack->Duplicate) {
          ++r.duplicates;
          if (o.log) o.log(id + ": already in the stream (a duplicate the server dropped)");
        }
        jsPubAck_Destroy(ack);
        break;
      }
      if (permanent(s, jerr)) {
        return {6, detail::nats_error(("publish " + id).c_str(), s, jerr) + ": the message stays in the queue",
                r.messages, r.duplicates, r.retries};
      }
      // Timeout, no responders while the server restarts, a broken
      // connection: the message is still ours, publish it again (same id).
      ++r.retries;
      if (o.log) o.log(detail::nats_error(("publish " + id).c_str(), s, jerr) + ": publishing it again");
      if (stop.load(std::memory_order_relaxed)) return r;
      detail::sleep_unless_stopped(50, stop);
    }
    // Only now: the ack is the server's promise that the message is stored.
    q.release();
    ++r.messages;
    idle_since = Clock::now();
  }
  return r;
}

}  // namespace shmring::bridge
