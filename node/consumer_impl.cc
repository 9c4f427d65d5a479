// The consumer: one I/O thread with a SUB and a DEALER per producer, a
// per-stream state machine that merges live records and replay pages, and a
// bounded queue that Poll drains.
//
// Invariants of a stream (DESIGN.md, "the consumer's per-stream state"):
//  - `next` is the offset to deliver next; nothing below it is delivered
//    again, nothing above it before it.
//  - While a replay runs (or live records wait in the buffer), live records
//    go to the buffer in arrival order, which is offset order.
//  - A replay asks for [next, target): target is the first buffered live
//    offset, or the highest high watermark seen. When it ends, the buffer
//    drains while its front is at or below `next`; a remaining hole starts
//    the next replay.
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "brook/consumer.h"
#include "journal/group_name.h"
#include "node/curve.h"
#include "node/discovery.h"
#include "node/position_store.h"
#include "node/wire.h"

namespace brook {
namespace node {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kMaxPollWait = std::chrono::milliseconds(20);
constexpr int kMaxMessagesPerTurn = 256;
// A connection whose handshake failed (key refused, security mismatch) is
// not retried by libzmq: the consumer connects again this much later, so a
// producer that has since allowed the key is reached.
constexpr auto kReconnectAfterHandshakeFailure = std::chrono::seconds(5);
// The handshake events the consumer watches on its sockets.
// A connection cut during the handshake (no detail, an errno) is asked again
// this soon the first time: a producer killed or restarting mid-handshake
// looks just like one that hangs up on a plain consumer because it runs CURVE.
constexpr auto kReconnectAfterFirstCut = std::chrono::milliseconds(100);
constexpr int kHandshakeEvents = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

// The security of the connections to `ep`: the consumer's, with the
// endpoint's own server key when it names one.
ClientSecurity SecurityFor(const ConsumerOptions& o, const ProducerEndpoints& ep) {
  ClientSecurity sec = o.security;
  if (sec.enabled && !ep.server_public_key.empty()) sec.server_public_key = ep.server_public_key;
  return sec;
}

Status ValidateOptions(const ConsumerOptions& o) {
  if (o.producers.empty() && !o.discovery.enabled)
    return Status::InvalidArgument(
        "ConsumerOptions::producers is empty; name at least one, or turn discovery on");
  if (o.discovery.enabled) {
    Status s = ValidateDiscoveryOptions(o.discovery, "ConsumerOptions::discovery");
    if (!s.ok()) return s;
  }
  if (!o.discovery_server_keys.empty() && !(o.discovery.enabled && o.security.enabled))
    return Status::InvalidArgument(
        "ConsumerOptions::discovery_server_keys is set but discovery or security is off; the "
        "keys say which discovered producers to believe under CURVE");
  for (const std::string& k : o.discovery_server_keys)
    if (!IsValidKey(k))
      return Status::InvalidArgument("ConsumerOptions::discovery_server_keys: '" + k.substr(0, 40) +
                                     "' is not a CURVE public key (40 characters of Z85)");
  for (const ProducerEndpoints& p : o.producers)
    if (p.pub.empty() || p.replay.empty())
      return Status::InvalidArgument(
          "ConsumerOptions::producers: every producer needs both a pub and a replay endpoint");
  if (o.topics.empty())
    return Status::InvalidArgument("ConsumerOptions::topics is empty; name at least one");
  if (o.max_queued_records == 0)
    return Status::InvalidArgument("ConsumerOptions::max_queued_records must be positive");
  if (o.replay_credit == 0)
    return Status::InvalidArgument("ConsumerOptions::replay_credit must be positive");
  if (o.request_timeout.count() <= 0)
    return Status::InvalidArgument("ConsumerOptions::request_timeout must be positive");
  if (o.name.empty() != o.state_dir.empty())
    return Status::InvalidArgument(
        "ConsumerOptions::name and state_dir go together: give both to keep positions, or "
        "neither");
  if (!o.group.empty()) {
    Status s = journal::ValidateGroupName(o.group);
    if (!s.ok())
      return Status::InvalidArgument("ConsumerOptions::group: " + std::string(s.message()));
    if (!o.name.empty())
      return Status::InvalidArgument(
          "ConsumerOptions::group and name go separately: a group's positions are kept by its "
          "producers; give one or the other");
    if (o.group_session_timeout < std::chrono::milliseconds(100) ||
        o.group_session_timeout > std::chrono::milliseconds(60000))
      return Status::InvalidArgument(
          "ConsumerOptions::group_session_timeout must be 100 ms .. 60 s");
    if (o.group_heartbeat_interval.count() <= 0 ||
        o.group_heartbeat_interval * 3 > o.group_session_timeout)
      return Status::InvalidArgument(
          "ConsumerOptions::group_heartbeat_interval must be positive and at most a third of "
          "group_session_timeout, so that a lost heartbeat or two does not end the session");
  }
  if (o.auto_commit_interval.count() < 0)
    return Status::InvalidArgument("ConsumerOptions::auto_commit_interval must not be negative");
  for (const ProducerEndpoints& p : o.producers) {
    if (!o.security.enabled && !p.server_public_key.empty())
      return Status::InvalidArgument(
          "ConsumerOptions::producers names a server_public_key for " + p.pub +
          " but security is off, which would connect over plain TCP; set security.enabled");
    Status s = ValidateClientSecurity(SecurityFor(o, p), "ConsumerOptions::security");
    if (!s.ok()) return s;
  }
  return Status::OK();
}

struct Stream {
  StreamId id;
  uint64_t next = 0;
  // The producer epoch under which the records below `next` were read. A
  // message of a later epoch is not trusted until a fetch under this epoch
  // (which the producer checks against its epoch history) says that nothing
  // below `next` was undone since.
  uint64_t epoch = 0;
  uint64_t known_high = 0;  // highest high watermark (or live end) seen
  // Replay in flight: [next, replay_target) asked for with request_id.
  bool replaying = false;
  uint64_t request_id = 0;
  uint64_t replay_target = 0;
  uint64_t replay_start = 0;
  // The request in flight is a seek by timestamp (start position), not a fetch.
  bool seeking = false;
  // Refused because this consumer had as many fetches in flight as the
  // producer serves at once (ErrorCode::kBusy): asked again when one ends.
  bool busy = false;
  // The offset + 1 of the damaged record a kDataLoss event was queued for
  // (0: none): the event is said once, the fetch retried quietly.
  uint64_t data_loss_reported = 0;
  Clock::time_point deadline;
  // Live batches waiting for the replay, in offset order.
  struct Buffered {
    uint64_t first;
    uint64_t epoch;
    std::shared_ptr<RecordBatch> batch;
  };
  std::deque<Buffered> buffer;
  size_t buffered_records = 0;
  bool overflowed = false;  // buffer dropped: replay on to known_high
  // Consumer groups: the generation this member holds the stream under, and
  // whether it is being given up (no more deliveries; released once Poll
  // has taken its kRevoked event), with its position committed then or not
  // (not when another member owns it already).
  uint64_t generation = 0;
  bool revoked = false;
  bool commit_on_release = true;
};

struct Peer {
  ProducerEndpoints endpoints;
  bool discovered = false;  // found by discovery (else from ConsumerOptions::producers)
  bool connected = true;    // false while a discovered producer is silent
  zmq::socket_t sub;
  zmq::socket_t dealer;
  // PAIR sockets receiving the handshake events of sub and dealer.
  zmq::socket_t sub_monitor;
  zmq::socket_t dealer_monitor;
  // Sockets to connect again (after a failed handshake), and when.
  bool reconnect_sub = false, reconnect_dealer = false;
  Clock::time_point reconnect_at;
  Clock::time_point failure_logged;  // rate limit of the error message
  // Handshakes cut short in a row (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
  // since the last one that succeeded, per socket (sub, dealer).
  int cut_handshakes[2] = {0, 0};
  bool described = false;
  uint64_t describe_id = 0;  // 0: none in flight
  Clock::time_point describe_deadline;
  ProducerId producer;
  uint64_t epoch = 0;
  std::map<std::pair<std::string, uint32_t>, std::unique_ptr<Stream>> streams;
  // Consumer groups: heartbeats to this producer, and the watermarks last
  // heard of each partition of this consumer's topics (where an assigned
  // stream without a group position starts).
  Clock::time_point next_group_heartbeat;
  Clock::time_point last_group_answer;
  bool group_answered = false;
  uint64_t group_heartbeat_id = 0;
  uint64_t group_answer_id = 0;  // the newest heartbeat answered
  std::map<std::pair<std::string, uint32_t>, Watermarks> marks;
};

// One entry of the delivery queue: a run of a batch's records, or an event.
struct Delivery {
  const StreamId* stream = nullptr;
  std::shared_ptr<RecordBatch> batch;
  size_t begin = 0, end = 0;
  bool live = false;
  uint64_t epoch = 0;  // the stream's epoch when queued
  std::optional<ConsumerEvent> event;
  const StreamId* event_stream = nullptr;  // the stream an event is about
  // A stream's start position, decided without a stored one: stored as the
  // stream's position once Poll takes it, so that the next run of a named
  // consumer starts there even if no record came (else a run that started
  // at `latest` and got nothing would start at `latest` again, missing what
  // was published in between).
  bool start = false;
  uint64_t start_next = 0;
};

class ConsumerImpl final : public Consumer {
 public:
  explicit ConsumerImpl(const ConsumerOptions& options) : options_(options) {
    topics_.insert(options.topics.begin(), options.topics.end());
  }
  ~ConsumerImpl() override {
    Status s = Close();
    (void)s;
  }

