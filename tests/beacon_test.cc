// Discovery beacons (node/beacon.h, docs/DISCOVERY.md): states round-trip
// through one or many pages, every page stays within 1,200 bytes however
// many topics and partitions there are, every malformed form is refused
// with its kind (never a crash or a read past the input: the ASan build runs
// these too), pages that do not fit together are refused, and announced
// endpoints are made connectable by the documented rule.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "brook/security.h"
#include "common/msgpack_lite.h"
#include "node/beacon.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::node;

namespace {

ProducerId SomeProducer() {
  ProducerId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(i * 29 + 1);
  return id;
}

std::string SomeKey() {
  KeyPair pair;
  REQUIRE_OK(GenerateKeyPair(&pair));
  return pair.public_key;
}

BeaconState SmallState() {
  BeaconState s;
  s.id = SomeProducer();
  s.epoch = 42;
  s.pub_endpoint = "tcp://0.0.0.0:7000";
  s.replay_endpoint = "tcp://10.1.2.3:7001";
  s.topics = {{"orders", {{0, 10}, {5, 5}, {100, 1ull << 40}}},
              {"payments.eu", {{0, 0}}},
              {"x", {{UINT64_MAX - 1, UINT64_MAX}}}};
  return s;
}

// Decodes every page and assembles them.
DiscoveredProducer Roundtrip(const std::vector<std::string>& pages) {
  std::vector<BeaconPage> decoded(pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    BeaconDefect defect;
    INFO("page " << i);
    REQUIRE_OK(DecodeBeacon(pages[i], &decoded[i], &defect));
    CHECK(defect == BeaconDefect::kNone);
  }
  DiscoveredProducer out;
  REQUIRE_OK(AssembleBeaconRound(decoded, &out));
  return out;
}

void CheckSameState(const DiscoveredProducer& got, const BeaconState& want) {
  CHECK(got.id == want.id);
  CHECK(got.epoch == want.epoch);
  CHECK(got.pub_endpoint == want.pub_endpoint);
  CHECK(got.replay_endpoint == want.replay_endpoint);
  CHECK(got.server_public_key == want.server_public_key);
  REQUIRE(got.topics.size() == want.topics.size());
  for (size_t t = 0; t < want.topics.size(); ++t) {
    INFO("topic " << want.topics[t].name);
    CHECK(got.topics[t].name == want.topics[t].name);
    REQUIRE(got.topics[t].partitions.size() == want.topics[t].partitions.size());
    for (size_t p = 0; p < want.topics[t].partitions.size(); ++p) {
      CHECK(got.topics[t].partitions[p].low_watermark ==
            want.topics[t].partitions[p].low_watermark);
      CHECK(got.topics[t].partitions[p].high_watermark ==
            want.topics[t].partitions[p].high_watermark);
    }
  }
}

// A version 1 beacon as its 12 elements, each already encoded, so a test
// can replace, drop or add one and keep the others valid.
struct Elements {
  std::vector<std::string> e;

  static std::string Enc(const std::function<void(mp::Writer&)>& f) {
    std::string out;
    mp::Writer w(&out);
    f(w);
    return out;
  }

  Elements() {
    const ProducerId id = SomeProducer();
    const std::string_view raw(reinterpret_cast<const char*>(id.bytes.data()), 16);
    e = {Enc([](mp::Writer& w) { w.Str("brook"); }),
         Enc([](mp::Writer& w) { w.Uint(1); }),
         Enc([](mp::Writer& w) { w.Str("shop"); }),
         Enc([&](mp::Writer& w) { w.Bin(raw); }),
         Enc([](mp::Writer& w) { w.Uint(3); }),  // epoch
         Enc([](mp::Writer& w) { w.Uint(9); }),  // round
         Enc([](mp::Writer& w) { w.Uint(0); }),  // page
         Enc([](mp::Writer& w) { w.Uint(1); }),  // pages
         Enc([](mp::Writer& w) { w.Str("tcp://0.0.0.0:7000"); }),
         Enc([](mp::Writer& w) { w.Str("tcp://0.0.0.0:7001"); }),
         Enc([](mp::Writer& w) { w.Nil(); }),
         Topics({{"orders", 0, {{0, 5}, {1, 2}}}})};
  }

