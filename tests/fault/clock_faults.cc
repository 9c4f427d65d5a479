// Fault 8 of docs/RELIABILITY.md: the wall clock jumps under the producer and
// the consumer while records go by.
//  - clock_jump: both children run under libfaketime (LD_PRELOAD, the library
//    for threaded programs) with only the wall clock faked: CLOCK_MONOTONIC
//    and CLOCK_BOOTTIME stay real. The harness rewrites the offset file that
//    libfaketime reads at every wall-clock call, so the children's wall clock
//    jumps ahead (hours, days, a year) and back (minutes, hours, a day), and
//    back to the real time, several times a round. The producer's topics keep
//    records for an hour by age (--retention-age-ms). The clock stays ahead
//    for more than a retention pass, and the consumer is sometimes down from
//    a little before such a jump to after it, so that it has to replay
//    records that a retention misled by the clock would remove.
//
// What must hold:
//  - the checker's counts: every acknowledged record delivered, in order, no
//    duplicate beyond the uncommitted window, offsets consistent, and no loss
//    event (kSkipped above all: a jump ahead must not let age retention empty
//    the journal under the consumer);
//  - progress after every backward jump, which comes with a short proxy cut
//    or a producer restart (timeouts and heartbeats run on the monotonic
//    clock): the producer acknowledges again and the consumer delivers
//    everything acknowledged within kRecovery;
//  - record timestamps never decrease within a stream (the consumer checks
//    every delivery; the harness reads the whole journal after the round);
//  - the journal still holds every record (low watermark 0) after the round;
//  - and libfaketime took effect: the journal holds a record stamped by the
//    clock set ahead (else the round proves nothing and fails).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "brook/journal.h"
#include "tests/fault/round_util.h"
#include "tests/tcp_proxy.h"

namespace brook::fault {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kMinute = 60, kHour = 60 * kMinute, kDay = 24 * kHour;  // in seconds
constexpr int64_t kNsPerSecond = 1'000'000'000;
// How long the consumer may take to deliver everything acknowledged after a
// jump back with a cut or a restart: what a cut alone gets (network_cut).
constexpr milliseconds kRecovery{15000};
// The topics' age limit: far beyond a round, far below the jumps ahead.
constexpr int64_t kRetentionMs = 3'600'000;

const char* const kDurabilities[] = {"fsync", "nometasync", "nosync"};

// libfaketimeMT: the children are threaded, and the plain library parses
// the offset file into one static buffer without a lock.
std::string FindLibFaketime() {
  for (const char* dir :
       {"/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime",
        "/usr/lib/faketime", "/usr/local/lib/faketime"}) {
    const std::string lib = std::string(dir) + "/libfaketimeMT.so.1";
    if (access(lib.c_str(), R_OK) == 0) return lib;
  }
  return "";
}

// Sets the children's wall clock to the real one plus `offset` seconds
// (libfaketime's "+N"/"-N"). Written beside and renamed over the file, so a
// child never reads half of it.
std::string SetClockOffset(const std::string& file, int64_t offset) {
  const std::string tmp = file + ".new";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return "cannot write " + tmp;
  const bool ok = std::fprintf(f, "%+lld\n", static_cast<long long>(offset)) > 0;
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), file.c_str()) != 0)
    return "cannot write " + file;
  return "";
}

int64_t RealNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string OffsetText(int64_t s) {
  const int64_t a = s < 0 ? -s : s;
  std::string text =
      a >= 300 * kDay ? std::to_string(a / kDay) + "d"
      : a >= kDay     ? std::to_string(a / kDay) + "d" + std::to_string(a % kDay / kHour) + "h"
      : a >= kHour    ? std::to_string(a / kHour) + "h" + std::to_string(a % kHour / kMinute) + "m"
                      : std::to_string(a / kMinute) + "m";
  return (s < 0 ? "-" : "+") + text;
}

