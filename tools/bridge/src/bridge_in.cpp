// Stream -> queue (bridge.hpp): a durable pull consumer; per delivery,
// intent (in_state.hpp), put, ack. A delivery the state says was put is
// acked and dropped, so redeliveries after a kill between put and ack, and
// a source's republications the server kept (outside its duplicate
// window), reach the queue once.
//
// Order: the consumer is made afresh at every start (and after a fetch
// failed with the connection), starting after the last delivery put
// (limits retention; a work-queue stream keeps only what was never acked,
// so it starts at its first), and it may have `batch` deliveries
// unacked: deliveries come in stream order, a redelivery only after a
// kill or a lost ack, and then it is one already put. A gap in the
// consumer's delivery numbers (deliveries lost on the way) makes it afresh
// too, so nothing after a lost delivery is put before it.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "bridged_queue.hpp"
#include "in_state.hpp"
#include "nats_link.hpp"
#include "shmring/bridge/bridge.hpp"

namespace shmring::bridge {

namespace {

using Clock = std::chrono::steady_clock;

class Puller {
 public:
  Puller(detail::NatsLink& link, const InOptions& o, std::string durable)
      : link_(link), o_(o), durable_(std::move(durable)) {}
  Puller(const Puller&) = delete;
  Puller& operator=(const Puller&) = delete;
  ~Puller() { drop(); }

  // A fresh consumer, starting after the last delivery put (see the file
  // comment). Empty: ok.
  [[nodiscard]] std::string subscribe(detail::InState& state) {
    drop();
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_DeleteConsumer(link_.js(), link_.stream().c_str(), durable_.c_str(), nullptr, &jerr);
    if (s != NATS_OK && s != NATS_NOT_FOUND) return detail::nats_error("delete consumer", s, jerr);
    jsStreamInfo* si = nullptr;
    s = js_GetStreamInfo(&si, link_.js(), link_.stream().c_str(), nullptr, &jerr);
    if (s != NATS_OK) return detail::nats_error("stream info", s, jerr);
    const bool work_queue = si->Config->Retention == js_WorkQueuePolicy;
    state.bind_stream(static_cast<std::uint64_t>(si->Created));
    jsStreamInfo_Destroy(si);
    const std::uint64_t last = state.last_stream_seq();

    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable_.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = static_cast<std::int64_t>(o_.ack_wait_seconds * 1e9);
    cc.MaxAckPending = o_.batch;
    cc.FilterSubject = o_.stream.subject.c_str();
    if (!work_queue && last != 0) {
      cc.DeliverPolicy = js_DeliverByStartSequence;
      cc.OptStartSeq = last + 1;
    }
    jsConsumerInfo* ci = nullptr;
    s = js_AddConsumer(&ci, link_.js(), link_.stream().c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK) return detail::nats_error("create consumer", s, jerr);
    jsConsumerInfo_Destroy(ci);

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = link_.stream().c_str();
    so.Consumer = durable_.c_str();
    s = js_PullSubscribe(&sub_, link_.js(), o_.stream.subject.c_str(), durable_.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) return detail::nats_error("pull subscribe", s, jerr);
    next_delivery_ = 1;
    return {};
  }
  [[nodiscard]] natsSubscription* sub() const noexcept { return sub_; }
  // The consumer numbers its deliveries 1, 2, 3... (redeliveries included):
  // a delivery whose number is not the next one means some were lost on
  // the way (a connection that broke and came back while a fetch waited,
  // before the disconnect was seen). false: such a gap; subscribe again
  // (after the last put) rather than put what came after it.
  [[nodiscard]] bool in_sequence(std::uint64_t delivery) noexcept {
    if (delivery != next_delivery_) return false;
    ++next_delivery_;
    return true;
  }
  [[nodiscard]] std::uint64_t next_delivery() const noexcept { return next_delivery_; }

 private:
  void drop() noexcept {
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
    sub_ = nullptr;
  }
  detail::NatsLink& link_;
  const InOptions& o_;
  std::string durable_;
  natsSubscription* sub_ = nullptr;
  std::uint64_t next_delivery_ = 1;
};

std::string default_state_path(const std::string& queue_path, const std::string& durable) {
  const std::size_t slash = queue_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : queue_path.substr(0, slash);
  const std::string base = queue_path.substr(slash + 1);
  return dir + "/." + base + "." + durable + ".bridge-in";
}

}  // namespace

RunResult run_in(const InOptions& o, const std::atomic<bool>& stop) {
  RunResult r;
  detail::OpenedQueue oq = detail::open_bridged_queue(o.queue, Role::producer);
  if (!oq.queue) return {oq.code, oq.error};
  Queue& q = *oq.queue;
  const std::optional<std::uint64_t> put_count = q.put_seq();
  if (!put_count) return {6, o.queue + ": no put count"};
  const std::string base = q.path().substr(q.path().rfind('/') + 1);
  std::string durable = o.durable.empty() ? "shmring-in-" + base : o.durable;
  for (char& c : durable) {
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!keep) c = '_';
  }
  detail::InState state;
  if (std::string e = state.open(o.state.empty() ? default_state_path(q.path(), durable) : o.state, *put_count);
      !e.empty()) {
    return {6, e};
  }