  struct T {
    std::string name;
    uint64_t first;
    std::vector<std::pair<uint64_t, uint64_t>> parts;
  };
  static std::string Topics(const std::vector<T>& topics) {
    return Enc([&](mp::Writer& w) {
      w.ArrayHeader(topics.size());
      for (const T& t : topics) {
        w.ArrayHeader(3);
        w.Str(t.name);
        w.Uint(t.first);
        w.ArrayHeader(t.parts.size());
        for (const auto& [lo, hi] : t.parts) {
          w.ArrayHeader(2);
          w.Uint(lo);
          w.Uint(hi);
        }
      }
    });
  }

  std::string Build() const {
    std::string out;
    mp::Writer w(&out);
    w.ArrayHeader(e.size());
    for (const std::string& x : e) out += x;
    return out;
  }
};

BeaconDefect DefectOf(const std::string& datagram) {
  BeaconPage page;
  BeaconDefect defect = BeaconDefect::kNone;
  Status s = DecodeBeacon(datagram, &page, &defect);
  if (s.ok()) return BeaconDefect::kNone;
  return defect;
}

}  // namespace

TEST_CASE("a beacon round-trips the producer's state in one page", "[beacon]") {
  BeaconState s = SmallState();
  s.server_public_key = SomeKey();
  std::vector<std::string> pages;
  REQUIRE_OK(EncodeBeaconRound("shop", s, 7, &pages));
  REQUIRE(pages.size() == 1);
  BeaconPage page;
  BeaconDefect defect;
  REQUIRE_OK(DecodeBeacon(pages[0], &page, &defect));
  CHECK(page.cluster == "shop");
  CHECK(page.round == 7);
  CHECK(page.page == 0);
  CHECK(page.pages == 1);
  CHECK(page.server_key.size() == kServerKeyBytes);
  DiscoveredProducer got = Roundtrip(pages);
  CHECK(got.cluster == "shop");
  CHECK(got.source_address.empty());
  CheckSameState(got, s);

  SECTION("without a key the field is nil and the key comes back empty") {
    s.server_public_key.clear();
    REQUIRE_OK(EncodeBeaconRound("shop", s, 8, &pages));
    REQUIRE_OK(DecodeBeacon(pages[0], &page, &defect));
    CHECK(page.server_key.empty());
    CheckSameState(Roundtrip(pages), s);
  }
  SECTION("a producer with no topics sends one page with an empty list") {
    s.topics.clear();
    REQUIRE_OK(EncodeBeaconRound("shop", s, 8, &pages));
    REQUIRE(pages.size() == 1);
    CheckSameState(Roundtrip(pages), s);
  }
}

TEST_CASE("1,000 topics of several partitions page into datagrams of at most 1,200 bytes",
          "[beacon]") {
  BeaconState s = SmallState();
  s.server_public_key = SomeKey();
  s.topics.clear();
  for (int t = 0; t < 1000; ++t) {
    DiscoveredTopic topic{"topic-" + std::to_string(t), {}};
    for (int p = 0; p < 1 + t % 8; ++p) {
      // Small and 9-byte watermarks both, so page sizes vary.
      const uint64_t base = (t % 3 == 0) ? (1ull << 50) + t : static_cast<uint64_t>(p);
      topic.partitions.push_back({base, base + static_cast<uint64_t>(t)});
    }
    s.topics.push_back(std::move(topic));
  }
  std::vector<std::string> pages;
  REQUIRE_OK(EncodeBeaconRound("shop", s, 1, &pages));
  INFO(pages.size() << " pages");
  CHECK(pages.size() > 20);
  CHECK(pages.size() <= kMaxBeaconPages);
  size_t total = 0;
  for (const std::string& p : pages) {
    CHECK(p.size() <= kMaxBeaconBytes);
    total += p.size();
  }
  // Pages are filled: on average well over half full.
  CHECK(total / pages.size() > kMaxBeaconBytes * 3 / 4);
  CheckSameState(Roundtrip(pages), s);

  SECTION("a topic of 4,096 partitions with large watermarks is split across pages") {
    DiscoveredTopic big{std::string(200, 'b'), {}};
    for (uint64_t p = 0; p < 4096; ++p) big.partitions.push_back({UINT64_MAX - p, UINT64_MAX});
    s.topics = {big, {"after", {{1, 2}}}};
    s.pub_endpoint = "tcp://" + std::string(240, 'h') + ":7000";
    s.replay_endpoint = "tcp://" + std::string(240, 'h') + ":7001";
    REQUIRE_OK(EncodeBeaconRound(std::string(64, 'c'), s, UINT64_MAX, &pages));
    CHECK(pages.size() > 1);
    for (const std::string& p : pages) CHECK(p.size() <= kMaxBeaconBytes);
    CheckSameState(Roundtrip(pages), s);
  }
  SECTION("more than 256 pages are refused with what to do") {
    for (int t = 0; t < 12; ++t) {
      DiscoveredTopic big{"big-" + std::to_string(t), {}};
      for (uint64_t p = 0; p < 4096; ++p) big.partitions.push_back({UINT64_MAX - 1, UINT64_MAX});
      s.topics.push_back(std::move(big));
    }
    Status st = EncodeBeaconRound("shop", s, 1, &pages);
    CHECK(st.IsResourceExhausted());
    CHECK(st.message().find("fewer topics") != std::string_view::npos);
  }
}

