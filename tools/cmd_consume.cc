// brook consume: a topic's records on stdout, kcat style: from the earliest,
// the latest, an offset or a time, to the end of what the nodes held at the
// start (default) or on and on (--follow). Nodes are named (--pub/--replay,
// --config) or discovered (--discover CLUSTER), or both.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "brook/consumer.h"
#include "node/position_store.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/node_args.h"

namespace brook::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kPollBatch = 8192;
constexpr std::chrono::milliseconds kPollWait{100};
constexpr std::chrono::milliseconds kDefaultTimeout{10000};

CommandSpec ConsumeSpec() {
  CommandSpec spec("consume");
  spec.positional = "TOPIC...";
  spec.summary = "Print the records of topics on one or more nodes, in offset order per partition.";
  spec.description =
      "Default output: each record's payload and a newline. --json: one JSON object per\n"
      "record: {\"producer\", \"topic\", \"partition\", \"offset\", \"timestamp_ns\", "
      "\"timestamp\",\n"
      "\"key\" (null or a string), \"headers\" ({name: value}), \"payload\"}. JSON strings are\n"
      "text, so bytes that are not UTF-8 go base64: \"key_base64\" and \"payload_base64\"\n"
      "replace \"key\" and \"payload\", and such headers go in \"headers_base64\"\n"
      "({base64 name: base64 value}). `brook produce --json` reads these lines back.\n\n"
      "By default it stops at the end: it asks every node for its high watermarks at the\n"
      "start and exits once every partition has been delivered up to them. --follow goes\n"
      "on with new records until Ctrl-C or SIGTERM.\n\n"
      "--discover CLUSTER (or a --config file with [discovery]) follows every producer of\n"
      "the cluster that announces one of the topics, also ones that appear later, with no\n"
      "endpoints given. To stop at the end it first listens for beacons for three\n"
      "intervals (a --config file's [discovery] interval, else 1 s), at least 2 s, or less\n"
      "once producers were heard and no new one came for two intervals: the producers\n"
      "heard then are the ones whose high watermarks at the start make the end. Records of\n"
      "producers found later are printed as they come until that end is reached. The\n"
      "listener binds the discovery address itself, so it hears beacons and nothing else\n"
      "(a --config file's bind_address is kept). Under CURVE (--client-key), only\n"
      "producers whose key is given by --discovery-key (or --server-key, or a --config\n"
      "file) are believed, and that key is pinned.\n\n"
      "What cannot be delivered is said on stderr, never skipped silently:\n"
      "  brook consume: event: offsets 0..69 of orders/0 were removed by retention ...\n"
      "With --json each event is also a line on stdout, where it happened in the stream:\n"
      "  {\"event\": \"skipped\"|\"new_producer\"|\"tail_lost\"|\"data_loss\", \"producer\",\n"
      "   \"topic\", \"partition\", \"from\", \"to\", \"message\"}\n"
      "(record lines have no \"event\" field).\n\n"
      "--group NAME joins a consumer group (docs/GROUPS.md): the runs with the same group\n"
      "share the partitions of the topics, each partition printed by one of them at a\n"
      "time, and the group's position is kept by the nodes, so a partition that moves to\n"
      "another run goes on where this one stopped. With --json, \"assigned\" (this run\n"
      "prints the partition from \"from\" on) and \"revoked\" (it no longer does; \"from\"\n"
      "is the offset after its last record) are event lines too; with --verbose they are\n"
      "logged on stderr. Positions are committed after the records were written to\n"
      "stdout, and when a partition moves away. A run's share changes as others come\n"
      "and go, so there is no end to stop at: --group needs --follow or --count.\n\n"
      "--name keeps this consumer's position in --state-dir (default\n"
      "$XDG_STATE_HOME/brook or ~/.local/state/brook): the next run starts where this one\n"
      "stopped, and --from applies only to partitions it has no position for. A position\n"
      "is stored only after the records were written to stdout.\n\n"
      "examples:\n"
      "  brook consume orders --pub tcp://host:7000 --replay tcp://host:7001\n"
      "  brook consume orders --config /etc/brook/shop.conf --from -1h --json\n"
      "  brook consume orders --config shop.conf --follow --name audit\n"
      "  brook consume orders --config shop.conf --follow --group billing --json\n"
      "  brook consume orders --discover shop --json\n"
      "  brook consume orders --discover shop --client-key me.key --discovery-key node1.key";
  spec.min_positional = 1;
  spec.max_positional = 1000;
  AddNodeOptions(&spec);
  spec.options.push_back({"from", "WHERE",
                          "where partitions start: earliest (default), latest, an offset\n"
                          "(the same in every partition), or a time (2026-11-25T10:00:00Z,\n"
                          "@UNIX_SECONDS, -1h: from the first record stamped at or after it)"});
  spec.options.push_back({"follow", "", "keep printing new records until Ctrl-C or SIGTERM"});
  spec.options.push_back({"exit-at-end", "",
                          "stop once every partition reached its high watermark at the\n"
                          "start (the default)"});
  spec.options.push_back({"count", "N", "stop after N records"});
  spec.options.push_back({"name", "NAME", "keep this consumer's position under NAME"});
  spec.options.push_back({"state-dir", "DIR", "where --name keeps positions"});
  spec.options.push_back({"group", "NAME",
                          "share the partitions with the other runs of group NAME, each\n"
                          "printed by one of them; positions kept by the nodes (with\n"
                          "--follow or --count; not with --name)"});
  spec.options.push_back({"json", "", "one JSON object per record (and event)"});
  spec.options.push_back({"timeout", "DURATION",
                          "without --follow: how long to wait for each node's answer at\n"
                          "the start, and for a record before the end (default 10s)"});
  spec.options.push_back({"verbose", "", "the library's log at info level on stderr"});
  return spec;
}