// Where the clock goes next, in seconds from the real time: from the real
// time ahead or behind, from ahead back (to the real time or behind it),
// from behind forward (to the real time or ahead of it).
int64_t NextOffset(int64_t offset, std::mt19937_64& rng) {
  const auto ahead = [&] {
    switch (rng() % 3) {
      case 0:
        return static_cast<int64_t>(Uniform(rng, 2, 5)) * kHour;
      case 1:
        return static_cast<int64_t>(Uniform(rng, 2, 6)) * kDay;
      default:
        return 365 * kDay + static_cast<int64_t>(Uniform(rng, 0, 30)) * kDay;
    }
  };
  const auto behind = [&] {
    switch (rng() % 3) {
      case 0:
        return -static_cast<int64_t>(Uniform(rng, 5, 50)) * kMinute;
      case 1:
        return -static_cast<int64_t>(Uniform(rng, 2, 6)) * kHour;
      default:
        return -kDay;
    }
  };
  const bool to_real = rng() % 3 == 0;
  if (offset == 0) return rng() % 2 ? ahead() : behind();
  if (to_real) return 0;
  return offset > 0 ? behind() : ahead();
}

struct Streams {
  std::string tag;
  std::vector<std::string> topics;
  uint32_t partitions = 0;

  // Acknowledged records so far, over every stream.
  uint64_t Acked(const History& h) const {
    uint64_t n = 0;
    for (const std::string& t : topics)
      for (uint32_t p = 0; p < partitions; ++p) n += h.AckedEnd(tag, t, p);
    return n;
  }
  // The consumer has delivered, in its current incarnation's order, every
  // record up to `ends` (AckedEnd per stream, in topic and partition order).
  bool Delivered(const History& h, const std::string& consumer,
                 const std::vector<uint64_t>& ends) const {
    size_t k = 0;
    for (const std::string& t : topics)
      for (uint32_t p = 0; p < partitions; ++p)
        if (h.ConsumerNext(consumer, tag, t, p) < ends[k++]) return false;
    return true;
  }
  std::vector<uint64_t> Ends(const History& h) const {
    std::vector<uint64_t> ends;
    for (const std::string& t : topics)
      for (uint32_t p = 0; p < partitions; ++p) ends.push_back(h.AckedEnd(tag, t, p));
    return ends;
  }
};

// After the round, with every child gone: the journal as the producer left
// it must still hold every record (retention removed nothing), with
// timestamps that never decrease, and one stamped at least `ahead_ns`.
void CheckJournal(const ProducerSpec& p, int64_t ahead_ns, RoundResult* r) {
  JournalOptions o;
  o.path = p.journal;
  o.create_if_missing = false;
  std::unique_ptr<Journal> j;
  Status s = Journal::Open(o, &j);
  if (!s.ok()) {
    r->Violation("reopening the journal: " + s.ToString());
    return;
  }
  int64_t newest = INT64_MIN;
  for (const std::string& topic : p.topics) {
    for (uint32_t part = 0; part < p.partitions; ++part) {
      const std::string where = topic + "/" + std::to_string(part);
      Watermarks w;
      s = j->GetWatermarks(topic, part, &w);
      if (!s.ok()) {
        r->Violation(where + ": " + s.ToString());
        continue;
      }
      if (w.low_watermark != 0)
        r->Violation("retention removed records 0.." + std::to_string(w.low_watermark - 1) +
                     " of " + where +
                     ", all under an hour old: a jump of the wall clock aged them");
      int64_t last = INT64_MIN;
      RecordBatch b;
      for (uint64_t off = w.low_watermark, reads = 0; off < w.high_watermark && reads < 100000;
           ++reads) {
        s = j->Read(topic, part, off, ReadOptions{}, &b);
        if (!s.ok() || b.empty()) {
          r->Violation("reading " + where + " at " + std::to_string(off) + ": " + s.ToString());
          break;
        }
        for (const RecordView& rec : b.records()) {
          if (rec.timestamp_ns < last)
            r->Violation("the timestamp of " + where + "@" + std::to_string(rec.offset) +
                         " is below the one before it");
          last = std::max(last, rec.timestamp_ns);
        }
        off = b.records().back().offset + 1;
      }
      newest = std::max(newest, last);
    }
  }
  if (ahead_ns > 0 && newest < ahead_ns - kNsPerSecond)
    r->Violation("no record is stamped by the clock set ahead (newest " + std::to_string(newest) +
                 ", expected at least " + std::to_string(ahead_ns) +
                 "): libfaketime did not take effect, the round proves nothing");
  (void)j->Close();
}