TEST_CASE("the encoder refuses a state it cannot announce", "[beacon]") {
  BeaconState s = SmallState();
  std::vector<std::string> pages;
  CHECK(EncodeBeaconRound("", s, 1, &pages).IsInvalidArgument());
  CHECK(EncodeBeaconRound("sh op", s, 1, &pages).IsInvalidArgument());
  CHECK(EncodeBeaconRound(std::string(65, 'c'), s, 1, &pages).IsInvalidArgument());
  CHECK_OK(EncodeBeaconRound("a.B_c-9", s, 1, &pages));

  BeaconState bad = s;
  bad.pub_endpoint.clear();
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
  bad = s;
  bad.replay_endpoint = "tcp://" + std::string(250, 'h') + ":7001";
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
  bad = s;
  bad.replay_endpoint = "tcp://host name:7001";
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
  bad = s;
  bad.server_public_key = "not a key";
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
  bad = s;
  bad.topics[0].name = "bad name";
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
  bad = s;
  bad.topics[1].partitions.clear();
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
  bad = s;
  bad.topics[0].partitions.resize(4097);
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
  bad = s;
  bad.topics[0].partitions[1] = {6, 5};
  CHECK(EncodeBeaconRound("shop", bad, 1, &pages).IsInvalidArgument());
}

