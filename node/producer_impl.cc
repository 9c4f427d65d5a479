// The producer: a journal, a PUB socket fed by the journal's commit listener,
// and one server thread that answers replay requests (ROUTER) and sends
// heartbeats.
//
// The PUB socket is used by whichever thread commits (the commit listener)
// and by the server thread (heartbeats): pub_mu_ serialises them. A send never
// blocks: PUB drops at its high-water mark and consumers replay the gap.
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "brook/producer.h"
#include "node/curve.h"
#include "node/discovery.h"
#include "node/group_coordinator.h"
#include "node/wire.h"
#include "node/zap_handler.h"

namespace brook {
namespace node {
namespace {

using Clock = std::chrono::steady_clock;

// A fetch that has been waiting for credit this long is dropped: its peer is
// probably gone.
constexpr auto kIdleFetchTimeout = std::chrono::seconds(30);
// The server thread never sleeps longer than this, so Close is prompt.
constexpr auto kMaxPollWait = std::chrono::milliseconds(50);
// Fetches in progress across all peers.
constexpr size_t kMaxFetches = 4096;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Receives one message, keeping at most its first 3 frames in *parts (a
// hostile peer may send any number: they are counted and dropped, never
// stored) and their count in *frames. False when nothing was waiting.
bool RecvBounded(zmq::socket_t& socket, std::vector<zmq::message_t>* parts, size_t* frames) {
  constexpr size_t kKeep = 3;
  parts->resize(kKeep);
  *frames = 0;
  zmq::message_t spare;
  bool more = true;
  while (more) {
    zmq::message_t& into = *frames < kKeep ? (*parts)[*frames] : spare;
    // The frames of a message arrive together: only the first can be absent.
    if (!socket.recv(into, zmq::recv_flags::dontwait)) return *frames > 0;
    ++*frames;
    more = into.more();
  }
  parts->resize(std::min(*frames, kKeep));
  return true;
}

Status ValidateOptions(const ProducerOptions& o) {
  if (o.pub_endpoint.empty())
    return Status::InvalidArgument(
        "ProducerOptions::pub_endpoint is empty; give one, e.g. tcp://127.0.0.1:0");
  if (o.replay_endpoint.empty())
    return Status::InvalidArgument(
        "ProducerOptions::replay_endpoint is empty; give one, e.g. tcp://127.0.0.1:0");
  if (o.heartbeat_interval.count() <= 0)
    return Status::InvalidArgument("ProducerOptions::heartbeat_interval must be positive");
  if (o.pub_high_water_mark < 0)
    return Status::InvalidArgument("ProducerOptions::pub_high_water_mark must not be negative");
  if (o.replay_page_records == 0 || o.replay_page_bytes == 0)
    return Status::InvalidArgument(
        "ProducerOptions::replay_page_records and replay_page_bytes must be positive");
  if (o.max_fetches_per_peer == 0)
    return Status::InvalidArgument("ProducerOptions::max_fetches_per_peer must be positive");
  if (o.max_request_bytes < 256)
    return Status::InvalidArgument("ProducerOptions::max_request_bytes must be at least 256");
  if (o.discovery.enabled) {
    Status s = ValidateDiscoveryOptions(o.discovery, "ProducerOptions::discovery");
    if (!s.ok()) return s;
  }
  return ValidateServerSecurity(o.security, "ProducerOptions::security");
}

class ProducerImpl final : public Producer {
 public:
  explicit ProducerImpl(const ProducerOptions& options) : options_(options) {}
  ~ProducerImpl() override {
    Status s = Close();
    (void)s;
  }

  Status Init();

  Status Close() override;
  std::string pub_endpoint() const override { return pub_endpoint_; }
  std::string replay_endpoint() const override { return replay_endpoint_; }
  ProducerId producer_id() const override { return journal_->producer_id(); }
  uint64_t epoch() const override { return journal_->epoch(); }
  Status CreateTopic(std::string_view name, const TopicConfig& config) override {
    return journal_->CreateTopic(name, config);
  }
  Status Publish(std::string_view topic, const RecordInput& record,
                 RecordPosition* position) override;
  Status PublishBatch(std::string_view topic, const std::vector<RecordInput>& records,
                      std::vector<RecordPosition>* positions) override;
  std::future<PublishAck> PublishAsync(std::string_view topic, const RecordInput& record) override;
  Status PublishAsync(std::string_view topic, const std::vector<RecordInput>& records,
                      AppendCallback done) override;
  ProducerStats stats() const override;
  Status SetAllowedClientKeys(const std::vector<std::string>& keys) override {
    if (!zap_)
      return Status::FailedPrecondition(
          "SetAllowedClientKeys: this producer runs without security (ProducerOptions::security)");
    return zap_->SetAllowedKeys(keys);
  }
  Journal* journal() override { return journal_.get(); }

 private:
  struct Fetch {
    std::string peer;
    uint64_t id = 0;
    std::string topic;
    uint32_t partition = 0;
    uint64_t next = 0;
    uint64_t records_left = 0;
    uint64_t bytes_left = 0;
    uint32_t credit = 0;
    Clock::time_point last_activity;
  };

  Status Bind(zmq::socket_t& socket, const std::string& endpoint, const char* option,
              std::string* bound);
  void OnCommit(const CommittedRange& range);
  void ServerLoop();
  void HandleRequest(const std::string& peer, std::string_view frame);
  // Sends one page (or the end, or an error) of `f`; true when `f` is over.
  bool ServeOnePage(Fetch& f);
  void SendAnswer(const std::string& peer, const std::string& payload);
  void SendError(const std::string& peer, uint64_t id, ErrorCode code, std::string_view message,
                 const Watermarks& w = Watermarks{}, uint64_t lost_from = 0);
  void SendHeartbeats();
  // A consumer group's heartbeat or commit (server thread).
  void HandleGroupRequest(const std::string& peer, std::string_view frame);
  // Tells the group coordinator the producer's topics when they changed.
  void UpdateGroupStreams(Clock::time_point now);
  // One round of discovery beacons (server thread).
  void SendBeacons();
  void Log(LogLevel level, const std::string& msg) const {
    if (options_.logger) options_.logger(level, msg);
  }

  ProducerOptions options_;
  std::unique_ptr<Journal> journal_;
  zmq::context_t ctx_;
  std::unique_ptr<ZapHandler> zap_;  // with security on: admits consumers by key
  zmq::socket_t pub_;
  zmq::socket_t router_;
  std::string pub_endpoint_, replay_endpoint_;

  std::mutex pub_mu_;       // guards pub_ and live_frame_
  std::string live_frame_;  // reused buffer for a live message's prefix

  std::thread server_;
  std::atomic<bool> stop_{false};
  // Server thread only.
  std::list<Fetch> fetches_;
  std::map<std::string, uint32_t> fetches_per_peer_;
  std::string answer_;

  std::mutex close_mu_;
  bool closed_ = false;

  std::atomic<uint64_t> records_published_{0}, live_messages_{0}, heartbeats_{0},
      replay_requests_{0}, replay_pages_{0}, replay_records_{0}, rejected_requests_{0},
      beacon_rounds_{0}, beacon_errors_{0};
  std::unique_ptr<BeaconSender> beacons_;  // server thread, after Init
  // Consumer groups (server thread, after Init).
  std::unique_ptr<JournalGroupStore> group_store_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::vector<TopicPartitions> group_topics_;  // as last given to groups_
  std::string group_answer_;
  Clock::time_point beacon_error_logged_;
};

Status ProducerImpl::Bind(zmq::socket_t& socket, const std::string& endpoint, const char* option,
                          std::string* bound) {
  try {
    socket.bind(endpoint);
    *bound = socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument(std::string("cannot bind ProducerOptions::") + option + " '" +
                                   endpoint + "': " + e.what());
  }
  return Status::OK();
}

Status ProducerImpl::Init() {
  Status s = Journal::Open(options_.journal, &journal_);
  if (!s.ok()) return s;
  if (options_.security.enabled) {
    // Before any socket exists: a CURVE socket without a handler refuses all.
    s = ZapHandler::Start(ctx_, options_.security, options_.logger, &zap_);
    if (!s.ok()) return s;
  }
  try {
    pub_ = zmq::socket_t(ctx_, zmq::socket_type::pub);
    pub_.set(zmq::sockopt::sndhwm, options_.pub_high_water_mark);
    pub_.set(zmq::sockopt::linger, 200);
    // A PUB receives only subscriptions; nothing else may be large.
    pub_.set(zmq::sockopt::maxmsgsize, options_.max_request_bytes);
    router_ = zmq::socket_t(ctx_, zmq::socket_type::router);
    router_.set(zmq::sockopt::maxmsgsize, options_.max_request_bytes);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::sndhwm, 1000);
    // ZeroMQ's listen backlog is 100: of 1,000 consumers connecting at once
    // (all reconnecting after a restart), half waited for the kernel's SYN
    // retries, seconds. The kernel caps this at net.core.somaxconn.
    for (zmq::socket_t* socket : {&pub_, &router_}) socket->set(zmq::sockopt::backlog, 4096);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("creating the producer's sockets: ") + e.what());
  }
  s = ApplyServer(pub_, options_.security, zap_.get());
  if (s.ok()) s = ApplyServer(router_, options_.security, zap_.get());
  if (!s.ok()) return s;
  s = Bind(pub_, options_.pub_endpoint, "pub_endpoint", &pub_endpoint_);
  if (s.ok()) s = Bind(router_, options_.replay_endpoint, "replay_endpoint", &replay_endpoint_);
  if (!s.ok()) return s;
  if (options_.discovery.enabled) {
    s = BeaconSender::Open(options_.discovery, &beacons_);
    if (!s.ok()) return s;
  }
  {
    GroupCoordinatorOptions go;
    go.producer = journal_->producer_id();
    // Generations grow across restarts of the producer (epoch << 32).
    go.first_generation = journal_->epoch() << 32;
    // A journal opened for the first time: no member can hold a stream of
    // it from before, so nothing to wait for before assigning.
    if (journal_->epoch() == 1) go.restart_grace = std::chrono::milliseconds(0);
    group_store_ = std::make_unique<JournalGroupStore>(journal_.get());
    groups_ = std::make_unique<GroupCoordinator>(go, group_store_.get(), Clock::now());
    UpdateGroupStreams(Clock::now());
  }
  journal_->SetCommitListener([this](const CommittedRange& r) { OnCommit(r); });
  server_ = std::thread([this] { ServerLoop(); });
  return Status::OK();
}

Status ProducerImpl::Close() {
  std::lock_guard<std::mutex> lk(close_mu_);
  if (closed_) return Status::OK();
  closed_ = true;
  stop_ = true;
  if (server_.joinable()) server_.join();
  Status s;
  if (journal_) s = journal_->Close();  // commits what is pending; the listener sends it
  {
    std::lock_guard<std::mutex> plk(pub_mu_);
    pub_.close();
  }
  router_.close();
  if (zap_) zap_->Stop();  // after the sockets, before the context
  ctx_.close();
  return s;
}

// ---------------------------------------------------------------------------
// Publishing

Status ProducerImpl::Publish(std::string_view topic, const RecordInput& record,
                             RecordPosition* position) {
  std::vector<RecordInput> one{record};
  std::vector<RecordPosition> positions;
  Status s = journal_->Append(topic, one, &positions);
  if (s.ok() && position) *position = positions[0];
  return s;
}

Status ProducerImpl::PublishBatch(std::string_view topic, const std::vector<RecordInput>& records,
                                  std::vector<RecordPosition>* positions) {
  std::vector<RecordPosition> local;
  return journal_->Append(topic, records, positions ? positions : &local);
}

std::future<PublishAck> ProducerImpl::PublishAsync(std::string_view topic,
                                                   const RecordInput& record) {
  auto promise = std::make_shared<std::promise<PublishAck>>();
  std::future<PublishAck> future = promise->get_future();
  std::vector<RecordInput> one{record};
  Status s = journal_->AppendAsync(
      topic, one, [promise](const Status& st, const std::vector<RecordPosition>& positions) {
        PublishAck ack;
        ack.status = st;
        if (st.ok()) ack.position = positions[0];
        promise->set_value(std::move(ack));
      });
  if (!s.ok()) promise->set_value(PublishAck{s, RecordPosition{}});
  return future;
}

Status ProducerImpl::PublishAsync(std::string_view topic, const std::vector<RecordInput>& records,
                                  AppendCallback done) {
  return journal_->AppendAsync(topic, records, std::move(done));
}

void ProducerImpl::OnCommit(const CommittedRange& range) {
  RecordsHeader h;
  h.producer = journal_->producer_id();
  h.epoch = journal_->epoch();
  h.partition = range.partition;
  h.first_offset = range.first_offset;
  h.count = range.count;
  std::lock_guard<std::mutex> lk(pub_mu_);
  live_frame_.clear();
  EncodeRecordsPrefix(range.topic, h, &live_frame_);
  try {
    // The records are copied once, straight into the message ZeroMQ sends.
    zmq::message_t msg(live_frame_.size() + range.encoded.size());
    char* out = static_cast<char*>(msg.data());
    std::memcpy(out, live_frame_.data(), live_frame_.size());
    if (!range.encoded.empty())
      std::memcpy(out + live_frame_.size(), range.encoded.data(), range.encoded.size());
    // PUB never blocks: at its high-water mark it drops, and consumers replay.
    (void)pub_.send(msg, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    Log(LogLevel::kError, std::string("sending live records: ") + e.what());
    return;
  }
  records_published_ += range.count;
  ++live_messages_;
}

ProducerStats ProducerImpl::stats() const {
  ProducerStats s;
  s.records_published = records_published_;
  s.live_messages = live_messages_;
  s.heartbeats = heartbeats_;
  s.replay_requests = replay_requests_;
  s.replay_pages = replay_pages_;
  s.replay_records = replay_records_;
  s.rejected_requests = rejected_requests_;
  s.beacon_rounds = beacon_rounds_;
  s.beacon_errors = beacon_errors_;
  if (zap_) {
    s.handshakes_admitted = zap_->admitted();
    s.handshakes_refused = zap_->refused();
  }
  return s;
}

// ---------------------------------------------------------------------------
// The server thread: replay and heartbeats

void ProducerImpl::ServerLoop() {
  auto next_heartbeat = Clock::now();
  auto next_beacon = beacons_ ? Clock::now() : Clock::time_point::max();
  std::vector<zmq::message_t> parts;
  while (!stop_) {
    const auto now = Clock::now();
    if (now >= next_heartbeat) {
      SendHeartbeats();
      UpdateGroupStreams(now);
      next_heartbeat = now + options_.heartbeat_interval;
    }
    groups_->Expire(now);
    if (now >= next_beacon) {
      SendBeacons();
      next_beacon = now + options_.discovery.interval;
    }
    // Serve one page of every fetch that has credit, round-robin, so one
    // peer's large fetch never starves another's.
    bool has_work = false;
    for (auto it = fetches_.begin(); it != fetches_.end();) {
      if (it->credit == 0) {
        if (now - it->last_activity > kIdleFetchTimeout) {
          --fetches_per_peer_[it->peer];
          it = fetches_.erase(it);
        } else {
          ++it;
        }
        continue;
      }
      if (ServeOnePage(*it)) {
        if (--fetches_per_peer_[it->peer] == 0) fetches_per_peer_.erase(it->peer);
        it = fetches_.erase(it);
      } else {
        has_work |= it->credit > 0;
        ++it;
      }
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::min(next_heartbeat, next_beacon) - Clock::now());
    if (has_work) wait = std::chrono::milliseconds(0);
    wait = std::max(std::chrono::milliseconds(0),
                    std::min(wait, std::chrono::milliseconds(kMaxPollWait)));
    zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, wait);
      // Take every queued request, but a bounded number per turn.
      for (int i = 0; i < 256 && (items[0].revents & ZMQ_POLLIN); ++i) {
        size_t frames = 0;
        if (!RecvBounded(router_, &parts, &frames)) break;
        // From a DEALER: [peer identity][request]. Anything else is refused.
        if (frames != 2) {
          ++rejected_requests_;
          SendError(parts[0].to_string(), 0, ErrorCode::kBadRequest,
                    "a request is one frame sent from a DEALER socket; got " +
                        std::to_string(frames - 1) + " frames");
          continue;
        }
        HandleRequest(parts[0].to_string(), parts[1].to_string_view());
      }
    } catch (const zmq::error_t& e) {
      if (stop_) break;
      Log(LogLevel::kError, std::string("replay server: ") + e.what());
    }
  }
}

void ProducerImpl::HandleRequest(const std::string& peer, std::string_view frame) {
  Kind kind;
  if (PeekKind(frame, &kind).ok() && IsGroupRequest(kind)) return HandleGroupRequest(peer, frame);
  Request req;
  ErrorCode code;
  Status s = DecodeRequest(frame, &req, &code);
  if (!s.ok()) {
    ++rejected_requests_;
    SendError(peer, req.id, code, s.message());
    return;
  }
  ++replay_requests_;
  switch (req.kind) {
    case Kind::kDescribe: {
      std::vector<TopicInfo> topics = journal_->ListTopics();
      std::vector<TopicDescription> desc(topics.size());
      for (size_t i = 0; i < topics.size(); ++i) {
        desc[i].name = topics[i].name;
        desc[i].partitions.resize(topics[i].config.partitions);
        for (uint32_t p = 0; p < topics[i].config.partitions; ++p) {
          Status ws = journal_->GetWatermarks(topics[i].name, p, &desc[i].partitions[p]);
          if (!ws.ok()) {
            SendError(peer, req.id, ErrorCode::kInternal, ws.ToString());
            return;
          }
        }
      }
      answer_.clear();
      EncodeDescribeAnswer(req.id, journal_->producer_id(), journal_->epoch(), desc, &answer_);
      SendAnswer(peer, answer_);
      return;
    }
    case Kind::kFetch: {
      TopicInfo info;
      if (!journal_->GetTopic(req.topic, &info).ok()) {
        ++rejected_requests_;
        SendError(peer, req.id, ErrorCode::kUnknownTopic,
                  "topic '" + std::string(req.topic) + "' does not exist on this producer");
        return;
      }
      if (req.partition >= info.config.partitions) {
        ++rejected_requests_;
        SendError(peer, req.id, ErrorCode::kUnknownPartition,
                  "topic '" + info.name + "' has " + std::to_string(info.config.partitions) +
                      " partitions; partition " + std::to_string(req.partition) +
                      " does not exist");
        return;
      }
      if (req.epoch != 0 && req.epoch != journal_->epoch()) {
        // The client read below from_offset under another epoch: check that
        // a crash did not undo part of it since.
        uint64_t end = 0;
        Watermarks w;
        Status es = journal_->EpochEnd(req.topic, req.partition, req.epoch, &end);
        if (es.ok()) es = journal_->GetWatermarks(req.topic, req.partition, &w);
        if (!es.ok()) {
          SendError(peer, req.id, ErrorCode::kInternal, es.ToString());
          return;
        }
        if (end < req.from_offset) {
          SendError(peer, req.id, ErrorCode::kTailLost,
                    "offsets " + std::to_string(end) + ".." + std::to_string(req.from_offset - 1) +
                        " of " + info.name + "/" + std::to_string(req.partition) +
                        " read under epoch " + std::to_string(req.epoch) +
                        " were undone by a crash; this producer is at epoch " +
                        std::to_string(journal_->epoch()),
                    w, end);
          return;
        }
      }
      uint32_t& per_peer = fetches_per_peer_[peer];
      if (per_peer >= options_.max_fetches_per_peer || fetches_.size() >= kMaxFetches) {
        if (per_peer == 0) fetches_per_peer_.erase(peer);
        ++rejected_requests_;
        SendError(peer, req.id, ErrorCode::kBusy,
                  "too many fetches in progress; wait for one to end and retry");
        return;
      }
      ++per_peer;
      Fetch f;
      f.peer = peer;
      f.id = req.id;
      f.topic = std::string(req.topic);
      f.partition = req.partition;
      f.next = req.from_offset;
      f.records_left = req.max_records;
      f.bytes_left = req.max_bytes;
      f.credit = req.credit;
      f.last_activity = Clock::now();
      fetches_.push_back(std::move(f));
      return;
    }
    case Kind::kSeek: {
      uint64_t offset = 0;
      Watermarks w;
      Status ss = journal_->SeekByTimestamp(req.topic, req.partition,
                                            static_cast<int64_t>(req.timestamp_ns), &offset);
      if (ss.ok()) ss = journal_->GetWatermarks(req.topic, req.partition, &w);
      if (!ss.ok()) {
        ++rejected_requests_;
        const ErrorCode code = ss.IsNotFound()          ? ErrorCode::kUnknownTopic
                               : ss.IsInvalidArgument() ? ErrorCode::kUnknownPartition
                               : ss.IsDataLoss()        ? ErrorCode::kDataLoss
                                                        : ErrorCode::kInternal;
        SendError(peer, req.id, code, ss.message());
        return;
      }
      answer_.clear();
      EncodeOffset(req.id, std::max(offset, w.low_watermark), w, journal_->epoch(), &answer_);
      SendAnswer(peer, answer_);
      return;
    }
    case Kind::kCredit:
    case Kind::kCancel:
      for (auto it = fetches_.begin(); it != fetches_.end(); ++it) {
        if (it->peer != peer || it->id != req.id) continue;
        if (req.kind == Kind::kCredit) {
          it->credit = static_cast<uint32_t>(
              std::min<uint64_t>(uint64_t{it->credit} + req.pages, UINT32_MAX));
          it->last_activity = Clock::now();
        } else {
          if (--fetches_per_peer_[peer] == 0) fetches_per_peer_.erase(peer);
          fetches_.erase(it);
        }
        return;
      }
      return;  // unknown or finished fetch: nothing to do
    default:
      ++rejected_requests_;
      SendError(peer, req.id, ErrorCode::kBadRequest, "not a request kind");
      return;
  }
}

bool ProducerImpl::ServeOnePage(Fetch& f) {
  ReadOptions ro;
  ro.max_records =
      static_cast<uint32_t>(std::min<uint64_t>(f.records_left, options_.replay_page_records));
  ro.max_bytes = std::min<uint64_t>(f.bytes_left, options_.replay_page_bytes);
  std::string body;
  uint32_t count = 0;
  Watermarks w;
  Status s = journal_->Scan(
      f.topic, f.partition, f.next, ro,
      [&](const RecordView& r) {
        body.append(r.encoded.data(), r.encoded.size());
        ++count;
        return true;
      },
      &w);
  if (!s.ok()) {
    const ErrorCode code = s.IsOutOfRange() ? ErrorCode::kOutOfRange
                           : s.IsDataLoss() ? ErrorCode::kDataLoss
                           : s.IsNotFound() ? ErrorCode::kUnknownTopic
                                            : ErrorCode::kInternal;
    SendError(f.peer, f.id, code, s.message(), w);
    return true;
  }
  if (count > 0) {
    answer_.clear();
    EncodePagePrefix(f.id, f.partition, f.next, count, w, journal_->epoch(), &answer_);
    answer_ += body;
    SendAnswer(f.peer, answer_);
    ++replay_pages_;
    replay_records_ += count;
    f.next += count;
    f.records_left -= count;
    f.bytes_left -= std::min<uint64_t>(f.bytes_left, body.size());
    --f.credit;
    f.last_activity = Clock::now();
  }
  if (count == 0 || f.records_left == 0 || f.bytes_left == 0 || f.next >= w.high_watermark) {
    answer_.clear();
    EncodeEnd(f.id, f.next, w, journal_->epoch(), &answer_);
    SendAnswer(f.peer, answer_);
    return true;
  }
  return false;
}

void ProducerImpl::SendAnswer(const std::string& peer, const std::string& payload) {
  try {
    // A ROUTER drops what it cannot deliver (peer gone or at its
    // high-water mark): the client times out and asks again.
    (void)router_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)router_.send(zmq::buffer(payload), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    Log(LogLevel::kWarning, std::string("replay answer not sent: ") + e.what());
  }
}

void ProducerImpl::SendError(const std::string& peer, uint64_t id, ErrorCode code,
                             std::string_view message, const Watermarks& w, uint64_t lost_from) {
  std::string out;
  EncodeError(id, code, message, w, &out, lost_from);
  SendAnswer(peer, out);
}

void ProducerImpl::SendHeartbeats() {
  for (const TopicInfo& t : journal_->ListTopics()) {
    Heartbeat h;
    h.producer = journal_->producer_id();
    h.epoch = journal_->epoch();
    h.sent_ns = NowNs();
    h.partitions.resize(t.config.partitions);
    bool ok = true;
    for (uint32_t p = 0; p < t.config.partitions && ok; ++p)
      ok = journal_->GetWatermarks(t.name, p, &h.partitions[p]).ok();
    if (!ok) continue;
    std::string frame;
    EncodeHeartbeat(t.name, h, &frame);
    std::lock_guard<std::mutex> lk(pub_mu_);
    try {
      (void)pub_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
      ++heartbeats_;
    } catch (const zmq::error_t& e) {
      Log(LogLevel::kWarning, std::string("heartbeat not sent: ") + e.what());
    }
  }
}

void ProducerImpl::UpdateGroupStreams(Clock::time_point now) {
  std::vector<TopicPartitions> topics;
  for (const TopicInfo& t : journal_->ListTopics())
    topics.push_back(TopicPartitions{t.name, t.config.partitions});
  const auto same = [](const TopicPartitions& a, const TopicPartitions& b) {
    return a.topic == b.topic && a.partitions == b.partitions;
  };
  if (topics.size() == group_topics_.size() &&
      std::equal(topics.begin(), topics.end(), group_topics_.begin(), same))
    return;
  groups_->SetStreams(topics, now);
  group_topics_ = std::move(topics);
}

void ProducerImpl::HandleGroupRequest(const std::string& peer, std::string_view frame) {
  GroupRequest req;
  ErrorCode code = ErrorCode::kBadRequest;
  Status s = DecodeGroupRequest(frame, &req, &code);
  if (!s.ok()) {
    ++rejected_requests_;
    SendError(peer, req.id, code, s.message());
    return;
  }
  ++replay_requests_;
  const auto now = Clock::now();
  UpdateGroupStreams(now);  // a topic created since the last turn
  GroupAnswer answer;
  ErrorCode err = ErrorCode::kInternal;
  s = req.kind == Kind::kGroupHeartbeat ? groups_->Heartbeat(req, now, &answer, &err)
                                        : groups_->Commit(req, now, &answer, &err);
  if (!s.ok()) {
    ++rejected_requests_;
    SendError(peer, req.id, err, s.message());
    return;
  }
  answer.id = req.id;
  answer.kind =
      req.kind == Kind::kGroupHeartbeat ? Kind::kGroupHeartbeatAnswer : Kind::kGroupCommitAnswer;
  group_answer_.clear();
  if (req.kind == Kind::kGroupHeartbeat) {
    EncodeGroupHeartbeatAnswer(answer, &group_answer_);
  } else {
    EncodeGroupCommitAnswer(answer, &group_answer_);
  }
  SendAnswer(peer, group_answer_);
}

void ProducerImpl::SendBeacons() {
  BeaconState state;
  state.id = journal_->producer_id();
  state.epoch = journal_->epoch();
  state.pub_endpoint = pub_endpoint_;
  state.replay_endpoint = replay_endpoint_;
  if (options_.security.enabled) state.server_public_key = options_.security.server.public_key;
  for (const TopicInfo& t : journal_->ListTopics()) {
    DiscoveredTopic topic;
    topic.name = t.name;
    topic.partitions.resize(t.config.partitions);
    bool ok = true;
    for (uint32_t p = 0; p < t.config.partitions && ok; ++p)
      ok = journal_->GetWatermarks(t.name, p, &topic.partitions[p]).ok();
    if (ok) state.topics.push_back(std::move(topic));
  }
  Status s = beacons_->Send(state);
  if (s.ok()) {
    ++beacon_rounds_;
    return;
  }
  ++beacon_errors_;
  const auto now = Clock::now();
  if (now - beacon_error_logged_ < std::chrono::seconds(60)) return;
  beacon_error_logged_ = now;
  Log(LogLevel::kWarning, "discovery beacons not sent: " + s.ToString());
}

}  // namespace
}  // namespace node

Status Producer::Open(const ProducerOptions& options, std::unique_ptr<Producer>* out) {
  out->reset();
  Status s = node::ValidateOptions(options);
  if (!s.ok()) return s;
  auto impl = std::make_unique<node::ProducerImpl>(options);
  s = impl->Init();
  if (!s.ok()) return s;
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace brook
