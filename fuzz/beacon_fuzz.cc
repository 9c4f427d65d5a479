// Fuzzes LAN discovery's beacons (node/beacon.h, docs/DISCOVERY.md): the UDP
// datagrams any host on the LAN can send. The input is a separator byte,
// then datagrams joined by it (one datagram: no separator after the first
// byte); the whole input is also decoded as one datagram.
//
// Checks: no read outside the input (ASan). node::DecodeBeacon: on failure
// InvalidArgument with a defect other than kNone (kOversized exactly when
// the datagram exceeds kMaxBeaconBytes); on success kNone, every view
// (cluster, endpoints, key, topic names) in the datagram, a valid cluster
// name, page < pages <= 256, endpoints of 1..255 printable bytes, a key of 0
// or 32 bytes, each topic entry's partitions 1..4096 within 0..4095 with
// low <= high. node::AssembleBeaconRound on the decoded datagrams: on
// success the state agrees with page 0 and every topic has 1..4096
// partitions; EncodeBeaconRound of it (same cluster and round) succeeds in
// pages of at most kMaxBeaconBytes that decode and assemble to the same
// state, and encode again to the same bytes. node::ConnectableEndpoint on
// each datagram (as "announced@source" when it has an '@', else from a
// loopback and a LAN source) and on an assembled round's endpoints: either
// InvalidArgument and an empty result, or OK and tcp://... or ipc://...
// (ipc:// only as announced, from a loopback source).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "journal/topic_name.h"
#include "node/beacon.h"

namespace {

using brook::DiscoveredProducer;
using brook::fuzz::Inside;
using brook::node::BeaconDefect;
using brook::node::BeaconPage;

bool Printable(std::string_view s) {
  for (char c : s)
    if (c <= ' ' || c > '~') return false;
  return true;
}

void CheckPage(const BeaconPage& p, std::string_view datagram) {
  FUZZ_CHECK(Inside(p.cluster, datagram) && brook::node::IsValidClusterName(p.cluster));
  FUZZ_CHECK(p.pages >= 1 && p.pages <= brook::node::kMaxBeaconPages && p.page < p.pages);
  for (std::string_view e : {p.pub_endpoint, p.replay_endpoint}) {
    FUZZ_CHECK(Inside(e, datagram));
    FUZZ_CHECK(!e.empty() && e.size() <= brook::node::kMaxBeaconEndpointBytes && Printable(e));
  }
  // No key (nil): an empty view that need not point into the datagram.
  FUZZ_CHECK(p.server_key.empty() || (p.server_key.size() == brook::node::kServerKeyBytes &&
                                      Inside(p.server_key, datagram)));
  for (const brook::node::BeaconChunk& c : p.chunks) {
    FUZZ_CHECK(Inside(c.topic, datagram));
    FUZZ_CHECK(brook::journal::ValidateTopicName(c.topic).ok());
    FUZZ_CHECK(!c.partitions.empty());
    FUZZ_CHECK(c.first_partition < brook::node::kMaxBeaconPartitions);
    FUZZ_CHECK(c.partitions.size() <= brook::node::kMaxBeaconPartitions - c.first_partition);
    for (const brook::Watermarks& m : c.partitions) FUZZ_CHECK(m.low_watermark <= m.high_watermark);
  }
}

bool Decode(std::string_view datagram, BeaconPage* page) {
  BeaconDefect defect = BeaconDefect::kNone;
  const brook::Status s = brook::node::DecodeBeacon(datagram, page, &defect);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    FUZZ_CHECK(defect != BeaconDefect::kNone);
    FUZZ_CHECK((defect == BeaconDefect::kOversized) ==
               (datagram.size() > brook::node::kMaxBeaconBytes));
    return false;
  }
  FUZZ_CHECK(defect == BeaconDefect::kNone);
  CheckPage(*page, datagram);
  return true;
}