// --from: false when the text is none of the forms.
bool ParseStart(const std::string& text, StartPosition* out, std::string* error) {
  if (text == "earliest") {
    *out = StartPosition::Earliest();
  } else if (text == "latest") {
    *out = StartPosition::Latest();
  } else if (!text.empty() && text[0] >= '0' && text[0] <= '9' &&
             text.find_first_of("-:T") == std::string::npos) {
    uint64_t offset = 0;
    Status s = ParseUint(text, &offset);
    if (!s.ok()) {
      *error = "--from: " + std::string(s.message());
      return false;
    }
    *out = StartPosition::Offset(offset);
  } else {
    int64_t ns = 0;
    Status s = ParseTime(text, &ns);
    if (!s.ok()) {
      *error =
          "--from: expected earliest, latest, an offset or a time; " + std::string(s.message());
      return false;
    }
    *out = StartPosition::Timestamp(ns);
  }
  return true;
}

const char* EventKind(ConsumerEvent::Kind kind) {
  switch (kind) {
    case ConsumerEvent::Kind::kSkipped:
      return "skipped";
    case ConsumerEvent::Kind::kNewProducer:
      return "new_producer";
    case ConsumerEvent::Kind::kTailLost:
      return "tail_lost";
    case ConsumerEvent::Kind::kAssigned:
      return "assigned";
    case ConsumerEvent::Kind::kRevoked:
      return "revoked";
    case ConsumerEvent::Kind::kDataLoss:
      return "data_loss";
  }
  return "unknown";
}

// A partition of a node that must be delivered up to `high` before an
// exit-at-end run is over.
struct Target {
  StreamId stream;
  std::string endpoint;
  uint64_t high = 0;
  uint64_t reached = 0;
  bool done = false;
};

