// A consumer process for the fault suite (tests/fault/), started, killed,
// paused and restarted by fault_harness:
//
//   fault_consumer --producer PUB,REPLAY [--producer ...] --topics T1,T2
//                  --name NAME --state DIR [--commit-every N]
//                  [--crash-before-commit PER_MILLE] [--seed S]
//                  [--sabotage drop|dup|corrupt|reorder --sabotage-at N]
//                  [--check-timestamps]
//
// A named consumer (positions kept in DIR, auto_commit off) that follows the
// topics from the earliest offset and tells the harness everything, in order:
//
//   ready
//   d HEX TOPIC PART OFFSET PAYLOAD   a delivery (payload bytes outside
//                                     '!'..'~' and '%' written as %XX)
//   c                                 Commit() returned OK: every delivery above
//                                     is committed
//   e KIND HEX TOPIC PART FROM TO message    a consumer event
//   error message                     it cannot go on (exit 2)
//
// It commits after every --commit-every deliveries (default 200) and when
// idle. With --crash-before-commit, at each commit it kills itself (SIGKILL)
// with that chance in 1000 after reporting its deliveries and before
// committing them: the window at-least-once redelivers. SIGTERM: commit,
// report, close, exit 0. It dies with its parent and exits after ten minutes.
//
// --sabotage makes it misreport its N-th delivery (1-based) on purpose: the
// harness's self-test proves the checker catches each kind of fault.
//
// --check-timestamps: it also checks that record timestamps never decrease
// within a stream (from one delivery to the next, replayed or live) and
// reports each that does as a line the harness counts as an error:
//
//   error timestamp of HEX TOPIC PART went back at offset N: TS after PREV
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "brook/consumer.h"
#include "tests/fault/child_args.h"

namespace {

using namespace brook;

std::atomic<bool> g_stop{false};
std::string g_out;  // lines not yet written

struct Sabotage {
  std::string kind;  // empty: none
  uint64_t at = 0;
  uint64_t seen = 0;
  std::string held;  // reorder: the line held back
};
Sabotage g_sabotage;

bool g_check_timestamps = false;
std::map<std::string, int64_t> g_last_timestamp;  // per stream, --check-timestamps

void Flush() {
  size_t done = 0;
  while (done < g_out.size()) {
    const ssize_t n = write(1, g_out.data() + done, g_out.size() - done);
    if (n <= 0) _exit(3);
    done += static_cast<size_t>(n);
  }
  g_out.clear();
}

[[noreturn]] void Fail(const std::string& what) {
  g_out += "error " + what + "\n";
  Flush();
  std::fprintf(stderr, "fault_consumer: %s\n", what.c_str());
  _exit(2);
}

void AppendEscaped(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= '!' && c <= '~' && c != '%') {
      g_out += ch;
    } else {
      g_out += '%';
      g_out += kHex[c >> 4];
      g_out += kHex[c & 15];
    }
  }
}

