// LAN discovery over real UDP (node/discovery.h, docs/DISCOVERY.md).
//
// Method: every test here but the namespace one uses only the loopback
// interface: beacons go to the loopback broadcast address 127.255.255.255
// (Linux's local routing table has `broadcast 127.255.255.255 dev lo`) or to
// a multicast group joined on 127.0.0.1, and listeners bind that address, so
// nothing is bound on or sent to another interface. The port is one the
// kernel handed out for a throwaway socket, reused at once. Hostile datagrams
// come from plain UDP sockets, some bound to 127.0.0.2 to stand for another
// host. Time-dependent checks are made twice: with a `now` the test chooses
// (exact), and on the real clock within a bound. Every wait is bounded in
// iterations and time.
//
// The namespace test ([netns]) builds two network namespaces joined by a
// veth pair with 10.77.0.0/24 addresses, runs tests/discovery_child in each
// through `ip netns exec`, and deletes the namespaces however it ends. Where
// namespaces cannot be made (not root, no `ip`, a container without
// CAP_SYS_ADMIN) it prints why as a warning and passes without checking
// anything: read the warning, not just the pass.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "brook/security.h"
#include "node/discovery.h"
#include "tests/netns.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::node;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Events = std::vector<DiscoveryEvent>;

namespace {

// A UDP socket bound to ip:port (port 0: any) with `reuse_option`
// (SO_REUSEADDR, SO_REUSEPORT, or 0 for none) set first.
int BoundUdp(const std::string& ip, uint16_t port, int reuse_option = 0) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  int one = 1;
  if (reuse_option != 0) REQUIRE(setsockopt(fd, SOL_SOCKET, reuse_option, &one, sizeof one) == 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

using test::FreeUdpPort;
using test::LoopbackDiscovery;

DiscoveryOptions LoopbackOptions(uint16_t port, const std::string& cluster = "test") {
  return LoopbackDiscovery(port, cluster);
}

ProducerId Id(uint8_t seed) {
  ProducerId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(seed + i);
  return id;
}

BeaconState State(uint8_t seed, uint64_t epoch = 1) {
  BeaconState s;
  s.id = Id(seed);
  s.epoch = epoch;
  s.pub_endpoint = "tcp://0.0.0.0:7000";
  s.replay_endpoint = "tcp://0.0.0.0:7001";
  s.topics = {{"orders", {{0, 10}, {0, 0}, {5, 9}}}};
  return s;
}

// A state whose round takes two pages.
BeaconState ManyTopics(uint8_t seed, uint64_t high = 1) {
  BeaconState s = State(seed);
  s.topics.clear();
  for (int t = 0; t < 100; ++t) s.topics.push_back({"topic-" + std::to_string(t), {{0, high}}});
  return s;
}

std::string NewKey() {
  KeyPair pair;
  REQUIRE_OK(GenerateKeyPair(&pair));
  return pair.public_key;
}

std::unique_ptr<BeaconListener> Listener(const DiscoveryOptions& o,
                                         const std::vector<std::string>& keys = {}) {
  std::unique_ptr<BeaconListener> l;
  REQUIRE_OK(BeaconListener::Open(o, keys, &l));
  return l;
}

std::unique_ptr<BeaconSender> Sender(const DiscoveryOptions& o) {
  std::unique_ptr<BeaconSender> s;
  REQUIRE_OK(BeaconSender::Open(o, &s));
  return s;
}

// Drains `l` (polling its fd) until done(events) or `timeout`; returns the
// events seen.
Events DrainUntil(BeaconListener* l, const std::function<bool(const Events&)>& done,
                  std::chrono::milliseconds timeout) {
  Events events;
  const Clock::time_point deadline = Clock::now() + timeout;
  for (int i = 0; i < 10000 && Clock::now() < deadline; ++i) {
    pollfd p{l->fd(), POLLIN, 0};
    (void)poll(&p, 1, 10);
    l->Drain(Clock::now(), &events);
    if (done(events)) break;
  }
  return events;
}

// Drains for `period` and returns every event.
Events DrainFor(BeaconListener* l, std::chrono::milliseconds period) {
  return DrainUntil(
      l, [](const Events&) { return false; }, period);
}

bool Has(const Events& events, DiscoveryEvent::Kind kind) {
  for (const DiscoveryEvent& e : events)
    if (e.kind == kind) return true;
  return false;
}

auto HasKind(DiscoveryEvent::Kind kind) {
  return [kind](const Events& e) { return Has(e, kind); };
}

// A plain UDP socket that sends whatever bytes a test wants from `local_ip`.
class RawSocket {
 public:
  explicit RawSocket(const char* local_ip = "127.0.0.1") : fd_(BoundUdp(local_ip, 0)) {
    int one = 1;
    REQUIRE(setsockopt(fd_, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) == 0);
  }
  ~RawSocket() { close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void Send(const std::string& bytes, uint16_t port, const char* to = "127.255.255.255") {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    REQUIRE(inet_pton(AF_INET, to, &a.sin_addr) == 1);
    REQUIRE(sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
            static_cast<ssize_t>(bytes.size()));
  }
  void SendRound(const std::string& cluster, const BeaconState& s, uint64_t round, uint16_t port,
                 const std::vector<size_t>& skip = {}) {
    std::vector<std::string> pages;
    REQUIRE_OK(EncodeBeaconRound(cluster, s, round, &pages));
    for (size_t i = 0; i < pages.size(); ++i)
      if (std::find(skip.begin(), skip.end(), i) == skip.end()) Send(pages[i], port);
  }

 private:
  int fd_ = -1;
};

// ----- Child processes

// Reads one line from `child` within `timeout_ms` (bounded).
std::string ReadLine(test::ChildProcess& child, std::string* buffer, int timeout_ms) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int i = 0; i < 1000; ++i) {
    const size_t nl = buffer->find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer->substr(0, nl);
      buffer->erase(0, nl + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !test::WaitReadable(child.stdout_fd, static_cast<int>(left.count())))
      return "";
    char buf[4096];
    const ssize_t n = read(child.stdout_fd, buf, sizeof buf);
    if (n <= 0) return "";
    buffer->append(buf, static_cast<size_t>(n));
  }
  return "";
}

// Kills and reaps the child when the test ends, however it ends.
struct ChildGuard {
  test::ChildProcess child;
  std::string buffer;
  explicit ChildGuard(const std::vector<std::string>& argv) : child(test::Spawn(argv)) {}
  ~ChildGuard() {
    if (child.pid > 0) {
      kill(child.pid, SIGKILL);
      close(child.stdout_fd);
      int status;
      waitpid(child.pid, &status, 0);
    }
  }
  std::string Line(int timeout_ms) { return ReadLine(child, &buffer, timeout_ms); }
};

}  // namespace