  Status Init();
  Status Poll(const PollHandler& handler, size_t max_records, std::chrono::milliseconds timeout,
              size_t* delivered) override;
  Status PollImpl(const PollHandler& handler, size_t max_records, std::chrono::milliseconds timeout,
                  size_t* delivered, bool from_runner);
  Status Commit() override;
  ConsumerStats stats() const override;
  std::vector<StreamLag> lag() const override;
  int fd() const override { return event_fd_; }
  Status Start(PollHandler handler, size_t max_records) override;
  Status Stop() override;
  Status Close() override;

 private:
  void Loop();
  void HandleLive(Peer& peer, std::string_view frame);
  void HandleAnswer(Peer& peer, std::string_view frame);
  void OnDescribed(Peer& peer, const Answer& a);
  void OnLiveBatch(Stream& s, uint64_t first, uint64_t epoch, std::shared_ptr<RecordBatch> batch);
  // Asks for the offsets from s.next under s.epoch: the answer either
  // confirms nothing was undone (and brings the current epoch) or reports
  // the lost tail.
  void StartVerification(Stream& s, uint64_t target) {
    StartReplay(s, std::max(target, s.next + 1));
  }
  void OnHeartbeat(Peer& peer, const LiveMessage& m);
  void AfterReplay(Stream& s, bool progressed);
  void StartReplay(Stream& s, uint64_t target);
  void SendFetch(Peer& peer, Stream& s);
  // Asks again for what is still missing of a replay in flight, or ends the
  // replay if nothing is.
  void ResumeReplay(Peer& peer, Stream& s);
  // A fetch of this peer ended: sends again one refused as busy, if any.
  void RetryOneBusy(Peer& peer);
  void SendSeek(Peer& peer, Stream& s);
  void SendDescribe(Peer& peer);
  void CheckDeadlines();
  // Watches `socket`'s handshakes through a PAIR socket at a unique endpoint.
  zmq::socket_t Monitor(zmq::socket_t& socket, const char* role);
  void HandleMonitorEvent(Peer& peer, bool dealer, const zmq::message_t& event);
  void Reconnect(Peer& peer);
  // A peer with its sockets, connected to `ep` (throws zmq::error_t).
  Status AddPeer(const ProducerEndpoints& ep, Peer** out);
  void ConnectPeer(Peer& peer);
  void DisconnectPeer(Peer& peer);
  void DrainDiscovery();
  void OnDiscovery(const DiscoveryEvent& e);
  // Consumer groups (I/O thread).
  bool grouped() const { return !options_.group.empty(); }
  bool KeepsPositions() const { return store_ || grouped(); }
  void GroupTick(bool closing);
  void SendGroupCommits(Peer& peer,
                        const std::map<const StreamId*, PositionStore::Position>& commits,
                        const std::map<const StreamId*, PositionStore::Position>& released);
  void SendGroupHeartbeat(Peer& peer, bool leave);
  void HandleGroupAnswer(Peer& peer, std::string_view frame);
  void OnAssigned(Peer& peer, const GroupAssignment& a);
  // Stops delivering `s` and queues its kRevoked event.
  void RevokeLocally(Stream& s, bool commit, const std::string& why);
  // Removes a released stream (its kRevoked event was taken by Poll).
  void DropStream(Peer& peer, Stream& s);
  // Queues batch records from `first` on that are at or above s.next.
  void Deliver(Stream& s, uint64_t first, std::shared_ptr<RecordBatch> batch, bool live);
  // `stream`: the stream the event is about, for its position (may be null).
  void QueueEvent(ConsumerEvent e, const Stream* stream);
  // Sets s's next offset from ConsumerOptions::start and the partition's
  // watermarks (a start by time: seeking, asked of the producer).
  void ApplyStart(Stream* s, const Watermarks& w) const;
  // Queues s's start position for the position store (named consumers).
  void QueueStart(const Stream& s);
  // Queues a delivery and makes fd() readable (mu_ held).
  void PushLocked(Delivery d);
  // The producer's high watermark as known for `s`, for lag().
  void NoteHigh(const Stream& s);
  Peer* PeerOf(const Stream& s);
  void Log(LogLevel level, const std::string& msg) const {
    if (options_.logger) options_.logger(level, msg);
  }

  ConsumerOptions options_;
  std::set<std::string, std::less<>> topics_;
  zmq::context_t ctx_;
  std::vector<std::unique_ptr<Peer>> peers_;  // I/O thread only after Init
  std::map<uint64_t, Stream*> in_flight_;     // fetch request id -> stream
  std::map<const Stream*, Peer*> owner_;
  std::vector<std::unique_ptr<Stream>> retired_;  // streams of replaced producers
  uint64_t next_request_id_ = 1;
  std::thread io_;
  std::atomic<bool> stop_{false};

  // The delivery queue, shared with Poll.
  mutable std::mutex mu_;
  std::condition_variable ready_cv_;
  std::deque<Delivery> queue_;
  size_t queued_records_ = 0;
  bool closed_ = false;
  std::mutex close_mu_;

  // Positions: the offset after what the handler processed, per stream
  // (Poll's thread).
  std::unique_ptr<PositionStore> store_;
  std::map<const StreamId*, PositionStore::Entry> processed_;
  // Consumer groups: streams whose kRevoked the handler has seen, with their
  // position, until the next Commit releases them.
  std::vector<std::pair<const StreamId*, PositionStore::Position>> revoked_pending_;
  Clock::time_point last_commit_ = Clock::now();

  // Lag per stream (mu_): the processed position and the latest high
  // watermark known.
  struct LagState {
    StreamId stream;
    uint64_t next = 0;
    uint64_t high = 0;
    int64_t last_timestamp_ns = -1;  // of the last processed record
  };
  std::map<const StreamId*, LagState> lag_;

  int event_fd_ = -1;  // readable while queue_ is not empty

  // Discovery (I/O thread after Init): producer id (hex) -> its peer.
  std::unique_ptr<BeaconListener> listener_;
  std::map<std::string, Peer*> discovered_;
  std::atomic<uint64_t> producers_discovered_{0}, beacons_dropped_{0};

  // Consumer groups. member_id_: chosen at Open. Between Poll's thread and
  // the I/O thread (group_mu_): positions to commit, and streams whose
  // kRevoked event Poll has taken, with their position.
  MemberId member_id_;
  std::mutex group_mu_;
  std::map<const StreamId*, PositionStore::Position> group_commits_;
  std::map<const StreamId*, PositionStore::Position> released_;

  // The callback form (Start).
  std::thread runner_;
  std::atomic<bool> runner_stop_{false};
  bool running_ = false;  // under mu_

