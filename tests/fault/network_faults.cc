// Fault 4 of docs/RELIABILITY.md: the network between producer and consumer
// cut, for a fraction of a second up to a minute, while records go by.
//  - network_cut: through a TCP proxy the harness controls; a cut closes
//    every connection abruptly (RST) and refuses new ones until it ends.
//  - network_partition: producer and consumer in two network namespaces
//    joined by a veth pair; a cut takes the link down, so packets vanish
//    with no reset (the silent partition). Needs root and iproute2.
#include <set>

#include "tests/fault/round_util.h"
#include "tests/netns.h"
#include "tests/tcp_proxy.h"

namespace brook::fault {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// How long each cut lasts: mostly short; in the long version one round in
// 40 cuts for over a minute (beyond every timeout and heartbeat the node has).
milliseconds CutLength(const RoundConfig& c, std::mt19937_64& rng) {
  if (c.long_run && c.round % 40 == 7) return milliseconds(Uniform(rng, 60000, 75000));
  return milliseconds(Uniform(rng, 100, c.long_run ? 5000 : 1500));
}

RoundResult NetworkCut(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  History h;
  Cluster cl(c.bin_dir, c.scratch, &h, c.seed);
  ProducerSpec p = StandardProducer(c, "p0");
  const uint16_t pub_port = FreeTcpPort(rng), replay_port = FreeTcpPort(rng);
  const uint16_t proxy_pub_port = FreeTcpPort(rng), proxy_replay_port = FreeTcpPort(rng);
  if (pub_port == 0 || replay_port == 0 || proxy_pub_port == 0 || proxy_replay_port == 0 ||
      std::set<uint16_t>{pub_port, replay_port, proxy_pub_port, proxy_replay_port}.size() != 4) {
    r.Violation("no free TCP ports on 127.0.0.1");
    return r;
  }
  p.pub = "tcp://127.0.0.1:" + std::to_string(pub_port);
  p.replay = "tcp://127.0.0.1:" + std::to_string(replay_port);
  p.durability = c.round % 2 ? "nosync" : "fsync";
  p.topics = {"t0", "t1"};
  p.rate = 2000;
  test::TcpProxy pub_proxy("127.0.0.1", pub_port, proxy_pub_port);
  test::TcpProxy replay_proxy("127.0.0.1", replay_port, proxy_replay_port);
  for (test::TcpProxy* proxy : {&pub_proxy, &replay_proxy}) {
    const std::string e = proxy->Start();
    if (!e.empty()) {
      r.Violation("proxy: " + e);
      return r;
    }
  }
  ConsumerSpec s = StandardConsumer(c, "c0", {});
  s.producers = {{pub_proxy.endpoint(), replay_proxy.endpoint()}};
  s.topics = p.topics;
  cl.AddProducer(p);
  cl.AddConsumer(s);
  if (!StartOrViolate(&cl, 'p', 0, &r) || !StartOrViolate(&cl, 'c', 0, &r)) return r;
  const int cuts = 2;
  milliseconds longest{0};
  for (int k = 0; k < cuts; ++k) {
    PumpNoExits(&cl, milliseconds(Uniform(rng, 100, 800)), &r);
    // Cut both, or only the live stream, or only replays.
    const int which = static_cast<int>(rng() % 3);
    if (which != 2) pub_proxy.Stop();
    if (which != 1) replay_proxy.Stop();
    const milliseconds cut = CutLength(c, rng);
    longest = std::max(longest, cut);
    PumpNoExits(&cl, cut, &r);
    for (test::TcpProxy* proxy : {&pub_proxy, &replay_proxy}) {
      if (proxy->running()) continue;
      const std::string e = proxy->Start();
      if (!e.empty()) {
        std::string ss;
        test::RunShell("ss -tanp '( sport = :" + std::to_string(proxy->port()) + " )'", &ss);
        r.Violation("proxy restart: " + e + "; holding the port:\n" + ss);
      }
    }
  }
  PumpNoExits(&cl, milliseconds(300), &r);
  FinishRound(&cl, &h, 1, {0}, {"c0"}, seconds(c.long_run ? 120 : 45), &r);
  r.notes.insert(r.notes.begin(), "longest cut " + std::to_string(longest.count()) + " ms");
  return r;
}

RoundResult NetworkPartition(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  test::NamespacePair ns("brook-fault", "10.78." + std::to_string(c.round % 200));
  // A /24 per round number keeps a round's leftovers from meeting the next.
  const std::string why_not = ns.Build();
  if (!why_not.empty()) {
    r.not_run = "network namespaces unavailable: " + why_not;
    return r;
  }
  History h;
  Cluster cl(c.bin_dir, c.scratch, &h, c.seed);
  ProducerSpec p = StandardProducer(c, "p0");
  p.pub = "tcp://" + ns.address_a() + ":7300";
  p.replay = "tcp://" + ns.address_a() + ":7301";
  p.durability = c.round % 2 ? "nosync" : "fsync";
  p.rate = 2000;
  p.wrapper = {test::NamespacePair::IpPath(), "netns", "exec", ns.a()};
  ConsumerSpec s = StandardConsumer(c, "c0", {p});
  s.wrapper = {test::NamespacePair::IpPath(), "netns", "exec", ns.b()};
  cl.AddProducer(p);
  cl.AddConsumer(s);
  if (!StartOrViolate(&cl, 'p', 0, &r) || !StartOrViolate(&cl, 'c', 0, &r)) return r;
  milliseconds longest{0};
  for (int k = 0; k < 2; ++k) {
    PumpNoExits(&cl, milliseconds(Uniform(rng, 100, 800)), &r);
    std::string e = ns.SetLink(false);
    if (!e.empty()) r.Violation(e);
    const milliseconds cut = CutLength(c, rng);
    longest = std::max(longest, cut);
    PumpNoExits(&cl, cut, &r);
    e = ns.SetLink(true);
    if (!e.empty()) r.Violation(e);
  }
  PumpNoExits(&cl, milliseconds(300), &r);
  FinishRound(&cl, &h, 1, {0}, {"c0"}, seconds(c.long_run ? 180 : 60), &r);
  r.notes.insert(r.notes.begin(), "longest partition " + std::to_string(longest.count()) + " ms");
  return r;
}

}  // namespace

std::vector<FaultSpec> NetworkFaults() {
  return {
      {"network_cut",
       "TCP proxy between producer and consumer cut (RST) for 0.1-1.5 s (long: up to 5 s, "
       "one round in 40 over 60 s), live stream, replays or both",
       NetworkCut, 2, 200},
      {"network_partition",
       "veth link between two network namespaces taken down (packets vanish) for the same "
       "lengths; needs root",
       NetworkPartition, 1, 200},
  };
}

}  // namespace brook::fault