RoundResult ClockJump(const RoundConfig& c) {
  RoundResult r;
  const std::string lib = FindLibFaketime();
  if (lib.empty()) {
    r.not_run =
        "libfaketimeMT.so.1 not found (Debian package faketime; scripts/install-deps.sh "
        "installs it)";
    return r;
  }
  auto rng = RoundRng(c);
  const std::string clock_file = c.scratch + "/faketime.rc";
  std::string e = SetClockOffset(clock_file, 0);
  if (!e.empty()) {
    r.Violation(e);
    return r;
  }
  const std::vector<std::string> env = {"LD_PRELOAD=" + lib,
                                        "FAKETIME_TIMESTAMP_FILE=" + clock_file,
                                        "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"};

  // The producer's endpoints and the consumer's, through a proxy each.
  uint16_t ports[4];
  for (uint16_t& port : ports) port = FreeTcpPort(rng);
  if (std::set<uint16_t>(ports, ports + 4).size() != 4 || std::count(ports, ports + 4, 0) != 0) {
    r.Violation("no free TCP ports on 127.0.0.1");
    return r;
  }
  test::TcpProxy pub_proxy("127.0.0.1", ports[0], ports[2]);
  test::TcpProxy replay_proxy("127.0.0.1", ports[1], ports[3]);
  test::TcpProxy* const proxies[] = {&pub_proxy, &replay_proxy};
  for (test::TcpProxy* proxy : proxies)
    if (!(e = proxy->Start()).empty()) {
      r.Violation("proxy: " + e);
      return r;
    }

  ProducerSpec p = StandardProducer(c, "p0");
  p.pub = "tcp://127.0.0.1:" + std::to_string(ports[0]);
  p.replay = "tcp://127.0.0.1:" + std::to_string(ports[1]);
  p.durability = kDurabilities[c.round % 3];
  p.topics = {"t0", "t1"};
  p.rate = 1000;
  p.env = env;
  p.extra_args = {"--retention-age-ms", std::to_string(kRetentionMs)};
  ConsumerSpec s = StandardConsumer(c, "c0", {});
  s.producers = {{pub_proxy.endpoint(), replay_proxy.endpoint()}};
  s.topics = p.topics;
  s.env = env;
  s.extra_args = {"--check-timestamps"};
  const Streams streams{p.tag, p.topics, p.partitions};

  History h;
  std::vector<pid_t> children;
  int64_t ahead_ns = 0;  // the newest timestamp the clock set ahead must have stamped
  std::string jumps;
  int restarts = 0, cuts = 0;
  milliseconds slowest{0};
  {
    Cluster cl(c.bin_dir, c.scratch, &h, c.seed);
    cl.AddProducer(p);
    cl.AddConsumer(s);
    if (StartOrViolate(&cl, 'p', 0, &r) && StartOrViolate(&cl, 'c', 0, &r)) {
      PumpNoExits(&cl, milliseconds(300), &r);
      int64_t offset = 0;
      // `count` jumps, the last one (or one more) back to the real time.
      const int count = c.long_run ? 8 : 5;
      for (int k = 0; k <= count && r.violations == 0; ++k) {
        const int64_t next = k + 1 >= count ? 0 : NextOffset(offset, rng);
        if (next == offset) break;
        const bool back = next < offset;
        const uint64_t acked_before = streams.Acked(h);
        // Ahead, sometimes with the consumer killed a little before the
        // jump and restarted after it: it then replays from its committed
        // position, records from before the jump, which a retention misled
        // by the clock would have removed (kSkipped).
        const bool down = !back && rng() % 2 == 0;
        if (down) {
          PumpNoExits(&cl, milliseconds(Uniform(rng, 100, 500)), &r);
          cl.KillConsumer(0);
          PumpNoExits(&cl, milliseconds(Uniform(rng, 200, 600)), &r);
        }
        if (!(e = SetClockOffset(clock_file, next)).empty()) r.Violation(e);
        if (next > 0) ahead_ns = std::max(ahead_ns, RealNowNs() + next * kNsPerSecond);
        jumps += (jumps.empty() ? "" : " ") + OffsetText(next);
        offset = next;
        if (back) {
          PumpNoExits(&cl, milliseconds(Uniform(rng, 200, 600)), &r);
        } else {
          // Long enough for retention passes (one a second) to judge every
          // record by the jumped clock.
          PumpNoExits(&cl, milliseconds(Uniform(rng, 1500, 2500)), &r);
          if (down && !StartOrViolate(&cl, 'c', 0, &r)) break;
        }
        if (back && next <= 0 && rng() % 2 == 0) {
          // Restarted while the clock is behind: a journal opens trusting
          // the clock it finds (docs/JOURNAL.md), which only makes records
          // look younger.
          ++restarts;
          cl.KillProducer(0);
          PumpNoExits(&cl, milliseconds(Uniform(rng, 0, 300)), &r);
          if (!StartOrViolate(&cl, 'p', 0, &r)) break;
        } else if (back) {
          ++cuts;
          const uint64_t which = rng() % 3;  // the live stream, replays, or both
          for (size_t i = 0; i < 2; ++i)
            if (which == 2 || which == i) proxies[i]->Stop();
          PumpNoExits(&cl, milliseconds(Uniform(rng, 200, 1500)), &r);
          for (test::TcpProxy* proxy : proxies)
            if (!proxy->running() && !(e = proxy->Start()).empty())
              r.Violation("proxy restart: " + e);
        }
        // Progress: the producer acknowledges again and the consumer
        // delivers all of it, within the bound.
        const auto start = std::chrono::steady_clock::now();
        if (!cl.PumpUntil([&] { return streams.Acked(h) > acked_before; }, kRecovery))
          r.Violation("no record acknowledged for " + std::to_string(kRecovery.count()) +
                      " ms after the clock went to " + OffsetText(next));
        const std::vector<uint64_t> ends = streams.Ends(h);
        if (!cl.PumpUntil([&] { return streams.Delivered(h, "c0", ends); }, kRecovery))
          r.Violation("the consumer did not deliver what was acknowledged within " +
                      std::to_string(kRecovery.count()) + " ms after the clock went to " +
                      OffsetText(next));
        slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(
                                        std::chrono::steady_clock::now() - start));
      }
    }
    // The producer restarts now: with the clock ahead its journal would
    // open trusting that clock (docs/JOURNAL.md).
    if (!(e = SetClockOffset(clock_file, 0)).empty()) r.Violation(e);
    FinishRound(&cl, &h, 1, {0}, {"c0"}, seconds(c.long_run ? 120 : 45), &r);
    children = cl.spawned();
  }
  // What libfaketime leaves in /dev/shm when its process is killed.
  for (pid_t pid : children) {
    std::error_code ec;
    std::filesystem::remove("/dev/shm/faketime_shm_" + std::to_string(pid), ec);
    std::filesystem::remove("/dev/shm/sem.faketime_sem_" + std::to_string(pid), ec);
  }
  CheckJournal(p, ahead_ns, &r);
  r.notes.insert(r.notes.begin(), "clock " + jumps + "; " + std::to_string(restarts) +
                                      " restarts, " + std::to_string(cuts) +
                                      " cuts; slowest recovery " + std::to_string(slowest.count()) +
                                      " ms");
  return r;
}

}  // namespace

std::vector<FaultSpec> ClockFaults() {
  return {
      {"clock_jump",
       "wall clock of producer and consumer (libfaketime) jumps ahead hours to a year and back "
       "minutes to a day, with cuts and restarts; 1-hour age retention",
       ClockJump, 1, 200},
  };
}

}  // namespace brook::fault