  std::atomic<uint64_t> delivered_{0}, live_{0}, replayed_{0}, gaps_{0}, duplicates_{0},
      malformed_{0}, handshakes_failed_{0};
};

// ---------------------------------------------------------------------------
// Setup and Poll

Status ConsumerImpl::Init() {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0)
    return Status::Internal(std::string("cannot create the consumer's eventfd: ") +
                            std::strerror(errno));
  if (!options_.name.empty()) {
    Status s = PositionStore::Open(options_.state_dir, options_.name, &store_);
    if (!s.ok()) return s;
  }
  if (grouped() && getrandom(member_id_.bytes.data(), member_id_.bytes.size(), 0) !=
                       static_cast<ssize_t>(member_id_.bytes.size()))
    return Status::Internal(std::string("cannot make a group member id: getrandom: ") +
                            std::strerror(errno));
  for (const ProducerEndpoints& ep : options_.producers) {
    Peer* peer = nullptr;
    Status s = AddPeer(ep, &peer);
    if (!s.ok()) return s;
  }
  if (options_.discovery.enabled) {
    std::vector<std::string> keys;
    if (options_.security.enabled) {
      keys = options_.discovery_server_keys;
      if (!options_.security.server_public_key.empty())
        keys.push_back(options_.security.server_public_key);
      for (const ProducerEndpoints& ep : options_.producers)
        if (!ep.server_public_key.empty()) keys.push_back(ep.server_public_key);
      if (keys.empty())
        return Status::InvalidArgument(
            "ConsumerOptions::discovery with security on needs the public keys of the producers "
            "to follow: set discovery_server_keys (or security.server_public_key)");
    }
    Status s = BeaconListener::Open(options_.discovery, keys, &listener_);
    if (!s.ok()) return s;
  }
  for (auto& p : peers_) SendDescribe(*p);
  io_ = std::thread([this] { Loop(); });
  return Status::OK();
}

Status ConsumerImpl::AddPeer(const ProducerEndpoints& ep, Peer** out) {
  auto peer = std::make_unique<Peer>();
  peer->endpoints = ep;
  const ClientSecurity security = SecurityFor(options_, ep);
  try {
    peer->sub = zmq::socket_t(ctx_, zmq::socket_type::sub);
    Status s = ApplyClient(peer->sub, security);
    if (!s.ok()) return s;
    peer->sub_monitor = Monitor(peer->sub, "sub");
    peer->sub.set(zmq::sockopt::rcvhwm, options_.sub_high_water_mark);
    peer->sub.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
    peer->sub.set(zmq::sockopt::linger, 0);
    for (const std::string& t : options_.topics)
      peer->sub.set(zmq::sockopt::subscribe, t + std::string(1, '\0'));
    peer->dealer = zmq::socket_t(ctx_, zmq::socket_type::dealer);
    s = ApplyClient(peer->dealer, security);
    if (!s.ok()) return s;
    peer->dealer_monitor = Monitor(peer->dealer, "dealer");
    peer->dealer.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
    // A group member's last commits and its leave go out as it closes.
    peer->dealer.set(zmq::sockopt::linger, grouped() ? 500 : 0);
    peer->sub.connect(ep.pub);
    peer->dealer.connect(ep.replay);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect to the producer at " + ep.pub + " / " +
                                   ep.replay + ": " + e.what());
  }
  *out = peer.get();
  peers_.push_back(std::move(peer));
  return Status::OK();
}

Status ConsumerImpl::Start(PollHandler handler, size_t max_records) {
  if (!handler.on_record) return Status::InvalidArgument("Start: the handler has no on_record");
  if (max_records == 0) return Status::InvalidArgument("Start: max_records must be positive");
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return Status::FailedPrecondition("the consumer is closed");
    if (running_) return Status::FailedPrecondition("the consumer is already started");
    running_ = true;
  }
  if (runner_.joinable()) runner_.join();  // a previous Start's thread, stopped
  runner_stop_ = false;
  runner_ = std::thread([this, handler = std::move(handler), max_records] {
    while (!runner_stop_) {
      Status s = PollImpl(handler, max_records, std::chrono::milliseconds(100), nullptr, true);
      if (s.IsFailedPrecondition()) break;  // closed
      if (!s.ok()) Log(LogLevel::kError, "consumer callback thread: " + s.ToString());
    }
  });
  return Status::OK();
}

Status ConsumerImpl::Stop() {
  if (runner_.joinable() && std::this_thread::get_id() == runner_.get_id())
    return Status::FailedPrecondition("Stop must not be called from the handler");
  runner_stop_ = true;
  ready_cv_.notify_all();
  if (runner_.joinable()) runner_.join();
  std::lock_guard<std::mutex> lk(mu_);
  running_ = false;
  return Status::OK();
}

Status ConsumerImpl::Close() {
  if (runner_.joinable() && std::this_thread::get_id() == runner_.get_id())
    return Status::FailedPrecondition("Close must not be called from the handler");
  std::lock_guard<std::mutex> lk(close_mu_);
  Status commit;
  {
    std::lock_guard<std::mutex> qlk(mu_);
    if (closed_) return Status::OK();
  }
  Status stopped = Stop();
  (void)stopped;
  if (KeepsPositions() && options_.auto_commit) commit = Commit();
  {
    std::lock_guard<std::mutex> qlk(mu_);
    closed_ = true;
  }
  stop_ = true;
  ready_cv_.notify_all();
  if (io_.joinable()) io_.join();
  peers_.clear();
  ctx_.close();
  store_.reset();
  if (event_fd_ >= 0) {
    close(event_fd_);
    event_fd_ = -1;
  }
  return commit;
}

Status ConsumerImpl::Commit() {
  if (grouped()) {
    // The I/O thread sends them to each stream's producer (GroupTick), and
    // gives up the streams whose kRevoked the handler has seen.
    std::lock_guard<std::mutex> lk(group_mu_);
    for (const auto& [stream, entry] : processed_) group_commits_[stream] = entry.position;
    for (const auto& r : revoked_pending_) {
      group_commits_.erase(r.first);
      released_[r.first] = r.second;
    }
    revoked_pending_.clear();
    last_commit_ = Clock::now();
    return Status::OK();
  }
  if (!store_)
    return Status::FailedPrecondition(
        "this consumer keeps no positions: give ConsumerOptions::name and state_dir, or "
        "ConsumerOptions::group");
  std::vector<PositionStore::Entry> entries;
  entries.reserve(processed_.size());
  for (const auto& [stream, entry] : processed_) entries.push_back(entry);
  Status s = store_->Put(entries);
  if (s.ok()) last_commit_ = Clock::now();
  return s;
}

Status ConsumerImpl::Poll(const PollHandler& handler, size_t max_records,
                          std::chrono::milliseconds timeout, size_t* delivered) {
  return PollImpl(handler, max_records, timeout, delivered, false);
}

Status ConsumerImpl::PollImpl(const PollHandler& handler, size_t max_records,
                              std::chrono::milliseconds timeout, size_t* delivered,
                              bool from_runner) {
  if (delivered) *delivered = 0;
  if (!handler.on_record) return Status::InvalidArgument("Poll: the handler has no on_record");
  std::deque<Delivery> taken;
  size_t records = 0;
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (closed_) return Status::FailedPrecondition("the consumer is closed");
    if (running_ && !from_runner)
      return Status::FailedPrecondition(
          "the consumer delivers to the handler given to Start; call Stop before Poll");
    ready_cv_.wait_for(lk, timeout,
                       [&] { return !queue_.empty() || closed_ || (from_runner && runner_stop_); });
    while (!queue_.empty() && records < max_records) {
      Delivery& d = queue_.front();
      if (d.event) {
        taken.push_back(std::move(d));
        queue_.pop_front();
        continue;
      }
      const size_t n = d.end - d.begin;
      if (records + n <= max_records) {
        records += n;
        taken.push_back(std::move(d));
        queue_.pop_front();
      } else {
        const size_t part = max_records - records;
        Delivery head = d;
        head.end = head.begin + part;
        d.begin += part;
        records += part;
        taken.push_back(std::move(head));
      }
    }
    queued_records_ -= records;
    if (queue_.empty()) {
      uint64_t drained;
      ssize_t n = read(event_fd_, &drained, sizeof drained);  // fd() no longer readable
      (void)n;
    }
  }
  for (const Delivery& d : taken) {
    if (d.event) {
      if (handler.on_event) handler.on_event(*d.event);
      if (d.event->kind == ConsumerEvent::Kind::kRevoked) {
        // The handler is done with the stream: give it up, with the position
        // it reached.
        PositionStore::Position at{d.event->from, d.epoch};
        auto it = processed_.find(d.event_stream);
        if (it != processed_.end()) {
          at = it->second.position;
          processed_.erase(it);
        }
        // Released at the next Commit (the end of this Poll with
        // auto_commit): a caller that handles records after Poll returns
        // (the Python binding, the CLI) commits only what it processed.
        revoked_pending_.emplace_back(d.event_stream, at);
        continue;
      }
      if (d.event->kind == ConsumerEvent::Kind::kAssigned) continue;
      if (d.event_stream && d.event->kind != ConsumerEvent::Kind::kNewProducer) {
        std::lock_guard<std::mutex> lk(mu_);
        auto it = lag_.find(d.event_stream);
        if (it != lag_.end())
          it->second.next =
              d.event->kind == ConsumerEvent::Kind::kSkipped ? d.event->to : d.event->from;
      }
      if (KeepsPositions() && d.event->kind != ConsumerEvent::Kind::kNewProducer) {
        // Skipped: go on after the removed range. Tail lost: from its start.
        const uint64_t next =
            d.event->kind == ConsumerEvent::Kind::kSkipped ? d.event->to : d.event->from;
        processed_[d.event_stream] =
            PositionStore::Entry{d.event->stream, PositionStore::Position{next, d.epoch}};
      }
      continue;
    }
    if (d.start) {
      // Only where nothing was processed yet: a position is never moved back.
      processed_.try_emplace(d.stream, PositionStore::Entry{*d.stream, PositionStore::Position{
                                                                           d.start_next, d.epoch}});
      continue;
    }
    for (size_t i = d.begin; i < d.end; ++i) handler.on_record(*d.stream, (*d.batch)[i]);
    (d.live ? live_ : replayed_) += d.end - d.begin;
    if (d.end > d.begin) {
      const RecordView& last = (*d.batch)[d.end - 1];
      std::lock_guard<std::mutex> lk(mu_);
      auto it = lag_.find(d.stream);
      if (it != lag_.end()) {
        it->second.next = last.offset + 1;
        it->second.last_timestamp_ns = last.timestamp_ns;
      }
    }
    if (KeepsPositions() && d.end > d.begin) {
      auto [it, fresh] = processed_.try_emplace(d.stream, PositionStore::Entry{*d.stream, {}});
      it->second.position.next = (*d.batch)[d.end - 1].offset + 1;
      it->second.position.epoch = d.epoch;
    }
  }
  delivered_ += records;
  if (delivered) *delivered = records;
  if (grouped() && options_.auto_commit && !revoked_pending_.empty())
    return Commit();  // hand the streams over now, not at the next interval
  if (KeepsPositions() && options_.auto_commit && !taken.empty() &&
      Clock::now() - last_commit_ >= options_.auto_commit_interval)
    return Commit();
  return Status::OK();
}

