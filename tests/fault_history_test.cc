// The fault suite's checker (tests/fault/history.h) on histories written by
// hand: each kind of fault it must count, and the at-least-once redelivery
// it must allow.
#include <catch2/catch.hpp>

#include "tests/fault/history.h"
#include "tests/fault/payload.h"

namespace brook::fault {
namespace {

const std::string kId = "00112233445566778899aabbccddeeff";

std::string P(uint64_t seq, uint32_t partition = 0) {
  return EncodeFaultPayload({"p0", "t0", partition, seq});
}

// Publishes seqs [0, n) of t0/0 acknowledged at offsets [0, n).
void Publish(History* h, uint64_t n) {
  h->ProducerIdentity("p0", kId);
  for (uint64_t s = 0; s < n; ++s) {
    h->Attempted("p0", "t0", 0, s);
    h->Acknowledged("p0", "t0", 0, s, s);
  }
}

void Deliver(History* h, uint64_t from, uint64_t to, const std::string& consumer = "c0") {
  for (uint64_t o = from; o < to; ++o) h->Delivered(consumer, kId, "t0", 0, o, P(o));
}

}  // namespace

TEST_CASE("payloads decode only when intact", "[fault][checker]") {
  FaultRecord r;
  std::string why;
  std::string p = P(42, 3);
  REQUIRE(DecodeFaultPayload(p, &r, &why));
  CHECK(r.tag == "p0");
  CHECK(r.topic == "t0");
  CHECK(r.partition == 3);
  CHECK(r.seq == 42);
  for (size_t i = 0; i < p.size(); ++i) {
    std::string bad = p;
    bad[i] ^= 0x04;
    CHECK_FALSE(DecodeFaultPayload(bad, &r, &why));
  }
  CHECK_FALSE(DecodeFaultPayload(p.substr(0, p.size() - 1), &r, &why));
  CHECK_FALSE(DecodeFaultPayload("", &r, &why));
}

TEST_CASE("a clean history passes, and redelivery after a restart is allowed", "[fault][checker]") {
  History h;
  Publish(&h, 100);
  h.ConsumerStarted("c0");
  Deliver(&h, 0, 60);
  h.Committed("c0");
  Deliver(&h, 60, 80);  // not committed: the consumer dies
  h.ConsumerStarted("c0");
  Deliver(&h, 60, 100);  // resumes at its commit
  CHECK(h.CaughtUp("c0"));
  const CheckResult r = h.Check({"c0"});
  CHECK(r.failures() == 0);
  CHECK(r.acknowledged == 100);
  CHECK(r.delivered == 120);
  CHECK(r.redelivered == 20);
}

TEST_CASE("the checker counts each kind of fault", "[fault][checker]") {
  History h;
  Publish(&h, 50);
  h.ConsumerStarted("c0");

  SECTION("lost: an acknowledged record never delivered") {
    Deliver(&h, 0, 49);
    CHECK_FALSE(h.CaughtUp("c0"));
    const CheckResult r = h.Check({"c0"});
    CHECK(r.lost == 1);
    CHECK(r.failures() == 1);
  }
  SECTION("an unknown publish (the producer died) need not be delivered") {
    h.Attempted("p0", "t0", 0, 50);
    Deliver(&h, 0, 50);
    const CheckResult r = h.Check({"c0"});
    CHECK(r.failures() == 0);
    CHECK(r.unknown == 1);
  }
  SECTION("duplicated: delivered twice in one run, or below the committed position") {
    Deliver(&h, 0, 30);
    h.Committed("c0");
    Deliver(&h, 29, 30);
    CHECK(h.Check({}).duplicated == 1);
    h.ConsumerStarted("c0");
    Deliver(&h, 10, 50);  // restarts below its commit at 30
    CHECK(h.Check({"c0"}).duplicated == 2);
  }
  SECTION("reordered: a gap or a step back") {
    Deliver(&h, 0, 10);
    Deliver(&h, 11, 50);
    Deliver(&h, 10, 11);
    const CheckResult r = h.Check({"c0"});
    CHECK(r.reordered == 1);
    CHECK(r.duplicated == 1);  // the step back
    CHECK(r.lost == 0);
  }
  SECTION("unexpected: torn payload, never published, failed yet delivered") {
    Deliver(&h, 0, 50);
    std::string torn = P(50);
    torn[5] ^= 1;
    h.Delivered("c0", kId, "t0", 0, 50, torn);
    h.Delivered("c0", kId, "t0", 0, 51, P(999));
    h.Attempted("p0", "t0", 0, 52);
    h.Failed("p0", "t0", 0, 52);
    h.Delivered("c0", kId, "t0", 0, 52, P(52));
    CHECK(h.Check({"c0"}).unexpected == 3);
  }
  SECTION("a delivery read before its producer's line is judged at the end") {
    Deliver(&h, 0, 50);
    h.Delivered("c0", kId, "t0", 0, 50, P(50));
    h.Attempted("p0", "t0", 0, 50);
    CHECK(h.Check({"c0"}).failures() == 0);
  }
  SECTION("inconsistent: one offset holding two records, one record at two offsets") {
    Deliver(&h, 0, 50);
    h.Attempted("p0", "t0", 0, 60);
    h.Acknowledged("p0", "t0", 0, 60, 10);  // offset 10 already holds seq 10
    // Seq 1 at offset 0: offset 0 held seq 0, and seq 1 was acknowledged at
    // offset 1 (two counts for the one delivery).
    h.Delivered("c1", kId, "t0", 0, 0, P(1));
    const CheckResult r = h.Check({});
    CHECK(r.inconsistent == 3);
    CHECK(r.reordered == 1);  // seq 60 acknowledged below seq 49's offset
  }
  SECTION("loss events count unless the round allows them") {
    h.Event("c0", "tail_lost", "offsets [3, 5)");
    h.Event("c0", "assigned", "");
    h.Event("c1", "data_loss", "HEX t0 0 7 8 damaged record at offset 7");
    CHECK(h.Check({}).loss_events == 2);
    CHECK(h.DataLossEvents("c0") == 0);
    CHECK(h.DataLossEvents("c1") == 1);
    h.AllowLossEvents(true);
    h.Event("c1", "data_loss", "HEX t0 0 9 10 damaged record at offset 9");
    CHECK(h.Check({}).loss_events == 2);  // allowed: not counted, still told
    CHECK(h.DataLossEvents("c1") == 2);
  }
}

}  // namespace brook::fault
