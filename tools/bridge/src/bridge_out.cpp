// Queue -> stream (bridge.hpp). A window of up to `window` messages shown
// by Queue::read_ahead() and published asynchronously; the acknowledged
// prefix of the window is taken with release_ahead(), in queue order,
// whatever order the acks come in. A publish that fails or times out is
// repeated under the same Nats-Msg-Id until it is acked, so a lost ack
// costs a duplicate the server drops, never a loss.
//
// Order in the stream. A message published while the one before it is
// still unacknowledged carries Nats-Expected-Last-Msg-Id = that one's id:
// the server stores it only right after its predecessor, else refuses it
// (wrong last msg id). So however publishes are lost, buffered or
// reordered on their way (a connection lost mid-window, nats.c's reconnect
// buffer sent before the lost run is repeated), what the stream stores of
// one queue is in queue order: bridge in's "at or below the last put from
// this source" rule (bridge_in.cpp) depends on it. The server looks up
// Nats-Msg-Id before the expectation, so a republication of a stored
// message is acked as a duplicate, never refused. A message whose
// predecessors are all acked needs no expectation (they are stored): the
// window's front is republished without one, which also gets past a
// server that forgot its last id (a restart beyond the duplicate window)
// or another source's message stored in between.
//
// Recovery is one mechanism: after any failure the bridge publishes nothing
// new, waits until every publish in flight has its outcome (an ack, a
// refusal, or nats.c's timeout), then republishes every unacknowledged
// message of the window once, in queue order. Waiting first keeps outcomes
// of the old attempts from starting another round behind the new one.
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

// Said no for good: repeating the same publish cannot help. An allow-list:
// every other failure (JetStream temporarily unavailable, insufficient
// resources, a store that failed, wrong last msg id, a timeout...) is
// repeated, in order, with a growing pause while nothing is acknowledged.
bool permanent(natsStatus s, jsErrCode jerr) {
  return s == NATS_MAX_PAYLOAD || s == NATS_INVALID_ARG || s == NATS_INVALID_SUBJECT || s == NATS_NO_SERVER_SUPPORT ||
         jerr == JSStreamMessageExceedsMaximumErr || jerr == JSStreamNotMatchErr;
}

// nats.c counts the headers against the server's max payload: the status
// line, Nats-Msg-Id and Nats-Expected-Last-Msg-Id (two ids of at most this
// source and 20 digits each), with their separators.
std::int64_t header_bytes(const std::string& source) { return 64 + 2 * static_cast<std::int64_t>(source.size() + 21); }

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
  // The stream the bridge publishes to (set before the first publish): an
  // ack from another stream is a refusal (the subject is not ours).
  void expect_stream(std::string name) { stream_ = std::move(name); }

  // jsPubAckHandler: runs on nats.c's thread, once per async publish.
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* self) {
    auto* acks = static_cast<Acks*>(self);
    const char* id = nullptr;
    std::uint64_t seq = 0;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr && detail::message_seq(id, seq)) {
      Outcome o{seq, pa != nullptr, pa != nullptr && pa->Duplicate, NATS_OK, static_cast<jsErrCode>(0), {}};
      if (pa != nullptr && (pa->Stream == nullptr || acks->stream_ != pa->Stream)) {
        o.ok = false;
        o.status = NATS_ERR;
        o.code = JSStreamNotMatchErr;
        o.text =
            std::string("stored by stream ") + (pa->Stream != nullptr ? pa->Stream : "?") + ", not " + acks->stream_;
      } else if (pa == nullptr && pae != nullptr) {
        o.status = pae->Err;
        o.code = pae->ErrCode;
        o.text = pae->ErrText != nullptr ? pae->ErrText : "";
      } else if (pa == nullptr) {
        o.status = NATS_ERR;
      }
      bool wake = false;
      {
        std::lock_guard<std::mutex> lock(acks->mutex_);
        const bool failed = !o.ok;
        acks->outcomes_.push_back(std::move(o));
        // One wake-up per batch, not per ack: a context switch per message
        // would cost more than all the rest of the bridge's work on it.
        wake = !acks->ready_ && (failed || acks->outcomes_.size() >= acks->wake_after_);
        acks->ready_ = acks->ready_ || wake;
      }
      if (wake) acks->cv_.notify_one();
    }
    natsMsg_Destroy(msg);
  }
  // The outcomes so far, waiting up to `wait` until `batch` of them (or a
  // failure) are there. `batch` must not exceed the publishes in flight,
  // each of which gets an outcome, or the wait lasts the whole `wait`.
  void take(std::chrono::milliseconds wait, std::size_t batch, std::vector<Outcome>& out) {
    out.clear();
    std::unique_lock<std::mutex> lock(mutex_);
    wake_after_ = batch == 0 ? 1 : batch;
    ready_ = outcomes_.size() >= wake_after_;
    (void)cv_.wait_for(lock, wait, [this] { return ready_; });
    out.swap(outcomes_);
    ready_ = false;
  }

 private:
  std::string stream_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Outcome> outcomes_;  // guarded by mutex_
  std::size_t wake_after_ = 1;     // guarded by mutex_
  bool ready_ = false;             // guarded by mutex_: the waiter was (or is to be) woken
};

