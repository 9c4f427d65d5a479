// The `brook` Python module: producer, consumer, records, durability, start
// positions, events, CURVE keys, LAN discovery and the exception hierarchy.
//
// Every call that waits (publish, poll, close) releases the GIL, so other
// Python threads run meanwhile. Poll waits in slices of at most 100 ms and
// checks for signals between them, so Ctrl-C interrupts a blocking poll.
#include <pybind11/chrono.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "brook/consumer.h"
#include "brook/discovery.h"
#include "brook/producer.h"
#include "brook/security.h"

namespace py = pybind11;
using namespace std::chrono_literals;

namespace {

// brook.Error and one subclass per Status code, created at import.
struct Errors {
  py::object base;
  std::vector<std::pair<brook::Status::Code, py::object>> by_code;
};
Errors* errors = nullptr;

[[noreturn]] void Raise(const brook::Status& s) {
  for (auto& [code, type] : errors->by_code) {
    if (code == s.code()) {
      PyErr_SetString(type.ptr(), std::string(s.message()).c_str());
      throw py::error_already_set();
    }
  }
  PyErr_SetString(errors->base.ptr(), s.ToString().c_str());
  throw py::error_already_set();
}

void Check(const brook::Status& s) {
  if (!s.ok()) Raise(s);
}

// bytes, or str (encoded as UTF-8).
std::string Bytes(const py::handle& h, const char* what) {
  if (py::isinstance<py::bytes>(h)) return h.cast<std::string>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (py::isinstance<py::bytearray>(h) || py::isinstance<py::memoryview>(h))
    return py::bytes(py::reinterpret_borrow<py::object>(h)).cast<std::string>();
  throw py::type_error(std::string(what) + " must be bytes or str, not " +
                       std::string(py::str(h.get_type().attr("__name__"))));
}

// A record as Python sees it: plain values, owned.
struct Record {
  std::string producer;  // hex id
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  int64_t timestamp_ns = 0;
  std::optional<std::string> key;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Event {
  // "skipped", "new_producer", "tail_lost", "data_loss", "assigned", "revoked"
  std::string kind;
  std::string producer, topic;
  uint32_t partition = 0;
  uint64_t from = 0, to = 0;
  std::string message;
};

brook::Durability ParseDurability(const std::string& d) {
  if (d == "fsync") return brook::Durability::kFsync;
  if (d == "nometasync") return brook::Durability::kNoMetaSync;
  if (d == "nosync") return brook::Durability::kNoSync;
  Raise(brook::Status::InvalidArgument(
      "durability must be 'fsync', 'nometasync' or 'nosync', not '" + d + "'"));
}

[[noreturn]] void RaiseType(const std::string& message) {
  PyErr_SetString(PyExc_TypeError, message.c_str());
  throw py::error_already_set();
}

std::string TypeName(const py::handle& h) {
  return std::string(py::str(h.get_type().attr("__name__")));
}

// A duration given in seconds (int or float) or as a datetime.timedelta;
// `what` names the argument in errors. At least 1 ms.
std::chrono::milliseconds ParseDuration(const py::handle& v, const std::string& what) {
  double seconds = 0;
  if (py::hasattr(v, "total_seconds")) {
    seconds = v.attr("total_seconds")().cast<double>();
  } else if ((py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) &&
             !py::isinstance<py::bool_>(v)) {
    seconds = v.cast<double>();
  } else {
    RaiseType(what + " is a duration in seconds (int, float or timedelta), not " + TypeName(v));
  }
  if (!(seconds >= 0.001 && seconds < 1e9))
    Raise(brook::Status::InvalidArgument(what + " must be at least 0.001 s (1 ms)"));
  return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

constexpr const char* kDiscoveryKeys =
    "cluster, address, port, interval, silence_timeout, interface_address, bind_address, "
    "multicast_ttl";

// discovery=: None (off), a cluster name (the other settings as documented
// in brook/discovery.h), or a mapping of DiscoveryOptions' fields, durations
// in seconds (int, float or datetime.timedelta).
brook::DiscoveryOptions ParseDiscovery(const py::object& d) {
  brook::DiscoveryOptions o;
  if (d.is_none()) return o;
  o.enabled = true;
  if (py::isinstance<py::str>(d)) {
    o.cluster = d.cast<std::string>();
    return o;
  }
  if (!py::isinstance(d, py::module_::import("collections.abc").attr("Mapping"))) {
    RaiseType(
        "discovery must be a cluster name (str) or a dict such as {'cluster': 'shop', "
        "'port': 7099}, not " +
        TypeName(d));
  }
  for (const py::handle& k : d.attr("keys")()) {
    if (!py::isinstance<py::str>(k)) RaiseType("discovery's keys are str, not " + TypeName(k));
    const std::string key = k.cast<std::string>();
    const py::object v = d.attr("__getitem__")(k);
    const std::string what = "discovery['" + key + "']";
    if (key == "cluster" || key == "address" || key == "interface_address" ||
        key == "bind_address") {
      if (!py::isinstance<py::str>(v)) RaiseType(what + " must be a str, not " + TypeName(v));
      const std::string text = v.cast<std::string>();
      (key == "cluster"             ? o.cluster
       : key == "address"           ? o.address
       : key == "interface_address" ? o.interface_address
                                    : o.bind_address) = text;
    } else if (key == "port" || key == "multicast_ttl") {
      if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v))
        RaiseType(what + " must be an int, not " + TypeName(v));
      const long long n = v.cast<long long>();
      const long long most = key == "port" ? 65535 : 255;
      if (n < 1 || n > most)
        Raise(brook::Status::InvalidArgument(what + " must be 1.." + std::to_string(most) +
                                             ", not " + std::to_string(n)));
      if (key == "port") o.port = static_cast<uint16_t>(n);
      if (key == "multicast_ttl") o.multicast_ttl = static_cast<int>(n);
    } else if (key == "interval" || key == "silence_timeout") {
      (key == "interval" ? o.interval : o.silence_timeout) = ParseDuration(v, what);
    } else {
      Raise(brook::Status::InvalidArgument("discovery: unknown setting '" + key + "' (" +
                                           kDiscoveryKeys + ")"));
    }
  }
  return o;
}

// The outcome of publish_async, filled by the journal's thread (no GIL
// needed), read by result() with the GIL released while it waits.
class PublishFuture {
 public:
  void Set(const brook::Status& s, const brook::RecordPosition& pos) {
    std::lock_guard<std::mutex> lk(mu_);
    status_ = s;
    pos_ = pos;
    done_ = true;
    cv_.notify_all();
  }
  bool done() {
    std::lock_guard<std::mutex> lk(mu_);
    return done_;
  }
  // (partition, offset); raises brook's error, or TimeoutError.
  std::pair<uint32_t, uint64_t> Result(const std::optional<double>& timeout) {
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::microseconds(static_cast<int64_t>(timeout.value_or(0) * 1e6));
    for (;;) {
      bool done;
      {
        py::gil_scoped_release nogil;
        std::unique_lock<std::mutex> lk(mu_);
        auto until = std::chrono::steady_clock::now() + 100ms;
        if (timeout && deadline < until) until = deadline;
        cv_.wait_until(lk, until, [&] { return done_; });
        done = done_;
      }
      if (done) break;
      if (timeout && std::chrono::steady_clock::now() >= deadline) {
        PyErr_SetString(PyExc_TimeoutError, "the publish was not acknowledged within the timeout");
        throw py::error_already_set();
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
    Check(status_);
    return {pos_.partition, pos_.offset};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  brook::Status status_;
  brook::RecordPosition pos_;
};

class PyProducer {
 public:
  PyProducer(const std::string& journal, const std::string& pub_endpoint,
             const std::string& replay_endpoint, const std::string& durability,
             double heartbeat_interval, const py::object& keys,
             const std::vector<std::string>& allowed_client_keys, const py::object& discovery) {
    brook::ProducerOptions o;
    o.discovery = ParseDiscovery(discovery);
    if (!keys.is_none()) {
      auto pair = keys.cast<std::pair<std::string, std::string>>();
      o.security.enabled = true;
      o.security.server = brook::KeyPair{pair.first, pair.second};
      o.security.allowed_client_keys = allowed_client_keys;
    } else if (!allowed_client_keys.empty()) {
      Raise(brook::Status::InvalidArgument(
          "allowed_client_keys needs keys=(public, secret): the producer's own CURVE key pair"));
    }
    o.journal.path = journal;
    o.journal.durability = ParseDurability(durability);
    o.pub_endpoint = pub_endpoint;
    o.replay_endpoint = replay_endpoint;
    o.heartbeat_interval =
        std::chrono::milliseconds(static_cast<int64_t>(heartbeat_interval * 1000.0));
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = brook::Producer::Open(o, &p_);
    }
    Check(s);
  }

  brook::Producer& p() {
    if (!p_) Raise(brook::Status::FailedPrecondition("the producer is closed"));
    return *p_;
  }

  void CreateTopic(const std::string& name, uint32_t partitions, double max_age, uint64_t max_bytes,
                   uint64_t max_records) {
    brook::TopicConfig tc;
    tc.partitions = partitions;
    tc.retention.max_age = std::chrono::milliseconds(static_cast<int64_t>(max_age * 1000.0));
    tc.retention.max_bytes = max_bytes;
    tc.retention.max_records = max_records;
    brook::Producer& producer = p();  // raises (needs the GIL) when closed
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = producer.CreateTopic(name, tc);
    }
    Check(s);
  }

  void EnforceRetention() {
    brook::Producer& producer = p();
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = producer.journal()->EnforceRetention();
    }
    Check(s);
  }

