// The fault suite's rounds (tests/fault/, docs/RELIABILITY.md): each fault is
// a function that runs one round (a fresh scratch directory, children started
// and hurt per the round's seed, a final drain) and returns what the checker
// counted. fault_harness runs the rounds and prints the table.
#ifndef BROOK_TESTS_FAULT_FAULT_H_
#define BROOK_TESTS_FAULT_FAULT_H_

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/fault/history.h"

namespace brook::fault {

struct RoundConfig {
  uint64_t seed = 0;  // this round's seed (derived from the run's seed and round)
  int round = 0;
  bool long_run = false;    // --long: bigger rounds (more records, longer faults)
  std::string scratch;      // a fresh directory for this round, removed afterwards
  std::string bin_dir;      // where fault_producer and fault_consumer are
  double soak_seconds = 0;  // the soak's length
  bool verbose = false;
};

struct RoundResult {
  CheckResult check;
  // What the fault's own checks found wrong beyond the checker's counts (a
  // child that crashed by itself, a wrong or missing error, bad data
  // served, a consumer that never caught up): each fails the round.
  uint64_t violations = 0;
  std::vector<std::string> notes;  // the problems, and what variant ran
  // The round could not run here (e.g. needs root); says why. Not a pass.
  std::string not_run;

  void Violation(const std::string& what) {
    ++violations;
    if (notes.size() < 12) notes.push_back(what);
  }
  bool failed() const { return violations > 0 || check.failures() > 0; }
};

using FaultFn = RoundResult (*)(const RoundConfig&);

struct FaultSpec {
  const char* name;
  const char* what;  // one line for the table's legend
  FaultFn run;
  int quick_rounds;  // CI's short version
  int long_rounds;   // the long version (--long)
};

// Each module's faults, in the order the table lists them.
std::vector<FaultSpec> ProcessFaults();   // process_faults.cc
std::vector<FaultSpec> NetworkFaults();   // network_faults.cc
std::vector<FaultSpec> StorageFaults();   // storage_faults.cc
std::vector<FaultSpec> ClockFaults();     // clock_faults.cc
std::vector<FaultSpec> SelfTestFaults();  // selftest_faults.cc
std::vector<FaultSpec> RestoreFaults();   // restore_faults.cc

// Small shared helpers.
inline std::mt19937_64 RoundRng(const RoundConfig& c) { return std::mt19937_64(c.seed); }
inline uint64_t Uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {  // [lo, hi]
  return lo + rng() % (hi - lo + 1);
}

}  // namespace brook::fault

#endif  // BROOK_TESTS_FAULT_FAULT_H_
