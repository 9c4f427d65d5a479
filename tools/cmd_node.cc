// `brook node CONFIG`: a standalone producer node. It opens the journal the
// config names, creates its topics, serves live and replay like any embedded
// Producer, and accepts records from local programs on its ingest endpoint
// (tools/ingest.h) — how a shell script (`brook produce`) or a program in
// another language publishes without linking brook. With [discovery] it
// announces itself on the LAN (docs/DISCOVERY.md), so consumers find it
// without its endpoints. SIGTERM or SIGINT: stop taking records, commit and
// acknowledge what was taken, close. SIGHUP: load the allowed client keys
// again.
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "brook/producer.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/ingest.h"
#include "tools/node_config.h"

namespace brook::cli {

namespace {

std::atomic<bool> g_reload_keys{false};

void OnHangup(int) { g_reload_keys.store(true); }

CommandSpec NodeSpec() {
  CommandSpec spec("node");
  spec.positional = "CONFIG";
  spec.min_positional = spec.max_positional = 1;
  spec.summary = "Run a producer node configured by the file CONFIG.";
  spec.description =
      "The node journals every record it takes, publishes it live and serves replays, like a\n"
      "Producer embedded in a program. Local programs publish through its ingest endpoint\n"
      "(`brook produce --config CONFIG TOPIC`). Once bound it prints one line (--json: an\n"
      "object) with the producer id, the endpoints actually bound and, with [discovery],\n"
      "the cluster and where its beacons go.\n"
      "\n"
      "Signals: SIGTERM or SIGINT stop it cleanly (every record taken is committed and\n"
      "acknowledged first); SIGHUP reloads [security] allowed_client_keys.\n"
      "\n"
      "The file (relative paths are relative to it):\n"
      "  journal = /var/lib/brook/shop        # required\n"
      "  durability = fsync                   # fsync | nometasync | nosync\n"
      "  pub = tcp://0.0.0.0:7000             # required: live records\n"
      "  replay = tcp://0.0.0.0:7001          # required: replays and describe\n"
      "  ingest = ipc:///run/brook/shop.sock  # optional: ipc:// or loopback tcp only\n"
      "  heartbeat_interval = 500ms           # also: sync_interval, retention_interval,\n"
      "  max_map_size = 1TiB                  #   initial_map_size, max_pending_bytes,\n"
      "                                       #   max_record_bytes, max_partitions,\n"
      "                                       #   pub_high_water_mark, create_if_missing\n"
      "  [security]                           # optional: CURVE (docs/SECURITY.md)\n"
      "  server_key = node.key                # public key; secret in node.key.secret\n"
      "  allowed_client_keys = clients.keys   # one public key per line\n"
      "  [discovery]                          # optional: UDP beacons (docs/DISCOVERY.md)\n"
      "  cluster = shop                       # required here: 1..64 of [A-Za-z0-9._-]\n"
      "  address = 255.255.255.255            # broadcast (default), a group in 239.0.0.0/8,\n"
      "                                       #   or 127.255.255.255 (this host only)\n"
      "  port = 7099                          # UDP, the same for the whole cluster\n"
      "  interval = 1s                        # a round of beacons this often\n"
      "  silence_timeout = 5s                 # clients drop a node unheard this long\n"
      "  interface_address = 0.0.0.0          # the interface's address (0.0.0.0: routing)\n"
      "  bind_address = 0.0.0.0               # clients listen here: 0.0.0.0 or address\n"
      "  multicast_ttl = 1                    # routers a multicast beacon may cross\n"
      "  [topic orders]                       # one section per topic\n"
      "  partitions = 3\n"
      "  max_age = 7d                         # also: max_bytes, max_records";
  spec.options = {
      {"json", "", "print the ready line and the final summary as JSON objects"},
      {"stats-interval", "DURATION",
       "print the node's counters to stderr this often (default: off)"},
      {"verbose", "", "log brook's info messages too (warnings and errors always)"},
  };
  return spec;
}

// Ingest is unauthenticated: only this machine may reach it.
Status CheckIngestEndpoint(const std::string& e) {
  if (e.compare(0, 6, "ipc://") == 0) return Status::OK();
  for (const char* local : {"tcp://127.0.0.1:", "tcp://localhost:", "tcp://[::1]:"}) {
    if (e.compare(0, std::strlen(local), local) == 0) return Status::OK();
  }
  return Status::InvalidArgument("ingest = " + e +
                                 ": the ingest endpoint has no authentication, so it must be "
                                 "ipc://PATH or tcp on a loopback address (127.0.0.1, [::1])");
}

// Takes publish requests on a ROUTER, hands them to the producer without
// waiting, and sends each answer once its commit is done. Answers come back
// on the journal's committing thread; they are queued and the loop sends them
// (a ZeroMQ socket belongs to one thread), woken by an eventfd.
class IngestServer {
 public:
  IngestServer(Producer* producer, zmq::context_t* ctx) : producer_(producer), ctx_(ctx) {}
  ~IngestServer() {
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  Status Bind(const std::string& endpoint, uint64_t max_request_bytes) {
    Status s = CheckIngestEndpoint(endpoint);
    if (!s.ok()) return s;
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return Status::Internal(std::string("eventfd: ") + std::strerror(errno));
    try {
      socket_ = zmq::socket_t(*ctx_, zmq::socket_type::router);
      socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_request_bytes));
      socket_.set(zmq::sockopt::linger, 1000);
      socket_.bind(endpoint);
      bound_ = socket_.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("cannot bind the ingest endpoint " + endpoint + ": " +
                                     e.what());
    }
    if (bound_.compare(0, 6, "ipc://") == 0) {
      // Whoever may write to the node may publish: owner and group only.
      (void)::chmod(bound_.c_str() + 6, 0660);
    }
    return Status::OK();
  }