void CheckSameState(const DiscoveredProducer& a, const DiscoveredProducer& b) {
  FUZZ_CHECK(a.cluster == b.cluster && a.id == b.id && a.epoch == b.epoch);
  FUZZ_CHECK(a.pub_endpoint == b.pub_endpoint && a.replay_endpoint == b.replay_endpoint);
  FUZZ_CHECK(a.server_public_key == b.server_public_key);
  FUZZ_CHECK(a.source_address.empty() && b.source_address.empty());
  FUZZ_CHECK(a.topics.size() == b.topics.size());
  for (size_t t = 0; t < a.topics.size(); ++t) {
    FUZZ_CHECK(a.topics[t].name == b.topics[t].name);
    FUZZ_CHECK(a.topics[t].partitions.size() == b.topics[t].partitions.size());
    for (size_t p = 0; p < a.topics[t].partitions.size(); ++p)
      FUZZ_CHECK(brook::fuzz::SameWatermarks(a.topics[t].partitions[p], b.topics[t].partitions[p]));
  }
}

bool IsLoopbackSource(std::string_view s) { return s.size() >= 4 && s.substr(0, 4) == "127."; }

void CheckConnectable(std::string_view announced, std::string_view source) {
  std::string out = "not cleared";
  const brook::Status s = brook::node::ConnectableEndpoint(announced, source, &out);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    FUZZ_CHECK(out.empty());
    return;
  }
  const std::string_view o = out;
  if (o.substr(0, 6) == "ipc://") {
    FUZZ_CHECK(o == announced);
    FUZZ_CHECK(IsLoopbackSource(source));
  } else {
    FUZZ_CHECK(o.substr(0, 6) == "tcp://");
    FUZZ_CHECK(announced.substr(0, 6) == "tcp://");
  }
}

// Decodes and assembles the pages of a round EncodeBeaconRound wrote.
void Reassemble(const std::vector<std::string>& pages, DiscoveredProducer* out) {
  std::vector<BeaconPage> decoded(pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    FUZZ_CHECK(pages[i].size() <= brook::node::kMaxBeaconBytes);
    FUZZ_CHECK(Decode(pages[i], &decoded[i]));
  }
  FUZZ_CHECK(brook::node::AssembleBeaconRound(decoded, out).ok());
}

void CheckRound(const std::vector<BeaconPage>& pages) {
  DiscoveredProducer state;
  const brook::Status s = brook::node::AssembleBeaconRound(pages, &state);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    return;
  }
  const BeaconPage& h = pages[0];
  FUZZ_CHECK(pages.size() == h.pages);
  FUZZ_CHECK(state.cluster == h.cluster && state.id == h.producer && state.epoch == h.epoch);
  FUZZ_CHECK(state.pub_endpoint == h.pub_endpoint && state.replay_endpoint == h.replay_endpoint);
  FUZZ_CHECK(state.server_public_key.size() == (h.server_key.empty() ? 0 : 40));
  FUZZ_CHECK(state.source_address.empty());
  for (const brook::DiscoveredTopic& t : state.topics)
    FUZZ_CHECK(!t.partitions.empty() && t.partitions.size() <= brook::node::kMaxBeaconPartitions);
  for (const std::string& e : {state.pub_endpoint, state.replay_endpoint}) {
    CheckConnectable(e, "10.0.0.5");
    CheckConnectable(e, "127.0.0.1");
  }

  std::vector<std::string> again;
  FUZZ_CHECK(brook::node::EncodeBeaconRound(state.cluster, state, h.round, &again).ok());
  FUZZ_CHECK(!again.empty());
  DiscoveredProducer back;
  Reassemble(again, &back);
  CheckSameState(state, back);
  std::vector<std::string> third;
  FUZZ_CHECK(brook::node::EncodeBeaconRound(back.cluster, back, h.round, &third).ok());
  FUZZ_CHECK(third == again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  BeaconPage whole;
  Decode(input, &whole);
  if (size == 0) return 0;

  const char sep = input[0];
  std::vector<std::string_view> datagrams;
  std::string_view rest = input.substr(1);
  while (true) {
    const size_t at = rest.find(sep);
    datagrams.push_back(rest.substr(0, at));
    if (at == std::string_view::npos) break;
    rest = rest.substr(at + 1);
  }

  std::vector<BeaconPage> pages;
  for (std::string_view d : datagrams) {
    BeaconPage p;
    if (Decode(d, &p)) pages.push_back(std::move(p));
    const size_t at = d.find('@');
    if (at != std::string_view::npos) {
      CheckConnectable(d.substr(0, at), d.substr(at + 1));
    } else if (d.size() <= 300) {
      CheckConnectable(d, "127.0.0.1");
      CheckConnectable(d, "192.168.1.20");
    }
  }
  CheckRound(pages);
  return 0;
}
