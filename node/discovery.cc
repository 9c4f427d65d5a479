#include "node/discovery.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

namespace brook::node {
namespace {

using Clock = std::chrono::steady_clock;

// Linux's IP_MULTICAST_ALL (since 2.6.31), in case the libc headers lack it.
#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif

constexpr int kReceiveBufferBytes = 4 << 20;

bool ParseV4(const std::string& text, in_addr* out) {
  return inet_pton(AF_INET, text.c_str(), out) == 1;
}

bool IsMulticast(in_addr a) { return (ntohl(a.s_addr) >> 28) == 0xe; }

std::string Errno(int e) { return std::string(std::strerror(e)); }

std::string Where(const DiscoveryOptions& o) { return o.address + ":" + std::to_string(o.port); }

// The same checks whether or not `enabled` is set.
Status CheckFields(const DiscoveryOptions& o, std::string_view what) {
  const std::string w(what);
  if (!IsValidClusterName(o.cluster))
    return Status::InvalidArgument(
        w + ".cluster must be 1..64 bytes of letters, digits, '.', '_' and '-' (got \"" +
        o.cluster.substr(0, 80) +
        "\"); producers and consumers that should find each other use "
        "the same name");
  in_addr addr{}, iface{}, bind{};
  const bool parsed = ParseV4(o.address, &addr);
  const uint32_t a = ntohl(addr.s_addr);
  if (!parsed || !(a == 0xffffffffu || a == 0x7fffffffu || (a >> 24) == 239))
    return Status::InvalidArgument(
        w + ".address \"" + o.address +
        "\" is not 255.255.255.255 (broadcast), a multicast group in 239.0.0.0/8, or "
        "127.255.255.255 (loopback broadcast)");
  if (o.port == 0)
    return Status::InvalidArgument(w +
                                   ".port must be 1..65535: every producer and consumer of "
                                   "the cluster uses the same fixed port");
  if (o.interval.count() <= 0) return Status::InvalidArgument(w + ".interval must be positive");
  if (o.silence_timeout <= o.interval)
    return Status::InvalidArgument(
        w + ".silence_timeout (" + std::to_string(o.silence_timeout.count()) +
        " ms) must be greater than interval (" + std::to_string(o.interval.count()) +
        " ms); several intervals, so that a lost beacon does not drop a live producer");
  if (!ParseV4(o.interface_address, &iface))
    return Status::InvalidArgument(w + ".interface_address \"" + o.interface_address +
                                   "\" is not an IPv4 address (0.0.0.0: the routing table "
                                   "picks the interface)");
  if (a == 0x7fffffffu && iface.s_addr != 0 && (ntohl(iface.s_addr) >> 24) != 127)
    return Status::InvalidArgument(w +
                                   ".interface_address must be 0.0.0.0 or a loopback "
                                   "address with the loopback broadcast address");
  if (!ParseV4(o.bind_address, &bind) || (bind.s_addr != 0 && bind.s_addr != addr.s_addr))
    return Status::InvalidArgument(
        w + ".bind_address \"" + o.bind_address + "\" must be 0.0.0.0 or the address " + o.address +
        " itself: a socket bound to another address hears no broadcast or multicast beacon");
  if (o.multicast_ttl < 1 || o.multicast_ttl > 255)
    return Status::InvalidArgument(w + ".multicast_ttl must be 1..255 (1: the local network)");
  return Status::OK();
}

int OpenUdp(Status* status) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    *status =
        Status::FailedPrecondition("cannot create a UDP socket for discovery: " + Errno(errno) +
                                   "; check the process's file limit");
  return fd;
}

bool SetInt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0;
}

std::string Ip(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf) ? std::string(buf) : std::string();
}

Status SendError(int e, const DiscoveryOptions& o) {
  const std::string to = "beacon to " + Where(o) + " not sent (" + Errno(e) + "): ";
  switch (e) {
    case EAGAIN:
    case ENOBUFS:
      return Status::Unavailable(to +
                                 "the socket's send buffer is full; the rest of this round "
                                 "is dropped and the next round goes out whole");
    case EACCES:
      return Status::FailedPrecondition(
          to +
          "broadcast is not permitted here; check the firewall's output rules, or use a "
          "multicast group in 239.0.0.0/8 as DiscoveryOptions::address");
    case EPERM:
      return Status::FailedPrecondition(
          to + "a firewall rule (iptables/nftables output) refused it; let UDP to port " +
          std::to_string(o.port) + " out");
    case ENETUNREACH:
    case EHOSTUNREACH:
      return Status::FailedPrecondition(
          to +
          "no route for it; with no default route, set DiscoveryOptions::"
          "interface_address to the address of the interface the peers are on");
    case EADDRNOTAVAIL:
    case ENODEV:
      return Status::FailedPrecondition(
          to + "DiscoveryOptions::interface_address " + o.interface_address +
          " is not an address of an interface that is up on this host");
    default:
      return Status::FailedPrecondition(to + "check the network configuration");
  }
}