struct Shown {
  std::uint64_t seq;
  std::span<const std::byte> bytes;  // in the ring: valid until released
  std::string id;
  bool acked = false;
  bool in_flight = false;            // published; its outcome not yet seen
  Clock::time_point published_at{};  // of the latest attempt
  bool refused = false;              // for good: it stays queued
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
  // No Nats-Expected-Stream header: the ack names the stream that stored the
  // message, and Acks refuses any other (a header less per message for the
  // client and the server to handle).
  acks.expect_stream(link.stream());
  // nats.c reports every async publish (an ack, a refusal or its MaxWait
  // timeout); one whose outcome is this late is taken as failed.
  const auto lost_after =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(3 * o.publish_timeout_seconds + 1));

  std::deque<Shown> shown;  // the window, oldest first: shown[i].seq == shown[0].seq + i
  std::string fatal;        // a permanent refusal: stop once what is before it is settled
  bool drained = false;     // the queue is closed and everything in it was shown
  bool rewind = false;      // a publish failed: republish the unacked window in order
  std::string rewind_why;   // the first failure's words, for the log

  bool progress = true;  // an ack came since the last rewind
  int backoff_ms = 0;    // the pause before a rewind that follows no progress

  // A permanent refusal of shown[i]: it and everything after it (which
  // expect it stored) stay queued; the run ends once what is before it is settled.
  const auto refuse = [&](std::size_t i, std::string why) {
    if (fatal.empty()) fatal = std::move(why) + ": the message stays in the queue";
    for (std::size_t j = i; j < shown.size(); ++j) {
      shown[j].refused = true;
      shown[j].in_flight = false;
    }
  };

  Clock::time_point now = Clock::now();  // read once per pass of the loop
  // Publishes shown[i]; false when nats.c refused at once (no outcome comes).
  const auto publish = [&](std::size_t i) {
    Shown& m = shown[i];
    po.MsgId = m.id.c_str();
    po.ExpectLastMsgId = i == 0 ? nullptr : shown[i - 1].id.c_str();  // the front's predecessors are stored
    const natsStatus s =
        js_PublishAsync(link.js(), o.stream.subject.c_str(), m.bytes.data(), static_cast<int>(m.bytes.size()), &po);
    m.in_flight = s == NATS_OK;
    m.published_at = now;
    if (s != NATS_OK && permanent(s, static_cast<jsErrCode>(0))) {
      refuse(i, detail::nats_error(("publish " + m.id).c_str(), s));
    } else if (s != NATS_OK && !rewind) {
      rewind = true;
      rewind_why = detail::nats_error(("publish " + m.id).c_str(), s);
    }
    return s == NATS_OK;
  };
  const auto any_in_flight = [&] {
    for (const Shown& m : shown) {
      if (m.in_flight) return true;
    }
    return false;
  };

  Clock::time_point idle_since = now;
  std::vector<std::string> spare_ids;  // ids of released messages, their buffers reused
  std::vector<Outcome> outcomes;
  // Once stopped: the window's acks are waited for this long, then what is
  // unacked stays queued (a successor republishes it under the same ids).
  std::optional<Clock::time_point> stop_deadline;
  for (;;) {
    now = Clock::now();
    if (stop.load(std::memory_order_relaxed) && !stop_deadline) {
      stop_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(o.publish_timeout_seconds));
    }
    const bool stopping =
        stop_deadline.has_value() || !fatal.empty() || (o.count != 0 && r.messages + shown.size() >= o.count);
    // Fill the window (not while a rewind is due: it goes first, in order).
    while (!stopping && !rewind && shown.size() < window && (o.count == 0 || r.messages + shown.size() < o.count)) {
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
      if (static_cast<std::int64_t>(v.bytes.size()) + header_bytes(source) > link.max_payload()) {
        fatal = o.queue + ": message " + std::to_string(v.seq) + " is " + std::to_string(v.bytes.size()) +
                " bytes, with its headers (up to " + std::to_string(header_bytes(source)) +
                ") more than the server's max payload (" + std::to_string(link.max_payload()) +
                "): it stays at the head of the queue";
        break;  // shown, never published: released only with what is before it
      }
      std::string id;
      if (!spare_ids.empty()) {
        id = std::move(spare_ids.back());
        spare_ids.pop_back();
      }
      detail::format_message_id(id, source, v.seq);
      shown.push_back({v.seq, v.bytes, std::move(id)});
      if (!publish(shown.size() - 1)) break;
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
    std::size_t in_flight = 0;
    for (const Shown& m : shown) in_flight += m.in_flight ? 1 : 0;
    // Woken once an eighth of what is in flight has its outcome: the window
    // refills in batches, and a lone message is still settled at once.
    acks.take(std::chrono::milliseconds(100), std::max<std::size_t>(1, in_flight / 8), outcomes);
    now = Clock::now();
    for (Outcome& a : outcomes) {
      if (a.seq < shown.front().seq || a.seq - shown.front().seq >= shown.size()) continue;  // an older attempt's
      const auto i = static_cast<std::size_t>(a.seq - shown.front().seq);
      Shown& m = shown[i];
      m.in_flight = false;
      if (m.acked || m.refused) continue;
      if (a.ok) {
        m.acked = true;
        progress = true;
        if (a.duplicate) {
          ++r.duplicates;
          if (o.log) o.log(m.id + ": already in the stream (a duplicate the server dropped)");
        }
      } else if (permanent(a.status, a.code)) {
        refuse(i, detail::nats_error(("publish " + m.id).c_str(), a.status, a.code) + " " + a.text);
      } else if (!rewind) {
        rewind = true;
        rewind_why = detail::nats_error(("publish " + m.id).c_str(), a.status, a.code);
      }
    }
    // An outcome this late is not coming.
    for (Shown& m : shown) {
      if (m.in_flight && now - m.published_at > lost_after) {
        m.in_flight = false;
        if (!rewind) {
          rewind = true;
          rewind_why = "publish " + m.id + ": no outcome";
        }
      }
    }
    // Take the acknowledged prefix, in queue order.
    std::size_t n = 0;
    while (n < shown.size() && shown[n].acked) ++n;
    if (n != 0) {
      q.release_ahead(n);
      for (std::size_t i = 0; i < n; ++i) spare_ids.push_back(std::move(shown[i].id));
      shown.erase(shown.begin(), shown.begin() + static_cast<std::ptrdiff_t>(n));
      r.messages += n;
      idle_since = now;
    }
    // After a refusal: stop once every message before it is settled.
    if (!fatal.empty() && (shown.empty() || shown.front().refused)) {
      return {6, fatal, r.messages, r.duplicates, r.retries};
    }
    if (stop_deadline && now > *stop_deadline) {
      if (!fatal.empty()) return {6, fatal, r.messages, r.duplicates, r.retries};
      return r;  // unacked messages stay queued
    }
    // The rewind: once nothing is in flight, every unacked message again, in order.
    if (rewind && !any_in_flight() && !stop_deadline) {
      // Nothing acknowledged since the last round: pause, longer each time
      // (50 ms to 1 s), so a refusal that keeps coming back does not spin.
      backoff_ms = progress ? 0 : std::min(1000, backoff_ms == 0 ? 50 : 2 * backoff_ms);
      if (backoff_ms != 0) detail::sleep_unless_stopped(backoff_ms, stop);
      progress = false;
      rewind = false;
      std::size_t again = 0;
      for (std::size_t i = 0; i < shown.size(); ++i) {
        if (shown[i].acked || shown[i].refused) continue;
        ++again;
        if (!publish(i)) break;  // rewind is set again: the next round starts when these settled
      }
      r.retries += again;
      if (o.log) {
        o.log(rewind_why + ": publishing the " + std::to_string(again) +
              " unacknowledged messages of the window again, in order");
      }
    }
  }
}

}  // namespace shmring::bridge