  if (o.log && state.intent_found_put() != 0) {
    o.log("stream message " + std::to_string(state.intent_found_put()) +
          ": put by the previous bridge before it stopped (acked or not): it will not be put again");
  }
  if (o.log && state.intent_found_unput() != 0) {
    o.log("stream message " + std::to_string(state.intent_found_unput()) +
          ": the previous bridge stopped before its put: it will be put");
  }

  detail::NatsLink link;
  if (std::string e = link.open(o.stream, stop); !e.empty()) return {stop.load() ? 0 : 6, e};
  Puller puller(link, o, durable);
  if (std::string e = puller.subscribe(state); !e.empty()) return {6, e};

  Clock::time_point idle_since = Clock::now();
  std::uint64_t disconnects = link.disconnects();
  while (!stop.load(std::memory_order_relaxed) && (o.count == 0 || r.messages < o.count)) {
    if (const std::uint64_t d = link.disconnects(); d != disconnects) {
      // A delivery lost with the connection would come back only after the
      // ack wait, behind later ones: start again after the last put instead.
      if (o.log)
        o.log("connection lost: subscribing again after stream message " + std::to_string(state.last_stream_seq()));
      ++r.retries;
      if (!puller.subscribe(state).empty()) {
        detail::sleep_unless_stopped(200, stop);
        continue;  // not answering yet: try again
      }
      disconnects = d;
    }
    natsMsgList list{};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = natsSubscription_Fetch(&list, puller.sub(), o.batch, 200, &jerr);
    if (s != NATS_OK) natsMsgList_Destroy(&list);  // what a failed fetch may have gathered
    if (s == NATS_TIMEOUT) {
      if (o.idle_seconds >= 0 && Clock::now() - idle_since > std::chrono::duration<double>(o.idle_seconds)) break;
      continue;
    }
    if (s != NATS_OK) {
      // The connection broke or the server restarts: once it answers again,
      // a fresh consumer starting after what was put keeps the order.
      if (o.log) o.log(detail::nats_error("fetch", s, jerr) + ": subscribing again");
      ++r.retries;
      detail::sleep_unless_stopped(200, stop);
      while (!stop.load(std::memory_order_relaxed)) {
        if (puller.subscribe(state).empty()) break;
        detail::sleep_unless_stopped(200, stop);
      }
      continue;
    }
    bool enough = false;
    bool gap = false;
    for (int i = 0; i < list.Count && !enough && !gap; ++i) {
      natsMsg* m = list.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
        natsMsgList_Destroy(&list);
        return {6, "a delivery without JetStream metadata", r.messages, r.duplicates, r.retries};
      }
      const std::uint64_t stream_seq = meta->Sequence.Stream;
      const std::uint64_t delivery = meta->Sequence.Consumer;
      jsMsgMetaData_Destroy(meta);
      if (!puller.in_sequence(delivery)) {
        if (o.log) {
          o.log("delivery " + std::to_string(delivery) + " where " + std::to_string(puller.next_delivery()) +
                " was due (some lost on the way): subscribing again after stream message " +
                std::to_string(state.last_stream_seq()));
        }
        gap = true;  // the rest of the list stays unacked; the fresh consumer delivers it again
        break;
      }
      const char* id = nullptr;
      std::uint64_t source = 0;
      std::uint64_t seq = 0;
      if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) {
        if (const auto p = detail::parse_message_id(id)) {
          source = detail::InState::source_key(p->source);
          seq = p->seq;
        }
      }
      if (state.already_put(stream_seq, source, seq)) {
        ++r.duplicates;
        if (o.log) {
          o.log("stream message " + std::to_string(stream_seq) + (id != nullptr ? std::string(" (") + id + ")" : "") +
                ": already put, dropped");
        }
        (void)natsMsg_Ack(m, nullptr);
        continue;
      }
      const std::uint64_t before = q.put_seq().value_or(0);
      if (std::string e = state.intend(stream_seq, source, seq, before); !e.empty()) {
        natsMsgList_Destroy(&list);
        return {6, e, r.messages, r.duplicates, r.retries};
      }
      const auto* data = reinterpret_cast<const std::byte*>(natsMsg_GetData(m));
      const std::span<const std::byte> bytes(data, static_cast<std::size_t>(natsMsg_GetDataLength(m)));
      PutStatus ps = PutStatus::full;
      while (!stop.load(std::memory_order_relaxed)) {
        ps = q.put(bytes, std::chrono::milliseconds(200));
        if (ps != PutStatus::full) break;
      }
      if (ps != PutStatus::ok) {
        // Unacked: the stream keeps it; a later run delivers it again.
        natsMsgList_Destroy(&list);
        if (ps == PutStatus::full) return r;  // stopped while the queue was full
        return {6, o.queue + ": put of stream message " + std::to_string(stream_seq) + ": " + to_string(ps), r.messages,
                r.duplicates, r.retries};
      }
      state.done();
      (void)natsMsg_Ack(m, nullptr);
      ++r.messages;
      if (o.count != 0 && r.messages >= o.count) enough = true;  // stop here: the rest stays unacked
    }
    natsMsgList_Destroy(&list);
    idle_since = Clock::now();
    if (gap) {
      ++r.retries;
      while (!stop.load(std::memory_order_relaxed)) {
        if (puller.subscribe(state).empty()) break;
        detail::sleep_unless_stopped(200, stop);
      }
    }
  }
  return r;
}

}  // namespace shmring::bridge