TEST_CASE("a listener hears a producer on the loopback broadcast address", "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  auto listener = Listener(o);
  auto sender = Sender(o);
  CHECK(sender->local_address().rfind("127.0.0.1:", 0) == 0);
  BeaconState s = State(1);
  REQUIRE_OK(sender->Send(s));
  Events ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
  REQUIRE(ev.size() == 1);
  REQUIRE(ev[0].kind == DiscoveryEvent::Kind::kAppeared);
  const DiscoveredProducer& p = ev[0].producer;
  CHECK(p.cluster == "test");
  CHECK(p.id == s.id);
  CHECK(p.epoch == 1);
  CHECK(p.pub_endpoint == "tcp://127.0.0.1:7000");  // 0.0.0.0 became the source
  CHECK(p.replay_endpoint == "tcp://127.0.0.1:7001");
  CHECK(p.source_address == "127.0.0.1");
  CHECK(p.server_public_key.empty());
  REQUIRE(p.topics.size() == 1);
  CHECK(p.topics[0].partitions.size() == 3);
  CHECK(p.topics[0].partitions[2].low_watermark == 5);
  CHECK(p.topics[0].partitions[2].high_watermark == 9);

  // The same state again: heard, nothing to report.
  REQUIRE_OK(sender->Send(s));
  CHECK(DrainUntil(
            listener.get(), [&](const Events&) { return listener->stats().rounds_completed == 2; },
            2000ms)
            .empty());

  auto update = [&](const BeaconState& next) {
    REQUIRE_OK(sender->Send(next));
    Events e = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kUpdated), 2000ms);
    REQUIRE(e.size() == 1);
    CHECK(e[0].kind == DiscoveryEvent::Kind::kUpdated);
    return e[0];
  };
  s.topics[0].partitions[1].high_watermark = 4;
  DiscoveryEvent u = update(s);
  CHECK(u.changes == DiscoveryEvent::kWatermarks);
  CHECK(u.producer.topics[0].partitions[1].high_watermark == 4);
  s.topics.push_back({"payments", {{0, 1}}});
  CHECK(update(s).changes == DiscoveryEvent::kTopics);
  s.replay_endpoint = "tcp://0.0.0.0:7002";
  u = update(s);
  CHECK(u.changes == DiscoveryEvent::kEndpoints);
  CHECK(u.producer.replay_endpoint == "tcp://127.0.0.1:7002");
  s.epoch = 2;
  s.topics[0].partitions[0].high_watermark = 11;
  CHECK(update(s).changes == (DiscoveryEvent::kEpoch | DiscoveryEvent::kWatermarks));

  REQUIRE(listener->producers().size() == 1);
  CHECK(listener->producers()[0].epoch == 2);
  const BeaconListenerStats st = listener->stats();
  CHECK(st.datagrams == 6);
  CHECK(st.accepted == 6);
  CHECK(st.rounds_completed == 6);
  CHECK(sender->stats().rounds == 6);
  CHECK(sender->stats().datagrams == 6);
}

