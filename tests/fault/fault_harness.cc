// The fault suite's driver (docs/RELIABILITY.md): runs rounds of each fault,
// each with its own seed and scratch directory, and prints per fault the
// table: rounds, records published, acknowledged, delivered, lost,
// duplicated, reordered (and the rest of the checker's counts). Exits 1 if
// any count that must be 0 is not, 0 otherwise.
//
//   fault_harness                         every fault, CI's short version
//   fault_harness --long                  >= 200 rounds per fault, 10-minute soak
//   fault_harness --fault producer_kill --rounds 20 --seed 7
//   fault_harness --fault soak --seed 7 --first-round 0 --rounds 1   (replays a round)
//   fault_harness --list
//
// Options: --seed S (default: from the clock, printed), --first-round R,
// --soak-seconds S, --bin-dir DIR (where fault_producer/fault_consumer are;
// default: beside this program), --json FILE (the table as JSON),
// --keep (keep every round's scratch directory; failed rounds' are always kept),
// --verbose.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/fault/child_args.h"
#include "tests/fault/fault.h"
#include "tests/fault/round_util.h"

namespace {

using namespace brook::fault;
namespace fs = std::filesystem;

struct Totals {
  int rounds = 0, failed_rounds = 0, not_run = 0;
  CheckResult sum;
  uint64_t violations = 0;
  double seconds = 0;
  std::string first_failure;
};

void Add(CheckResult* a, const CheckResult& b) {
  a->attempted += b.attempted;
  a->acknowledged += b.acknowledged;
  a->failed += b.failed;
  a->unknown += b.unknown;
  a->delivered += b.delivered;
  a->redelivered += b.redelivered;
  a->lost += b.lost;
  a->duplicated += b.duplicated;
  a->unexpected += b.unexpected;
  a->reordered += b.reordered;
  a->inconsistent += b.inconsistent;
  a->loss_events += b.loss_events;
  a->discarded += b.discarded;
  a->tail_lost_events += b.tail_lost_events;
}

// A round's seed, from the run's, the fault's name and the round's number:
// the name keeps rounds of different faults that run at once (two harness
// processes, one seed) from drawing the same ports and schedules.
uint64_t RoundSeed(uint64_t seed, const char* fault, int round) {
  for (const char* c = fault; *c; ++c)
    seed = (seed ^ static_cast<unsigned char>(*c)) * 0x100000001B3ull;
  uint64_t x = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(round + 1);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 29);
}