std::vector<StreamLag> ConsumerImpl::lag() const {
  const int64_t now_ns =
      static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  std::vector<StreamLag> out;
  std::lock_guard<std::mutex> lk(mu_);
  // The oldest record received and not yet processed, per stream.
  std::map<const StreamId*, int64_t> oldest;
  for (const Delivery& d : queue_)
    if (!d.event && d.end > d.begin) oldest.emplace(d.stream, (*d.batch)[d.begin].timestamp_ns);
  for (const auto& [id, l] : lag_) {
    StreamLag x;
    x.stream = l.stream;
    x.next = l.next;
    x.high_watermark = std::max(l.high, l.next);
    x.records = x.high_watermark - x.next;
    if (x.records > 0) {
      auto it = oldest.find(id);
      const int64_t ts = it != oldest.end() ? it->second : l.last_timestamp_ns;
      x.time = ts < 0 ? std::chrono::nanoseconds(-1)
                      : std::chrono::nanoseconds(std::max<int64_t>(0, now_ns - ts));
    }
    out.push_back(std::move(x));
  }
  return out;
}

void ConsumerImpl::NoteHigh(const Stream& s) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = lag_.find(&s.id);
  if (it != lag_.end()) it->second.high = s.known_high;
}

void ConsumerImpl::PushLocked(Delivery d) {
  const bool was_empty = queue_.empty();
  queue_.push_back(std::move(d));
  if (was_empty) {
    const uint64_t one = 1;
    ssize_t n = write(event_fd_, &one, sizeof one);  // fd() readable
    (void)n;
  }
}

ConsumerStats ConsumerImpl::stats() const {
  ConsumerStats s;
  s.records_delivered = delivered_;
  s.live_records = live_;
  s.replayed_records = replayed_;
  s.gaps_detected = gaps_;
  s.duplicates_dropped = duplicates_;
  s.malformed_messages = malformed_;
  s.handshakes_failed = handshakes_failed_;
  s.producers_discovered = producers_discovered_;
  s.beacons_dropped = beacons_dropped_;
  return s;
}

// ---------------------------------------------------------------------------
// The I/O thread

void ConsumerImpl::Loop() {
  std::vector<zmq::pollitem_t> items;
  while (!stop_) {
    bool room;
    {
      std::lock_guard<std::mutex> lk(mu_);
      room = queued_records_ < options_.max_queued_records;
    }
    items.clear();
    if (room) {
      for (auto& p : peers_) {
        items.push_back({p->sub.handle(), 0, ZMQ_POLLIN, 0});
        items.push_back({p->dealer.handle(), 0, ZMQ_POLLIN, 0});
        items.push_back({p->sub_monitor.handle(), 0, ZMQ_POLLIN, 0});
        items.push_back({p->dealer_monitor.handle(), 0, ZMQ_POLLIN, 0});
      }
    }
    const size_t peer_items = items.size();
    if (listener_) items.push_back({nullptr, listener_->fd(), ZMQ_POLLIN, 0});
    try {
      if (peer_items == 0) {
        // Full: read nothing until Poll makes room (ZeroMQ drops live
        // messages meanwhile; they are replayed later).
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (listener_) DrainDiscovery();
      } else {
        zmq::poll(items.data(), items.size(), kMaxPollWait);
        for (size_t i = 0; i < peer_items; ++i) {
          if (!(items[i].revents & ZMQ_POLLIN)) continue;
          Peer& peer = *peers_[i / 4];
          if (i % 4 >= 2) {
            zmq::socket_t& monitor = (i % 4 == 2) ? peer.sub_monitor : peer.dealer_monitor;
            for (int n = 0; n < kMaxMessagesPerTurn; ++n) {
              std::vector<zmq::message_t> event;
              if (!zmq::recv_multipart(monitor, std::back_inserter(event),
                                       zmq::recv_flags::dontwait))
                break;
              if (!event.empty()) HandleMonitorEvent(peer, i % 4 == 3, event[0]);
            }
            continue;
          }
          zmq::socket_t& sock = (i % 4 == 0) ? peer.sub : peer.dealer;
          for (int n = 0; n < kMaxMessagesPerTurn; ++n) {
            zmq::message_t msg;
            if (!sock.recv(msg, zmq::recv_flags::dontwait)) break;
            if (msg.more()) {  // the protocol has single-frame messages only
              ++malformed_;
              // Drop the rest of it (its frames are all there already).
              while (msg.more() && sock.recv(msg, zmq::recv_flags::dontwait)) {
              }
              continue;
            }
            if (i % 2 == 0) {
              HandleLive(peer, msg.to_string_view());
            } else {
              HandleAnswer(peer, msg.to_string_view());
            }
          }
        }
        // After the peers' items: discovery may add peers.
        if (listener_ && ((items[peer_items].revents & ZMQ_POLLIN) ||
                          Clock::now() >= listener_->next_deadline()))
          DrainDiscovery();
      }
      CheckDeadlines();
      if (grouped()) GroupTick(false);
    } catch (const zmq::error_t& e) {
      if (stop_) break;
      Log(LogLevel::kError, std::string("consumer I/O: ") + e.what());
    }
  }
  if (grouped()) {
    try {
      GroupTick(true);  // the last commits, and leave the group
    } catch (const zmq::error_t& e) {
      Log(LogLevel::kWarning, std::string("leaving the group: ") + e.what());
    }
  }
}

void ConsumerImpl::SendDescribe(Peer& peer) {
  peer.describe_id = next_request_id_++;
  peer.describe_deadline = Clock::now() + options_.request_timeout;
  std::string f;
  EncodeDescribe(peer.describe_id, &f);
  (void)peer.dealer.send(zmq::buffer(f), zmq::send_flags::dontwait);
}

void ConsumerImpl::SendFetch(Peer& peer, Stream& s) {
  in_flight_.erase(s.request_id);
  s.request_id = next_request_id_++;
  in_flight_[s.request_id] = &s;
  s.replay_start = s.next;
  s.deadline = Clock::now() + options_.request_timeout;
  Request f;
  f.kind = Kind::kFetch;
  f.id = s.request_id;
  f.topic = s.id.topic;
  f.partition = s.id.partition;
  f.from_offset = s.next;
  f.max_records = s.replay_target - s.next;
  f.max_bytes = ~0ull >> 1;
  f.credit = options_.replay_credit;
  f.epoch = s.epoch;
  std::string frame;
  EncodeFetch(f, &frame);
  (void)peer.dealer.send(zmq::buffer(frame), zmq::send_flags::dontwait);
}

void ConsumerImpl::ResumeReplay(Peer& peer, Stream& s) {
  if (s.replay_target > s.next) {
    SendFetch(peer, s);
    return;
  }
  // Every page asked for arrived, only the end did not (the producer died or
  // the connection was cut between them). Asking again for zero records
  // would be refused for ever: the replay is over, see what comes next.
  in_flight_.erase(s.request_id);
  s.request_id = 0;
  s.replaying = false;
  AfterReplay(s, true);
}

void ConsumerImpl::RetryOneBusy(Peer& peer) {
  for (auto& [key, w] : peer.streams) {
    if (!w->busy) continue;
    w->busy = false;
    if (!w->replaying || w->request_id != 0) continue;
    if (w->seeking) {
      SendSeek(peer, *w);
    } else {
      ResumeReplay(peer, *w);
    }
    return;
  }
}

void ConsumerImpl::SendSeek(Peer& peer, Stream& s) {
  in_flight_.erase(s.request_id);
  s.request_id = next_request_id_++;
  in_flight_[s.request_id] = &s;
  s.deadline = Clock::now() + options_.request_timeout;
  std::string frame;
  EncodeSeek(s.request_id, s.id.topic, s.id.partition,
             static_cast<uint64_t>(std::max<int64_t>(0, options_.start.timestamp_ns)), &frame);
  (void)peer.dealer.send(zmq::buffer(frame), zmq::send_flags::dontwait);
}

void ConsumerImpl::StartReplay(Stream& s, uint64_t target) {
  if (target <= s.next) return;
  s.replaying = true;
  s.replay_target = target;
  if (Peer* peer = PeerOf(s)) SendFetch(*peer, s);
}