TEST_CASE("several listeners on one port each hear every beacon", "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  std::vector<std::unique_ptr<BeaconListener>> listeners;
  for (int i = 0; i < 3; ++i) listeners.push_back(Listener(o));
  auto sender = Sender(o);
  for (int round = 0; round < 5; ++round) REQUIRE_OK(sender->Send(State(7)));
  for (auto& l : listeners) {
    Events ev = DrainUntil(
        l.get(), [&](const Events&) { return l->stats().datagrams == 5; }, 2000ms);
    CHECK(l->stats().datagrams == 5);  // SO_REUSEPORT does not split broadcasts
    CHECK(l->stats().rounds_completed == 5);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == DiscoveryEvent::Kind::kAppeared);
  }
}

TEST_CASE("multicast on loopback: listeners that joined the group hear it", "[discovery]") {
  DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  std::mt19937 rng(std::random_device{}());
  o.address = "239.255." + std::to_string(rng() % 256) + "." + std::to_string(1 + rng() % 254);
  o.bind_address = o.address;
  auto a = Listener(o);
  auto b = Listener(o);
  auto sender = Sender(o);
  REQUIRE_OK(sender->Send(State(3)));
  for (BeaconListener* l : {a.get(), b.get()}) {
    Events ev = DrainUntil(l, HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].producer.pub_endpoint == "tcp://127.0.0.1:7000");
  }
}

TEST_CASE("beacons of another cluster are counted and ignored", "[discovery]") {
  const uint16_t port = FreeUdpPort();
  auto listener = Listener(LoopbackOptions(port, "blue"));
  auto green = Sender(LoopbackOptions(port, "green"));
  auto blue = Sender(LoopbackOptions(port, "blue"));
  for (int i = 0; i < 3; ++i) REQUIRE_OK(green->Send(State(1)));
  REQUIRE_OK(blue->Send(State(2)));
  Events ev = DrainUntil(
      listener.get(), [&](const Events&) { return listener->stats().datagrams == 4; }, 2000ms);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].producer.id == Id(2));
  CHECK(ev[0].producer.cluster == "blue");
  CHECK(listener->stats().other_cluster == 3);
  CHECK(listener->producers().size() == 1);
}