  // -> (partition, offset)
  std::pair<uint32_t, uint64_t> Publish(const std::string& topic, const py::object& payload,
                                        const py::object& key, const py::object& headers,
                                        const py::object& partition) {
    std::vector<py::object> one{payload};
    auto pos = PublishMany(topic, one, key, headers, partition);
    return pos.at(0);
  }

  std::vector<std::pair<uint32_t, uint64_t>> PublishBatch(const std::string& topic,
                                                          const py::list& payloads,
                                                          const py::object& key,
                                                          const py::object& partition) {
    std::vector<py::object> items;
    for (const py::handle& h : payloads) items.push_back(py::reinterpret_borrow<py::object>(h));
    return PublishMany(topic, items, key, py::none(), partition);
  }

  std::shared_ptr<PublishFuture> PublishAsync(const std::string& topic, const py::object& payload,
                                              const py::object& key, const py::object& partition) {
    std::string bytes = Bytes(payload, "payload");
    std::optional<std::string> k;
    if (!key.is_none()) k = Bytes(key, "key");
    std::vector<brook::RecordInput> in(1);
    in[0].payload = bytes;
    if (k) in[0].key = std::string_view(*k);
    if (!partition.is_none()) in[0].partition = partition.cast<uint32_t>();
    auto future = std::make_shared<PublishFuture>();
    brook::Producer& producer = p();
    brook::Status s;
    {
      py::gil_scoped_release nogil;  // the journal copies the bytes before returning
      s = producer.PublishAsync(
          topic, in,
          [future](const brook::Status& st, const std::vector<brook::RecordPosition>& pos) {
            future->Set(st, pos.empty() ? brook::RecordPosition{} : pos[0]);
          });
    }
    Check(s);
    return future;
  }

