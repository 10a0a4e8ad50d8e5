// Queue -> stream (bridge.hpp). A window of up to `window` messages shown
// by Queue::read_ahead() and published asynchronously; the acknowledged
// prefix of the window is taken with release_ahead(), in queue order,
// whatever order the acks come in. A publish that fails or times out is
// repeated under the same Nats-Msg-Id until it is acked, so a lost ack
// costs a duplicate the server drops, never a loss.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

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

// What the acks say, handed from nats.c's callback thread to the bridge's.
struct Outcome {
  std::uint64_t seq;
  bool ok;
  bool duplicate;
  natsStatus status;
  jsErrCode code;
  std::string text;
};

class Acks {
 public:
  // jsPubAckHandler: runs on nats.c's thread, once per async publish.
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* self) {
    auto* acks = static_cast<Acks*>(self);
    const char* id = nullptr;
    std::optional<detail::ParsedId> parsed;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) parsed = detail::parse_message_id(id);
    if (parsed) {
      Outcome o{parsed->seq, pa != nullptr, pa != nullptr && pa->Duplicate, NATS_OK, static_cast<jsErrCode>(0), {}};
      if (pa == nullptr && pae != nullptr) {
        o.status = pae->Err;
        o.code = pae->ErrCode;
        o.text = pae->ErrText != nullptr ? pae->ErrText : "";
      } else if (pa == nullptr) {
        o.status = NATS_ERR;
      }
      std::lock_guard<std::mutex> lock(acks->mutex_);
      acks->outcomes_.push_back(std::move(o));
      acks->cv_.notify_one();
    }
    natsMsg_Destroy(msg);
  }
  // The outcomes so far (waiting up to `wait` for one).
  std::vector<Outcome> take(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    (void)cv_.wait_for(lock, wait, [this] { return !outcomes_.empty(); });
    std::vector<Outcome> out;
    out.swap(outcomes_);
    return out;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Outcome> outcomes_;
};

struct Shown {
  std::uint64_t seq;
  std::span<const std::byte> bytes;  // in the ring: valid until released
  std::string id;
  bool acked = false;
  bool resend = false;   // the publish failed; publish again (same id)
  bool refused = false;  // for good: it stays queued
};

}  // namespace