Peer* ConsumerImpl::PeerOf(const Stream& s) {
  auto it = owner_.find(&s);
  return it == owner_.end() ? nullptr : it->second;
}

zmq::socket_t ConsumerImpl::Monitor(zmq::socket_t& socket, const char* role) {
  static std::atomic<uint64_t> counter{0};
  const std::string endpoint = "inproc://brook-consumer-monitor-" +
                               std::to_string(reinterpret_cast<uintptr_t>(this)) + "-" + role +
                               "-" + std::to_string(counter++);
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                         kHandshakeEvents | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
    throw zmq::error_t();
  zmq::socket_t pair(ctx_, zmq::socket_type::pair);
  pair.set(zmq::sockopt::linger, 0);
  pair.connect(endpoint);
  return pair;
}

void ConsumerImpl::HandleMonitorEvent(Peer& peer, bool dealer, const zmq::message_t& event) {
  // libzmq's event: a 16-bit event number and a 32-bit value, host order.
  if (event.size() < 6) return;
  uint16_t kind;
  uint32_t value;
  std::memcpy(&kind, event.data(), 2);
  std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
  int& cuts = peer.cut_handshakes[dealer ? 1 : 0];
  if (kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
    cuts = 0;
    return;
  }
  if (!(kind & kHandshakeEvents)) return;
  ++handshakes_failed_;
  (dealer ? peer.reconnect_dealer : peer.reconnect_sub) = true;
  const auto now = Clock::now();
  if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && ++cuts == 1) {
    // Maybe only the producer going away mid-handshake: try again at once,
    // and speak up only if it happens again.
    peer.reconnect_at = now + kReconnectAfterFirstCut;
    return;
  }
  if (peer.reconnect_at <= now) peer.reconnect_at = now + kReconnectAfterHandshakeFailure;
  if (now - peer.failure_logged < std::chrono::seconds(10)) return;
  peer.failure_logged = now;
  const std::string& ep = dealer ? peer.endpoints.replay : peer.endpoints.pub;
  std::string why;
  if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    why = "the producer refused this consumer's key (ZAP status " + std::to_string(value) +
          "); add its public key " +
          (options_.security.enabled ? options_.security.client.public_key : std::string()) +
          " to the producer's allowed client keys";
  } else if (!options_.security.enabled) {
    why =
        "the producer probably runs with CURVE security and this consumer without; set "
        "ConsumerOptions::security";
  } else {
    why =
        "the producer runs without security, or its public key is not the server_public_key "
        "this consumer pins (libzmq's reason: " +
        std::to_string(value) + ")";
  }
  Log(LogLevel::kError, "handshake with producer " + ep + " failed: " + why +
                            "; trying again every " +
                            std::to_string(kReconnectAfterHandshakeFailure.count()) + " s");
}

void ConsumerImpl::Reconnect(Peer& peer) {
  auto again = [](zmq::socket_t& socket, const std::string& endpoint) {
    // libzmq dropped the connection for good after the failed handshake; an
    // explicit disconnect covers the case where it had not.
    if (zmq_disconnect(socket.handle(), endpoint.c_str()) != 0) {
      // ENOENT: already gone; nothing else is expected.
    }
    socket.connect(endpoint);
  };
  if (!peer.connected) return;  // silent; connected again when heard
  if (peer.reconnect_sub) again(peer.sub, peer.endpoints.pub);
  if (peer.reconnect_dealer) again(peer.dealer, peer.endpoints.replay);
  peer.reconnect_sub = peer.reconnect_dealer = false;
}

void ConsumerImpl::ConnectPeer(Peer& peer) {
  peer.sub.connect(peer.endpoints.pub);
  peer.dealer.connect(peer.endpoints.replay);
  peer.connected = true;
  peer.reconnect_sub = peer.reconnect_dealer = false;
}

void ConsumerImpl::DisconnectPeer(Peer& peer) {
  // ENOENT (libzmq dropped it already) is fine.
  (void)zmq_disconnect(peer.sub.handle(), peer.endpoints.pub.c_str());
  (void)zmq_disconnect(peer.dealer.handle(), peer.endpoints.replay.c_str());
  peer.connected = false;
}

void ConsumerImpl::DrainDiscovery() {
  std::vector<DiscoveryEvent> events;
  listener_->Drain(Clock::now(), &events);
  for (const DiscoveryEvent& e : events) OnDiscovery(e);
  const BeaconListenerStats st = listener_->stats();
  beacons_dropped_ = st.wrong_version + st.garbage + st.malformed + st.oversized + st.key_missing +
                     st.key_not_allowed + st.spoofed + st.unreachable + st.over_limit;
}

void ConsumerImpl::OnDiscovery(const DiscoveryEvent& e) {
  const DiscoveredProducer& d = e.producer;
  const std::string id = d.id.ToHex();
  auto known = discovered_.find(id);
  Peer* peer = known == discovered_.end() ? nullptr : known->second;
  if (e.kind == DiscoveryEvent::Kind::kSilent) {
    if (peer && peer->discovered && peer->connected) {
      DisconnectPeer(*peer);
      Log(LogLevel::kWarning, "producer " + id + " at " + peer->endpoints.replay +
                                  " fell silent (no beacon for " +
                                  std::to_string(options_.discovery.silence_timeout.count()) +
                                  " ms): disconnected; its streams resume when it is heard again");
    }
    return;
  }
  bool wanted = false;
  for (const DiscoveredTopic& t : d.topics) wanted |= topics_.count(t.name) > 0;
  if (!wanted && !peer) return;  // none of this consumer's topics (yet)
  ProducerEndpoints ep;
  ep.pub = d.pub_endpoint;
  ep.replay = d.replay_endpoint;
  ep.server_public_key = options_.security.enabled ? d.server_public_key : std::string();
  if (!peer) {
    // A producer this consumer already follows at those endpoints: one named
    // in ConsumerOptions::producers, or one whose journal was replaced (a new
    // id behind the same endpoints, which its describe answer reports).
    for (auto& p : peers_) {
      if (p->endpoints.replay == ep.replay) {
        peer = p.get();
        break;
      }
    }
    if (peer) {
      for (auto it = discovered_.begin(); it != discovered_.end();)
        it = it->second == peer ? discovered_.erase(it) : std::next(it);
      discovered_[id] = peer;
    }
  }
  if (!peer) {
    Status s = AddPeer(ep, &peer);
    if (!s.ok()) {
      Log(LogLevel::kError, "cannot follow discovered producer " + id + ": " + s.ToString());
      return;
    }
    peer->discovered = true;
    discovered_[id] = peer;
    ++producers_discovered_;
    Log(LogLevel::kInfo, "discovered producer " + id + " at " + ep.pub + " / " + ep.replay);
    SendDescribe(*peer);
    return;
  }
  const bool moved =
      peer->discovered && (peer->endpoints.pub != ep.pub || peer->endpoints.replay != ep.replay);
  if (!peer->connected || moved) {
    if (peer->connected) DisconnectPeer(*peer);
    if (peer->discovered) peer->endpoints = ep;
    ConnectPeer(*peer);
    ++producers_discovered_;
    Log(LogLevel::kInfo, "producer " + id + " heard again at " + peer->endpoints.pub + " / " +
                             peer->endpoints.replay + ": reconnected");
    SendDescribe(*peer);
    return;
  }
  if (e.changes & (DiscoveryEvent::kTopics | DiscoveryEvent::kEpoch)) SendDescribe(*peer);
}

// ---------------------------------------------------------------------------
// Consumer groups (docs/GROUPS.md): the producers assign streams; this member
// heartbeats, starts what it is given, gives up what it is asked to, and
// commits positions to each stream's producer.

// Commits and releases of `peer`'s streams, in one message; then forgets the
// released streams.
void ConsumerImpl::SendGroupCommits(
    Peer& peer, const std::map<const StreamId*, PositionStore::Position>& commits,
    const std::map<const StreamId*, PositionStore::Position>& released) {
  GroupRequest commit;
  commit.kind = Kind::kGroupCommit;
  commit.group = options_.group;
  commit.member = member_id_;
  std::vector<Stream*> dropped;
  for (auto& [key, sp] : peer.streams) {
    Stream& s = *sp;
    std::optional<PositionStore::Position> at;
    auto c = commits.find(&s.id);
    if (c != commits.end()) at = c->second;
    auto r = released.find(&s.id);
    if (r != released.end()) {
      at = r->second;
      dropped.push_back(&s);
      if (!s.commit_on_release) at.reset();
    }
    if (!at || (s.revoked && !s.commit_on_release)) continue;
    commit.commits.push_back(
        GroupCommitStream{s.id.topic, s.id.partition, s.generation, at->next, at->epoch});
  }
  if (!commit.commits.empty() && peer.connected) {
    commit.id = next_request_id_++;
    std::string frame;
    EncodeGroupCommit(commit, &frame);
    (void)peer.dealer.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  }
  for (Stream* s : dropped) DropStream(peer, *s);
}