  void Close() {
    if (!p_) return;
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = p_->Close();
    }
    p_.reset();
    Check(s);
  }

  py::dict Stats() {
    const brook::ProducerStats st = p().stats();
    py::dict d;
    d["records_published"] = st.records_published;
    d["live_messages"] = st.live_messages;
    d["heartbeats"] = st.heartbeats;
    d["replay_requests"] = st.replay_requests;
    d["replay_records"] = st.replay_records;
    d["rejected_requests"] = st.rejected_requests;
    d["handshakes_admitted"] = st.handshakes_admitted;
    d["handshakes_refused"] = st.handshakes_refused;
    d["beacon_rounds"] = st.beacon_rounds;
    d["beacon_errors"] = st.beacon_errors;
    return d;
  }

  std::string pub_endpoint() { return p().pub_endpoint(); }
  std::string replay_endpoint() { return p().replay_endpoint(); }
  std::string producer_id() { return p().producer_id().ToHex(); }
  uint64_t epoch() { return p().epoch(); }

 private:
  std::vector<std::pair<uint32_t, uint64_t>> PublishMany(const std::string& topic,
                                                         const std::vector<py::object>& payloads,
                                                         const py::object& key,
                                                         const py::object& headers,
                                                         const py::object& partition) {
    // Own the bytes first: the records view them while the GIL is released.
    std::vector<std::string> owned;
    owned.reserve(payloads.size());
    for (const py::object& o : payloads) owned.push_back(Bytes(o, "payload"));
    std::optional<std::string> k;
    if (!key.is_none()) k = Bytes(key, "key");
    std::vector<std::pair<std::string, std::string>> hs;
    if (!headers.is_none()) {
      for (auto item : headers.cast<py::dict>())
        hs.emplace_back(Bytes(item.first, "header name"), Bytes(item.second, "header value"));
    }
    std::vector<brook::Header> hv;
    for (const auto& [n, v] : hs) hv.push_back(brook::Header{n, v});
    std::vector<brook::RecordInput> in(owned.size());
    for (size_t i = 0; i < owned.size(); ++i) {
      in[i].payload = owned[i];
      if (k) in[i].key = std::string_view(*k);
      in[i].headers = hv;
      if (!partition.is_none()) in[i].partition = partition.cast<uint32_t>();
    }
    std::vector<brook::RecordPosition> pos;
    brook::Producer& producer = p();  // raises (needs the GIL) when closed
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = producer.PublishBatch(topic, in, &pos);
    }
    Check(s);
    std::vector<std::pair<uint32_t, uint64_t>> out;
    out.reserve(pos.size());
    for (const auto& p : pos) out.emplace_back(p.partition, p.offset);
    return out;
  }

  std::unique_ptr<brook::Producer> p_;
};

brook::StartPosition ParseStart(const py::object& start) {
  if (py::isinstance<py::str>(start)) {
    const std::string s = start.cast<std::string>();
    if (s == "earliest") return brook::StartPosition::Earliest();
    if (s == "latest") return brook::StartPosition::Latest();
  } else if (py::isinstance<py::int_>(start)) {
    return brook::StartPosition::Offset(start.cast<uint64_t>());
  } else if (py::isinstance<py::float_>(start)) {
    // Seconds since the Unix epoch, as time.time() gives.
    return brook::StartPosition::Timestamp(static_cast<int64_t>(start.cast<double>() * 1e9));
  } else if (py::hasattr(start, "timestamp")) {  // a datetime
    return brook::StartPosition::Timestamp(
        static_cast<int64_t>(start.attr("timestamp")().cast<double>() * 1e9));
  }
  Raise(brook::Status::InvalidArgument(
      "start must be 'earliest', 'latest', an offset (int), a time (float seconds since the "
      "epoch) or a datetime; got " +
      std::string(py::str(py::repr(start)))));
}

Record ToRecord(const brook::StreamId& s, const brook::RecordView& r) {
  Record rec;
  rec.producer = s.producer.ToHex();
  rec.topic = s.topic;
  rec.partition = s.partition;
  rec.offset = r.offset;
  rec.timestamp_ns = r.timestamp_ns;
  if (r.key) rec.key = std::string(*r.key);
  rec.payload = std::string(r.payload);
  for (size_t i = 0; i < r.header_count; ++i)
    rec.headers.emplace_back(std::string(r.headers_begin[i].name),
                             std::string(r.headers_begin[i].value));
  return rec;
}