TEST_CASE("a producer that falls silent is dropped after the silence timeout", "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());  // silence 400 ms
  auto listener = Listener(o);
  auto sender = Sender(o);

  SECTION("exactly, on the listener's clock") {
    REQUIRE_OK(sender->Send(State(1)));
    pollfd p{listener->fd(), POLLIN, 0};
    REQUIRE(poll(&p, 1, 2000) == 1);
    const Clock::time_point t0 = Clock::now();
    Events ev;
    listener->Drain(t0, &ev);
    REQUIRE(ev.size() == 1);
    CHECK(listener->next_deadline() == t0 + o.silence_timeout);
    ev.clear();
    listener->Drain(t0 + o.silence_timeout - 1ms, &ev);
    CHECK(ev.empty());
    listener->Drain(t0 + o.silence_timeout, &ev);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == DiscoveryEvent::Kind::kSilent);
    CHECK(ev[0].producer.id == Id(1));
    CHECK(listener->producers().empty());
    CHECK(listener->next_deadline() == Clock::time_point::max());
  }
  SECTION("on the real clock, within a bound, and heard again afterwards") {
    Clock::time_point last_send;
    for (int i = 0; i < 5; ++i) {
      REQUIRE_OK(sender->Send(State(1)));
      last_send = Clock::now();
      DrainFor(listener.get(), 50ms);
    }
    Events ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kSilent), 3000ms);
    const auto after = Clock::now() - last_send;
    REQUIRE(Has(ev, DiscoveryEvent::Kind::kSilent));
    CHECK(after >= o.silence_timeout);
    CHECK(after < o.silence_timeout + 500ms);
    REQUIRE_OK(sender->Send(State(1)));
    ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
    CHECK(Has(ev, DiscoveryEvent::Kind::kAppeared));
  }
}

TEST_CASE("a known producer's id from another source or key is counted as spoofed", "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  auto listener = Listener(o);
  auto real = Sender(o);
  BeaconState s = State(5, 10);
  s.server_public_key = NewKey();
  REQUIRE_OK(real->Send(s));
  Events ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
  REQUIRE(ev.size() == 1);

  auto spoofed_after = [&](uint64_t want) {
    DrainUntil(
        listener.get(), [&](const Events&) { return listener->stats().spoofed >= want; }, 2000ms);
    return listener->stats().spoofed;
  };
  BeaconState fake = s;
  fake.pub_endpoint = "tcp://0.0.0.0:9999";
  // Another socket of this host, same epoch.
  auto other = Sender(o);
  REQUIRE_OK(other->Send(fake));
  CHECK(spoofed_after(1) == 1);
  // Another host (127.0.0.2), even with a higher epoch.
  RawSocket far("127.0.0.2");
  fake.epoch = 11;
  far.SendRound("test", fake, 100, o.port);
  CHECK(spoofed_after(2) == 2);
  // Another key, even from a new socket with a higher epoch (a restart).
  BeaconState rekeyed = s;
  rekeyed.epoch = 11;
  rekeyed.server_public_key = NewKey();
  auto third = Sender(o);
  REQUIRE_OK(third->Send(rekeyed));
  CHECK(spoofed_after(3) == 3);
  // A lower epoch from the real producer's own socket.
  BeaconState older = s;
  older.epoch = 9;
  REQUIRE_OK(real->Send(older));
  CHECK(spoofed_after(4) == 4);
  REQUIRE(listener->producers().size() == 1);
  CHECK(listener->producers()[0].pub_endpoint == "tcp://127.0.0.1:7000");
  CHECK(listener->producers()[0].server_public_key == s.server_public_key);

  SECTION("a restarted producer (new socket, higher epoch, same key) is an update") {
    BeaconState restarted = s;
    restarted.epoch = 11;
    auto fresh = Sender(o);
    REQUIRE_OK(fresh->Send(restarted));
    ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kUpdated), 2000ms);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].changes == DiscoveryEvent::kEpoch);
    CHECK(listener->stats().spoofed == 4);
  }
  SECTION("once the real producer fell silent, the id is free again") {
    ev.clear();
    listener->Drain(Clock::now() + o.silence_timeout, &ev);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == DiscoveryEvent::Kind::kSilent);
    far.SendRound("test", fake, 101, o.port);
    ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].producer.source_address == "127.0.0.2");
    CHECK(ev[0].producer.pub_endpoint == "tcp://127.0.0.2:9999");
  }
}