// Asks every node for its watermarks: where the end is. With a time start,
// partitions with nothing at or after it are done already (the consumer's
// lag() reports their position only once a record is delivered). A producer
// reached at two endpoints (named and discovered) counts once.
bool FindTargets(const CommandSpec& spec, const std::vector<ProducerEndpoints>& nodes,
                 const ClientSecurity& security, const std::vector<std::string>& topics,
                 const StartPosition& start, std::chrono::milliseconds timeout,
                 std::vector<Target>* targets, int* exit_code) {
  std::vector<bool> found(topics.size(), false);
  std::string seen;
  std::set<ProducerId> producers;
  for (const ProducerEndpoints& endpoints : nodes) {
    NodeClient client;
    NodeDescription d;
    Status s = client.Connect(endpoints, security);
    if (s.ok()) s = client.Describe(timeout, &d);
    if (!s.ok()) {
      *exit_code = Fail(spec, s);
      return false;
    }
    if (!producers.insert(d.producer).second) continue;
    std::string names;
    for (const NodeDescription::Topic& t : d.topics) names += (names.empty() ? "" : ", ") + t.name;
    seen += "\n  " + d.endpoint + ": " + (names.empty() ? "(no topics)" : names);
    for (size_t i = 0; i < topics.size(); ++i) {
      const NodeDescription::Topic* t = d.Find(topics[i]);
      if (!t) continue;
      found[i] = true;
      for (uint32_t p = 0; p < t->partitions.size(); ++p) {
        Target target;
        target.stream.producer = d.producer;
        target.stream.topic = t->name;
        target.stream.partition = p;
        target.endpoint = d.endpoint;
        target.high = t->partitions[p].high_watermark;
        target.done = target.high == 0;
        if (!target.done && start.kind == StartPosition::Kind::kTimestamp) {
          uint64_t at = 0;
          s = client.Seek(t->name, p, start.timestamp_ns, timeout, &at);
          if (!s.ok()) {
            *exit_code = Fail(spec, s);
            return false;
          }
          target.done = at >= target.high;
        }
        targets->push_back(std::move(target));
      }
    }
  }
  for (size_t i = 0; i < topics.size(); ++i) {
    if (!found[i]) {
      *exit_code =
          Fail(spec, "topic '" + topics[i] + "' is on none of the nodes; their topics:" + seen +
                         "\n(--follow waits for a topic to appear)");
      return false;
    }
  }
  return true;
}

// Records and events as bytes for stdout, written once per Poll batch.
class Printer {
 public:
  explicit Printer(bool json) : json_(json) { out_.reserve(1 << 20); }

  void Record(const StreamId& stream, const RecordView& r) {
    if (!json_) {
      out_.append(r.payload.data(), r.payload.size());
      out_ += '\n';
      return;
    }
    out_ += StreamPrefix(stream);
    out_ += ",\"offset\":";
    out_ += std::to_string(r.offset);
    out_ += ",\"timestamp_ns\":";
    out_ += std::to_string(r.timestamp_ns);
    out_ += ",\"timestamp\":\"";
    out_ += FormatTime(r.timestamp_ns);
    out_ += "\",";
    AppendRecordContentJson(r, &out_);
    out_ += "}\n";
  }

  void Event(const ConsumerEvent& e) {
    // A group's moves are routine: the library logs them (--verbose).
    const bool routine =
        e.kind == ConsumerEvent::Kind::kAssigned || e.kind == ConsumerEvent::Kind::kRevoked;
    if (!routine) std::fprintf(stderr, "brook consume: event: %s\n", e.message.c_str());
    if (!json_) return;
    out_ += JsonObject()
                .Str("event", EventKind(e.kind))
                .Str("producer", e.stream.producer.ToHex())
                .Str("topic", e.stream.topic)
                .Num("partition", e.stream.partition)
                .Num("from", e.from)
                .Num("to", e.to)
                .Str("message", e.message)
                .Done();
    out_ += '\n';
  }

