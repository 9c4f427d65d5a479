// A beacon sender or listener in a process of its own, for the discovery
// tests across processes and network namespaces (`ip netns exec NS
// discovery_child ...`):
//
//   discovery_child send <address> <port> <cluster> <interface> <rounds> <interval ms>
//                        <producer id hex> <epoch> <pub endpoint> <replay endpoint>
//     Sends <rounds> rounds of beacons for a producer with one topic
//     "orders" of two partitions, writing "sent <n>\n" after each round and
//     "done\n" at the end. A round that cannot be sent: "error <status>\n",
//     exit 2.
//
//   discovery_child listen <address> <port> <cluster> <bind> <interface> <timeout ms>
//     Writes "ready\n" once listening, then, for the first producer that
//     appears, "appeared <id hex> <epoch> <pub> <replay> <source>\n" and
//     exits 0; "timeout\n" and exit 1 when none appeared in time. A listener
//     that cannot open: "error <status>\n", exit 2.
//
// The child dies with its parent (PR_SET_PDEATHSIG) and exits by itself after
// a minute, so a failed test never leaves it behind.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "node/discovery.h"

namespace {

using namespace brook;
using Clock = std::chrono::steady_clock;

void Say(const std::string& line) {
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

[[noreturn]] void Fail(const std::string& what, int code) {
  Say(what + "\n");
  std::fprintf(stderr, "discovery_child: %s\n", what.c_str());
  _exit(code);
}

[[noreturn]] void Usage() {
  Fail("error usage: discovery_child send|listen ... (see tests/discovery_child.cc)", 2);
}

uint64_t Number(const char* s) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0') Usage();
  return v;
}

bool ParseHexId(const std::string& hex, ProducerId* id) {
  if (hex.size() != 32) return false;
  for (size_t i = 0; i < 16; ++i) {
    unsigned v = 0;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1) return false;
    id->bytes[i] = static_cast<uint8_t>(v);
  }
  return true;
}

DiscoveryOptions Options(char** argv) {
  DiscoveryOptions o;
  o.enabled = true;
  o.address = argv[2];
  o.port = static_cast<uint16_t>(Number(argv[3]));
  o.cluster = argv[4];
  o.interval = std::chrono::milliseconds(100);
  o.silence_timeout = std::chrono::milliseconds(2000);
  return o;
}

int Send(int argc, char** argv) {
  if (argc != 12) Usage();
  DiscoveryOptions o = Options(argv);
  o.interface_address = argv[5];
  const uint64_t rounds = Number(argv[6]);
  const auto interval = std::chrono::milliseconds(Number(argv[7]));
  node::BeaconState state;
  if (!ParseHexId(argv[8], &state.id)) Usage();
  state.epoch = Number(argv[9]);
  state.pub_endpoint = argv[10];
  state.replay_endpoint = argv[11];
  state.topics = {{"orders", {{0, 10}, {3, 7}}}};
  std::unique_ptr<node::BeaconSender> sender;
  Status s = node::BeaconSender::Open(o, &sender);
  if (!s.ok()) Fail("error " + s.ToString(), 2);
  for (uint64_t i = 0; i < rounds; ++i) {
    s = sender->Send(state);
    if (!s.ok()) Fail("error " + s.ToString(), 2);
    Say("sent " + std::to_string(i + 1) + "\n");
    std::this_thread::sleep_for(interval);
  }
  Say("done\n");
  return 0;
}

int Listen(int argc, char** argv) {
  if (argc != 8) Usage();
  DiscoveryOptions o = Options(argv);
  o.bind_address = argv[5];
  o.interface_address = argv[6];
  const auto timeout = std::chrono::milliseconds(Number(argv[7]));
  std::unique_ptr<node::BeaconListener> listener;
  Status s = node::BeaconListener::Open(o, {}, &listener);
  if (!s.ok()) Fail("error " + s.ToString(), 2);
  Say("ready\n");
  const Clock::time_point deadline = Clock::now() + timeout;
  std::vector<node::DiscoveryEvent> events;
  for (int i = 0; i < 100000 && Clock::now() < deadline; ++i) {
    pollfd p{listener->fd(), POLLIN, 0};
    (void)poll(&p, 1, 20);
    listener->Drain(Clock::now(), &events);
    for (const node::DiscoveryEvent& e : events) {
      if (e.kind != node::DiscoveryEvent::Kind::kAppeared) continue;
      const DiscoveredProducer& p = e.producer;
      Say("appeared " + p.id.ToHex() + " " + std::to_string(p.epoch) + " " + p.pub_endpoint + " " +
          p.replay_endpoint + " " + p.source_address + "\n");
      return 0;
    }
    events.clear();
  }
  Fail("timeout", 1);
}

}  // namespace

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  alarm(60);
  if (argc < 2) Usage();
  const std::string mode = argv[1];
  if (mode == "send") return Send(argc, argv);
  if (mode == "listen") return Listen(argc, argv);
  Usage();
}