TEST_CASE("with an allow-list only beacons carrying a listed key are taken", "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  const std::string listed = NewKey();
  auto listener = Listener(o, {NewKey(), listed});
  auto sender = Sender(o);
  BeaconState s = State(9);
  REQUIRE_OK(sender->Send(s));  // no key
  s.server_public_key = NewKey();
  REQUIRE_OK(sender->Send(s));  // a key nobody listed
  s.server_public_key = listed;
  REQUIRE_OK(sender->Send(s));
  Events ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].producer.server_public_key == listed);
  CHECK(listener->stats().key_missing == 1);
  CHECK(listener->stats().key_not_allowed == 1);

  std::unique_ptr<BeaconListener> bad;
  Status st = BeaconListener::Open(o, {"not a key"}, &bad);
  CHECK(st.IsInvalidArgument());
  CHECK(st.message().find("[0]") != std::string_view::npos);
}

TEST_CASE("bad datagrams are counted by kind and dropped", "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  auto listener = Listener(o);
  RawSocket raw;
  std::vector<std::string> pages;
  REQUIRE_OK(EncodeBeaconRound("test", State(1), 1, &pages));
  const std::string good = pages[0];

  raw.Send("GET / HTTP/1.0\r\n\r\n", o.port);
  std::string v2 = good;
  v2[7] = 2;  // 0x9c, 0xa5 "brook", then the version byte
  REQUIRE(good[7] == 1);
  raw.Send(v2, o.port);
  raw.Send(std::string(1400, 'x'), o.port);
  raw.Send(good + '\0', o.port);  // trailing byte
  BeaconState unreachable = State(2);
  unreachable.pub_endpoint = "inproc://pub";
  raw.SendRound("test", unreachable, 1, o.port);
  // A round whose second page disagrees with its first (another endpoint).
  BeaconState many = ManyTopics(3), other = ManyTopics(3);
  other.replay_endpoint = "tcp://0.0.0.0:7009";
  std::vector<std::string> a, b;
  REQUIRE_OK(EncodeBeaconRound("test", many, 1, &a));
  REQUIRE_OK(EncodeBeaconRound("test", other, 1, &b));
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  raw.Send(a[0], o.port);
  raw.Send(b[1], o.port);
  // A round that never completes.
  raw.SendRound("test", ManyTopics(4), 1, o.port, {1});

  const uint64_t sent = 8;
  Events ev = DrainUntil(
      listener.get(), [&](const Events&) { return listener->stats().datagrams == sent; }, 2000ms);
  CHECK(ev.empty());
  BeaconListenerStats st = listener->stats();
  CHECK(st.datagrams == sent);
  CHECK(st.garbage == 1);
  CHECK(st.wrong_version == 1);
  CHECK(st.oversized == 1);
  CHECK(st.malformed == 2);  // the trailing byte, and the round that does not fit together
  CHECK(st.unreachable == 1);
  CHECK(st.accepted == 3);
  CHECK(st.rounds_completed == 0);
  CHECK(listener->producers().empty());
  CHECK(listener->next_deadline() != Clock::time_point::max());  // the pending round
  listener->Drain(Clock::now() + o.silence_timeout, &ev);
  CHECK(ev.empty());
  CHECK(listener->stats().incomplete_rounds == 1);
  CHECK(listener->next_deadline() == Clock::time_point::max());
}