void ConsumerImpl::GroupTick(bool closing) {
  std::map<const StreamId*, PositionStore::Position> commits, released;
  {
    std::lock_guard<std::mutex> lk(group_mu_);
    commits.swap(group_commits_);
    released.swap(released_);
  }
  // Runs every turn of the I/O loop: walk the streams only when Poll's
  // thread handed over commits or releases.
  const bool pending = !commits.empty() || !released.empty();
  const auto now = Clock::now();
  for (auto& peer : peers_) {
    if (pending) SendGroupCommits(*peer, commits, released);
    if (!peer->described || !peer->connected) continue;
    if (closing) {
      SendGroupHeartbeat(*peer, /*leave=*/true);
      continue;
    }
    if (now >= peer->next_group_heartbeat) SendGroupHeartbeat(*peer, false);
    // Not heard for the session timeout: the producer has dropped this
    // member (or is gone), and another member may have its streams now.
    if (peer->group_answered && now - peer->last_group_answer > options_.group_session_timeout) {
      for (auto& [key, sp] : peer->streams) {
        if (!sp->revoked)
          RevokeLocally(*sp, false,
                        "no answer from the producer at " + peer->endpoints.replay + " for " +
                            std::to_string(options_.group_session_timeout.count()) + " ms");
      }
    }
  }
}

void ConsumerImpl::SendGroupHeartbeat(Peer& peer, bool leave) {
  GroupRequest hb;
  hb.kind = Kind::kGroupHeartbeat;
  hb.id = next_request_id_++;
  hb.group = options_.group;
  hb.member = member_id_;
  hb.session_timeout_ms = static_cast<uint32_t>(options_.group_session_timeout.count());
  if (!leave) {
    for (const std::string& t : topics_) hb.topics.push_back(t);
    for (auto& [key, sp] : peer.streams)
      hb.held.push_back(GroupStream{sp->id.topic, sp->id.partition, sp->generation});
  }
  std::string frame;
  EncodeGroupHeartbeat(hb, &frame);
  (void)peer.dealer.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  peer.group_heartbeat_id = hb.id;
  peer.next_group_heartbeat = Clock::now() + options_.group_heartbeat_interval;
}

void ConsumerImpl::HandleGroupAnswer(Peer& peer, std::string_view frame) {
  GroupAnswer a;
  if (!DecodeGroupAnswer(frame, &a).ok()) {
    ++malformed_;
    return;
  }
  if (a.kind == Kind::kGroupCommitAnswer) {
    for (const GroupCommitResult& r : a.results) {
      if (r.result == CommitResult::kAccepted) continue;
      auto it = peer.streams.find(std::make_pair(std::string(r.topic), r.partition));
      const std::string where = std::string(r.topic) + "/" + std::to_string(r.partition);
      if (r.result == CommitResult::kFenced) {
        // Another member owns it now (this one was dropped for a while):
        // stop at once; its records from the group's position on may be
        // processed twice.
        if (it != peer.streams.end() && !it->second->revoked)
          RevokeLocally(*it->second, false,
                        "the producer at " + peer.endpoints.replay + " gave " + where +
                            " to another member of group '" + options_.group + "'");
      } else {
        Log(LogLevel::kWarning, "the producer at " + peer.endpoints.replay + " has no stream " +
                                    where + " to commit a position to");
      }
    }
    return;
  }
  // Heartbeat answers: only ones newer than the newest taken.
  if (a.id <= peer.group_answer_id || !peer.described) return;
  peer.group_answer_id = a.id;
  peer.group_answered = true;
  peer.last_group_answer = Clock::now();
  for (const GroupStream& r : a.revoke) {
    auto it = peer.streams.find(std::make_pair(std::string(r.topic), r.partition));
    if (it != peer.streams.end() && !it->second->revoked)
      RevokeLocally(*it->second, true, "moved to another member of group '" + options_.group + "'");
  }
  for (const GroupAssignment& g : a.assigned) OnAssigned(peer, g);
}

void ConsumerImpl::OnAssigned(Peer& peer, const GroupAssignment& g) {
  auto key = std::make_pair(std::string(g.topic), g.partition);
  auto it = peer.streams.find(key);
  if (it != peer.streams.end()) {
    // Held already: under this generation now (e.g. adopted after the
    // producer restarted). Being given up: released first, then assigned
    // anew by a later answer.
    if (!it->second->revoked) it->second->generation = g.generation;
    return;
  }
  if (!topics_.count(key.first)) return;
  auto s = std::make_unique<Stream>();
  s->id.producer = peer.producer;
  s->id.topic = key.first;
  s->id.partition = g.partition;
  s->generation = g.generation;
  const Watermarks w = peer.marks.count(key) ? peer.marks[key] : Watermarks{};
  s->known_high = w.high_watermark;
  if (g.has_position) {
    s->next = g.next;
    s->epoch = g.epoch;
  } else {
    s->epoch = peer.epoch;
    ApplyStart(s.get(), w);
  }
  Stream& ref = *s;
  ConsumerEvent e;
  e.kind = ConsumerEvent::Kind::kAssigned;
  e.stream = ref.id;
  e.from = ref.next;
  e.message = "group '" + options_.group + "': this member now processes " + ref.id.topic + "/" +
              std::to_string(ref.id.partition) + " of producer " + ref.id.producer.ToHex() +
              (g.has_position ? " from the group's position " : " from its start position ") +
              std::to_string(ref.next);
  {
    std::lock_guard<std::mutex> lk(mu_);
    lag_[&ref.id] = LagState{ref.id, ref.next, w.high_watermark, -1};
  }
  owner_[s.get()] = &peer;
  peer.streams.emplace(std::move(key), std::move(s));
  QueueEvent(std::move(e), &ref);
  if (!g.has_position && !ref.seeking) QueueStart(ref);
  if (ref.seeking) {
    ref.replaying = true;
    SendSeek(peer, ref);
  } else if (ref.epoch != peer.epoch) {
    StartVerification(ref, std::max(w.high_watermark, ref.next + 1));
  } else if (ref.next < w.high_watermark) {
    StartReplay(ref, w.high_watermark);
  }
}

void ConsumerImpl::RevokeLocally(Stream& s, bool commit, const std::string& why) {
  s.revoked = true;
  s.commit_on_release = commit;
  in_flight_.erase(s.request_id);
  s.request_id = 0;
  s.replaying = false;
  s.seeking = false;
  s.buffer.clear();
  s.buffered_records = 0;
  ConsumerEvent e;
  e.kind = ConsumerEvent::Kind::kRevoked;
  e.stream = s.id;
  e.from = s.next;
  e.message = "group '" + options_.group + "': this member no longer processes " + s.id.topic +
              "/" + std::to_string(s.id.partition) + " of producer " + s.id.producer.ToHex() +
              ": " + why;
  QueueEvent(std::move(e), &s);
}

void ConsumerImpl::DropStream(Peer& peer, Stream& s) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    lag_.erase(&s.id);
  }
  owner_.erase(&s);
  auto it = peer.streams.find(std::make_pair(s.id.topic, s.id.partition));
  if (it == peer.streams.end() || it->second.get() != &s) return;
  // Deliveries already taken may still name it: keep it alive.
  retired_.push_back(std::move(it->second));
  peer.streams.erase(it);
}