Event ToEvent(const brook::ConsumerEvent& e) {
  Event ev;
  switch (e.kind) {
    case brook::ConsumerEvent::Kind::kSkipped:
      ev.kind = "skipped";
      break;
    case brook::ConsumerEvent::Kind::kNewProducer:
      ev.kind = "new_producer";
      break;
    case brook::ConsumerEvent::Kind::kTailLost:
      ev.kind = "tail_lost";
      break;
    case brook::ConsumerEvent::Kind::kAssigned:
      ev.kind = "assigned";
      break;
    case brook::ConsumerEvent::Kind::kRevoked:
      ev.kind = "revoked";
      break;
    case brook::ConsumerEvent::Kind::kDataLoss:
      ev.kind = "data_loss";
      break;
  }
  ev.producer = e.stream.producer.ToHex();
  ev.topic = e.stream.topic;
  ev.partition = e.stream.partition;
  ev.from = e.from;
  ev.to = e.to;
  ev.message = e.message;
  return ev;
}

class PyConsumer {
 public:
  PyConsumer(const py::object& producers, const py::object& topics,
             const std::optional<std::string>& name, const std::optional<std::string>& state_dir,
             const py::object& start, bool auto_commit, double auto_commit_interval,
             const py::object& keys, const std::optional<std::string>& server_public_key,
             const py::object& discovery, const std::vector<std::string>& discovery_server_keys,
             const std::optional<std::string>& group, const py::object& group_session_timeout,
             const py::object& group_heartbeat_interval)
      : auto_commit_(auto_commit && (name.has_value() || group.has_value())),
        auto_commit_interval_(
            std::chrono::microseconds(static_cast<int64_t>(auto_commit_interval * 1e6))) {
    brook::ConsumerOptions o;
    o.discovery = ParseDiscovery(discovery);
    if (topics.is_none())
      RaiseType("Consumer() needs topics: the topics to follow, e.g. ['orders']");
    try {
      o.topics = topics.cast<std::vector<std::string>>();
    } catch (const py::cast_error&) {
      RaiseType("topics must be a list of str, e.g. ['orders'], not " + TypeName(topics));
    }
    if (!producers.is_none()) {
      std::vector<std::pair<std::string, std::string>> named;
      try {
        named = producers.cast<std::vector<std::pair<std::string, std::string>>>();
      } catch (const py::cast_error&) {
        RaiseType("producers must be a list of (pub_endpoint, replay_endpoint), not " +
                  TypeName(producers));
      }
      for (const auto& [pub, replay] : named) o.producers.push_back({pub, replay});
    }
    if (o.producers.empty() && !o.discovery.enabled) {
      Raise(brook::Status::InvalidArgument(
          "producers is empty: name them as [(pub_endpoint, replay_endpoint), ...], or find "
          "them on the LAN with discovery='CLUSTER' (or a dict of discovery settings)"));
    }
    if (!discovery_server_keys.empty() && (keys.is_none() || !o.discovery.enabled)) {
      Raise(brook::Status::InvalidArgument(
          "discovery_server_keys say which discovered producers to believe under CURVE: they "
          "need discovery=... and keys=(public, secret), this consumer's CURVE key pair"));
    }
    o.discovery_server_keys = discovery_server_keys;
    if (name) o.name = *name;
    if (state_dir) o.state_dir = *state_dir;
    if (group) {
      if (group->empty())
        Raise(brook::Status::InvalidArgument(
            "group must not be empty: name the consumer group, or leave group=None"));
      o.group = *group;
    }
    if (!group_session_timeout.is_none() || !group_heartbeat_interval.is_none()) {
      if (!group)
        Raise(brook::Status::InvalidArgument(
            "group_session_timeout and group_heartbeat_interval need group='NAME'"));
      if (!group_session_timeout.is_none()) {
        o.group_session_timeout = ParseDuration(group_session_timeout, "group_session_timeout");
        // Unless given too, the heartbeat keeps to a third of the session.
        if (group_heartbeat_interval.is_none())
          o.group_heartbeat_interval =
              std::min(o.group_heartbeat_interval,
                       std::max(std::chrono::milliseconds(1), o.group_session_timeout / 3));
      }
      if (!group_heartbeat_interval.is_none())
        o.group_heartbeat_interval =
            ParseDuration(group_heartbeat_interval, "group_heartbeat_interval");
    }
    o.start = ParseStart(start);
    // Python processes what poll returns after poll returns: the library's
    // automatic commit (right after its handler) would store positions of
    // records not processed yet. This binding commits at the next poll
    // instead, when the previous ones are done (as Kafka's consumer does).
    o.auto_commit = false;
    if (!keys.is_none()) {
      auto pair = keys.cast<std::pair<std::string, std::string>>();
      o.security.enabled = true;
      o.security.client = brook::KeyPair{pair.first, pair.second};
      o.security.server_public_key = server_public_key.value_or("");
    } else if (server_public_key) {
      Raise(brook::Status::InvalidArgument(
          "server_public_key needs keys=(public, secret): this consumer's CURVE key pair"));
    }
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = brook::Consumer::Open(o, &c_);
    }
    Check(s);
  }

  brook::Consumer& c() {
    if (!c_) Raise(brook::Status::FailedPrecondition("the consumer is closed"));
    return *c_;
  }

  // -> list of Record and Event, in delivery order.
  py::list Poll(double timeout, size_t max_records) {
    MaybeAutoCommit();
    py::list out;
    std::vector<Record> records;
    std::vector<std::pair<size_t, Event>> events;  // index in records where it goes
    brook::PollHandler h;
    h.on_record = [&](const brook::StreamId& s, const brook::RecordView& r) {
      records.push_back(ToRecord(s, r));
    };
    h.on_event = [&](const brook::ConsumerEvent& e) {
      events.emplace_back(records.size(), ToEvent(e));
    };
    brook::Consumer& consumer = c();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(timeout * 1e6));
    for (;;) {
      // Wait in slices so that Ctrl-C (a pending signal) is seen promptly.
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      const auto slice = std::max(0ms, std::min(left, std::chrono::milliseconds(100)));
      brook::Status s;
      size_t delivered = 0;
      {
        py::gil_scoped_release nogil;
        s = consumer.Poll(h, max_records, slice, &delivered);
      }
      Check(s);
      if (!records.empty() || !events.empty() || slice < 100ms) break;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
    size_t next_event = 0;
    for (size_t i = 0; i <= records.size(); ++i) {
      while (next_event < events.size() && events[next_event].first == i)
        out.append(py::cast(std::move(events[next_event++].second)));
      if (i < records.size()) out.append(py::cast(std::move(records[i])));
    }
    return out;
  }

  void Commit() {
    brook::Consumer& consumer = c();  // raises (needs the GIL) when closed
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = consumer.Commit();
    }
    Check(s);
  }

  void Close() {
    if (!c_) return;
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      // What was returned has been processed by now.
      if (auto_commit_) s = c_->Commit();
      brook::Status closed = c_->Close();
      if (s.ok()) s = closed;
    }
    c_.reset();
    Check(s);
  }

  py::dict Stats() {
    const brook::ConsumerStats st = c().stats();
    py::dict d;
    d["records_delivered"] = st.records_delivered;
    d["live_records"] = st.live_records;
    d["replayed_records"] = st.replayed_records;
    d["gaps_detected"] = st.gaps_detected;
    d["duplicates_dropped"] = st.duplicates_dropped;
    d["malformed_messages"] = st.malformed_messages;
    d["handshakes_failed"] = st.handshakes_failed;
    d["producers_discovered"] = st.producers_discovered;
    d["beacons_dropped"] = st.beacons_dropped;
    return d;
  }

  int fd() { return c().fd(); }

  // The callback form: `callback(item)` for each Record and Event, on the
  // library's own thread, until stop() or close().
  void Start(py::function callback, size_t max_records) {
    brook::Consumer& consumer = c();
    // The library may drop its copies of the handler on any thread, without
    // the GIL: the last one takes it to release the Python function.
    std::shared_ptr<py::function> cb(new py::function(std::move(callback)), [](py::function* f) {
      py::gil_scoped_acquire gil;
      delete f;
    });
    brook::Consumer* raw = c_.get();
    const bool commit = auto_commit_;
    const auto interval = auto_commit_interval_;
    auto last =
        std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    auto call = [cb](py::object item) {
      py::gil_scoped_acquire gil;
      try {
        (*cb)(std::move(item));
      } catch (py::error_already_set& e) {
        // Nobody to raise to on this thread: report it as Python does for
        // errors in callbacks, and go on.
        e.restore();
        PyErr_WriteUnraisable(cb->ptr());
      }
    };
    brook::PollHandler h;
    h.on_record = [call, raw, commit, interval, last](const brook::StreamId& s,
                                                      const brook::RecordView& r) {
      {
        py::gil_scoped_acquire gil;
        call(py::cast(ToRecord(s, r)));
      }
      // Records handed over before this batch are processed: commit them.
      const auto now = std::chrono::steady_clock::now();
      if (commit && now - *last >= interval) {
        *last = now;
        brook::Status st = raw->Commit();
        (void)st;  // the next commit retries; close() reports
      }
    };
    h.on_event = [call](const brook::ConsumerEvent& e) {
      py::gil_scoped_acquire gil;
      call(py::cast(ToEvent(e)));
    };
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = consumer.Start(std::move(h), max_records);
    }
    Check(s);
  }

  void Stop() {
    brook::Consumer& consumer = c();
    brook::Status s;
    {
      py::gil_scoped_release nogil;  // the callback thread may be waiting for the GIL
      s = consumer.Stop();
    }
    Check(s);
  }

  py::list Lag() {
    py::list out;
    for (const brook::StreamLag& l : c().lag()) {
      py::dict d;
      d["producer"] = l.stream.producer.ToHex();
      d["topic"] = l.stream.topic;
      d["partition"] = l.stream.partition;
      d["next"] = l.next;
      d["high_watermark"] = l.high_watermark;
      d["records"] = l.records;
      d["seconds"] = l.time.count() < 0 ? -1.0 : static_cast<double>(l.time.count()) / 1e9;
      out.append(d);
    }
    return out;
  }

  // Iteration: the next record or event, waiting as long as it takes.
  py::object Next() {
    while (buffered_.empty()) {
      if (!c_) throw py::stop_iteration();
      // One at a time: a commit (explicit or automatic) then covers exactly
      // what was handed out.
      py::list got = Poll(1.0, 1);
      for (const py::handle& h : got) buffered_.push_back(py::reinterpret_borrow<py::object>(h));
    }
    py::object front = buffered_.front();
    buffered_.pop_front();
    return front;
  }

 private:
  std::unique_ptr<brook::Consumer> c_;
  std::deque<py::object> buffered_;  // polled, not yet returned by Next

  void MaybeAutoCommit() {
    if (!auto_commit_ || !c_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_commit_ < auto_commit_interval_) return;
    last_commit_ = now;
    brook::Status s;
    {
      py::gil_scoped_release nogil;
      s = c_->Commit();
    }
    Check(s);
  }

  const bool auto_commit_;
  const std::chrono::steady_clock::duration auto_commit_interval_;
  std::chrono::steady_clock::time_point last_commit_ = std::chrono::steady_clock::now();
};

}  // namespace

