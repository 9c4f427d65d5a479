#include "node/beacon.h"

#include <arpa/inet.h>
#include <zmq.h>

#include <cstring>
#include <limits>
#include <set>

#include "common/msgpack_lite.h"
#include "journal/topic_name.h"

namespace brook::node {
namespace {

// The smallest topic chunk: [name of 1 byte, first, [[low, high]]].
constexpr size_t kMinChunkBytes = 1 + 2 + 1 + 1 + 3;
constexpr size_t kZ85KeyChars = 40;

Status Bad(const std::string& what) { return Status::InvalidArgument("malformed beacon: " + what); }

// Sizes of msgpack forms as mp::Writer writes them (the smallest).
size_t UintSize(uint64_t v) {
  if (v <= 0x7f) return 1;
  if (v <= 0xff) return 2;
  if (v <= 0xffff) return 3;
  if (v <= 0xffffffffu) return 5;
  return 9;
}
size_t StrSize(size_t n) { return n + (n < 32 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5); }
size_t ArrayHeaderSize(size_t n) { return n <= 15 ? 1 : n <= 0xffff ? 3 : 5; }
size_t WatermarksSize(const Watermarks& m) {
  return 1 + UintSize(m.low_watermark) + UintSize(m.high_watermark);
}

bool IsPrintable(std::string_view s) {
  for (char c : s)
    if (c <= ' ' || c > '~') return false;
  return true;
}

bool IsLoopbackV4(std::string_view host) {
  in_addr a{};
  const std::string h(host);
  return inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// The fixed part of a page: everything before the topics' array header.
void WriteHeader(mp::Writer& w, std::string_view cluster, const BeaconState& s,
                 std::string_view raw_key, uint64_t round, uint32_t page, uint32_t pages) {
  w.ArrayHeader(kBeaconFields);
  w.Str(kBeaconMagic);
  w.Uint(kBeaconVersion);
  w.Str(cluster);
  w.Bin(std::string_view(reinterpret_cast<const char*>(s.id.bytes.data()), s.id.bytes.size()));
  w.Uint(s.epoch);
  w.Uint(round);
  w.Uint(page);
  w.Uint(pages);
  w.Str(s.pub_endpoint);
  w.Str(s.replay_endpoint);
  if (raw_key.empty()) {
    w.Nil();
  } else {
    w.Bin(raw_key);
  }
}

Status CheckState(std::string_view cluster, const BeaconState& s, std::string* raw_key) {
  if (!IsValidClusterName(cluster))
    return Status::InvalidArgument(
        "the cluster name must be 1..64 bytes of letters, digits, '.', '_' and '-'");
  for (const std::string* e : {&s.pub_endpoint, &s.replay_endpoint}) {
    if (e->empty() || e->size() > kMaxBeaconEndpointBytes || !IsPrintable(*e))
      return Status::InvalidArgument("endpoint \"" + e->substr(0, 64) +
                                     "\" cannot be announced: 1..255 printable characters");
  }
  raw_key->clear();
  if (!s.server_public_key.empty()) {
    raw_key->resize(kServerKeyBytes);
    if (s.server_public_key.size() != kZ85KeyChars ||
        zmq_z85_decode(reinterpret_cast<uint8_t*>(raw_key->data()), s.server_public_key.c_str()) ==
            nullptr)
      return Status::InvalidArgument("the server public key is not 40 characters of Z85");
  }
  for (const DiscoveredTopic& t : s.topics) {
    Status v = journal::ValidateTopicName(t.name);
    if (!v.ok()) return v;
    if (t.partitions.empty() || t.partitions.size() > kMaxBeaconPartitions)
      return Status::InvalidArgument("topic " + t.name + " has " +
                                     std::to_string(t.partitions.size()) +
                                     " partitions; 1..4096 can be announced");
    for (const Watermarks& m : t.partitions)
      if (m.low_watermark > m.high_watermark)
        return Status::InvalidArgument("topic " + t.name +
                                       " has a partition whose low watermark is above its high");
  }
  return Status::OK();
}

// Where a page's chunk comes from: partitions [first, first + count) of topic `topic`.
struct ChunkRef {
  size_t topic;
  uint32_t first;
  uint32_t count;
};

bool ReadWatermarks(mp::Reader& r, Watermarks* m) {
  uint64_t n;
  return r.ArrayHeader(&n) && n == 2 && r.Uint(&m->low_watermark) && r.Uint(&m->high_watermark) &&
         m->low_watermark <= m->high_watermark;
}

Status ReadChunk(mp::Reader& r, BeaconChunk* c) {
  uint64_t n, first, count;
  if (!r.ArrayHeader(&n) || n != 3) return Bad("a topic entry is not an array of 3 elements");
  if (!r.Str(&c->topic) || !journal::ValidateTopicName(c->topic).ok())
    return Bad("a topic name is missing or not a valid topic name");
  if (!r.UintAtMost(kMaxBeaconPartitions - 1, &first))
    return Bad("a topic entry's first partition is not an integer in 0..4095");
  if (!r.ArrayHeader(&count) || count == 0 || count > kMaxBeaconPartitions - first ||
      count > r.remaining() / 3)
    return Bad("a topic entry's partitions are not a list of 1..4096 watermarks that fits");
  c->first_partition = static_cast<uint32_t>(first);
  c->partitions.resize(static_cast<size_t>(count));
  for (Watermarks& m : c->partitions)
    if (!ReadWatermarks(r, &m)) return Bad("a partition's watermarks are not [low, high]");
  return Status::OK();
}

}  // namespace

bool IsValidClusterName(std::string_view name) {
  if (name.empty() || name.size() > kMaxClusterBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status EncodeBeaconRound(std::string_view cluster, const BeaconState& s, uint64_t round,
                         std::vector<std::string>* pages) {
  pages->clear();
  std::string raw_key;
  Status st = CheckState(cluster, s, &raw_key);
  if (!st.ok()) return st;

  // Room for topics in a page: the header at its largest page numbers and a
  // 3-byte array header for the topic entries (a page holds fewer than 2^16).
  std::string scratch;
  mp::Writer sw(&scratch);
  WriteHeader(sw, cluster, s, raw_key, round, kMaxBeaconPages - 1, kMaxBeaconPages);
  const size_t budget = kMaxBeaconBytes - scratch.size() - 3;

  std::vector<std::vector<ChunkRef>> layout(1);
  size_t used = 0;
  for (size_t t = 0; t < s.topics.size(); ++t) {
    const std::vector<Watermarks>& parts = s.topics[t].partitions;
    uint32_t p = 0;
    while (p < parts.size()) {
      const size_t fixed = 1 + StrSize(s.topics[t].name.size()) + UintSize(p);
      uint32_t k = 0;
      size_t wm = 0;
      while (p + k < parts.size()) {
        const size_t add = WatermarksSize(parts[p + k]);
        if (used + fixed + ArrayHeaderSize(k + 1) + wm + add > budget) break;
        wm += add;
        ++k;
      }
      if (k == 0) {
        // Not even one partition fits: the page is full. An empty page
        // always fits one (a 200-byte name and a partition take ~230 bytes).
        if (layout.back().empty()) return Status::Internal("a beacon page cannot hold one topic");
        layout.emplace_back();
        used = 0;
        continue;
      }
      layout.back().push_back(ChunkRef{t, p, k});
      used += fixed + ArrayHeaderSize(k) + wm;
      p += k;
      if (p < parts.size()) {
        layout.emplace_back();
        used = 0;
      }
    }
  }
  if (layout.size() > 1 && layout.back().empty()) layout.pop_back();
  if (layout.size() > kMaxBeaconPages)
    return Status::ResourceExhausted(
        "the producer's topics and partitions need " + std::to_string(layout.size()) +
        " beacon pages; a round holds at most 256 (about 13,000 to 80,000 partitions): announce "
        "fewer topics per producer, or run several producers");

  const uint32_t n = static_cast<uint32_t>(layout.size());
  pages->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string& out = (*pages)[i];
    mp::Writer w(&out);
    WriteHeader(w, cluster, s, raw_key, round, i, n);
    w.ArrayHeader(layout[i].size());
    for (const ChunkRef& c : layout[i]) {
      const DiscoveredTopic& topic = s.topics[c.topic];
      w.ArrayHeader(3);
      w.Str(topic.name);
      w.Uint(c.first);
      w.ArrayHeader(c.count);
      for (uint32_t j = c.first; j < c.first + c.count; ++j) {
        w.ArrayHeader(2);
        w.Uint(topic.partitions[j].low_watermark);
        w.Uint(topic.partitions[j].high_watermark);
      }
    }
    if (out.size() > kMaxBeaconBytes)
      return Status::Internal("beacon page " + std::to_string(i) + " has " +
                              std::to_string(out.size()) + " bytes");
  }
  return Status::OK();
}

Status DecodeBeacon(std::string_view datagram, BeaconPage* out, BeaconDefect* defect) {
  *out = BeaconPage{};
  *defect = BeaconDefect::kOversized;
  if (datagram.size() > kMaxBeaconBytes)
    return Status::InvalidArgument("beacon of " + std::to_string(datagram.size()) +
                                   " bytes; at most 1200 are accepted");
  mp::Reader r(datagram);
  uint64_t n, version;
  std::string_view magic;
  *defect = BeaconDefect::kGarbage;
  if (!r.ArrayHeader(&n) || n < 2 || !r.Str(&magic) || magic != kBeaconMagic)
    return Status::InvalidArgument("not a brook beacon");
  *defect = BeaconDefect::kMalformed;
  if (!r.Uint(&version)) return Bad("the version is not an unsigned integer");
  if (version != kBeaconVersion) {
    *defect = BeaconDefect::kWrongVersion;
    return Status::InvalidArgument("beacon version " + std::to_string(version) +
                                   "; this build speaks version 1");
  }
  if (n != kBeaconFields)
    return Bad("it has " + std::to_string(n) + " elements, not " + std::to_string(kBeaconFields));
  std::string_view id;
  uint64_t page, pages;
  if (!r.Str(&out->cluster) || !IsValidClusterName(out->cluster))
    return Bad("the cluster is not 1..64 bytes of [A-Za-z0-9._-]");
  if (!r.Bin(&id) || id.size() != out->producer.bytes.size())
    return Bad("the producer id is not 16 bytes");
  std::memcpy(out->producer.bytes.data(), id.data(), id.size());
  if (!r.Uint(&out->epoch) || !r.Uint(&out->round))
    return Bad("epoch or round is not an unsigned integer");
  if (!r.UintAtMost(kMaxBeaconPages - 1, &page) || !r.UintAtMost(kMaxBeaconPages, &pages) ||
      pages == 0 || page >= pages)
    return Bad("page is not an integer below pages, or pages not one in 1..256");
  out->page = static_cast<uint32_t>(page);
  out->pages = static_cast<uint32_t>(pages);
  for (std::string_view* e : {&out->pub_endpoint, &out->replay_endpoint}) {
    if (!r.Str(e) || e->empty() || e->size() > kMaxBeaconEndpointBytes || !IsPrintable(*e))
      return Bad("an endpoint is not 1..255 printable characters");
  }
  uint8_t marker;
  if (!r.PeekByte(&marker)) return Bad("the server key is missing");
  if (marker == 0xc0) {
    r.Byte(&marker);
  } else if (!r.Bin(&out->server_key) || out->server_key.size() != kServerKeyBytes) {
    return Bad("the server key is neither nil nor 32 bytes");
  }
  uint64_t chunks;
  if (!r.ArrayHeader(&chunks) || chunks > r.remaining() / kMinChunkBytes)
    return Bad("the topics are not a list that fits in the datagram");
  out->chunks.resize(static_cast<size_t>(chunks));
  for (BeaconChunk& c : out->chunks) {
    Status s = ReadChunk(r, &c);
    if (!s.ok()) return s;
  }
  if (!r.empty()) return Bad("trailing bytes after the topics");
  *defect = BeaconDefect::kNone;
  return Status::OK();
}

Status AssembleBeaconRound(const std::vector<BeaconPage>& pages, DiscoveredProducer* out) {
  *out = DiscoveredProducer{};
  if (pages.empty() || pages[0].pages != pages.size())
    return Bad("a round needs all of its pages, in order");
  const BeaconPage& h = pages[0];
  for (size_t i = 0; i < pages.size(); ++i) {
    const BeaconPage& p = pages[i];
    if (p.page != i || p.pages != h.pages || p.cluster != h.cluster || p.producer != h.producer ||
        p.epoch != h.epoch || p.round != h.round || p.pub_endpoint != h.pub_endpoint ||
        p.replay_endpoint != h.replay_endpoint || p.server_key != h.server_key)
      return Bad("page " + std::to_string(i) + " of the round disagrees with page 0");
  }
  out->cluster = std::string(h.cluster);
  out->id = h.producer;
  out->epoch = h.epoch;
  out->pub_endpoint = std::string(h.pub_endpoint);
  out->replay_endpoint = std::string(h.replay_endpoint);
  if (!h.server_key.empty()) {
    char z85[kZ85KeyChars + 1];
    if (zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(h.server_key.data()),
                       kServerKeyBytes) == nullptr)
      return Status::Internal("zmq_z85_encode failed on a 32-byte key");
    out->server_public_key.assign(z85, kZ85KeyChars);
  }
  std::set<std::string_view> seen;
  for (const BeaconPage& p : pages) {
    for (const BeaconChunk& c : p.chunks) {
      const bool continues = !out->topics.empty() && out->topics.back().name == c.topic;
      if (continues) {
        std::vector<Watermarks>& parts = out->topics.back().partitions;
        if (c.first_partition != parts.size() ||
            parts.size() + c.partitions.size() > kMaxBeaconPartitions)
          return Bad("topic " + std::string(c.topic) + " continues at partition " +
                     std::to_string(c.first_partition) + " after " + std::to_string(parts.size()) +
                     " partitions");
        parts.insert(parts.end(), c.partitions.begin(), c.partitions.end());
        continue;
      }
      if (c.first_partition != 0)
        return Bad("topic " + std::string(c.topic) + " starts at partition " +
                   std::to_string(c.first_partition));
      if (!seen.insert(c.topic).second)
        return Bad("topic " + std::string(c.topic) + " is announced twice");
      out->topics.push_back(DiscoveredTopic{std::string(c.topic), c.partitions});
    }
  }
  return Status::OK();
}

Status ConnectableEndpoint(std::string_view announced, std::string_view source_address,
                           std::string* out) {
  out->clear();
  const std::string e(announced);
  const bool source_is_loopback = IsLoopbackV4(source_address);
  auto refuse = [&](const std::string& why) {
    return Status::InvalidArgument("endpoint " + e + " announced from " +
                                   std::string(source_address) + " " + why);
  };
  if (e.rfind("ipc://", 0) == 0) {
    if (!source_is_loopback)
      return refuse(
          "is reachable only on the producer's host; bind the producer to tcp:// for "
          "discovery across hosts");
    *out = e;
    return Status::OK();
  }
  if (e.rfind("tcp://", 0) != 0)
    return refuse("cannot be reached from another process: only tcp:// and ipc:// can");
  const std::string_view rest = std::string_view(e).substr(6);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || rest.find(';') != std::string_view::npos)
    return refuse("is not tcp://HOST:PORT");
  std::string_view host = rest.substr(0, colon);
  const std::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos ||
      std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535)
    return refuse("has no port in 1..65535");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "0.0.0.0" || host == "*" || host == "::") {
    in_addr a{};
    const std::string src(source_address);
    if (inet_pton(AF_INET, src.c_str(), &a) != 1)
      return refuse("has a wildcard host and the source is not an IPv4 address");
    *out = "tcp://" + src + ":" + std::string(port);
    return Status::OK();
  }
  if ((IsLoopbackV4(host) || host == "::1" || host == "localhost") && !source_is_loopback)
    return refuse(
        "is a loopback address, reachable only on the producer's host; bind the producer to "
        "0.0.0.0 or to an address of the LAN");
  *out = e;
  return Status::OK();
}

}  // namespace brook::node