TEST_CASE("a round with a page lost is not taken, and the last complete round stands",
          "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  auto listener = Listener(o);
  RawSocket raw;
  raw.SendRound("test", ManyTopics(1, 1), 1, o.port);
  Events ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].producer.topics.size() == 100);

  raw.SendRound("test", ManyTopics(1, 2), 2, o.port, {1});  // page 1 lost
  raw.SendRound("test", ManyTopics(1, 3), 1, o.port);       // an older round again
  raw.SendRound("test", ManyTopics(1, 4), 3, o.port);
  raw.SendRound("test", ManyTopics(1, 4), 3, o.port, {0});  // page 1 again
  ev = DrainUntil(
      listener.get(), [&](const Events&) { return listener->stats().datagrams == 8; }, 2000ms);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == DiscoveryEvent::Kind::kUpdated);
  CHECK(ev[0].changes == DiscoveryEvent::kWatermarks);
  CHECK(ev[0].producer.topics[99].partitions[0].high_watermark == 4);
  CHECK(listener->stats().incomplete_rounds == 1);
  CHECK(listener->stats().stale == 3);  // two pages of round 1, one of round 3
}

TEST_CASE("discovery options carry their documented defaults", "[discovery]") {
  DiscoveryOptions o;
  CHECK_FALSE(o.enabled);
  CHECK(o.cluster.empty());
  CHECK(o.address == "255.255.255.255");
  CHECK(o.port == 7099);
  CHECK(o.interval == 1000ms);
  CHECK(o.silence_timeout == 5000ms);
  CHECK(o.interface_address == "0.0.0.0");
  CHECK(o.bind_address == "0.0.0.0");
  CHECK(o.multicast_ttl == 1);
  o.enabled = true;
  CHECK(ValidateDiscoveryOptions(o, "x").IsInvalidArgument());  // a cluster is required
  o.cluster = "shop";
  CHECK_OK(ValidateDiscoveryOptions(o, "x"));
}

TEST_CASE("discovery options are checked, naming the field", "[discovery]") {
  const DiscoveryOptions good = LoopbackOptions(7099);
  CHECK_OK(ValidateDiscoveryOptions(good, "ConsumerOptions::discovery"));
  DiscoveryOptions off;
  off.address = "nonsense";
  CHECK_OK(ValidateDiscoveryOptions(off, "x"));  // disabled: not checked

  struct Case {
    const char* field;
    std::function<void(DiscoveryOptions&)> change;
  };
  const std::vector<Case> cases = {
      {"cluster", [](DiscoveryOptions& o) { o.cluster = ""; }},
      {"cluster", [](DiscoveryOptions& o) { o.cluster = "a b"; }},
      {"address", [](DiscoveryOptions& o) { o.address = "10.0.0.1"; }},
      {"address", [](DiscoveryOptions& o) { o.address = "224.0.0.1"; }},
      {"address", [](DiscoveryOptions& o) { o.address = "localhost"; }},
      {"port", [](DiscoveryOptions& o) { o.port = 0; }},
      {"interval", [](DiscoveryOptions& o) { o.interval = 0ms; }},
      {"silence_timeout", [](DiscoveryOptions& o) { o.silence_timeout = o.interval; }},
      {"interface_address", [](DiscoveryOptions& o) { o.interface_address = "eth0"; }},
      {"interface_address", [](DiscoveryOptions& o) { o.interface_address = "10.0.0.1"; }},
      {"bind_address", [](DiscoveryOptions& o) { o.bind_address = "127.0.0.1"; }},
      {"multicast_ttl", [](DiscoveryOptions& o) { o.multicast_ttl = 0; }},
      {"multicast_ttl", [](DiscoveryOptions& o) { o.multicast_ttl = 256; }},
  };
  for (const Case& c : cases) {
    DiscoveryOptions o = good;
    c.change(o);
    Status s = ValidateDiscoveryOptions(o, "ConsumerOptions::discovery");
    INFO(c.field << ": " << s.ToString());
    CHECK(s.IsInvalidArgument());
    CHECK(s.message().find(std::string("ConsumerOptions::discovery.") + c.field) !=
          std::string_view::npos);
    std::unique_ptr<BeaconSender> sender;
    std::unique_ptr<BeaconListener> listener;
    CHECK(BeaconSender::Open(o, &sender).IsInvalidArgument());
    CHECK(BeaconListener::Open(o, {}, &listener).IsInvalidArgument());
  }
  DiscoveryOptions o = good;
  o.address = "239.1.2.3";
  o.bind_address = "239.1.2.3";
  o.interface_address = "0.0.0.0";
  CHECK_OK(ValidateDiscoveryOptions(o, "x"));
  o.address = "255.255.255.255";
  o.bind_address = "0.0.0.0";
  CHECK_OK(ValidateDiscoveryOptions(o, "x"));
}

