// mosquitto_bench: the Mosquitto MQTT broker (Debian's mosquitto, libmosquitto
// client) on loopback, as a peer of brook.
//
//   mosquitto_bench [--runs N] [--quick] [--records N]
//
// Starts its own mosquitto on 127.0.0.1 and a free port with a configuration
// in a fresh temporary directory: `persistence true` there, anonymous access,
// no limit on queued messages per client (the default of 1000 drops QoS 1
// messages for a slow or offline subscriber), and an in-flight window of 1000
// messages each way. Mode "qos1-persist". Mind what it means: mosquitto keeps
// messages in memory and writes its persistence file only every
// autosave_interval (30 minutes by default) and at shutdown; a PUBACK says the
// broker has the message in memory, not on disk. Nothing here is synced per
// message: it compares with brook's nosync at best, and less durable than that.
// Workloads, MQTT 3.1.1, QoS 1, at payloads of 100 and 1024 B:
//   - publish: QoS 1 publishes, at most 1000 unacknowledged, until every PUBACK
//     is in, rec/s; a persistent session (clean_session false) is subscribed
//     but offline, so the broker queues every message for it;
//   - replay:  that session reconnects and receives the queued messages, rec/s
//     (from connect to the last message), every record checked;
//   - e2e:     a QoS 1 subscriber (clean_session false) receiving while the
//     publisher publishes; rec/s delivered, every record checked present, in
//     order and intact.
// One JSON line per figure on stdout (bench/bench_util.h), progress on stderr.
// If mosquitto is not installed, says so and exits 0 with no figures.
#include <mosquitto.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "bench/peers/peer_util.h"

namespace {

using namespace brook::bench;
using namespace brook::bench::peers;

constexpr int kWindow = 1000;

void CheckMosq(int rc, const char* what) {
  if (rc != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error(std::string(what) + ": " + mosquitto_strerror(rc));
  }
}

// One MQTT client with its network thread; counts PUBACKs, SUBACKs and
// checks incoming messages against the sequence they must follow.
class Client {
 public:
  Client(const std::string& id, bool clean_session, size_t size, int64_t expect)
      : size_(size), expect_(expect) {
    m_ = mosquitto_new(id.c_str(), clean_session, this);
    if (!m_) throw std::runtime_error("mosquitto_new failed");
    CheckMosq(mosquitto_int_option(m_, MOSQ_OPT_SEND_MAXIMUM, kWindow), "SEND_MAXIMUM");
    mosquitto_connect_callback_set(m_, OnConnect);
    mosquitto_publish_callback_set(m_, OnPublish);
    mosquitto_subscribe_callback_set(m_, OnSubscribe);
    mosquitto_message_callback_set(m_, OnMessage);
  }
  ~Client() {
    if (connected_) {
      mosquitto_disconnect(m_);
    }
    if (looping_) mosquitto_loop_stop(m_, false);
    mosquitto_destroy(m_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects and waits for the CONNACK.
  void Connect(int port) {
    CheckMosq(mosquitto_connect(m_, "127.0.0.1", port, 60), "mosquitto_connect");
    CheckMosq(mosquitto_loop_start(m_), "mosquitto_loop_start");
    looping_ = true;
    WaitFor([&] { return connack_ >= 0; }, 10, "CONNACK");
    if (connack_ != 0) {
      throw std::runtime_error(std::string("CONNACK: ") + mosquitto_connack_string(connack_));
    }
    connected_ = true;
  }

  void Disconnect() {
    CheckMosq(mosquitto_disconnect(m_), "mosquitto_disconnect");
    connected_ = false;
    mosquitto_loop_stop(m_, false);
    looping_ = false;
  }

  void Subscribe(const std::string& topic) {
    CheckMosq(mosquitto_subscribe(m_, nullptr, topic.c_str(), 1), "mosquitto_subscribe");
    WaitFor([&] { return subacked_; }, 10, "SUBACK");
    if (granted_qos_ != 1) {
      throw std::runtime_error("SUBACK granted QoS " + std::to_string(granted_qos_));
    }
  }

  // Publishes n QoS 1 messages (the library keeps kWindow in flight) and
  // waits for every PUBACK.
  void Publish(const std::string& topic, int64_t n) {
    std::string payload;
    for (int64_t i = 0; i < n; ++i) {
      FillPayload(&payload, size_, static_cast<uint64_t>(i), 0);
      // Bound the client's own queue, so memory stays flat.
      while (i - pubacks_.load(std::memory_order_relaxed) >= 4 * kWindow) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(5));
      }
      CheckMosq(mosquitto_publish(m_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                  payload.data(), 1, false),
                "mosquitto_publish");
    }
    WaitFor([&] { return pubacks_.load() >= n; }, 120, "PUBACKs");
  }