PYBIND11_MODULE(_brook, m) {
  m.doc() =
      "brook: brokerless, durable publish/subscribe. A Producer journals every record "
      "(LMDB) and publishes it (ZeroMQ); a Consumer receives each stream in order, with no "
      "gap and no duplicate, replaying what it missed.";

  static Errors errs;
  errors = &errs;
  errs.base = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "brook.Error", "Any error brook reports.", PyExc_Exception, nullptr));
  m.attr("Error") = errs.base;
  const std::pair<brook::Status::Code, const char*> codes[] = {
      {brook::Status::Code::kInvalidArgument, "InvalidArgument"},
      {brook::Status::Code::kNotFound, "NotFound"},
      {brook::Status::Code::kAlreadyExists, "AlreadyExists"},
      {brook::Status::Code::kFailedPrecondition, "FailedPrecondition"},
      {brook::Status::Code::kResourceExhausted, "ResourceExhausted"},
      {brook::Status::Code::kDataLoss, "DataLoss"},
      {brook::Status::Code::kOutOfRange, "OutOfRange"},
      {brook::Status::Code::kUnavailable, "Unavailable"},
      {brook::Status::Code::kInternal, "InternalError"},
  };
  for (const auto& [code, name] : codes) {
    const std::string full = std::string("brook.") + name;
    py::object type = py::reinterpret_steal<py::object>(
        PyErr_NewException(full.c_str(), errs.base.ptr(), nullptr));
    m.attr(name) = type;
    errs.by_code.emplace_back(code, type);
  }

  m.def(
      "generate_keys",
      [] {
        brook::KeyPair k;
        Check(brook::GenerateKeyPair(&k));
        return std::make_pair(k.public_key, k.secret_key);
      },
      "A new CURVE key pair (public, secret), each 40 characters of Z85. Give the producer "
      "keys=(public, secret) and allowed_client_keys=[consumer publics]; give each consumer "
      "its own keys and server_public_key=the producer's public key (docs/SECURITY.md).");

  py::class_<Record>(m, "Record", "A delivered record; every field is a plain value.")
      .def_readonly("producer", &Record::producer, "The producer's id, 32 hex digits.")
      .def_readonly("topic", &Record::topic)
      .def_readonly("partition", &Record::partition)
      .def_readonly("offset", &Record::offset)
      .def_readonly("timestamp_ns", &Record::timestamp_ns,
                    "When the producer journaled it, ns since the Unix epoch.")
      .def_property_readonly(
          "key",
          [](const Record& r) -> py::object {
            if (!r.key) return py::none();
            return py::bytes(*r.key);
          },
          "bytes, or None for a keyless record.")
      .def_property_readonly("payload", [](const Record& r) { return py::bytes(r.payload); })
      .def_property_readonly(
          "headers",
          [](const Record& r) {
            py::list l;
            for (const auto& [n, v] : r.headers) l.append(py::make_tuple(n, py::bytes(v)));
            return l;
          },
          "[(name, bytes value), ...]")
      .def("__repr__", [](const Record& r) {
        return "<brook.Record " + r.topic + "/" + std::to_string(r.partition) + "@" +
               std::to_string(r.offset) + " " + std::to_string(r.payload.size()) + " bytes>";
      });

  py::class_<Event>(m, "Event",
                    "What the consumer could not deliver, said explicitly: kind is 'skipped' "
                    "(removed by retention), 'new_producer' (journal replaced) or "
                    "'tail_lost' (undone by a crash in a weak durability mode) or 'data_loss' "
                    "(the record at from_offset is damaged in the producer's journal: the "
                    "stream stops before it); with a group, "
                    "'assigned' (this member now processes the stream, from from_offset) or "
                    "'revoked' (it no longer does; from_offset is the offset after the last "
                    "record delivered).")
      .def_readonly("kind", &Event::kind)
      .def_readonly("producer", &Event::producer)
      .def_readonly("topic", &Event::topic)
      .def_readonly("partition", &Event::partition)
      .def_readonly("from_offset", &Event::from)
      .def_readonly("to_offset", &Event::to)
      .def_readonly("message", &Event::message)
      .def("__repr__",
           [](const Event& e) { return "<brook.Event " + e.kind + ": " + e.message + ">"; });

  py::class_<PublishFuture, std::shared_ptr<PublishFuture>>(
      m, "PublishFuture", "The acknowledgement of a publish_async, like concurrent.futures.Future.")
      .def("done", &PublishFuture::done)
      .def("result", &PublishFuture::Result, py::arg("timeout") = py::none(),
           "(partition, offset) once committed; raises brook.Error if the publish failed, "
           "TimeoutError after `timeout` seconds. The GIL is released while waiting.");

  py::class_<PyProducer>(
      m, "Producer",
      "Journals records and publishes them live; serves replays.\n\n"
      "Producer(journal, pub_endpoint='tcp://127.0.0.1:0', "
      "replay_endpoint='tcp://127.0.0.1:0', durability='fsync', heartbeat_interval=0.5, *, "
      "keys=None, allowed_client_keys=[], discovery=None)\n\n"
      "CURVE: keys=(public, secret) is the producer's key pair and allowed_client_keys the "
      "consumers' public keys it admits (docs/SECURITY.md).\n\n"
      "Discovery (docs/DISCOVERY.md): discovery='shop' or a dict such as {'cluster': 'shop', "
      "'address': '255.255.255.255', 'port': 7099, 'interval': 1.0, 'silence_timeout': 5.0, "
      "'interface_address': '0.0.0.0', 'bind_address': '0.0.0.0', 'multicast_ttl': 1} "
      "(durations in seconds or timedelta; every key but cluster optional, defaults as shown) "
      "announces the producer on the LAN every interval, so consumers with the same cluster "
      "find it without its endpoints. Bind the endpoints to 0.0.0.0 or a LAN address for "
      "consumers on other hosts; beacons are not authenticated (use CURVE on untrusted "
      "networks).")
      .def(
          py::init<const std::string&, const std::string&, const std::string&, const std::string&,
                   double, const py::object&, const std::vector<std::string>&, const py::object&>(),
          py::arg("journal"), py::arg("pub_endpoint") = "tcp://127.0.0.1:0",
          py::arg("replay_endpoint") = "tcp://127.0.0.1:0", py::arg("durability") = "fsync",
          py::arg("heartbeat_interval") = 0.5, py::kw_only(), py::arg("keys") = py::none(),
          py::arg("allowed_client_keys") = std::vector<std::string>{},
          py::arg("discovery") = py::none())
      .def("create_topic", &PyProducer::CreateTopic, py::arg("name"), py::arg("partitions") = 1,
           py::kw_only(), py::arg("max_age") = 0.0, py::arg("max_bytes") = 0,
           py::arg("max_records") = 0,
           "Creates a topic (or checks that it exists with that many partitions, and updates "
           "its retention). Retention: records older than max_age seconds, beyond max_bytes "
           "or max_records per partition are removed; 0 is no limit.")
      .def("enforce_retention", &PyProducer::EnforceRetention,
           "Applies retention now (the producer also does every second).")
      .def("publish", &PyProducer::Publish, py::arg("topic"), py::arg("payload"), py::kw_only(),
           py::arg("key") = py::none(), py::arg("headers") = py::none(),
           py::arg("partition") = py::none(),
           "Publishes one record and waits until it is committed; returns (partition, offset).")
      .def("publish_async", &PyProducer::PublishAsync, py::arg("topic"), py::arg("payload"),
           py::kw_only(), py::arg("key") = py::none(), py::arg("partition") = py::none(),
           "Publishes one record without waiting; returns a PublishFuture whose "
           "result(timeout=None) gives (partition, offset) once committed.")
      .def("publish_batch", &PyProducer::PublishBatch, py::arg("topic"), py::arg("payloads"),
           py::kw_only(), py::arg("key") = py::none(), py::arg("partition") = py::none(),
           "Publishes records in one commit; returns [(partition, offset), ...].")
      .def("close", &PyProducer::Close, "Commits and acknowledges everything pending, then stops.")
      .def("stats", &PyProducer::Stats,
           "Counters since open: {'records_published', 'live_messages', 'heartbeats', "
           "'replay_requests', 'replay_records', 'rejected_requests', 'handshakes_admitted', "
           "'handshakes_refused', 'beacon_rounds', 'beacon_errors'}; with discovery on, "
           "beacon_rounds counts rounds of beacons sent whole and beacon_errors rounds that "
           "failed (the log says why).")
      .def_property_readonly("pub_endpoint", &PyProducer::pub_endpoint)
      .def_property_readonly("replay_endpoint", &PyProducer::replay_endpoint)
      .def_property_readonly("producer_id", &PyProducer::producer_id)
      .def_property_readonly("epoch", &PyProducer::epoch)
      .def(
          "__enter__", [](PyProducer& p) -> PyProducer& { return p; },
          py::return_value_policy::reference)
      .def("__exit__", [](PyProducer& p, const py::args&) { p.Close(); });

  py::class_<PyConsumer>(
      m, "Consumer",
      "Follows producers' topics: each stream in offset order, no gap, no duplicate.\n\n"
      "Consumer(producers=[(pub, replay), ...], topics=[...], name=None, state_dir=None, "
      "start='earliest', auto_commit=True, auto_commit_interval=1.0, *, keys=None, "
      "server_public_key=None, discovery=None, discovery_server_keys=[], group=None, "
      "group_session_timeout=None, group_heartbeat_interval=None)\n\n"
      "With a name, positions are kept in state_dir; with auto_commit, each poll (and each "
      "step of iteration) first commits what earlier polls returned, at most every "
      "auto_commit_interval seconds, and close commits: at least once.\n\n"
      "CURVE: keys=(public, secret) is this consumer's key pair, server_public_key the "
      "producers' public key (docs/SECURITY.md).\n\n"
      "Discovery (docs/DISCOVERY.md): discovery='shop', or a dict of settings as for "
      "Producer (the same cluster, address and port as the producers'), also follows every "
      "producer of that cluster announcing one of the topics, including producers that "
      "appear later; producers may then be omitted (Consumer(topics=['orders'], "
      "discovery='shop')). A producer unheard for silence_timeout is disconnected and "
      "resumes where it stood when heard again. Under CURVE, discovery_server_keys lists the "
      "public keys of the producers to believe (and server_public_key counts too); a beacon "
      "with another key is dropped (stats()['beacons_dropped']) and the key is pinned in the "
      "handshake.\n\n"
      "Consumer groups (docs/GROUPS.md): consumers with the same group='billing' share the "
      "streams (producer, topic, partition) of their topics, each processed by one member at a "
      "time; the producers keep the group's positions, so a member that takes a stream over "
      "starts where the group committed (with auto_commit as above, and at close). Events "
      "'assigned' (from_offset: where this member starts) and 'revoked' (no more records of "
      "that stream follow) say which streams this member gained and lost, in order with the "
      "records; a revoked stream is committed and handed on at the next poll (or close), "
      "after the records before it in the list were handled. group_session_timeout (seconds "
      "or timedelta, "
      "0.1 .. 60; default 10): a member not heard for this long is dropped and its streams move "
      "on; group_heartbeat_interval: how often it heartbeats, at most a third of the session "
      "timeout (default 1 s, or a third of a shorter session timeout). Not together with name.")
      .def(py::init<const py::object&, const py::object&, const std::optional<std::string>&,
                    const std::optional<std::string>&, const py::object&, bool, double,
                    const py::object&, const std::optional<std::string>&, const py::object&,
                    const std::vector<std::string>&, const std::optional<std::string>&,
                    const py::object&, const py::object&>(),
           py::arg("producers") = py::none(), py::arg("topics") = py::none(),
           py::arg("name") = py::none(), py::arg("state_dir") = py::none(),
           py::arg("start") = "earliest", py::arg("auto_commit") = true,
           py::arg("auto_commit_interval") = 1.0, py::kw_only(), py::arg("keys") = py::none(),
           py::arg("server_public_key") = py::none(), py::arg("discovery") = py::none(),
           py::arg("discovery_server_keys") = std::vector<std::string>{},
           py::arg("group") = py::none(), py::arg("group_session_timeout") = py::none(),
           py::arg("group_heartbeat_interval") = py::none())
      .def("poll", &PyConsumer::Poll, py::kw_only(), py::arg("timeout") = 1.0,
           py::arg("max_records") = 1000,
           "Waits up to `timeout` seconds for records; returns a list of Record and Event "
           "in delivery order (empty on timeout). The GIL is released while waiting; Ctrl-C "
           "interrupts it.")
      .def("commit", &PyConsumer::Commit, "Stores the position after every record polled.")
      .def("start", &PyConsumer::Start, py::arg("callback"), py::arg("max_records") = 1000,
           "The callback form: calls callback(item) with each Record and Event on the "
           "library's own thread (holding the GIL), until stop() or close(). Meanwhile poll "
           "raises FailedPrecondition. An exception in the callback is reported as "
           "unraisable and delivery goes on.")
      .def("stop", &PyConsumer::Stop, "Stops the callback thread after the call in progress.")
      .def("close", &PyConsumer::Close)
      .def("stats", &PyConsumer::Stats,
           "Counters since open: {'records_delivered', 'live_records', 'replayed_records', "
           "'gaps_detected', 'duplicates_dropped', 'malformed_messages', 'handshakes_failed', "
           "'producers_discovered', 'beacons_dropped'}; producers_discovered counts producers "
           "found by discovery (each time one appears, or comes back after falling silent), "
           "beacons_dropped the beacons not believed (another cluster's do not count).")
      .def("lag", &PyConsumer::Lag,
           "Per stream: {'producer', 'topic', 'partition', 'next', 'high_watermark', "
           "'records', 'seconds'}: how far processing is behind the producer.")
      .def(
          "__iter__", [](PyConsumer& c) -> PyConsumer& { return c; },
          py::return_value_policy::reference)
      .def("__next__", &PyConsumer::Next,
           "`for item in consumer:` yields Record and Event objects as they come, waiting "
           "as long as needed (Ctrl-C interrupts); it ends when the consumer is closed.")
      .def("fileno", &PyConsumer::fd,
           "A file descriptor readable while records wait (for selectors / asyncio).")
      .def(
          "__enter__", [](PyConsumer& c) -> PyConsumer& { return c; },
          py::return_value_policy::reference)
      .def("__exit__", [](PyConsumer& c, const py::args&) { c.Close(); });
}