TEST_CASE("listeners share the port with other programs that set either reuse option",
          "[discovery]") {
  // Linux lets UDP sockets share a port when all set SO_REUSEADDR, or all set
  // SO_REUSEPORT (same user); a listener sets both, so it gets along with
  // programs that set only one (and BSDs, which need SO_REUSEPORT for this).
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  for (int option : {SO_REUSEADDR, SO_REUSEPORT}) {
    INFO((option == SO_REUSEADDR ? "SO_REUSEADDR" : "SO_REUSEPORT"));
    const int fd = BoundUdp(o.bind_address, o.port, option);
    std::unique_ptr<BeaconListener> listener;
    Status s = BeaconListener::Open(o, {}, &listener);
    INFO(s.ToString());
    CHECK(s.ok());
    listener.reset();
    close(fd);
  }
}

TEST_CASE("a port held without SO_REUSEPORT is refused with what to do", "[discovery]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  const int fd = BoundUdp(o.bind_address, o.port);  // no reuse option
  std::unique_ptr<BeaconListener> listener;
  Status s = BeaconListener::Open(o, {}, &listener);
  close(fd);
  INFO(s.ToString());
  CHECK(s.IsFailedPrecondition());
  CHECK(s.message().find("DiscoveryOptions::port") != std::string_view::npos);
}

TEST_CASE("discovery across processes on one host", "[discovery][process]") {
  const DiscoveryOptions o = LoopbackOptions(FreeUdpPort());
  const std::string port = std::to_string(o.port);

  SECTION("listeners in two other processes and this one hear this process's sender") {
    ChildGuard c1({BROOK_DISCOVERY_CHILD, "listen", o.address, port, "test", o.bind_address,
                   o.interface_address, "10000"});
    ChildGuard c2({BROOK_DISCOVERY_CHILD, "listen", o.address, port, "test", o.bind_address,
                   o.interface_address, "10000"});
    REQUIRE(c1.Line(5000) == "ready");
    REQUIRE(c2.Line(5000) == "ready");
    auto listener = Listener(o);
    auto sender = Sender(o);
    const BeaconState s = State(8, 4);
    const std::string want =
        "appeared " + s.id.ToHex() + " 4 tcp://127.0.0.1:7000 tcp://127.0.0.1:7001 127.0.0.1";
    std::string l1, l2;
    for (int i = 0; i < 50 && (l1.empty() || l2.empty()); ++i) {
      REQUIRE_OK(sender->Send(s));
      if (l1.empty()) l1 = c1.Line(100);
      if (l2.empty()) l2 = c2.Line(100);
    }
    CHECK(l1 == want);
    CHECK(l2 == want);
    Events ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 2000ms);
    CHECK(Has(ev, DiscoveryEvent::Kind::kAppeared));
  }
  SECTION("this process hears a sender in another process") {
    auto listener = Listener(o);
    const ProducerId id = Id(77);
    ChildGuard sender({BROOK_DISCOVERY_CHILD, "send", o.address, port, "test", o.interface_address,
                       "20", "50", id.ToHex(), "3", "tcp://0.0.0.0:7100", "tcp://0.0.0.0:7101"});
    Events ev = DrainUntil(listener.get(), HasKind(DiscoveryEvent::Kind::kAppeared), 5000ms);
    REQUIRE(ev.size() >= 1);
    CHECK(ev[0].producer.id == id);
    CHECK(ev[0].producer.epoch == 3);
    CHECK(ev[0].producer.pub_endpoint == "tcp://127.0.0.1:7100");
    CHECK(sender.Line(5000) == "sent 1");
  }
}

