// The little every example needs besides brook itself: a scratch directory,
// a way to stop on an error, and the check that makes each example a test.
//
// DeliveryCheck is how the examples prove brook's promise instead of
// asserting it: the publishing side registers every payload it published,
// the consuming side reports every record it was handed, and the summary
// counts what never arrived (lost), what arrived twice (duplicates) and
// what arrived out of offset order within its stream. scripts/test.sh runs
// each example and reads these lines.
#ifndef BROOK_EXAMPLES_EXAMPLE_UTIL_H_
#define BROOK_EXAMPLES_EXAMPLE_UTIL_H_

#include <brook/consumer.h>
#include <brook/status.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace example {

// The directory given on the command line, or a fresh one under $TMPDIR
// (or /tmp), so that running an example never touches anything else.
inline std::string WorkDir(const char* arg, const char* name) {
  if (arg != nullptr) return arg;
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/brook-" + name + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::perror("cannot create a scratch directory (mkdtemp); pass a directory instead");
    std::exit(1);
  }
  return buf.data();
}

// brook's messages say what happened and what to do; an example has nothing
// to add but where it was.
[[noreturn]] inline void Fail(const brook::Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

class DeliveryCheck {
 public:
  // Every payload the producer published (payloads are unique in the examples).
  void Expect(const std::string& payload) { times_[payload] += 0; }

  // Every record the consumer delivered.
  void Delivered(const brook::StreamId& stream, const brook::RecordView& r) {
    ++delivered_;
    auto key = std::make_tuple(stream.producer, stream.topic, stream.partition);
    auto next = next_.find(key);
    // The first record of a stream sets where it starts; after that each
    // record must be the one right after the previous one.
    if (next != next_.end() && r.offset != next->second) ++out_of_order_;
    next_[key] = r.offset + 1;
    auto it = times_.find(std::string(r.payload));
    if (it == times_.end()) {
      ++unexpected_;
    } else if (++it->second > 1) {
      ++duplicates_;
    }
  }

  uint64_t expected() const { return times_.size(); }
  uint64_t delivered() const { return delivered_; }
  uint64_t lost() const {
    uint64_t n = 0;
    for (const auto& [payload, times] : times_) n += times == 0;
    return n;
  }
  bool passed() const {
    return lost() == 0 && duplicates_ == 0 && out_of_order_ == 0 && unexpected_ == 0;
  }

  // One fact a line, in fixed words, so a person reads it and a test greps it.
  void PrintSummary(const char* indent = "") const {
    std::printf("%sexpected: %llu\n", indent, static_cast<unsigned long long>(expected()));
    std::printf("%sdelivered: %llu\n", indent, static_cast<unsigned long long>(delivered_));
    std::printf("%slost: %llu\n", indent, static_cast<unsigned long long>(lost()));
    std::printf("%sduplicates: %llu\n", indent, static_cast<unsigned long long>(duplicates_));
    std::printf("%sout of order: %llu\n", indent, static_cast<unsigned long long>(out_of_order_));
    if (unexpected_ != 0) {
      std::printf("%sunexpected: %llu\n", indent, static_cast<unsigned long long>(unexpected_));
    }
  }

 private:
  std::map<std::string, int> times_;  // payload -> times delivered
  std::map<std::tuple<brook::ProducerId, std::string, uint32_t>, uint64_t> next_;
  uint64_t delivered_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t out_of_order_ = 0;
  uint64_t unexpected_ = 0;
};

}  // namespace example

#endif  // BROOK_EXAMPLES_EXAMPLE_UTIL_H_