TEST_CASE("every malformed beacon is refused with its kind", "[beacon]") {
  Elements good;
  REQUIRE(DefectOf(good.Build()) == BeaconDefect::kNone);

  SECTION("garbage") {
    CHECK(DefectOf("") == BeaconDefect::kGarbage);
    CHECK(DefectOf("hello, world") == BeaconDefect::kGarbage);
    CHECK(DefectOf(std::string(1, '\x90')) == BeaconDefect::kGarbage);  // empty array
    Elements e = good;
    e.e[0] = Elements::Enc([](mp::Writer& w) { w.Str("brooK"); });
    CHECK(DefectOf(e.Build()) == BeaconDefect::kGarbage);
    e.e[0] = Elements::Enc([](mp::Writer& w) { w.Bin("brook"); });
    CHECK(DefectOf(e.Build()) == BeaconDefect::kGarbage);
  }
  SECTION("wrong version, whatever follows it") {
    Elements e = good;
    e.e[1] = Elements::Enc([](mp::Writer& w) { w.Uint(2); });
    CHECK(DefectOf(e.Build()) == BeaconDefect::kWrongVersion);
    e.e.resize(2);  // a version 2 beacon may have another layout
    CHECK(DefectOf(e.Build()) == BeaconDefect::kWrongVersion);
    e.e[1] = Elements::Enc([](mp::Writer& w) { w.Uint(0); });
    CHECK(DefectOf(e.Build()) == BeaconDefect::kWrongVersion);
  }
  SECTION("oversized") {
    std::string big = good.Build();
    big.resize(kMaxBeaconBytes + 1, '\0');
    CHECK(DefectOf(big) == BeaconDefect::kOversized);
  }
  SECTION("malformed fields") {
    struct Case {
      const char* what;
      size_t index;
      std::string bytes;
    };
    using E = Elements;
    const std::vector<Case> cases = {
        {"version as a string", 1, E::Enc([](mp::Writer& w) { w.Str("1"); })},
        {"empty cluster", 2, E::Enc([](mp::Writer& w) { w.Str(""); })},
        {"cluster with a space", 2, E::Enc([](mp::Writer& w) { w.Str("my shop"); })},
        {"cluster of 65 bytes", 2, E::Enc([](mp::Writer& w) { w.Str(std::string(65, 'c')); })},
        {"producer id of 15 bytes", 3, E::Enc([](mp::Writer& w) { w.Bin(std::string(15, 'i')); })},
        {"producer id as a string", 3, E::Enc([](mp::Writer& w) { w.Str(std::string(16, 'i')); })},
        {"negative epoch", 4, std::string(1, '\xff')},
        {"round as nil", 5, E::Enc([](mp::Writer& w) { w.Nil(); })},
        {"page equal to pages", 6, E::Enc([](mp::Writer& w) { w.Uint(1); })},
        {"pages 0", 7, E::Enc([](mp::Writer& w) { w.Uint(0); })},
        {"pages 257", 7, E::Enc([](mp::Writer& w) { w.Uint(257); })},
        {"empty endpoint", 8, E::Enc([](mp::Writer& w) { w.Str(""); })},
        {"endpoint with a control byte", 9, E::Enc([](mp::Writer& w) { w.Str("tcp://a\n:1"); })},
        {"endpoint of 256 bytes", 9, E::Enc([](mp::Writer& w) { w.Str(std::string(256, 'e')); })},
        {"key of 31 bytes", 10, E::Enc([](mp::Writer& w) { w.Bin(std::string(31, 'k')); })},
        {"key as Z85 text", 10, E::Enc([](mp::Writer& w) { w.Str(std::string(40, 'k')); })},
        {"topics as a map", 11, E::Enc([](mp::Writer& w) { w.MapHeader(0); })},
        {"topic list claiming 65,535 entries", 11,
         E::Enc([](mp::Writer& w) { w.ArrayHeader(65535); })},
        {"topic entry of 2 elements", 11, E::Enc([](mp::Writer& w) {
           w.ArrayHeader(1);
           w.ArrayHeader(2);
           w.Str("orders");
           w.ArrayHeader(0);
         })},
        {"invalid topic name", 11, E::Topics({{"no/slash", 0, {{0, 1}}}})},
        {"reserved topic name", 11, E::Topics({{"__internal", 0, {{0, 1}}}})},
        {"no partitions", 11, E::Topics({{"orders", 0, {}}})},
        {"low above high", 11, E::Topics({{"orders", 0, {{2, 1}}}})},
        {"first partition 4096", 11, E::Topics({{"orders", 4096, {{0, 1}}}})},
        {"partitions past 4096", 11, E::Topics({{"orders", 4095, {{0, 1}, {0, 1}}}})},
        {"partition list claiming more than the bytes", 11, E::Enc([](mp::Writer& w) {
           w.ArrayHeader(1);
           w.ArrayHeader(3);
           w.Str("orders");
           w.Uint(0);
           w.ArrayHeader(4000);
           w.ArrayHeader(2);
           w.Uint(0);
           w.Uint(1);
         })},
    };
    for (const Case& c : cases) {
      INFO(c.what);
      Elements e = good;
      e.e[c.index] = c.bytes;
      CHECK(DefectOf(e.Build()) == BeaconDefect::kMalformed);
    }
    Elements e = good;
    e.e.pop_back();
    CHECK(DefectOf(e.Build()) == BeaconDefect::kMalformed);  // 11 elements
    e = good;
    e.e.push_back(Elements::Enc([](mp::Writer& w) { w.Nil(); }));
    CHECK(DefectOf(e.Build()) == BeaconDefect::kMalformed);            // 13 elements
    CHECK(DefectOf(good.Build() + '\0') == BeaconDefect::kMalformed);  // trailing byte
  }
  SECTION("every truncation is refused, every flipped byte handled") {
    BeaconState s = SmallState();
    s.server_public_key = SomeKey();
    std::vector<std::string> pages;
    REQUIRE_OK(EncodeBeaconRound("shop", s, 1, &pages));
    const std::string& frame = pages[0];
    for (size_t n = 0; n < frame.size(); ++n) {
      INFO("prefix of " << n << " bytes");
      CHECK(DefectOf(frame.substr(0, n)) != BeaconDefect::kNone);
    }
    for (size_t i = 0; i < frame.size(); ++i) {
      for (uint8_t bit : {0x01, 0x20, 0x80}) {
        std::string bad = frame;
        bad[i] = static_cast<char>(bad[i] ^ bit);
        (void)DefectOf(bad);
      }
    }
  }
}

