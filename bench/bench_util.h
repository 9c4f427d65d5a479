// Shared by every benchmark binary in bench/: the figure a benchmark reports,
// printed as one JSON object per line on stdout, so that bench/report.py can
// gather the figures of every binary of a run into one table and one JSON
// file. Progress and human notes go to stderr.
//
// A figure:
//   {"group": "pubsub", "system": "zmq", "name": "pub/sub tcp one frame",
//    "size": 100, "mode": "nosync", "metric": "rate", "unit": "rec/s",
//    "value": 2100000.0, "samples": [2.0e6, 2.1e6, 2.2e6]}
// - group: what is compared ("publish", "e2e", "latency", "replay", "memory",
//   "pubsub", "rtt", "lmdb", ...); figures of one group, size and mode sit in
//   one table section, each as a ratio to that section's baseline.
// - system: "brook", "zmq", "lmdb", "redis", "nats", "mosquitto".
// - mode: the durability the figure was measured at: "nosync", "nometasync",
//   "fsync", or "-" when there is none (the raw transport).
// - metric: "rate" (unit rec/s, higher is better), "p50" / "p99" / "p999"
//   (unit us, lower is better), "peak_rss" (unit MiB, lower is better), or
//   anything else with its unit.
// - value: the median of samples (one sample per run).
#ifndef BROOK_BENCH_BENCH_UTIL_H_
#define BROOK_BENCH_BENCH_UTIL_H_

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace brook::bench {

using Clock = std::chrono::steady_clock;

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The q-quantile (0..1) of `v`, sorting it in place.
inline double Quantile(std::vector<double>* v, double q) {
  if (v->empty()) return 0;
  std::sort(v->begin(), v->end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v->size() - 1) + 0.5);
  return (*v)[std::min(i, v->size() - 1)];
}

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Peak resident memory of this process (ru_maxrss), in MiB.
inline double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Peak resident memory of the reaped children of this process, in MiB.
inline double ChildrenPeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

inline std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

struct Figure {
  std::string group;
  std::string system;
  std::string name;
  int64_t size = 0;  // record payload bytes; 0 when not applicable
  std::string mode = "-";
  std::string metric = "rate";
  std::string unit = "rec/s";
  std::vector<double> samples;
};

// Prints `f` as one JSON line on stdout (value: the median of its samples)
// and a readable line on stderr.
inline void Report(const Figure& f) {
  const double value = Median(f.samples);
  std::string samples;
  for (double s : f.samples) {
    if (!samples.empty()) samples += ", ";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", s);
    samples += buf;
  }
  std::printf(
      "{\"group\": \"%s\", \"system\": \"%s\", \"name\": \"%s\", \"size\": %lld, \"mode\": "
      "\"%s\", \"metric\": \"%s\", \"unit\": \"%s\", \"value\": %.6g, \"samples\": [%s]}\n",
      JsonEscape(f.group).c_str(), JsonEscape(f.system).c_str(), JsonEscape(f.name).c_str(),
      static_cast<long long>(f.size), JsonEscape(f.mode).c_str(), JsonEscape(f.metric).c_str(),
      JsonEscape(f.unit).c_str(), value, samples.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "  %-10s %-10s %-40s %5lld B %-10s %-6s %14.1f %s\n", f.group.c_str(),
               f.system.c_str(), f.name.c_str(), static_cast<long long>(f.size), f.mode.c_str(),
               f.metric.c_str(), value, f.unit.c_str());
}

}  // namespace brook::bench

#endif  // BROOK_BENCH_BENCH_UTIL_H_