  // Writes what the batch printed. Errors: Unavailable with errno EPIPE kept
  // in *broken_pipe when the reader went away (not a failure of this
  // command: `brook consume ... | head` ends that way).
  Status Flush(bool* broken_pipe) {
    *broken_pipe = false;
    if (out_.empty()) return Status::OK();
    const size_t n = std::fwrite(out_.data(), 1, out_.size(), stdout);
    const bool ok = n == out_.size() && std::fflush(stdout) == 0;
    out_.clear();
    if (ok) return Status::OK();
    if (errno == EPIPE) *broken_pipe = true;
    return Status::Unavailable(std::string("writing to stdout failed: ") + std::strerror(errno));
  }

 private:
  // {"producer":...,"topic":...,"partition":N  for the batch's stream: most
  // batches are runs of one stream, so it is built once per run.
  const std::string& StreamPrefix(const StreamId& s) {
    if (prefix_.empty() || s.partition != last_.partition || s.producer != last_.producer ||
        s.topic != last_.topic) {
      last_ = s;
      prefix_ = "{\"producer\":\"" + s.producer.ToHex() + "\",\"topic\":" + JsonString(s.topic) +
                ",\"partition\":" + std::to_string(s.partition);
    }
    return prefix_;
  }

  bool json_;
  std::string out_;
  StreamId last_;
  std::string prefix_;
};

// True when every target has been delivered up to its high watermark.
bool AtEnd(const Consumer& consumer, std::vector<Target>* targets) {
  bool all = true;
  std::vector<StreamLag> lag;
  bool have_lag = false;
  for (Target& t : *targets) {
    if (t.done) continue;
    if (!have_lag) {
      lag = consumer.lag();
      have_lag = true;
    }
    for (const StreamLag& l : lag) {
      if (l.stream.partition == t.stream.partition && l.stream.producer == t.stream.producer &&
          l.stream.topic == t.stream.topic) {
        t.reached = l.next;
        t.done = l.next >= t.high;
      }
    }
    all = all && t.done;
  }
  return all;
}

std::string Behind(const std::vector<Target>& targets) {
  std::string out;
  size_t n = 0;
  for (const Target& t : targets) {
    if (t.done) continue;
    if (++n <= 3) {
      out += (n > 1 ? ", " : "") + t.stream.topic + "/" + std::to_string(t.stream.partition) +
             " at " + std::to_string(t.reached) + " of " + std::to_string(t.high) + " on " +
             t.endpoint;
    }
  }
  if (n > 3) out += " and " + std::to_string(n - 3) + " more";
  return out;
}

}  // namespace