TEST_CASE("pages that do not make one round are refused", "[beacon]") {
  BeaconState s = SmallState();
  s.server_public_key = SomeKey();
  s.topics.clear();
  for (int t = 0; t < 200; ++t) s.topics.push_back({"topic-" + std::to_string(t), {{0, 1}}});
  s.topics.push_back({"wide", std::vector<Watermarks>(300, Watermarks{1ull << 40, 1ull << 41})});
  std::vector<std::string> a, b;
  REQUIRE_OK(EncodeBeaconRound("shop", s, 1, &a));
  REQUIRE(a.size() >= 3);
  auto decode = [](const std::vector<std::string>& raw) {
    std::vector<BeaconPage> pages(raw.size());
    BeaconDefect d;
    for (size_t i = 0; i < raw.size(); ++i) REQUIRE_OK(DecodeBeacon(raw[i], &pages[i], &d));
    return pages;
  };
  DiscoveredProducer out;
  REQUIRE_OK(AssembleBeaconRound(decode(a), &out));

  SECTION("a page missing") {
    std::vector<std::string> missing(a.begin(), a.end() - 1);
    CHECK(AssembleBeaconRound(decode(missing), &out).IsInvalidArgument());
    CHECK(AssembleBeaconRound({}, &out).IsInvalidArgument());
  }
  SECTION("pages out of order") {
    std::vector<std::string> swapped = a;
    std::swap(swapped[0], swapped[1]);
    CHECK(AssembleBeaconRound(decode(swapped), &out).IsInvalidArgument());
  }
  SECTION("a page of another round, epoch, endpoint or key") {
    auto mix = [&](const BeaconState& other, uint64_t round) {
      REQUIRE_OK(EncodeBeaconRound("shop", other, round, &b));
      REQUIRE(b.size() == a.size());
      std::vector<std::string> mixed = a;
      mixed[1] = b[1];
      return AssembleBeaconRound(decode(mixed), &out);
    };
    CHECK(mix(s, 2).IsInvalidArgument());
    BeaconState other = s;
    other.epoch += 1;
    CHECK(mix(other, 1).IsInvalidArgument());
    other = s;
    other.replay_endpoint = "tcp://10.1.2.3:7002";
    CHECK(mix(other, 1).IsInvalidArgument());
    other = s;
    other.server_public_key = SomeKey();
    CHECK(mix(other, 1).IsInvalidArgument());
    other = s;
    other.id.bytes[0] ^= 1;
    CHECK(mix(other, 1).IsInvalidArgument());
  }
  SECTION("topic entries that do not follow on") {
    std::vector<std::string> raw;  // the decoded pages point into it
    auto one = [&](const std::vector<Elements::T>& topics) {
      Elements e;
      e.e[11] = Elements::Topics(topics);
      raw = {e.Build()};
      return decode(raw);
    };
    CHECK_OK(AssembleBeaconRound(one({{"t", 0, {{0, 1}}}, {"t", 1, {{0, 1}}}}), &out));
    CHECK(out.topics.size() == 1);
    CHECK(out.topics[0].partitions.size() == 2);
    CHECK(AssembleBeaconRound(one({{"t", 1, {{0, 1}}}}), &out).IsInvalidArgument());
    CHECK(AssembleBeaconRound(one({{"t", 0, {{0, 1}}}, {"t", 2, {{0, 1}}}}), &out)
              .IsInvalidArgument());
    CHECK(AssembleBeaconRound(one({{"t", 0, {{0, 1}}}, {"t", 0, {{0, 1}}}}), &out)
              .IsInvalidArgument());
    CHECK(
        AssembleBeaconRound(one({{"t", 0, {{0, 1}}}, {"u", 0, {{0, 1}}}, {"t", 0, {{0, 1}}}}), &out)
            .IsInvalidArgument());
  }
}