  const std::string& bound() const { return bound_; }
  uint64_t records() const { return records_.load(); }
  uint64_t requests() const { return requests_; }
  uint64_t rejected() const { return rejected_; }

  // Serves until `stop()` says so, then answers every request in flight.
  void Run(const std::function<bool()>& stop, const std::function<void()>& tick) {
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    while (!stop()) {
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(100));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
      }
      if (items[0].revents & ZMQ_POLLIN) ReceiveAll();
      SendAnswers();
      tick();
    }
  }

  // After Producer::Close has acknowledged every publish in flight (their
  // callbacks queued the answers): send them.
  void Drain() { SendAnswers(); }

 private:
  void ReceiveAll() {
    for (int budget = 0; budget < 1000; ++budget) {
      zmq::message_t id, body, extra;
      if (!socket_.recv(id, zmq::recv_flags::dontwait)) return;
      size_t frames = 1;
      bool more = id.more();
      if (more) {
        (void)socket_.recv(body, zmq::recv_flags::none);
        ++frames;
        more = body.more();
      }
      while (more) {  // a well-formed request is one frame: drain the rest
        (void)socket_.recv(extra, zmq::recv_flags::none);
        ++frames;
        more = extra.more();
      }
      const std::string peer(static_cast<const char*>(id.data()), id.size());
      if (frames != 2) {
        Reject(
            peer, 0,
            Status::InvalidArgument("a request is one frame, got " + std::to_string(frames - 1)));
        continue;
      }
      Handle(peer, std::string_view(static_cast<const char*>(body.data()), body.size()));
    }
  }

  void Handle(const std::string& peer, std::string_view frame) {
    ingest::PublishRequest req;
    Status s = ingest::DecodePublish(frame, &req);
    if (!s.ok()) return Reject(peer, req.id, s);
    ++requests_;
    if (req.create_partitions > 0) {
      TopicInfo info;
      if (producer_->journal()->GetTopic(req.topic, &info).IsNotFound()) {
        TopicConfig config;
        config.partitions = req.create_partitions;
        s = producer_->CreateTopic(req.topic, config);
        if (!s.ok() && !s.IsAlreadyExists()) return Reject(peer, req.id, s);
      }
    }
    const uint64_t id = req.id;
    const size_t count = req.records.size();
    s = producer_->PublishAsync(
        req.topic, req.records,
        [this, peer, id, count](const Status& status, const std::vector<RecordPosition>& pos) {
          std::string answer;
          if (status.ok()) {
            ingest::EncodeAck(id, pos, &answer);
            records_.fetch_add(count);
          } else {
            ingest::EncodeError(id, status, &answer);
          }
          Queue(peer, std::move(answer));
        });
    if (!s.ok()) Reject(peer, id, s);
  }

  void Reject(const std::string& peer, uint64_t id, const Status& s) {
    ++rejected_;
    std::string answer;
    ingest::EncodeError(id, s, &answer);
    Send(peer, answer);
  }

  // Any thread.
  void Queue(const std::string& peer, std::string answer) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      answers_.emplace_back(peer, std::move(answer));
    }
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  void SendAnswers() {
    uint64_t n = 0;
    (void)!::read(wake_fd_, &n, sizeof n);
    std::deque<std::pair<std::string, std::string>> ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready.swap(answers_);
    }
    for (const auto& [peer, answer] : ready) Send(peer, answer);
  }

  void Send(const std::string& peer, const std::string& answer) {
    try {
      // A peer that went away is not an error of the node's: ROUTER drops.
      (void)socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      (void)socket_.send(zmq::buffer(answer), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
  }

  Producer* producer_;
  zmq::context_t* ctx_;
  zmq::socket_t socket_;
  std::string bound_;
  int wake_fd_ = -1;
  std::mutex mu_;
  std::deque<std::pair<std::string, std::string>> answers_;
  std::atomic<uint64_t> records_{0};
  uint64_t requests_ = 0;
  uint64_t rejected_ = 0;
};

std::string StatsLine(const ProducerStats& s, const IngestServer* ingest, bool discovery) {
  std::string line = "published " + std::to_string(s.records_published) + " records, " +
                     std::to_string(s.replay_requests) + " replay requests (" +
                     std::to_string(s.replay_records) + " records replayed), " +
                     std::to_string(s.rejected_requests) + " rejected";
  if (ingest) {
    line += ", ingest " + std::to_string(ingest->records()) + " records in " +
            std::to_string(ingest->requests()) + " requests (" +
            std::to_string(ingest->rejected()) + " rejected)";
  }
  if (discovery) {
    line += ", beacons " + std::to_string(s.beacon_rounds) + " rounds (" +
            std::to_string(s.beacon_errors) + " failed)";
  }
  return line;
}

std::string StatsJson(const ProducerStats& s, const IngestServer* ingest) {
  JsonObject o;
  o.Str("event", "stopped")
      .Num("records_published", s.records_published)
      .Num("live_messages", s.live_messages)
      .Num("heartbeats", s.heartbeats)
      .Num("replay_requests", s.replay_requests)
      .Num("replay_records", s.replay_records)
      .Num("rejected_requests", s.rejected_requests)
      .Num("handshakes_admitted", s.handshakes_admitted)
      .Num("handshakes_refused", s.handshakes_refused)
      .Num("beacon_rounds", s.beacon_rounds)
      .Num("beacon_errors", s.beacon_errors);
  if (ingest) {
    o.Num("ingest_records", ingest->records())
        .Num("ingest_requests", ingest->requests())
        .Num("ingest_rejected", ingest->rejected());
  }
  return o.Done();
}

}  // namespace