RunResult run_out(const OutOptions& o, const std::atomic<bool>& stop) {
  RunResult r;
  detail::OpenedQueue oq = detail::open_bridged_queue(o.queue, Role::none);
  if (!oq.queue) return {oq.code, oq.error};
  Queue& q = *oq.queue;
  const std::string source = detail::queue_source(q.path());
  if (source.empty()) return {6, o.queue + ": cannot read the queue file's header"};
  const std::uint32_t window = o.window == 0 ? 1 : o.window;

  Acks acks;  // before the link: nats.c may call back until the link is gone
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = window;
  jo.PublishAsync.AckHandler = &Acks::on_ack;
  jo.PublishAsync.AckHandlerClosure = &acks;
  detail::NatsLink link;
  // A small window waits for each ack: its publishes go out at once.
  if (std::string e = link.open(o.stream, stop, &jo, window < 16); !e.empty()) return {stop.load() ? 0 : 6, e};

  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = static_cast<std::int64_t>(o.publish_timeout_seconds * 1000);
  po.ExpectStream = link.stream().c_str();
  const auto publish = [&](const Shown& m) {
    po.MsgId = m.id.c_str();
    return js_PublishAsync(link.js(), o.stream.subject.c_str(), m.bytes.data(), static_cast<int>(m.bytes.size()), &po);
  };

  std::deque<Shown> shown;  // the window, oldest first: shown[i].seq == shown[0].seq + i
  std::string fatal;        // a permanent refusal: stop once what is before it is settled
  bool drained = false;     // the queue is closed and everything in it was shown
  Clock::time_point idle_since = Clock::now();
  // Once stopped: the window's acks are waited for this long, then what is
  // unacked stays queued (a successor republishes it under the same ids).
  std::optional<Clock::time_point> stop_deadline;
  for (;;) {
    if (stop.load(std::memory_order_relaxed) && !stop_deadline) {
      stop_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(o.publish_timeout_seconds));
    }
    const bool stopping =
        stop_deadline.has_value() || !fatal.empty() || (o.count != 0 && r.messages + shown.size() >= o.count);
    // Fill the window.
    while (!stopping && shown.size() < window && (o.count == 0 || r.messages + shown.size() < o.count)) {
      const AheadView v = q.read_ahead();
      if (v.status == AheadStatus::empty) break;
      if (v.status == AheadStatus::closed) {
        drained = true;
        break;
      }
      if (v.status != AheadStatus::ok) {
        fatal = o.queue + (v.status == AheadStatus::role_taken ? ": another process is its consumer"
                                                               : ": the queue is damaged (corrupt)");
        break;
      }
      if (static_cast<std::int64_t>(v.bytes.size()) > link.max_payload()) {
        fatal = o.queue + ": message " + std::to_string(v.seq) + " is " + std::to_string(v.bytes.size()) +
                " bytes, more than the server's max payload (" + std::to_string(link.max_payload()) +
                "): it stays at the head of the queue";
        break;  // shown, never published: released only with what is before it
      }
      shown.push_back({v.seq, v.bytes, detail::message_id(source, v.seq)});
      if (publish(shown.back()) != NATS_OK) shown.back().resend = true;
    }
    if (shown.empty()) {
      if (!fatal.empty()) return {6, fatal, r.messages, r.duplicates, r.retries};
      if (stopping || drained) return r;
      if (o.idle_seconds >= 0 && Clock::now() - idle_since > std::chrono::duration<double>(o.idle_seconds)) return r;
      // Wait for a message (read() takes nothing), then show it.
      (void)q.read(std::chrono::milliseconds(100));
      continue;
    }
    // Settle what the acks say.
    for (Outcome& a : acks.take(std::chrono::milliseconds(100))) {
      if (a.seq < shown.front().seq || a.seq - shown.front().seq >= shown.size()) continue;  // an older resend's
      Shown& m = shown[static_cast<std::size_t>(a.seq - shown.front().seq)];
      if (m.acked) continue;
      if (a.ok) {
        m.acked = true;
        if (a.duplicate) {
          ++r.duplicates;
          if (o.log) o.log(m.id + ": already in the stream (a duplicate the server dropped)");
        }
      } else if (permanent(a.status, a.code)) {
        if (fatal.empty()) {
          fatal = detail::nats_error(("publish " + m.id).c_str(), a.status, a.code) + " " + a.text +
                  ": the message stays in the queue";
        }
        m.resend = false;
        m.refused = true;
      } else {
        m.resend = true;
        ++r.retries;
        if (o.log) o.log(detail::nats_error(("publish " + m.id).c_str(), a.status, a.code) + ": publishing it again");
      }
    }
    // Take the acknowledged prefix, in queue order.
    std::size_t n = 0;
    while (n < shown.size() && shown[n].acked) ++n;
    if (n != 0) {
      q.release_ahead(n);
      shown.erase(shown.begin(), shown.begin() + static_cast<std::ptrdiff_t>(n));
      r.messages += n;
      idle_since = Clock::now();
    }
    // After a refusal: stop once every other message shown is settled.
    if (!fatal.empty()) {
      bool waiting = false;
      for (const Shown& m : shown) waiting = waiting || !m.refused;
      if (!waiting) return {6, fatal, r.messages, r.duplicates, r.retries};
    }
    if (stop_deadline && Clock::now() > *stop_deadline) {
      if (!fatal.empty()) return {6, fatal, r.messages, r.duplicates, r.retries};
      return r;  // unacked messages stay queued
    }
    for (Shown& m : shown) {
      if (m.resend) {
        m.resend = publish(m) != NATS_OK;
        if (m.resend) detail::sleep_unless_stopped(50, stop);
      }
    }
  }
}

}  // namespace shmring::bridge