bool SameTopics(const std::vector<DiscoveredTopic>& a, const std::vector<DiscoveredTopic>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].partitions.size() != b[i].partitions.size()) return false;
  return true;
}

bool SameWatermarks(const std::vector<DiscoveredTopic>& a, const std::vector<DiscoveredTopic>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].partitions.size(); ++j)
      if (a[i].partitions[j].low_watermark != b[i].partitions[j].low_watermark ||
          a[i].partitions[j].high_watermark != b[i].partitions[j].high_watermark)
        return false;
  return true;
}

}  // namespace

Status ValidateDiscoveryOptions(const DiscoveryOptions& options, std::string_view what) {
  if (!options.enabled) return Status::OK();
  return CheckFields(options, what);
}

// ---------------------------------------------------------------------------
// BeaconSender

Status BeaconSender::Open(const DiscoveryOptions& options, std::unique_ptr<BeaconSender>* out) {
  Status s = CheckFields(options, "DiscoveryOptions");
  if (!s.ok()) return s;
  std::unique_ptr<BeaconSender> sender(new BeaconSender());
  sender->options_ = options;
  sender->fd_ = OpenUdp(&s);
  if (sender->fd_ < 0) return s;
  const int fd = sender->fd_;
  in_addr addr{}, iface{};
  ParseV4(options.address, &addr);
  ParseV4(options.interface_address, &iface);
  if (IsMulticast(addr)) {
    if (!SetInt(fd, IPPROTO_IP, IP_MULTICAST_TTL, options.multicast_ttl) ||
        !SetInt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1) ||
        (iface.s_addr != 0 &&
         setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0))
      return Status::FailedPrecondition("cannot set up multicast to " + options.address + ": " +
                                        Errno(errno) +
                                        "; check DiscoveryOptions::interface_address");
  } else if (!SetInt(fd, SOL_SOCKET, SO_BROADCAST, 1)) {
    return Status::FailedPrecondition("cannot enable broadcast (SO_BROADCAST): " + Errno(errno));
  }
  if (iface.s_addr != 0) {
    // Bound to an interface's address, broadcasts to 255.255.255.255 and
    // multicasts leave through that interface (Linux picks the device that
    // owns the source address for them).
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = iface;
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
      return Status::FailedPrecondition(
          "cannot bind the beacon sender to DiscoveryOptions::interface_address " +
          options.interface_address + ": " + Errno(errno) +
          "; give an address of an interface of this host that is up");
  }
  *out = std::move(sender);
  return Status::OK();
}

BeaconSender::~BeaconSender() {
  if (fd_ >= 0) close(fd_);
}

Status BeaconSender::Send(const BeaconState& state) {
  Status s = EncodeBeaconRound(options_.cluster, state, round_ + 1, &pages_);
  if (!s.ok()) {
    ++stats_.send_errors;
    return s;
  }
  ++round_;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(options_.port);
  ParseV4(options_.address, &to.sin_addr);
  for (const std::string& page : pages_) {
    ssize_t n;
    do {
      n = sendto(fd_, page.data(), page.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      ++stats_.send_errors;
      return SendError(errno, options_);
    }
    ++stats_.datagrams;
    stats_.bytes += page.size();
  }
  ++stats_.rounds;
  return Status::OK();
}

std::string BeaconSender::local_address() const {
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len) != 0) return "";
  return Ip(local) + ":" + std::to_string(ntohs(local.sin_port));
}

// ---------------------------------------------------------------------------
// BeaconListener