int RunNode(int argc, char** argv) {
  const CommandSpec spec = NodeSpec();
  Args args;
  int code = 0;
  if (!ParseArgs(spec, argc, argv, 1, &args, &code)) return code;
  std::chrono::milliseconds stats_interval{0};
  Status s = args.GetDuration("stats-interval", &stats_interval);
  if (!s.ok()) return UsageError(spec, std::string(s.message()));
  const bool json = args.Has("json");

  NodeConfig config;
  s = LoadNodeConfig(args.positional()[0], /*load_secrets=*/true, &config);
  if (!s.ok()) return Fail(spec, s);
  if (!config.ingest_endpoint.empty()) {
    s = CheckIngestEndpoint(config.ingest_endpoint);
    if (!s.ok()) return Fail(spec, s);
  }
  const Logger logger = StderrLogger("node", args.Has("verbose"));
  config.producer.logger = logger;
  config.producer.journal.logger = logger;

  InstallStopSignals();
  struct sigaction sa {};
  sa.sa_handler = OnHangup;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, nullptr);

  std::unique_ptr<Producer> producer;
  s = Producer::Open(config.producer, &producer);
  if (!s.ok()) return Fail(spec, s);
  for (const TopicSpec& t : config.topics) {
    s = producer->CreateTopic(t.name, t.config);
    if (!s.ok()) {
      (void)producer->Close();
      return Fail(spec, "topic " + t.name + " (" + config.path + "): " + s.ToString());
    }
  }

  zmq::context_t ctx(1);
  std::unique_ptr<IngestServer> ingest;
  if (!config.ingest_endpoint.empty()) {
    ingest = std::make_unique<IngestServer>(producer.get(), &ctx);
    s = ingest->Bind(config.ingest_endpoint, config.producer.journal.max_pending_bytes);
    if (!s.ok()) {
      (void)producer->Close();
      return Fail(spec, s);
    }
  }

  const std::string id = producer->producer_id().ToHex();
  const DiscoveryOptions& discovery = config.producer.discovery;
  const std::string beacons_to = discovery.address + ":" + std::to_string(discovery.port);
  if (json) {
    JsonObject o;
    o.Str("event", "ready")
        .Str("producer", id)
        .Num("epoch", producer->epoch())
        .Str("journal", config.producer.journal.path)
        .Str("durability", DurabilityName(config.producer.journal.durability))
        .Str("pub", producer->pub_endpoint())
        .Str("replay", producer->replay_endpoint());
    if (ingest) {
      o.Str("ingest", ingest->bound());
    } else {
      o.Null("ingest");
    }
    o.Bool("curve", config.producer.security.enabled);
    if (discovery.enabled) {
      o.Raw("discovery", JsonObject()
                             .Str("cluster", discovery.cluster)
                             .Str("address", discovery.address)
                             .Num("port", discovery.port)
                             .Num("interval_ms", static_cast<uint64_t>(discovery.interval.count()))
                             .Done());
    } else {
      o.Null("discovery");
    }
    std::printf("%s\n", o.Done().c_str());
  } else {
    const std::string announced = discovery.enabled ? ", discovery cluster " + discovery.cluster +
                                                          " on " + beacons_to + " every " +
                                                          FormatDuration(discovery.interval)
                                                    : "";
    std::printf(
        "brook node: ready: producer %s epoch %llu, journal %s (%s), pub %s, replay %s%s%s%s%s\n",
        id.c_str(), static_cast<unsigned long long>(producer->epoch()),
        config.producer.journal.path.c_str(), DurabilityName(config.producer.journal.durability),
        producer->pub_endpoint().c_str(), producer->replay_endpoint().c_str(),
        ingest ? ", ingest " : "", ingest ? ingest->bound().c_str() : "",
        config.producer.security.enabled ? ", CURVE on" : "", announced.c_str());
  }
  std::fflush(stdout);

  auto next_stats = std::chrono::steady_clock::now() + stats_interval;
  const auto tick = [&] {
    if (g_reload_keys.exchange(false)) {
      std::vector<std::string> keys;
      Status r = config.producer.security.enabled
                     ? LoadAllowedKeys(config.allowed_client_keys_file, &keys)
                     : Status::FailedPrecondition("CURVE is off: there are no client keys");
      if (r.ok()) r = producer->SetAllowedClientKeys(keys);
      if (r.ok()) {
        logger(LogLevel::kWarning, "SIGHUP: " + std::to_string(keys.size()) +
                                       " allowed client keys loaded from " +
                                       config.allowed_client_keys_file);
      } else {
        logger(LogLevel::kError, "SIGHUP: allowed client keys not reloaded: " + r.ToString());
      }
    }
    if (stats_interval.count() > 0 && std::chrono::steady_clock::now() >= next_stats) {
      next_stats += stats_interval;
      std::fprintf(stderr, "brook node: %s\n",
                   StatsLine(producer->stats(), ingest.get(), discovery.enabled).c_str());
    }
  };
  if (ingest) {
    ingest->Run(StopRequested, tick);
  } else {
    while (!StopRequested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      tick();
    }
  }

  s = producer->Close();  // acknowledges every publish in flight
  if (ingest) ingest->Drain();
  const ProducerStats stats = producer->stats();
  if (json) {
    std::printf("%s\n", StatsJson(stats, ingest.get()).c_str());
  } else {
    std::printf("brook node: stopped: %s\n",
                StatsLine(stats, ingest.get(), discovery.enabled).c_str());
  }
  std::fflush(stdout);
  ingest.reset();  // closes the socket (lingers for the last answers) before the context
  if (!s.ok()) return Fail(spec, s);
  return kExitOk;
}

}  // namespace brook::cli
