// brook describe: what a running node holds (its answer to the replay
// protocol's describe, or its discovery beacons), what a journal directory
// holds (tools/journal_inspect), or how far a named consumer is behind.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/position_store.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/journal_inspect.h"
#include "tools/node_args.h"

namespace brook::cli {

namespace {

constexpr std::chrono::milliseconds kDefaultTimeout{5000};

CommandSpec DescribeSpec() {
  CommandSpec spec("describe");
  spec.summary =
      "Describe a running node (topics, partitions, watermarks), a journal directory, or a "
      "named consumer's lag.";
  spec.description =
      "Of a running node (node options): its producer id and epoch, and per partition the\n"
      "low and high watermarks (offsets low..high-1 are stored) and the record count. A node\n"
      "does not tell its retention or sizes over the network: `brook describe --journal DIR`\n"
      "on its host reads them from the journal (safely beside a running node).\n\n"
      "With --name: the positions that consumer stored in --state-dir (default\n"
      "$XDG_STATE_HOME/brook or ~/.local/state/brook) against the nodes' high watermarks:\n"
      "per partition the next offset it will process and its lag in records. Reading the\n"
      "positions takes no lock a running consumer would notice.\n\n"
      "--discover CLUSTER (or a --config file with [discovery]): the producers of the\n"
      "cluster heard on the LAN, from their beacons (nothing is asked of them): id, epoch,\n"
      "endpoints, where the beacons came from, the CURVE key announced, and the watermarks\n"
      "as of the last beacon. It listens up to --timeout (default: three intervals of a\n"
      "--config file's [discovery], else of 1 s, at least 2 s), less once producers were\n"
      "heard and no new one came for two intervals.\n"
      "With --discovery-key only producers announcing one of those keys are listed (those\n"
      "a consumer under CURVE would follow).\n\n"
      "--json: one JSON object per node (per line); with --name, one object. A discovered\n"
      "node's object also has \"discovered\": true, \"cluster\", \"pub\", \"source_address\"\n"
      "and \"server_public_key\" (null without CURVE).\n\n"
      "examples:\n"
      "  brook describe --pub tcp://host:7000 --replay tcp://host:7001\n"
      "  brook describe --discover shop --json\n"
      "  brook describe --journal /var/lib/brook/shop --json\n"
      "  brook describe --config shop.conf --name audit";
  AddNodeOptions(&spec);
  spec.options.push_back({"journal", "DIR", "describe a journal directory instead of a node"});
  spec.options.push_back({"name", "NAME", "a named consumer's positions and lag"});
  spec.options.push_back({"state-dir", "DIR", "where that consumer keeps its positions"});
  spec.options.push_back({"timeout", "DURATION",
                          "how long to wait for each node (default 5s); with discovery,\n"
                          "how long to listen for beacons at most (default: 3 intervals,\n"
                          "at least 2s)"});
  spec.options.push_back({"json", "", "JSON instead of tables"});
  return spec;
}

// Every node's description, in the order given. False with *exit_code set on
// failure (the reason printed).
bool DescribeAll(const CommandSpec& spec, const Nodes& nodes, std::chrono::milliseconds timeout,
                 std::vector<NodeDescription>* out, int* exit_code) {
  for (const ProducerEndpoints& endpoints : nodes.endpoints) {
    NodeClient client;
    NodeDescription d;
    Status s = client.Connect(endpoints, nodes.security);
    if (s.ok()) s = client.Describe(timeout, &d);
    if (!s.ok()) {
      *exit_code = Fail(spec, s);
      return false;
    }
    out->push_back(std::move(d));
  }
  return true;
}

// Listens for beacons and appends the producers heard that *out does not
// hold already (by id). False with *exit_code set when the listener fails, or
// when no node is known at all.
bool DiscoverAll(const CommandSpec& spec, const Nodes& nodes, std::chrono::milliseconds window,
                 std::vector<NodeDescription>* out, int* exit_code) {
  std::vector<DiscoveredProducer> heard;
  node::BeaconListenerStats stats;
  Status s = ListenForProducers(nodes, window, &heard, &stats);
  if (!s.ok()) {
    *exit_code = Fail(spec, s);
    return false;
  }
  if (heard.empty() && out->empty()) {
    *exit_code = Fail(spec, NothingHeard(nodes, window, stats));
    return false;
  }
  for (const DiscoveredProducer& p : heard) {
    const bool known = std::any_of(out->begin(), out->end(),
                                   [&](const NodeDescription& d) { return d.producer == p.id; });
    if (known) continue;
    NodeDescription d;
    d.endpoint = p.replay_endpoint;
    d.producer = p.id;
    d.epoch = p.epoch;
    for (const DiscoveredTopic& t : p.topics) d.topics.push_back({t.name, t.partitions});
    d.discovered = true;
    d.cluster = p.cluster;
    d.pub = p.pub_endpoint;
    d.source_address = p.source_address;
    d.server_public_key = p.server_public_key;
    out->push_back(std::move(d));
  }
  return true;
}

uint64_t Records(const Watermarks& w) { return w.high_watermark - w.low_watermark; }

void PrintNode(const NodeDescription& d, bool json) {
  if (json) {
    std::vector<std::string> topics;
    for (const NodeDescription::Topic& t : d.topics) {
      std::vector<std::string> parts;
      uint64_t records = 0;
      for (uint32_t p = 0; p < t.partitions.size(); ++p) {
        const Watermarks& w = t.partitions[p];
        records += Records(w);
        parts.push_back(JsonObject()
                            .Num("partition", p)
                            .Num("low_watermark", w.low_watermark)
                            .Num("high_watermark", w.high_watermark)
                            .Num("records", Records(w))
                            .Done());
      }
      topics.push_back(JsonObject()
                           .Str("name", t.name)
                           .Num("partition_count", t.partitions.size())
                           .Num("records", records)
                           .Raw("partitions", JsonArray(parts))
                           .Done());
    }
    JsonObject o;
    o.Str("endpoint", d.endpoint).Str("producer", d.producer.ToHex()).Num("epoch", d.epoch);
    if (d.discovered) {
      o.Bool("discovered", true)
          .Str("cluster", d.cluster)
          .Str("pub", d.pub)
          .Str("source_address", d.source_address);
      if (d.server_public_key.empty()) {
        o.Null("server_public_key");
      } else {
        o.Str("server_public_key", d.server_public_key);
      }
    }
    std::printf("%s\n", o.Raw("topics", JsonArray(topics)).Done().c_str());
    return;
  }
  std::printf("node      %s\nproducer  %s\nepoch     %llu\n", d.endpoint.c_str(),
              d.producer.ToHex().c_str(), static_cast<unsigned long long>(d.epoch));
  if (d.discovered) {
    std::printf("pub       %s\nheard     from %s in cluster %s\nkey       %s\n", d.pub.c_str(),
                d.source_address.c_str(), d.cluster.c_str(),
                d.server_public_key.empty() ? "(none: no CURVE)" : d.server_public_key.c_str());
  }
  if (d.topics.empty()) {
    std::printf("\nno topics\n");
    return;
  }
  std::printf("\n");
  Table table({"TOPIC", "PARTITION", "LOW", "HIGH", "RECORDS"});
  for (const NodeDescription::Topic& t : d.topics) {
    for (uint32_t p = 0; p < t.partitions.size(); ++p) {
      const Watermarks& w = t.partitions[p];
      table.Row({t.name, std::to_string(p), std::to_string(w.low_watermark),
                 std::to_string(w.high_watermark), std::to_string(Records(w))});
    }
  }
  table.Print(stdout);
}

// One partition of a topic the consumer has a position in.
struct LagRow {
  const NodeDescription* node;
  std::string topic;
  uint32_t partition;
  uint64_t high;
  std::optional<uint64_t> next;  // none: no position yet (starts at its start position)
};

int DescribeLag(const CommandSpec& spec, const std::vector<NodeDescription>& nodes,
                const std::string& name, const std::string& dir, bool json) {
  // PositionStore::Open creates what is missing; a mistyped directory must
  // not become an empty store that says "no positions".
  struct stat st;
  if (::stat((dir + "/data.mdb").c_str(), &st) != 0) {
    return Fail(spec, "no consumer state in " + dir +
                          " (no data.mdb there): check --state-dir; a named consumer creates it "
                          "on its first run");
  }
  // LMDB's own locking lets this read beside a running consumer; the store
  // takes no lock of its own.
  std::unique_ptr<node::PositionStore> store;
  Status s = node::PositionStore::Open(dir, name, &store);
  if (!s.ok()) return Fail(spec, s);

  std::vector<LagRow> rows;
  for (const NodeDescription& d : nodes) {
    for (const NodeDescription::Topic& t : d.topics) {
      std::vector<LagRow> topic_rows;
      bool any = false;
      for (uint32_t p = 0; p < t.partitions.size(); ++p) {
        StreamId id;
        id.producer = d.producer;
        id.topic = t.name;
        id.partition = p;
        std::optional<node::PositionStore::Position> at = store->Get(id);
        any = any || at.has_value();
        topic_rows.push_back(LagRow{&d, t.name, p, t.partitions[p].high_watermark,
                                    at ? std::optional<uint64_t>(at->next) : std::nullopt});
      }
      // A topic the consumer never processed a record of is not one it follows.
      if (any) rows.insert(rows.end(), topic_rows.begin(), topic_rows.end());
    }
  }
  if (rows.empty()) {
    std::string where;
    for (const NodeDescription& d : nodes) where += (where.empty() ? "" : ", ") + d.endpoint;
    return Fail(spec, "consumer '" + name + "' has no stored position in " + dir +
                          " for any partition of " + where +
                          ": check --name and --state-dir (a position is stored once the "
                          "consumer has processed a record)");
  }
  auto lag = [](const LagRow& r) { return r.next && *r.next < r.high ? r.high - *r.next : 0; };
  uint64_t total = 0;
  for (const LagRow& r : rows) total += lag(r);
  if (json) {
    std::vector<std::string> streams;
    for (const LagRow& r : rows) {
      JsonObject o;
      o.Str("endpoint", r.node->endpoint)
          .Str("producer", r.node->producer.ToHex())
          .Str("topic", r.topic)
          .Num("partition", r.partition)
          .Num("high_watermark", r.high);
      if (r.next) {
        o.Num("next", *r.next).Num("lag", lag(r));
      } else {
        o.Null("next").Null("lag");
      }
      streams.push_back(o.Done());
    }
    std::printf("%s\n", JsonObject()
                            .Str("name", name)
                            .Str("state_dir", dir)
                            .Num("lag", total)
                            .Raw("streams", JsonArray(streams))
                            .Done()
                            .c_str());
    return kExitOk;
  }
  std::printf("consumer  %s\nstate     %s\nlag       %llu records\n\n", name.c_str(), dir.c_str(),
              static_cast<unsigned long long>(total));
  Table table({"NODE", "TOPIC", "PARTITION", "NEXT", "HIGH", "LAG"});
  bool unknown = false;
  for (const LagRow& r : rows) {
    unknown = unknown || !r.next;
    table.Row({r.node->endpoint, r.topic, std::to_string(r.partition),
               r.next ? std::to_string(*r.next) : "-", std::to_string(r.high),
               r.next ? std::to_string(lag(r)) : "-"});
  }
  table.Print(stdout);
  if (unknown) {
    std::printf(
        "\n-: no position stored yet; that partition starts at the consumer's start "
        "position\n");
  }
  return kExitOk;
}

}  // namespace

int RunDescribe(int argc, char** argv) {
  const CommandSpec spec = DescribeSpec();
  Args args;
  int code = kExitOk;
  if (!ParseArgs(spec, argc, argv, 1, &args, &code)) return code;
  const bool json = args.Has("json");
  if (args.Has("journal")) {
    if (HasNodeOptions(args) || args.Has("name")) {
      return UsageError(spec,
                        "--journal reads a journal directory; give it alone, or node "
                        "options (--pub/--replay, --config) for a running node");
    }
    return DescribeJournalDirectory(args.Get("journal"), json);
  }
  if (args.Has("state-dir") && !args.Has("name")) {
    return UsageError(spec, "--state-dir holds named consumers' positions; give --name too");
  }
  if (args.Has("name") && args.Get("name").empty()) {
    return UsageError(spec, "--name must not be empty");
  }
  std::chrono::milliseconds timeout = kDefaultTimeout;
  Status s = args.GetDuration("timeout", &timeout);
  if (!s.ok()) return UsageError(spec, std::string(s.message()));
  if (timeout.count() <= 0) return UsageError(spec, "--timeout must be longer than 0");
  if (!HasNodeOptions(args)) {
    return UsageError(spec,
                      "describe what? give node options (--pub ENDPOINT --replay ENDPOINT, "
                      "--config FILE, or --discover CLUSTER), or --journal DIR");
  }
  Nodes nodes;
  if (!NodesFromArgs(spec, args, &nodes, &code)) return code;
  std::vector<NodeDescription> described;
  if (!DescribeAll(spec, nodes, timeout, &described, &code)) return code;
  if (nodes.discovery.enabled) {
    const std::chrono::milliseconds window =
        args.Has("timeout") ? timeout : DiscoveryWindow(nodes.discovery);
    if (!DiscoverAll(spec, nodes, window, &described, &code)) return code;
  }
  if (args.Has("name")) {
    return DescribeLag(spec, described, args.Get("name"), args.Get("state-dir", DefaultStateDir()),
                       json);
  }
  for (size_t i = 0; i < described.size(); ++i) {
    if (i > 0 && !json) std::printf("\n");
    PrintNode(described[i], json);
  }
  if (!json) {
    std::printf("\n(retention and sizes: brook describe --journal DIR on the node's host)\n");
    if (nodes.discovery.enabled) {
      std::printf(
          "(discovered nodes: watermarks as of their last beacon, at most one interval "
          "old)\n");
    }
  }
  return kExitOk;
}

}  // namespace brook::cli