TEST_CASE("discovery across network namespaces joined by a veth pair", "[discovery][netns]") {
  test::NamespacePair ns("brook-disc", "10.77.0");
  const std::string why_not = ns.Build();
  if (!why_not.empty()) {
    WARN("SKIPPED [netns] discovery across network namespaces: " << why_not);
    std::fprintf(stderr, "SKIPPED [netns] discovery across network namespaces: %s\n",
                 why_not.c_str());
    return;
  }
  const ProducerId id = Id(99);
  auto listen = [&](const std::string& address, const std::string& bind, const std::string& iface) {
    return ns.In(ns.b(),
                 {BROOK_DISCOVERY_CHILD, "listen", address, "7099", "lan", bind, iface, "10000"});
  };
  auto send = [&](const std::string& address, const std::string& iface) {
    return ns.In(ns.a(), {BROOK_DISCOVERY_CHILD, "send", address, "7099", "lan", iface, "100", "50",
                          id.ToHex(), "5", "tcp://0.0.0.0:7000", "tcp://0.0.0.0:7001"});
  };
  const std::string want =
      "appeared " + id.ToHex() + " 5 tcp://10.77.0.1:7000 tcp://10.77.0.1:7001 10.77.0.1";

  SECTION("broadcast to 255.255.255.255 through the veth, 0.0.0.0 rewritten to the sender") {
    ChildGuard listener(listen("255.255.255.255", "0.0.0.0", "0.0.0.0"));
    REQUIRE(listener.Line(5000) == "ready");
    ChildGuard sender(send("255.255.255.255", "10.77.0.1"));
    CHECK(listener.Line(8000) == want);
    CHECK(sender.Line(5000) == "sent 1");
  }
  SECTION("multicast to a 239/8 group joined on the veth") {
    ChildGuard listener(listen("239.255.70.99", "239.255.70.99", "10.77.0.2"));
    REQUIRE(listener.Line(5000) == "ready");
    ChildGuard sender(send("239.255.70.99", "10.77.0.1"));
    CHECK(listener.Line(8000) == want);
  }
  SECTION("with no default route, a sender that names no interface is told to") {
    ChildGuard sender(send("255.255.255.255", "0.0.0.0"));
    const std::string line = sender.Line(5000);
    INFO(line);
    CHECK(line.rfind("error FailedPrecondition", 0) == 0);
    CHECK(line.find("interface_address") != std::string::npos);
  }
  SECTION("a listener joining a group with no interface named is told to name one") {
    ChildGuard listener(listen("239.255.70.99", "0.0.0.0", "0.0.0.0"));
    const std::string line = listener.Line(5000);
    INFO(line);
    CHECK(line.rfind("error FailedPrecondition", 0) == 0);
    CHECK(line.find("interface_address") != std::string::npos);
  }
}