void ConsumerImpl::CheckDeadlines() {
  const auto now = Clock::now();
  for (auto& peer : peers_) {
    if ((peer->reconnect_sub || peer->reconnect_dealer) && now >= peer->reconnect_at)
      Reconnect(*peer);
    if (peer->describe_id != 0 && now >= peer->describe_deadline) SendDescribe(*peer);
    for (auto& [key, s] : peer->streams) {
      if (s->replaying && now >= s->deadline) {
        // Unanswered (producer away, answer lost): ask again; answers to the
        // old request id are ignored from now on.
        s->busy = false;
        if (s->seeking) {
          SendSeek(*peer, *s);
        } else {
          ResumeReplay(*peer, *s);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Answers

void ConsumerImpl::HandleAnswer(Peer& peer, std::string_view frame) {
  Kind kind;
  if (grouped() && PeekKind(frame, &kind).ok() && IsGroupAnswer(kind))
    return HandleGroupAnswer(peer, frame);
  Answer a;
  if (!DecodeAnswer(frame, &a).ok()) {
    ++malformed_;
    return;
  }
  if (a.kind == Kind::kError && grouped() && a.id != 0 && a.id == peer.group_heartbeat_id) {
    Log(LogLevel::kError, "the producer at " + peer.endpoints.replay +
                              " refused this member's group heartbeat: " + std::string(a.message));
    return;
  }
  if (a.kind == Kind::kDescribeAnswer) {
    if (a.id == peer.describe_id) OnDescribed(peer, a);
    return;
  }
  if (a.kind == Kind::kError && a.id != 0 && a.id == peer.describe_id) {
    // Asked again at describe_deadline; until then, say why nothing comes.
    Log(LogLevel::kError, "the producer at " + peer.endpoints.replay +
                              " could not describe its topics: " + std::string(a.message) +
                              "; asking again");
    return;
  }
  auto it = in_flight_.find(a.id);
  if (it == in_flight_.end()) return;  // late, duplicated or for an older request
  Stream& s = *it->second;
  s.known_high = std::max(s.known_high, a.watermarks.high_watermark);
  switch (a.kind) {
    case Kind::kPage: {
      auto batch = std::make_shared<RecordBatch>();
      if (a.partition != s.id.partition || a.first_offset > s.next ||
          !DecodeRecords(a.record_bytes, a.first_offset, a.count, batch.get()).ok()) {
        ++malformed_;
        ResumeReplay(peer, s);  // start over from next
        return;
      }
      s.epoch = std::max(s.epoch, a.epoch);  // the producer checked s.epoch
      Deliver(s, a.first_offset, std::move(batch), false);
      s.deadline = Clock::now() + options_.request_timeout;
      std::string credit;
      EncodeCredit(a.id, 1, &credit);
      (void)peer.dealer.send(zmq::buffer(credit), zmq::send_flags::dontwait);
      return;
    }
    case Kind::kOffset:
      in_flight_.erase(it);
      RetryOneBusy(peer);
      if (!s.seeking) return;
      s.seeking = false;
      s.replaying = false;
      s.next = std::max(a.next_offset, s.next);
      s.epoch = a.epoch;
      {
        // Nothing of this stream was delivered before the answer, so the
        // processed position is where the answer says to start.
        std::lock_guard<std::mutex> lk(mu_);
        auto lag = lag_.find(&s.id);
        if (lag != lag_.end()) lag->second.next = std::max(lag->second.next, s.next);
      }
      QueueStart(s);
      AfterReplay(s, true);
      return;
    case Kind::kEnd:
      in_flight_.erase(it);
      RetryOneBusy(peer);
      s.replaying = false;
      s.epoch = std::max(s.epoch, a.epoch);
      AfterReplay(s, s.next > s.replay_start);
      return;
    case Kind::kError:
      in_flight_.erase(it);
      if (a.error == ErrorCode::kBusy) {
        // The producer serves ProducerOptions::max_fetches_per_peer fetches
        // of one consumer at a time: ask again as soon as one of this
        // consumer's ends (RetryOneBusy), the request timeout as a fallback.
        // A consumer with gaps in a thousand streams otherwise recovered
        // eight of them per timeout.
        s.busy = true;
        s.request_id = 0;
        s.deadline = Clock::now() + options_.request_timeout;
        return;
      }
      RetryOneBusy(peer);
      s.replaying = false;
      if (a.error == ErrorCode::kOutOfRange && a.watermarks.low_watermark > s.next) {
        ConsumerEvent e;
        e.kind = ConsumerEvent::Kind::kSkipped;
        e.stream = s.id;
        e.from = s.next;
        e.to = a.watermarks.low_watermark;
        e.message = "offsets " + std::to_string(e.from) + ".." + std::to_string(e.to - 1) + " of " +
                    s.id.topic + "/" + std::to_string(s.id.partition) +
                    " were removed by retention before this consumer read them";
        QueueEvent(std::move(e), &s);
        s.next = a.watermarks.low_watermark;
        AfterReplay(s, true);
        return;
      }
      if (a.error == ErrorCode::kTailLost && a.lost_from < s.next) {
        // The producer came back from a crash without records this consumer
        // had read: their offsets go to new records, delivered from lost_from.
        ConsumerEvent e;
        e.kind = ConsumerEvent::Kind::kTailLost;
        e.stream = s.id;
        e.from = a.lost_from;
        e.to = s.next;
        e.message = "the producer lost offsets " + std::to_string(e.from) + ".." +
                    std::to_string(e.to - 1) + " of " + s.id.topic + "/" +
                    std::to_string(s.id.partition) +
                    " after this consumer had read them (a crash in a weak durability mode, or "
                    "its journal restored from a copy); new records reuse those offsets and are "
                    "delivered from " +
                    std::to_string(e.from);
        s.next = a.lost_from;
        QueueEvent(std::move(e), &s);
        s.buffer.clear();
        s.buffered_records = 0;
        s.overflowed = false;
        s.known_high = a.watermarks.high_watermark;
        NoteHigh(s);
        AfterReplay(s, true);
        return;
      }
      if (a.error == ErrorCode::kDataLoss) {
        // The record at s.next is damaged in the producer's journal (its
        // checksum fails). It cannot be delivered and nothing may be skipped
        // silently, so the stream waits here; the application is told once,
        // and the fetch is retried in case the journal is repaired.
        if (s.data_loss_reported != s.next + 1) {
          s.data_loss_reported = s.next + 1;
          ConsumerEvent e;
          e.kind = ConsumerEvent::Kind::kDataLoss;
          e.stream = s.id;
          e.from = s.next;
          e.to = s.next + 1;
          e.message = "the producer's journal holds a damaged record at offset " +
                      std::to_string(e.from) + " of " + s.id.topic + "/" +
                      std::to_string(s.id.partition) + " (" + std::string(a.message) +
                      "); this stream stops before it and is retried every request_timeout "
                      "(docs/OPERATIONS.md, \"A damaged record\")";
          Log(LogLevel::kError, e.message);
          QueueEvent(std::move(e), &s);
        }
      } else {
        Log(LogLevel::kWarning, "replay of " + s.id.topic + "/" + std::to_string(s.id.partition) +
                                    " failed: " + std::string(a.message) + "; retrying");
      }
      // Retry after the request timeout.
      s.replaying = true;
      s.request_id = 0;
      s.deadline = Clock::now() + options_.request_timeout;
      return;
    default:
      ++malformed_;
      return;
  }
}

void ConsumerImpl::OnDescribed(Peer& peer, const Answer& a) {
  peer.describe_id = 0;
  const bool new_producer = peer.described && a.producer != peer.producer;
  if (peer.described && !new_producer) {
    // A re-describe of the same producer: add topics or partitions it has now.
    peer.epoch = a.epoch;
  } else {
    if (new_producer) {
      // Queued deliveries may still point at the old streams: retire them
      // rather than free them.
      for (auto& [key, s] : peer.streams) {
        {
          std::lock_guard<std::mutex> lk(mu_);
          lag_.erase(&s->id);
        }
        in_flight_.erase(s->request_id);
        owner_.erase(s.get());
        retired_.push_back(std::move(s));
      }
      peer.streams.clear();
    }
    peer.producer = a.producer;
    peer.epoch = a.epoch;
    peer.described = true;
  }
  bool reported = false;
  bool replaced = new_producer;
  if (store_) {
    // A different producer than last time behind these endpoints, even
    // across restarts of this consumer: its journal was wiped or replaced.
    std::optional<ProducerId> before = store_->ProducerAt(peer.endpoints.replay);
    if (before && *before != a.producer) replaced = true;
    if (!before || *before != a.producer) {
      Status st = store_->SetProducerAt(peer.endpoints.replay, a.producer);
      if (!st.ok()) Log(LogLevel::kError, st.ToString());
    }
  }
  for (const TopicDescription& t : a.topics) {
    if (!topics_.count(t.name)) continue;
    if (grouped()) {
      // Streams come from the producer's group assignments, not from here.
      for (uint32_t p = 0; p < t.partitions.size(); ++p)
        peer.marks[std::make_pair(std::string(t.name), p)] = t.partitions[p];
      continue;
    }
    for (uint32_t p = 0; p < t.partitions.size(); ++p) {
      auto key = std::make_pair(std::string(t.name), p);
      if (peer.streams.count(key)) continue;
      auto s = std::make_unique<Stream>();
      s->id.producer = a.producer;
      s->id.topic = std::string(t.name);
      s->id.partition = p;
      const Watermarks& w = t.partitions[p];
      s->known_high = w.high_watermark;
      std::optional<PositionStore::Position> stored;
      if (store_) stored = store_->Get(s->id);
      if (stored) {
        s->next = stored->next;
        s->epoch = stored->epoch;
      } else {
        s->epoch = a.epoch;
        ApplyStart(s.get(), w);
      }
      if (replaced && !reported) {
        ConsumerEvent e;
        e.kind = ConsumerEvent::Kind::kNewProducer;
        e.stream = s->id;
        e.message = "the producer at " + peer.endpoints.replay + " has a new id " +
                    a.producer.ToHex() +
                    " (its journal was replaced); following it from the "
                    "start position";
        QueueEvent(std::move(e), nullptr);
        reported = true;
      }
      Stream& ref = *s;
      {
        std::lock_guard<std::mutex> lk(mu_);
        lag_[&ref.id] = LagState{ref.id, ref.next, w.high_watermark, -1};
      }
      if (!stored && !ref.seeking) QueueStart(ref);
      owner_[s.get()] = &peer;
      peer.streams.emplace(std::move(key), std::move(s));
      if (ref.seeking) {
        ref.replaying = true;
        SendSeek(peer, ref);
        continue;
      }
      if (ref.epoch != a.epoch) {
        // Read under an earlier epoch: the producer may have lost a tail
        // since. The fetch under the stored epoch finds out.
        StartVerification(ref, w.high_watermark);
        continue;
      }
      // Below the low watermark the fetch answers "out of range", which
      // becomes a skipped-range event.
      if (ref.next < w.high_watermark) StartReplay(ref, w.high_watermark);
    }
  }
}

// ---------------------------------------------------------------------------
// Live

void ConsumerImpl::HandleLive(Peer& peer, std::string_view frame) {
  LiveMessage m;
  if (!DecodeLive(frame, &m).ok()) {
    ++malformed_;
    return;
  }
  if (!peer.described) return;  // the describe answer will set the streams up
  const ProducerId& id = m.kind == Kind::kRecords ? m.records.producer : m.heartbeat.producer;
  if (id != peer.producer) {
    // Another producer behind these endpoints: learn about it.
    if (peer.describe_id == 0) SendDescribe(peer);
    return;
  }
  if (m.kind == Kind::kHeartbeat) {
    OnHeartbeat(peer, m);
    return;
  }
  auto it = peer.streams.find(std::make_pair(std::string(m.topic), m.records.partition));
  if (it == peer.streams.end()) {
    // A new partition (a group member learns of it by its heartbeats).
    if (!grouped() && topics_.count(m.topic) && peer.describe_id == 0) SendDescribe(peer);
    return;
  }
  auto batch = std::make_shared<RecordBatch>();
  if (!DecodeRecords(m.record_bytes, m.records.first_offset, m.records.count, batch.get()).ok()) {
    ++malformed_;  // dropped; the gap it leaves is replayed
    return;
  }
  OnLiveBatch(*it->second, m.records.first_offset, m.records.epoch, std::move(batch));
}

void ConsumerImpl::OnLiveBatch(Stream& s, uint64_t first, uint64_t epoch,
                               std::shared_ptr<RecordBatch> batch) {
  if (s.revoked) return;        // being given up: nothing more is delivered
  if (epoch < s.epoch) return;  // sent before a restart this stream is past; replay covers it
  const uint64_t last = first + batch->size();
  s.known_high = std::max(s.known_high, last);
  if (last <= s.next && epoch == s.epoch) {
    duplicates_ += batch->size();
    return;
  }
  if (s.replaying || !s.buffer.empty()) {
    if (s.overflowed) return;  // the replay goes on to known_high
    if (s.buffered_records + batch->size() > options_.max_buffered_live_records) {
      s.buffer.clear();
      s.buffered_records = 0;
      s.overflowed = true;
      return;
    }
    s.buffered_records += batch->size();
    s.buffer.push_back(Stream::Buffered{first, epoch, std::move(batch)});
    return;
  }
  if (first <= s.next && epoch == s.epoch) {
    Deliver(s, first, std::move(batch), true);
    return;
  }
  // A hole before this batch (replay it), or a newer epoch (verify what was
  // read under the old one first); keep the batch for after.
  if (first > s.next) ++gaps_;
  s.buffered_records += batch->size();
  s.buffer.push_back(Stream::Buffered{first, epoch, std::move(batch)});
  StartVerification(s, first);
}

void ConsumerImpl::OnHeartbeat(Peer& peer, const LiveMessage& m) {
  peer.epoch = m.heartbeat.epoch;
  for (uint32_t p = 0; p < m.heartbeat.partitions.size(); ++p) {
    if (grouped() && topics_.count(m.topic))
      peer.marks[std::make_pair(std::string(m.topic), p)] = m.heartbeat.partitions[p];
    auto it = peer.streams.find(std::make_pair(std::string(m.topic), p));
    if (it == peer.streams.end()) {
      if (!grouped() && topics_.count(m.topic) && peer.describe_id == 0) SendDescribe(peer);
      continue;
    }
    Stream& s = *it->second;
    if (s.revoked) continue;
    const Watermarks& w = m.heartbeat.partitions[p];
    if (s.replaying || !s.buffer.empty()) {
      if (m.heartbeat.epoch == s.epoch) s.known_high = std::max(s.known_high, w.high_watermark);
      continue;
    }
    if (m.heartbeat.epoch > s.epoch) {
      // The producer restarted: was anything this consumer read undone?
      s.known_high = w.high_watermark;
      NoteHigh(s);
      StartVerification(s, w.high_watermark);
      continue;
    }
    if (m.heartbeat.epoch < s.epoch) continue;
    s.known_high = std::max(s.known_high, w.high_watermark);
    NoteHigh(s);
    if (w.high_watermark > s.next) {
      ++gaps_;  // records we have not seen live: lost on the way, or the last ones
      StartReplay(s, w.high_watermark);
    }
  }
}

void ConsumerImpl::AfterReplay(Stream& s, bool progressed) {
  while (!s.buffer.empty()) {
    Stream::Buffered& f = s.buffer.front();
    // Older than the stream's epoch: possibly undone since; the replay
    // brings those offsets as they are now.
    const bool stale = f.epoch < s.epoch;
    if (!stale && (f.first > s.next || f.epoch != s.epoch)) break;
    Stream::Buffered b = std::move(f);
    s.buffer.pop_front();
    s.buffered_records -= b.batch->size();
    if (!stale) Deliver(s, b.first, std::move(b.batch), true);
  }
  uint64_t target = 0;
  if (!s.buffer.empty()) {
    // A hole before the first buffered batch, or a newer epoch to verify.
    target = std::max(s.buffer.front().first, s.next + 1);
  } else if (s.next < s.known_high) {
    target = s.known_high;
  } else {
    s.overflowed = false;
  }
  if (target == 0) return;
  if (progressed) {
    StartReplay(s, target);
  } else {
    // The producer has nothing more yet (or not any more): ask again later
    // rather than in a tight loop.
    s.replaying = true;
    s.replay_target = target;
    s.request_id = 0;
    s.deadline = Clock::now() + options_.request_timeout;
  }
}

void ConsumerImpl::Deliver(Stream& s, uint64_t first, std::shared_ptr<RecordBatch> batch,
                           bool live) {
  const uint64_t count = batch->size();
  if (first > s.next) return;  // callers never pass a hole; never deliver across one
  if (first + count <= s.next) {
    duplicates_ += count;
    return;
  }
  const size_t begin = static_cast<size_t>(s.next - first);
  duplicates_ += begin;
  s.next = first + count;
  Delivery d;
  d.stream = &s.id;
  d.batch = std::move(batch);
  d.begin = begin;
  d.end = count;
  d.live = live;
  d.epoch = s.epoch;
  {
    std::lock_guard<std::mutex> lk(mu_);
    queued_records_ += d.end - d.begin;
    auto it = lag_.find(&s.id);
    if (it != lag_.end()) it->second.high = s.known_high;
    PushLocked(std::move(d));
  }
  ready_cv_.notify_all();
}

void ConsumerImpl::ApplyStart(Stream* s, const Watermarks& w) const {
  switch (options_.start.kind) {
    case StartPosition::Kind::kEarliest:
      s->next = w.low_watermark;
      break;
    case StartPosition::Kind::kLatest:
      s->next = w.high_watermark;
      break;
    case StartPosition::Kind::kOffset:
      s->next = std::min(options_.start.offset, w.high_watermark);
      break;
    case StartPosition::Kind::kTimestamp:
      // Asked with a seek; live records wait in the buffer meanwhile.
      s->next = w.low_watermark;
      s->seeking = true;
      break;
  }
}

void ConsumerImpl::QueueStart(const Stream& s) {
  if (!KeepsPositions()) return;
  Delivery d;
  d.stream = &s.id;
  d.start = true;
  d.start_next = s.next;
  d.epoch = s.epoch;
  {
    std::lock_guard<std::mutex> lk(mu_);
    PushLocked(std::move(d));
  }
  ready_cv_.notify_all();
}

void ConsumerImpl::QueueEvent(ConsumerEvent e, const Stream* stream) {
  const bool routine =
      e.kind == ConsumerEvent::Kind::kAssigned || e.kind == ConsumerEvent::Kind::kRevoked;
  Log(routine ? LogLevel::kInfo : LogLevel::kWarning, e.message);
  Delivery d;
  d.event = std::move(e);
  if (stream) {
    d.event_stream = &stream->id;
    d.epoch = stream->epoch;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    PushLocked(std::move(d));
  }
  ready_cv_.notify_all();
}

}  // namespace
}  // namespace node

Status Consumer::Open(const ConsumerOptions& options, std::unique_ptr<Consumer>* out) {
  out->reset();
  Status s = node::ValidateOptions(options);
  if (!s.ok()) return s;
  auto impl = std::make_unique<node::ConsumerImpl>(options);
  s = impl->Init();
  if (!s.ok()) return s;
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace brook