  // Waits until `expect` messages arrived; returns MonoNanos() of the last.
  int64_t WaitMessages(int timeout_s) {
    WaitFor([&] { return received_ >= expect_; }, timeout_s, "messages");
    std::lock_guard<std::mutex> lock(mu_);
    if (errors_) {
      throw std::runtime_error("subscriber saw " + std::to_string(errors_) +
                               " missing, duplicate, out-of-order or damaged records (first at " +
                               std::to_string(first_error_) + ")");
    }
    return end_ns_;
  }

 private:
  template <typename Pred>
  void WaitFor(Pred pred, int timeout_s, const char* what) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(timeout_s), pred)) {
      throw std::runtime_error(std::string("timed out waiting for ") + what + " (" +
                               std::to_string(received_) + " messages, " +
                               std::to_string(pubacks_.load()) + " PUBACKs so far)");
    }
  }

  static void OnConnect(mosquitto*, void* obj, int rc) {
    auto* c = static_cast<Client*>(obj);
    std::lock_guard<std::mutex> lock(c->mu_);
    c->connack_ = rc;
    c->cv_.notify_all();
  }
  static void OnPublish(mosquitto*, void* obj, int) {
    auto* c = static_cast<Client*>(obj);
    std::lock_guard<std::mutex> lock(c->mu_);
    c->pubacks_.fetch_add(1, std::memory_order_relaxed);
    c->cv_.notify_all();
  }
  static void OnSubscribe(mosquitto*, void* obj, int, int count, const int* granted) {
    auto* c = static_cast<Client*>(obj);
    std::lock_guard<std::mutex> lock(c->mu_);
    c->granted_qos_ = count > 0 ? granted[0] : -1;
    c->subacked_ = true;
    c->cv_.notify_all();
  }
  static void OnMessage(mosquitto*, void* obj, const mosquitto_message* msg) {
    auto* c = static_cast<Client*>(obj);
    std::lock_guard<std::mutex> lock(c->mu_);
    const bool ok =
        msg->qos == 1 && CheckPayload(msg->payload, static_cast<size_t>(msg->payloadlen), c->size_,
                                      static_cast<uint64_t>(c->received_), nullptr);
    if (!ok && c->errors_++ == 0) c->first_error_ = c->received_;
    if (++c->received_ == c->expect_) {
      c->end_ns_ = MonoNanos();
      c->cv_.notify_all();
    }
  }

  mosquitto* m_ = nullptr;
  size_t size_;
  int64_t expect_;
  bool looping_ = false;
  bool connected_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  int connack_ = -1;
  bool subacked_ = false;
  int granted_qos_ = -1;
  std::atomic<int64_t> pubacks_{0};
  int64_t received_ = 0;
  int64_t errors_ = 0;
  int64_t first_error_ = -1;
  int64_t end_ns_ = 0;
};