TEST_CASE("announced endpoints become connectable from the beacon's source", "[beacon]") {
  struct Case {
    const char* announced;
    const char* source;
    const char* want;  // nullptr: refused
  };
  const Case cases[] = {
      {"tcp://0.0.0.0:7000", "10.0.0.5", "tcp://10.0.0.5:7000"},
      {"tcp://*:7000", "10.0.0.5", "tcp://10.0.0.5:7000"},
      {"tcp://[::]:7000", "10.0.0.5", "tcp://10.0.0.5:7000"},
      {"tcp://:::7000", "10.0.0.5", "tcp://10.0.0.5:7000"},
      {"tcp://0.0.0.0:7000", "127.0.0.1", "tcp://127.0.0.1:7000"},
      {"tcp://10.9.8.7:7000", "10.0.0.5", "tcp://10.9.8.7:7000"},
      {"tcp://db.example:7000", "10.0.0.5", "tcp://db.example:7000"},
      {"tcp://[fe80::1]:7000", "10.0.0.5", "tcp://[fe80::1]:7000"},
      {"tcp://127.0.0.1:7000", "127.0.0.1", "tcp://127.0.0.1:7000"},
      {"tcp://127.0.0.1:7000", "10.0.0.5", nullptr},
      {"tcp://127.1.2.3:7000", "10.0.0.5", nullptr},
      {"tcp://localhost:7000", "10.0.0.5", nullptr},
      {"tcp://[::1]:7000", "10.0.0.5", nullptr},
      {"ipc:///run/brook/pub.sock", "127.0.0.1", "ipc:///run/brook/pub.sock"},
      {"ipc:///run/brook/pub.sock", "10.0.0.5", nullptr},
      {"inproc://pub", "127.0.0.1", nullptr},
      {"pgm://eth0;239.1.1.1:5555", "10.0.0.5", nullptr},
      {"tcp://0.0.0.0", "10.0.0.5", nullptr},
      {"tcp://0.0.0.0:0", "10.0.0.5", nullptr},
      {"tcp://0.0.0.0:65536", "10.0.0.5", nullptr},
      {"tcp://0.0.0.0:70a", "10.0.0.5", nullptr},
      {"tcp://:7000", "10.0.0.5", nullptr},
      {"tcp://10.0.0.1;10.0.0.2:7000", "10.0.0.5", nullptr},
      {"tcp://0.0.0.0:7000", "not an address", nullptr},
  };
  for (const Case& c : cases) {
    INFO(c.announced << " from " << c.source);
    std::string out;
    Status s = ConnectableEndpoint(c.announced, c.source, &out);
    if (c.want == nullptr) {
      CHECK(s.IsInvalidArgument());
      CHECK(out.empty());
    } else {
      CHECK_OK(s);
      CHECK(out == c.want);
    }
  }
  std::string out;
  Status s = ConnectableEndpoint("tcp://127.0.0.1:7000", "10.0.0.5", &out);
  CHECK(s.message().find("bind the producer to 0.0.0.0") != std::string_view::npos);
}

TEST_CASE("cluster names are 1..64 bytes of letters, digits, dot, underscore and dash",
          "[beacon]") {
  CHECK(IsValidClusterName("shop"));
  CHECK(IsValidClusterName("prod-eu.west_1"));
  CHECK(IsValidClusterName(std::string(64, 'a')));
  CHECK_FALSE(IsValidClusterName(""));
  CHECK_FALSE(IsValidClusterName(std::string(65, 'a')));
  CHECK_FALSE(IsValidClusterName("a b"));
  CHECK_FALSE(IsValidClusterName("a/b"));
  CHECK_FALSE(IsValidClusterName("caf\xc3\xa9"));
}