std::vector<FaultSpec> AllFaults() {
  std::vector<FaultSpec> all;
  for (auto module :
       {SelfTestFaults, ProcessFaults, NetworkFaults, StorageFaults, ClockFaults, RestoreFaults})
    for (const FaultSpec& f : module()) all.push_back(f);
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  ChildArgs args;
  std::string err;
  if (!args.Parse(argc, argv, &err)) {
    std::fprintf(stderr, "fault_harness: %s (see the comment at the top of fault_harness.cc)\n",
                 err.c_str());
    return 64;
  }
  const std::vector<FaultSpec> faults = AllFaults();
  if (args.Has("list")) {
    for (const FaultSpec& f : faults)
      std::printf("%-22s %s (rounds: %d short, %d long)\n", f.name, f.what, f.quick_rounds,
                  f.long_rounds);
    return 0;
  }
  const bool long_run = args.Has("long");
  const uint64_t seed =
      args.Has("seed")
          ? args.U64("seed", 1)
          : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) %
                1000000007u;
  const int first_round = static_cast<int>(args.U64("first-round", 0));
  const double soak_seconds = static_cast<double>(args.U64("soak-seconds", long_run ? 600 : 10));
  std::string bin_dir = args.Str("bin-dir");
  if (bin_dir.empty()) bin_dir = fs::canonical("/proc/self/exe").parent_path().string();
  std::vector<std::string> wanted = args.List("fault");
  for (const std::string& w : wanted) {
    bool known = false;
    for (const FaultSpec& f : faults) known |= w == f.name;
    if (!known) {
      std::fprintf(stderr, "fault_harness: unknown fault '%s' (--list shows them)\n", w.c_str());
      return 64;
    }
  }
  const char* tmp = std::getenv("TMPDIR");
  const fs::path base =
      fs::path(tmp && *tmp ? tmp : "/tmp") / ("brook-fault-" + std::to_string(getpid()));
  fs::create_directories(base);
  std::fprintf(stderr, "fault_harness: seed %llu, %s version, scratch %s\n",
               static_cast<unsigned long long>(seed), long_run ? "long" : "short", base.c_str());

  std::vector<std::pair<const FaultSpec*, Totals>> table;
  bool any_failed = false;
  for (const FaultSpec& f : faults) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), f.name) == wanted.end())
      continue;
    const int rounds = static_cast<int>(
        args.U64("rounds", static_cast<uint64_t>(long_run ? f.long_rounds : f.quick_rounds)));
    Totals t;
    for (int round = first_round; round < first_round + rounds; ++round) {
      RoundConfig c;
      c.seed = RoundSeed(seed, f.name, round);
      c.round = round;
      c.long_run = long_run;
      c.bin_dir = bin_dir;
      c.soak_seconds = soak_seconds;
      c.verbose = args.Has("verbose");
      c.scratch = (base / (std::string(f.name) + "-" + std::to_string(round))).string();
      fs::create_directories(c.scratch);
      const auto start = std::chrono::steady_clock::now();
      RoundResult r = f.run(c);
      ReleasePorts();
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      t.seconds += secs;
      ++t.rounds;
      if (!r.not_run.empty()) {
        ++t.not_run;
        std::fprintf(stderr, "[%s %d/%d] NOT RUN: %s\n", f.name, round - first_round + 1, rounds,
                     r.not_run.c_str());
        fs::remove_all(c.scratch);
        continue;
      }
      Add(&t.sum, r.check);
      t.violations += r.violations;
      const bool failed = r.failed();
      std::fprintf(stderr,
                   "[%s %d/%d] %s  acked %llu delivered %llu lost %llu dup %llu reord %llu "
                   "unexp %llu incons %llu events %llu violations %llu  %.1f s%s%s\n",
                   f.name, round - first_round + 1, rounds, failed ? "FAILED" : "ok",
                   static_cast<unsigned long long>(r.check.acknowledged),
                   static_cast<unsigned long long>(r.check.delivered),
                   static_cast<unsigned long long>(r.check.lost),
                   static_cast<unsigned long long>(r.check.duplicated),
                   static_cast<unsigned long long>(r.check.reordered),
                   static_cast<unsigned long long>(r.check.unexpected),
                   static_cast<unsigned long long>(r.check.inconsistent),
                   static_cast<unsigned long long>(r.check.loss_events),
                   static_cast<unsigned long long>(r.violations), secs,
                   r.notes.empty() || failed ? "" : "  ",
                   r.notes.empty() || failed ? "" : r.notes[0].c_str());
      if (c.verbose && !failed)
        for (size_t k = 1; k < r.notes.size(); ++k)
          std::fprintf(stderr, "    %s\n", r.notes[k].c_str());
      if (failed) {
        ++t.failed_rounds;
        any_failed = true;
        for (const std::string& n : r.notes) std::fprintf(stderr, "    %s\n", n.c_str());
        for (const std::string& p : r.check.problems) std::fprintf(stderr, "    %s\n", p.c_str());
        std::fprintf(stderr,
                     "    replay: fault_harness --fault %s --seed %llu --first-round %d "
                     "--rounds 1%s   (scratch kept: %s)\n",
                     f.name, static_cast<unsigned long long>(seed), round,
                     long_run ? " --long" : "", c.scratch.c_str());
        if (t.first_failure.empty())
          t.first_failure =
              r.check.problems.empty() ? (r.notes.empty() ? "" : r.notes[0]) : r.check.problems[0];
      } else if (!args.Has("keep")) {
        fs::remove_all(c.scratch);
      }
    }
    table.emplace_back(&f, t);
  }

  std::printf("\n%-22s %6s %10s %10s %10s %5s %5s %5s %5s %5s %5s %7s\n", "fault", "rounds",
              "published", "acked", "delivered", "lost", "dup", "reord", "unexp", "incon", "viol",
              "seconds");
  for (const auto& [f, t] : table) {
    const CheckResult& s = t.sum;
    std::printf(
        "%-22s %6d %10llu %10llu %10llu %5llu %5llu %5llu %5llu %5llu %5llu %7.0f%s\n", f->name,
        t.rounds - t.not_run, static_cast<unsigned long long>(s.attempted),
        static_cast<unsigned long long>(s.acknowledged),
        static_cast<unsigned long long>(s.delivered), static_cast<unsigned long long>(s.lost),
        static_cast<unsigned long long>(s.duplicated), static_cast<unsigned long long>(s.reordered),
        static_cast<unsigned long long>(s.unexpected),
        static_cast<unsigned long long>(s.inconsistent),
        static_cast<unsigned long long>(t.violations + s.loss_events), t.seconds,
        t.not_run ? "  (some rounds not run: see above)" : "");
  }
  std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed),
              any_failed ? "FAILED (replay commands above)" : "every count that must be 0 is 0");
  if (args.Has("json")) {
    std::ofstream js(args.Str("json"));
    js << "{\"seed\": " << seed << ", \"long\": " << (long_run ? "true" : "false")
       << ", \"faults\": [";
    bool first = true;
    for (const auto& [f, t] : table) {
      const CheckResult& s = t.sum;
      js << (first ? "" : ", ") << "{\"fault\": \"" << f->name
         << "\", \"rounds\": " << t.rounds - t.not_run << ", \"not_run\": " << t.not_run
         << ", \"failed_rounds\": " << t.failed_rounds << ", \"published\": " << s.attempted
         << ", \"acknowledged\": " << s.acknowledged << ", \"failed\": " << s.failed
         << ", \"unknown\": " << s.unknown << ", \"delivered\": " << s.delivered
         << ", \"redelivered\": " << s.redelivered << ", \"lost\": " << s.lost
         << ", \"duplicated\": " << s.duplicated << ", \"reordered\": " << s.reordered
         << ", \"unexpected\": " << s.unexpected << ", \"inconsistent\": " << s.inconsistent
         << ", \"loss_events\": " << s.loss_events << ", \"discarded\": " << s.discarded
         << ", \"tail_lost_events\": " << s.tail_lost_events << ", \"violations\": " << t.violations
         << ", \"seconds\": " << t.seconds << "}";
      first = false;
    }
    js << "]}\n";
  }
  if (!any_failed) fs::remove_all(base);
  return any_failed ? 1 : 0;
}