Status BeaconListener::Open(const DiscoveryOptions& options,
                            const std::vector<std::string>& allowed_server_keys,
                            std::unique_ptr<BeaconListener>* out) {
  Status s = CheckFields(options, "DiscoveryOptions");
  if (!s.ok()) return s;
  std::unique_ptr<BeaconListener> l(new BeaconListener());
  l->options_ = options;
  for (size_t i = 0; i < allowed_server_keys.size(); ++i) {
    const std::string& z = allowed_server_keys[i];
    std::string raw(kServerKeyBytes, '\0');
    if (z.size() != 40 ||
        zmq_z85_decode(reinterpret_cast<uint8_t*>(raw.data()), z.c_str()) == nullptr)
      return Status::InvalidArgument("allowed server key [" + std::to_string(i) +
                                     "] is not a 40-character Z85 public key");
    l->allowed_.insert(raw);
  }
  l->fd_ = OpenUdp(&s);
  if (l->fd_ < 0) return s;
  const int fd = l->fd_;
  if (!SetInt(fd, SOL_SOCKET, SO_REUSEADDR, 1) || !SetInt(fd, SOL_SOCKET, SO_REUSEPORT, 1))
    return Status::FailedPrecondition("cannot set SO_REUSEADDR/SO_REUSEPORT: " + Errno(errno));
  // Only groups this socket joined (Linux otherwise delivers every group any
  // socket of the host joined on this port). Not fatal where unsupported.
  (void)SetInt(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
  // Best effort: a round of many pages arrives back to back.
  (void)SetInt(fd, SOL_SOCKET, SO_RCVBUF, kReceiveBufferBytes);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(options.port);
  ParseV4(options.bind_address, &local.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    const int e = errno;
    std::string why = "cannot listen for beacons on " + options.bind_address + ":" +
                      std::to_string(options.port) + ": " + Errno(e) + "; ";
    if (e == EADDRINUSE)
      why +=
          "a program that did not set SO_REUSEADDR and SO_REUSEPORT (or another user's) "
          "holds the port: stop it, or choose another DiscoveryOptions::port for the cluster";
    else if (e == EACCES)
      why += "ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a port of 1024 or more";
    else
      why += "check DiscoveryOptions::bind_address";
    return Status::FailedPrecondition(why);
  }
  in_addr group{}, iface{};
  ParseV4(options.address, &group);
  ParseV4(options.interface_address, &iface);
  if (IsMulticast(group)) {
    ip_mreq mreq{};
    mreq.imr_multiaddr = group;
    mreq.imr_interface = iface;
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      const int e = errno;
      return Status::FailedPrecondition(
          "cannot join multicast group " + options.address + " on interface " +
          options.interface_address + ": " + Errno(e) +
          (e == ENODEV ? "; no interface for it (no default route?): set "
                         "DiscoveryOptions::interface_address to the LAN interface's address"
                       : "; check DiscoveryOptions::interface_address"));
    }
  }
  l->port_ = options.port;
  *out = std::move(l);
  return Status::OK();
}

BeaconListener::~BeaconListener() {
  if (fd_ >= 0) close(fd_);
}

void BeaconListener::Drain(Clock::time_point now, std::vector<DiscoveryEvent>* events) {
  char buf[kMaxBeaconBytes];
  for (size_t i = 0; i < kMaxDatagramsPerDrain; ++i) {
    sockaddr_in from{};
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // MSG_TRUNC: the datagram's real length, even when longer than buf.
    const ssize_t n = recvmsg(fd_, &msg, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) ++stats_.receive_errors;
      break;
    }
    ++stats_.datagrams;
    if (static_cast<size_t>(n) > sizeof buf) {
      ++stats_.oversized;
      continue;
    }
    Take(std::string_view(buf, static_cast<size_t>(n)), Ip(from), ntohs(from.sin_port), now,
         events);
  }
  for (auto it = known_.begin(); it != known_.end();) {
    if (now - it->second.last_complete >= options_.silence_timeout) {
      DiscoveryEvent ev;
      ev.kind = DiscoveryEvent::Kind::kSilent;
      ev.producer = std::move(it->second.state);
      events->push_back(std::move(ev));
      it = known_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (now - it->second.started >= options_.silence_timeout) {
      ++stats_.incomplete_rounds;
      DropPending(it);
    }
    it = next;
  }
}

void BeaconListener::DropPending(std::map<ProducerId, Pending>::iterator it) {
  pending_bytes_ -= it->second.bytes;
  pending_.erase(it);
}