int RunConsume(int argc, char** argv) {
  const CommandSpec spec = ConsumeSpec();
  Args args;
  int code = kExitOk;
  if (!ParseArgs(spec, argc, argv, 1, &args, &code)) return code;

  const bool follow = args.Has("follow");
  if (follow && args.Has("exit-at-end")) {
    return UsageError(spec, "--follow and --exit-at-end contradict each other; give one");
  }
  if (follow && args.Has("timeout")) {
    return UsageError(spec,
                      "--timeout is for a run that stops at the end; --follow waits for "
                      "records until Ctrl-C");
  }
  ConsumerOptions options;
  options.topics = args.positional();
  if (args.Has("from")) {
    std::string error;
    if (!ParseStart(args.Get("from"), &options.start, &error)) return UsageError(spec, error);
  }
  uint64_t count = 0;
  std::chrono::milliseconds timeout = kDefaultTimeout;
  Status s = args.GetUint("count", &count);
  if (s.ok()) s = args.GetDuration("timeout", &timeout);
  if (!s.ok()) return UsageError(spec, std::string(s.message()));
  if (args.Has("count") && count == 0) return UsageError(spec, "--count must be at least 1");
  if (timeout.count() <= 0) return UsageError(spec, "--timeout must be longer than 0");
  const bool grouped = args.Has("group");
  if (grouped) {
    options.group = args.Get("group");
    if (options.group.empty()) return UsageError(spec, "--group must not be empty");
    if (args.Has("name")) {
      return UsageError(spec,
                        "--group and --name go separately: a group's positions are kept by "
                        "the nodes, a name's in --state-dir; give one or the other");
    }
    if (!follow && !args.Has("count")) {
      return UsageError(spec,
                        "--group needs --follow or --count: a member's share of the "
                        "partitions changes as other members come and go, so there is no "
                        "end to stop at");
    }
    if (args.Has("exit-at-end") || args.Has("timeout")) {
      return UsageError(spec, std::string("--") +
                                  (args.Has("exit-at-end") ? "exit-at-end" : "timeout") +
                                  " is for a run that stops at the end; with --group a run "
                                  "stops at --count or on Ctrl-C/SIGTERM");
    }
    // Committed by hand, after stdout took the records (as with --name).
    options.auto_commit = false;
  }
  // Runs until --follow's signal or --count, never to an end.
  const bool to_end = !follow && !grouped;
  if (args.Has("state-dir") && !args.Has("name")) {
    return UsageError(spec, "--state-dir keeps the positions of a named consumer; give --name too");
  }
  if (args.Has("name")) {
    options.name = args.Get("name");
    if (options.name.empty()) return UsageError(spec, "--name must not be empty");
    options.state_dir = args.Get("state-dir");
    if (options.state_dir.empty()) {
      options.state_dir = DefaultStateDir();
      s = MakeDirectories(options.state_dir);
      if (!s.ok()) return Fail(spec, s);
    }
    // Positions are committed by hand, after stdout took the records: a
    // record that never reached the reader must come again next run.
    options.auto_commit = false;
  }
  Nodes nodes;
  if (!NodesFromArgs(spec, args, &nodes, &code)) return code;
  options.producers = nodes.endpoints;
  options.security = nodes.security;
  options.discovery = nodes.discovery;
  options.logger = StderrLogger("consume", args.Has("verbose"));
  if (nodes.discovery.enabled && nodes.security.enabled) {
    if (BeaconKeys(nodes).empty()) {
      return UsageError(spec,
                        "with CURVE, discovery follows only producers whose public key it "
                        "knows: give --discovery-key FILE (a producer's public key file; "
                        "repeatable)");
    }
    options.discovery_server_keys = nodes.discovery_server_keys;
  } else if (!nodes.discovery_server_keys.empty()) {
    return UsageError(spec,
                      "--discovery-key says which producers to believe under CURVE; give "
                      "--client-key FILE too (this client's key pair), or leave it out");
  }

  InstallStopSignals();
  const auto started = Clock::now();
  const std::chrono::milliseconds window = DiscoveryWindow(nodes.discovery);
  std::vector<Target> targets;
  if (to_end) {
    // The end is the high watermarks at the start of every node out there
    // now: the named ones and those heard within the discovery window.
    std::vector<ProducerEndpoints> at_start = nodes.endpoints;
    if (nodes.discovery.enabled) {
      std::vector<DiscoveredProducer> heard;
      node::BeaconListenerStats stats;
      s = ListenForProducers(nodes, window, &heard, &stats);
      if (!s.ok()) return Fail(spec, s);
      if (StopRequested()) return kExitOk;
      for (const DiscoveredProducer& d : heard) {
        const bool named =
            std::any_of(at_start.begin(), at_start.end(),
                        [&](const ProducerEndpoints& e) { return e.replay == d.replay_endpoint; });
        if (named) continue;
        at_start.emplace_back(d.pub_endpoint, d.replay_endpoint,
                              nodes.security.enabled ? d.server_public_key : std::string());
      }
      if (at_start.empty()) return Fail(spec, NothingHeard(nodes, window, stats));
    }
    if (!FindTargets(spec, at_start, nodes.security, options.topics, options.start, timeout,
                     &targets, &code)) {
      return code;
    }
  }

  if (to_end && !options.name.empty() && options.start.kind == StartPosition::Kind::kTimestamp) {
    // A stored position beats the time: the consumer resumes there, so a
    // partition with nothing after the time may still have records to go.
    // The store is closed again before the consumer opens it (LMDB forbids
    // one process opening an environment twice).
    std::unique_ptr<node::PositionStore> store;
    s = node::PositionStore::Open(options.state_dir, options.name, &store);
    if (!s.ok()) return Fail(spec, s);
    for (Target& t : targets) {
      if (std::optional<node::PositionStore::Position> at = store->Get(t.stream)) {
        t.done = at->next >= t.high;
      }
    }
  }

  std::unique_ptr<Consumer> consumer;
  s = Consumer::Open(options, &consumer);
  if (!s.ok()) return Fail(spec, s);

  Printer printer(args.Has("json"));
  uint64_t printed = 0, events = 0;
  PollHandler handler;
  handler.on_record = [&](const StreamId& stream, const RecordView& r) {
    printer.Record(stream, r);
  };
  handler.on_event = [&](const ConsumerEvent& e) {
    ++events;
    printer.Event(e);
  };
  auto last_progress = Clock::now();
  int result = kExitOk;
  bool commit = !options.name.empty() || grouped;
  // --follow with only discovery: say so once if nobody is heard for a while.
  bool quiet_said = !(follow && nodes.discovery.enabled && nodes.endpoints.empty());
  while (!StopRequested()) {
    if (!quiet_said && Clock::now() - started >= window) {
      quiet_said = true;
      if (consumer->stats().producers_discovered == 0) {
        const DiscoveryOptions& d = nodes.discovery;
        std::fprintf(stderr,
                     "brook consume: no producer of cluster '%s' with these topics heard on "
                     "%s:%u yet; waiting (--verbose logs each one found)\n",
                     d.cluster.c_str(), d.address.c_str(), static_cast<unsigned>(d.port));
      }
    }
    if (to_end && AtEnd(*consumer, &targets)) break;
    const size_t want =
        count ? static_cast<size_t>(std::min<uint64_t>(kPollBatch, count - printed)) : kPollBatch;
    const uint64_t events_before = events;
    size_t delivered = 0;
    s = consumer->Poll(handler, want, kPollWait, &delivered);
    if (!s.ok()) {
      result = Fail(spec, s);
      commit = false;
      break;
    }
    printed += delivered;
    bool broken_pipe = false;
    s = printer.Flush(&broken_pipe);
    if (!s.ok()) {
      // What did not reach the reader is not committed: it comes again.
      commit = false;
      if (!broken_pipe) result = Fail(spec, s);
      break;
    }
    if (delivered > 0 || events > events_before) {
      last_progress = Clock::now();
      if (commit) {
        s = consumer->Commit();
        if (!s.ok()) {
          result = Fail(spec, s);
          commit = false;
          break;
        }
      }
    }
    if (count && printed >= count) break;
    if (to_end && Clock::now() - last_progress >= timeout && !AtEnd(*consumer, &targets)) {
      const ConsumerStats stats = consumer->stats();
      std::string why = "no record for " + FormatDuration(timeout) +
                        " before the end was reached (" + Behind(targets) + ")";
      if (stats.handshakes_failed > 0) {
        why += "; CURVE handshakes with the node failed (see above)";
      } else {
        why += "; is the node still running? --timeout waits longer, --follow forever";
      }
      result = Fail(spec, why);
      commit = false;
      break;
    }
  }
  s = consumer->Close();
  if (!s.ok() && result == kExitOk) result = Fail(spec, s);
  if (StderrIsTerminal()) {
    const auto took = Clock::now() - started;
    std::fprintf(stderr, "brook consume: %" PRIu64 " record%s, %" PRIu64 " event%s in %s\n",
                 printed, printed == 1 ? "" : "s", events, events == 1 ? "" : "s",
                 FormatDuration(took).c_str());
  }
  return result;
}

}  // namespace brook::cli
