// The checker's own test, end to end: a consumer told to misreport one
// delivery (drop it, report it twice, flip a byte of it, report it after the
// next) must make the checker count exactly that kind of fault. A checker
// that passes everything would pass every other round too; this round is
// what says its zeros mean something.
#include "tests/fault/round_util.h"

namespace brook::fault {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Case {
  const char* kind;
  uint64_t CheckResult::*counter;  // must be above 0
  const char* counter_name;
};

const Case kCases[] = {
    {"drop", &CheckResult::lost, "lost"},
    {"dup", &CheckResult::duplicated, "duplicated"},
    {"corrupt", &CheckResult::unexpected, "unexpected"},
    {"reorder", &CheckResult::reordered, "reordered"},
};

RoundResult CheckerSelfTest(const RoundConfig& c) {
  RoundResult total;
  auto rng = RoundRng(c);
  for (const Case& k : kCases) {
    RoundConfig sub = c;
    sub.scratch = c.scratch + "/" + k.kind;
    History h;
    Cluster cl(c.bin_dir, sub.scratch, &h, c.seed);
    ProducerSpec p = StandardProducer(sub, "p0");
    p.durability = "nosync";
    p.count = 500;
    ConsumerSpec s = StandardConsumer(sub, "c0", {p});
    s.extra_args = {"--sabotage", k.kind, "--sabotage-at", std::to_string(Uniform(rng, 2, 800))};
    cl.AddProducer(p);
    cl.AddConsumer(s);
    RoundResult r;
    if (!StartOrViolate(&cl, 'p', 0, &r) || !StartOrViolate(&cl, 'c', 0, &r)) return r;
    cl.PumpUntil([&] { return cl.producer_done(0) && h.CaughtUp("c0"); }, seconds(10));
    // A dropped record never arrives: give it a moment, then judge.
    cl.Pump(milliseconds(200));
    cl.StopConsumer(0);
    const CheckResult got = h.Check({"c0"});
    if (got.*k.counter == 0) {
      total.Violation(std::string("sabotage '") + k.kind + "' was not counted as " +
                      k.counter_name);
    } else {
      total.notes.push_back(std::string(k.kind) + ": " + k.counter_name + " " +
                            std::to_string(got.*k.counter) +
                            (got.problems.empty() ? "" : " (" + got.problems[0] + ")"));
    }
    // The sabotaged counts are the expected outcome: only the volume is kept.
    total.check.attempted += got.attempted;
    total.check.acknowledged += got.acknowledged;
    total.check.delivered += got.delivered;
  }
  return total;
}

}  // namespace

std::vector<FaultSpec> SelfTestFaults() {
  return {
      {"checker_selftest",
       "the checker counts a consumer's deliberate drop, duplicate, corruption and reordering",
       CheckerSelfTest, 1, 3},
  };
}

}  // namespace brook::fault