void BeaconListener::Take(std::string_view datagram, const std::string& ip, uint16_t port,
                          Clock::time_point now, std::vector<DiscoveryEvent>* events) {
  BeaconPage page;
  BeaconDefect defect;
  if (!DecodeBeacon(datagram, &page, &defect).ok()) {
    switch (defect) {
      case BeaconDefect::kOversized:
        ++stats_.oversized;
        break;
      case BeaconDefect::kGarbage:
        ++stats_.garbage;
        break;
      case BeaconDefect::kWrongVersion:
        ++stats_.wrong_version;
        break;
      default:
        ++stats_.malformed;
        break;
    }
    return;
  }
  if (page.cluster != options_.cluster) {
    ++stats_.other_cluster;
    return;
  }
  if (!allowed_.empty()) {
    if (page.server_key.empty()) {
      ++stats_.key_missing;
      return;
    }
    if (allowed_.count(std::string(page.server_key)) == 0) {
      ++stats_.key_not_allowed;
      return;
    }
  }
  std::string ignored;
  if (!ConnectableEndpoint(page.pub_endpoint, ip, &ignored).ok() ||
      !ConnectableEndpoint(page.replay_endpoint, ip, &ignored).ok()) {
    ++stats_.unreachable;
    return;
  }
  auto known = known_.find(page.producer);
  if (known != known_.end()) {
    const Known& k = known->second;
    const bool restarted = page.epoch > k.state.epoch;
    if (ip != k.source_ip || page.server_key != k.key || page.epoch < k.state.epoch ||
        (port != k.source_port && !restarted)) {
      ++stats_.spoofed;
      return;
    }
    if (!restarted && page.round <= k.round) {
      ++stats_.stale;
      return;
    }
  }
  auto it = pending_.find(page.producer);
  if (it != pending_.end()) {
    Pending& p = it->second;
    if (p.epoch == page.epoch && p.round == page.round && p.source_ip == ip &&
        p.source_port == port && p.raw.size() == page.pages) {
      if (!p.raw[page.page].empty()) {
        ++stats_.stale;
        return;
      }
    } else {
      ++stats_.incomplete_rounds;
      DropPending(it);
      it = pending_.end();
    }
  }
  if (pending_bytes_ + datagram.size() > kMaxPendingBeaconBytes ||
      (it == pending_.end() && known == known_.end() &&
       known_.size() + pending_.size() >= kMaxDiscoveredProducers)) {
    ++stats_.over_limit;
    return;
  }
  if (it == pending_.end()) {
    Pending fresh;
    fresh.epoch = page.epoch;
    fresh.round = page.round;
    fresh.source_ip = ip;
    fresh.source_port = port;
    fresh.raw.resize(page.pages);
    fresh.started = now;
    it = pending_.emplace(page.producer, std::move(fresh)).first;
  }
  Pending& p = it->second;
  p.raw[page.page] = std::string(datagram);
  p.bytes += datagram.size();
  pending_bytes_ += datagram.size();
  ++p.have;
  ++stats_.accepted;
  if (p.have == p.raw.size()) {
    const ProducerId id = page.producer;
    Complete(id, &p, now, events);
    DropPending(pending_.find(id));
  }
}

void BeaconListener::Complete(const ProducerId& id, Pending* p, Clock::time_point now,
                              std::vector<DiscoveryEvent>* events) {
  std::vector<BeaconPage> pages(p->raw.size());
  BeaconDefect defect;
  DiscoveredProducer state;
  for (size_t i = 0; i < pages.size(); ++i) {
    if (!DecodeBeacon(p->raw[i], &pages[i], &defect).ok()) {  // decoded once already
      ++stats_.malformed;
      return;
    }
  }
  if (!AssembleBeaconRound(pages, &state).ok()) {
    ++stats_.malformed;
    return;
  }
  state.source_address = p->source_ip;
  std::string pub, replay;
  if (!ConnectableEndpoint(state.pub_endpoint, p->source_ip, &pub).ok() ||
      !ConnectableEndpoint(state.replay_endpoint, p->source_ip, &replay).ok()) {
    ++stats_.unreachable;
    return;
  }
  state.pub_endpoint = pub;
  state.replay_endpoint = replay;
  ++stats_.rounds_completed;

  DiscoveryEvent ev;
  auto known = known_.find(id);
  if (known == known_.end()) {
    ev.kind = DiscoveryEvent::Kind::kAppeared;
    known = known_.emplace(id, Known{}).first;
  } else {
    const DiscoveredProducer& old = known->second.state;
    ev.kind = DiscoveryEvent::Kind::kUpdated;
    if (state.epoch != old.epoch) ev.changes |= DiscoveryEvent::kEpoch;
    if (state.pub_endpoint != old.pub_endpoint || state.replay_endpoint != old.replay_endpoint)
      ev.changes |= DiscoveryEvent::kEndpoints;
    if (!SameTopics(state.topics, old.topics)) {
      ev.changes |= DiscoveryEvent::kTopics;
    } else if (!SameWatermarks(state.topics, old.topics)) {
      ev.changes |= DiscoveryEvent::kWatermarks;
    }
  }
  Known& k = known->second;
  k.state = state;
  k.source_ip = p->source_ip;
  k.source_port = p->source_port;
  k.key = std::string(pages[0].server_key);
  k.round = p->round;
  k.last_complete = now;
  if (ev.kind == DiscoveryEvent::Kind::kAppeared || ev.changes != 0) {
    ev.producer = std::move(state);
    events->push_back(std::move(ev));
  }
}

Clock::time_point BeaconListener::next_deadline() const {
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [id, k] : known_)
    next = std::min(next, k.last_complete + options_.silence_timeout);
  for (const auto& [id, p] : pending_) next = std::min(next, p.started + options_.silence_timeout);
  return next;
}

std::vector<DiscoveredProducer> BeaconListener::producers() const {
  std::vector<DiscoveredProducer> out;
  out.reserve(known_.size());
  for (const auto& [id, k] : known_) out.push_back(k.state);
  return out;
}

}  // namespace brook::node