const char* KindName(ConsumerEvent::Kind k) {
  switch (k) {
    case ConsumerEvent::Kind::kSkipped:
      return "skipped";
    case ConsumerEvent::Kind::kNewProducer:
      return "new_producer";
    case ConsumerEvent::Kind::kTailLost:
      return "tail_lost";
    case ConsumerEvent::Kind::kAssigned:
      return "assigned";
    case ConsumerEvent::Kind::kRevoked:
      return "revoked";
    case ConsumerEvent::Kind::kDataLoss:
      return "data_loss";
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 4;
  signal(SIGTERM, [](int) { g_stop = true; });
  brook::fault::ChildArgs args;
  std::string err;
  if (!args.Parse(argc, argv, &err)) Fail(err);

  ConsumerOptions o;
  for (const std::string& pr : args.All("producer")) {
    const size_t comma = pr.find(',');
    if (comma == std::string::npos) Fail("--producer wants PUB,REPLAY");
    o.producers.emplace_back(pr.substr(0, comma), pr.substr(comma + 1));
  }
  o.topics = args.List("topics");
  o.name = args.Str("name");
  o.state_dir = args.Str("state");
  o.auto_commit = false;
  // The library's own account, in the consumer's log (the harness keeps it).
  o.logger = [](LogLevel level, std::string_view msg) {
    if (level >= LogLevel::kInfo)
      std::fprintf(stderr, "fault_consumer: %.*s\n", static_cast<int>(msg.size()), msg.data());
  };
  o.request_timeout = std::chrono::milliseconds(500);
  const uint64_t commit_every = std::max<uint64_t>(1, args.U64("commit-every", 200));
  const uint64_t crash_per_mille = args.U64("crash-before-commit", 0);
  std::mt19937_64 rng(args.U64("seed", 1));

  std::unique_ptr<Consumer> c;
  Status s = Consumer::Open(o, &c);
  if (!s.ok()) Fail("Consumer::Open: " + s.ToString());
  g_out += "ready\n";
  Flush();

  PollHandler h;
  g_sabotage.kind = args.Str("sabotage");
  g_sabotage.at = args.U64("sabotage-at", 1);
  g_check_timestamps = args.Has("check-timestamps");
  h.on_record = [](const StreamId& st, const RecordView& r) {
    if (g_check_timestamps) {
      const std::string stream =
          st.producer.ToHex() + " " + st.topic + " " + std::to_string(st.partition);
      auto [last, first] = g_last_timestamp.emplace(stream, r.timestamp_ns);
      if (!first && r.timestamp_ns < last->second)
        g_out += "error timestamp of " + stream + " went back at offset " +
                 std::to_string(r.offset) + ": " + std::to_string(r.timestamp_ns) + " after " +
                 std::to_string(last->second) + "\n";
      last->second = r.timestamp_ns;
    }
    Sabotage& sb = g_sabotage;
    const bool now = !sb.kind.empty() && ++sb.seen == sb.at;
    const size_t mark = g_out.size();
    g_out += "d " + st.producer.ToHex() + " " + st.topic + " " + std::to_string(st.partition) +
             " " + std::to_string(r.offset) + " ";
    if (now && sb.kind == "corrupt") {
      std::string bad(r.payload);
      if (!bad.empty()) bad[bad.size() / 2] ^= 0x01;
      AppendEscaped(bad);
    } else {
      AppendEscaped(r.payload);
    }
    g_out += '\n';
    if (!sb.held.empty()) {
      g_out += sb.held;  // reorder: after the record that followed it
      sb.held.clear();
    }
    if (!now) return;
    if (sb.kind == "drop") {
      g_out.resize(mark);
    } else if (sb.kind == "dup") {
      g_out += g_out.substr(mark);
    } else if (sb.kind == "reorder") {
      sb.held = g_out.substr(mark);
      g_out.resize(mark);
    }
  };
  h.on_event = [](const ConsumerEvent& e) {
    std::string msg = e.message;
    for (char& ch : msg)
      if (ch == '\n') ch = ' ';
    g_out += std::string("e ") + KindName(e.kind) + " " + e.stream.producer.ToHex() + " " +
             (e.stream.topic.empty() ? "-" : e.stream.topic) + " " +
             std::to_string(e.stream.partition) + " " + std::to_string(e.from) + " " +
             std::to_string(e.to) + " " + msg + "\n";
  };

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  uint64_t uncommitted = 0;
  auto last_commit = std::chrono::steady_clock::now();
  while (!g_stop && std::chrono::steady_clock::now() < deadline) {
    size_t n = 0;
    s = c->Poll(h, 500, std::chrono::milliseconds(50), &n);
    if (!s.ok()) Fail("Poll: " + s.ToString());
    Flush();
    uncommitted += n;
    const auto now = std::chrono::steady_clock::now();
    if (uncommitted >= commit_every ||
        (uncommitted > 0 && now - last_commit > std::chrono::milliseconds(200))) {
      if (crash_per_mille > 0 && !g_stop && rng() % 1000 < crash_per_mille) {
        kill(getpid(), SIGKILL);  // delivered and reported, not committed
      }
      s = c->Commit();
      if (!s.ok()) Fail("Commit: " + s.ToString());
      g_out += "c\n";
      Flush();
      uncommitted = 0;
      last_commit = now;
    }
  }
  s = c->Commit();
  if (!s.ok()) Fail("Commit: " + s.ToString());
  g_out += "c\n";
  Flush();
  (void)c->Close();
  return 0;
}