int Main(int argc, char** argv) {
  InstallCleanup();
  const Options opt = ParseOptions(argc, argv);
  const std::string binary = FindBinary("mosquitto");
  if (binary.empty()) {
    std::fprintf(stderr,
                 "mosquitto_bench: mosquitto not found (install it with "
                 "scripts/install-deps.sh --bench); no figures\n");
    return 0;
  }
  CheckMosq(mosquitto_lib_init(), "mosquitto_lib_init");
  const std::string mode = "qos1-persist";
  Server server("mosquitto", binary);
  server.WriteFile("mosquitto.conf", "listener " + std::to_string(server.port()) +
                                         " 127.0.0.1\n"
                                         "allow_anonymous true\n"
                                         "persistence true\n"
                                         "persistence_location " +
                                         server.dir() +
                                         "/\n"
                                         "max_queued_messages 0\n"
                                         "max_inflight_messages " +
                                         std::to_string(kWindow) +
                                         "\n"
                                         "log_dest stderr\n");
  server.Start({"-c", server.dir() + "/mosquitto.conf"});
  std::fprintf(stderr, "mosquitto_bench: mosquitto on 127.0.0.1:%d in %s\n", server.port(),
               server.dir().c_str());
  const size_t sizes[] = {100, 1024};
  int session = 0;
  for (size_t size : sizes) {
    const int64_t n = RecordsFor(opt, 60000, 3000);
    const std::string window = std::to_string(kWindow);
    Figure fpub =
        MakeFigure("publish", "mosquitto",
                   "QoS 1, window " + window + ", queued for an offline session", size, mode);
    Figure frep = MakeFigure("replay", "mosquitto",
                             "offline QoS 1 session reconnects, gets its queue", size, mode);
    Figure fe2e = MakeFigure("e2e", "mosquitto",
                             "QoS 1 publish -> QoS 1 subscriber (persistent session)", size, mode);
    for (int run = 0; run < opt.runs; ++run) {
      const std::string topic = "bench/" + std::to_string(size) + "/" + std::to_string(run);
      Client pub("bench-pub-" + std::to_string(++session), true, size, 0);
      pub.Connect(server.port());

      // publish, queued for an offline persistent session; then its replay.
      const std::string offline_id = "bench-offline-" + std::to_string(++session);
      {
        Client sub(offline_id, false, size, 0);
        sub.Connect(server.port());
        sub.Subscribe(topic + "/offline");
        sub.Disconnect();
      }
      auto start = Clock::now();
      pub.Publish(topic + "/offline", n);
      fpub.samples.push_back(static_cast<double>(n) / SecondsSince(start));
      {
        Client sub(offline_id, false, size, n);
        int64_t t0 = MonoNanos();
        sub.Connect(server.port());
        int64_t end = sub.WaitMessages(120);
        frep.samples.push_back(static_cast<double>(n) / (static_cast<double>(end - t0) / 1e9));
      }

      // e2e: an online persistent session receives while the publisher publishes.
      {
        Client pub2("bench-pub-" + std::to_string(++session), true, size, 0);
        pub2.Connect(server.port());
        Client sub("bench-online-" + std::to_string(++session), false, size, n);
        sub.Connect(server.port());
        sub.Subscribe(topic + "/online");
        int64_t t0 = MonoNanos();
        pub2.Publish(topic + "/online", n);
        int64_t end = sub.WaitMessages(120);
        fe2e.samples.push_back(static_cast<double>(n) / (static_cast<double>(end - t0) / 1e9));
      }
      std::fprintf(stderr,
                   "  run %d, %zu B: publish %.0f, replay %.0f, e2e %.0f rec/s (%lld records)\n",
                   run + 1, size, fpub.samples.back(), frep.samples.back(), fe2e.samples.back(),
                   static_cast<long long>(n));
    }
    Report(fpub);
    Report(frep);
    Report(fe2e);
  }
  server.Stop();
  mosquitto_lib_cleanup();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mosquitto_bench: error: %s\n", e.what());
    return 1;
  }
}
