// Faults 1-3 of docs/RELIABILITY.md, and the soak: processes killed (at
// random moments and at the library's named crash points), consumers killed
// between delivery and commit, consumers paused while records go by.
#include <sys/wait.h>

#include <csignal>

#include "tests/fault/round_util.h"

namespace brook::fault {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const char* const kDurabilities[] = {"fsync", "nometasync", "nosync"};
const char* const kCrashPoints[] = {"journal.mid_batch", "journal.after_commit",
                                    "journal.after_send"};

struct OneToOne {
  History history;
  Cluster cluster;
  ProducerSpec producer;
  ConsumerSpec consumer;
  OneToOne(const RoundConfig& c, const char* durability)
      : cluster(c.bin_dir, c.scratch, &history, c.seed) {
    producer = StandardProducer(c, "p0");
    producer.durability = durability;
    producer.topics = {"t0", "t1"};
    producer.partitions = 2;
    producer.rate = c.long_run ? 4000 : 2000;
    consumer = StandardConsumer(c, "c0", {producer});
    cluster.AddProducer(producer);
    cluster.AddConsumer(consumer);
  }
  void Finish(const RoundConfig& c, RoundResult* r) {
    FinishRound(&cluster, &history, 1, {0}, {"c0"}, seconds(c.long_run ? 120 : 45), r);
  }
};

// Pumps for `d`, restarting any consumer that died by itself.
void RunFor(Cluster* cl, milliseconds d, RoundResult* r) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    cl->Pump(milliseconds(20));
    for (auto [kind, i] : cl->TakeExited()) {
      if (kind == 'c') {
        StartOrViolate(cl, 'c', i, r);
      } else {
        r->Violation("producer " + cl->producer_spec(i).tag + " died by itself");
      }
    }
  }
}

RoundResult ProducerKill(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  OneToOne s(c, kDurabilities[c.round % 3]);
  if (!StartOrViolate(&s.cluster, 'p', 0, &r) || !StartOrViolate(&s.cluster, 'c', 0, &r)) return r;
  const int kills = c.long_run ? 4 : 3;
  for (int k = 0; k < kills; ++k) {
    RunFor(&s.cluster, milliseconds(Uniform(rng, 50, c.long_run ? 800 : 500)), &r);
    s.cluster.KillProducer(0);
    RunFor(&s.cluster, milliseconds(Uniform(rng, 0, 300)), &r);
    if (!StartOrViolate(&s.cluster, 'p', 0, &r)) return r;
  }
  RunFor(&s.cluster, milliseconds(200), &r);
  s.Finish(c, &r);
  r.notes.insert(r.notes.begin(), std::string("durability ") + kDurabilities[c.round % 3]);
  return r;
}

RoundResult ProducerCrashPoint(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  OneToOne s(c, kDurabilities[(c.round / 3) % 3]);
  s.cluster.producer_spec(0).max_batch = 32;
  if (!StartOrViolate(&s.cluster, 'c', 0, &r)) return r;
  const int crashes = c.long_run ? 3 : 2;
  for (int k = 0; k < crashes; ++k) {
    const char* point = kCrashPoints[(c.round + k) % 3];
    const uint64_t n = Uniform(rng, 1, 80);
    s.cluster.producer_spec(0).crash_point = std::string(point) + ":" + std::to_string(n);
    if (!StartOrViolate(&s.cluster, 'p', 0, &r)) return r;
    // It kills itself at the point; bounded, in case it never gets there.
    const bool died =
        s.cluster.PumpUntil([&] { return !s.cluster.producer_running(0); }, seconds(20));
    const int st = s.cluster.producer_exit_status(0);
    if (!died || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
      r.Violation(std::string("producer did not die at crash point ") + point + ":" +
                  std::to_string(n));
    s.cluster.TakeExited();
    RunFor(&s.cluster, milliseconds(Uniform(rng, 0, 200)), &r);
  }
  if (!StartOrViolate(&s.cluster, 'p', 0, &r)) return r;
  RunFor(&s.cluster, milliseconds(200), &r);
  s.Finish(c, &r);
  return r;
}

RoundResult ConsumerKill(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  OneToOne s(c, kDurabilities[c.round % 3]);
  // Kills itself between delivering and committing at 1 commit in 8.
  s.cluster.consumer_spec(0).crash_before_commit = 125;
  s.cluster.consumer_spec(0).commit_every = Uniform(rng, 10, 300);
  if (!StartOrViolate(&s.cluster, 'p', 0, &r) || !StartOrViolate(&s.cluster, 'c', 0, &r)) return r;
  const int kills = c.long_run ? 5 : 3;
  for (int k = 0; k < kills; ++k) {
    RunFor(&s.cluster, milliseconds(Uniform(rng, 50, 700)), &r);
    s.cluster.KillConsumer(0);
    s.cluster.TakeExited();
    RunFor(&s.cluster, milliseconds(Uniform(rng, 0, 300)), &r);
    if (!s.cluster.consumer_running(0) && !StartOrViolate(&s.cluster, 'c', 0, &r)) return r;
  }
  RunFor(&s.cluster, milliseconds(300), &r);
  s.Finish(c, &r);
  r.notes.insert(r.notes.begin(),
                 std::to_string(s.cluster.consumer_starts(0)) + " consumer starts");
  return r;
}

RoundResult ConsumerPause(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  OneToOne s(c, kDurabilities[c.round % 3]);
  // 100,000 records (long) or 20,000 go by while the consumer is stopped,
  // flat out: far beyond its socket's high-water mark.
  const uint64_t total = c.long_run ? 100000 : 20000;
  ProducerSpec& p = s.cluster.producer_spec(0);
  p.rate = 0;
  p.max_batch = 64;
  p.count = total / (p.topics.size() * p.partitions);
  if (!StartOrViolate(&s.cluster, 'c', 0, &r)) return r;
  RunFor(&s.cluster, milliseconds(100), &r);
  s.cluster.PauseConsumer(0);
  if (!StartOrViolate(&s.cluster, 'p', 0, &r)) return r;
  if (!s.cluster.PumpUntil([&] { return s.cluster.producer_done(0); }, seconds(120)))
    r.Violation("the producer did not publish its records in 120 s");
  RunFor(&s.cluster, milliseconds(Uniform(rng, 0, 500)), &r);
  s.cluster.ResumeConsumer(0);
  if (rng() % 2 == 0) {
    // And restarted part way through catching up.
    RunFor(&s.cluster, milliseconds(Uniform(rng, 10, 400)), &r);
    s.cluster.KillConsumer(0);
    s.cluster.TakeExited();
    if (!StartOrViolate(&s.cluster, 'c', 0, &r)) return r;
  }
  s.Finish(c, &r);
  return r;
}

// Everything at once, for soak_seconds: two producers (fsync and nosync),
// two consumers following both, and every few hundred milliseconds one fault
// from the list above.
RoundResult Soak(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  History history;
  Cluster cl(c.bin_dir, c.scratch, &history, c.seed);
  std::vector<ProducerSpec> ps;
  for (int i = 0; i < 2; ++i) {
    ProducerSpec p = StandardProducer(c, "p" + std::to_string(i));
    p.durability = i == 0 ? "fsync" : "nosync";
    p.topics = {"t0", "t1", "t2"};
    p.partitions = 2;
    p.rate = 1500;
    // Ten minutes at this rate is about 0.7 GB a journal: beyond the
    // child's default 1 GiB map with LMDB's overhead.
    p.max_map = 16ull << 30;
    ps.push_back(p);
    cl.AddProducer(p);
  }
  for (int i = 0; i < 2; ++i) {
    ConsumerSpec s = StandardConsumer(c, "c" + std::to_string(i), ps);
    s.crash_before_commit = 20;
    s.commit_every = 100 + 400 * i;
    cl.AddConsumer(s);
  }
  for (int i = 0; i < 2; ++i)
    if (!StartOrViolate(&cl, 'p', i, &r) || !StartOrViolate(&cl, 'c', i, &r)) return r;
  uint64_t faults = 0;
  const auto end =
      std::chrono::steady_clock::now() + milliseconds(static_cast<int64_t>(c.soak_seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    RunFor(&cl, milliseconds(Uniform(rng, 200, 2000)), &r);
    const int who = static_cast<int>(rng() % 2);
    ++faults;
    switch (rng() % 5) {
      case 0:  // producer killed at a random moment
        cl.KillProducer(who);
        RunFor(&cl, milliseconds(Uniform(rng, 0, 500)), &r);
        StartOrViolate(&cl, 'p', who, &r);
        break;
      case 1:  // producer killed at a crash point
        cl.producer_spec(who).crash_point =
            std::string(kCrashPoints[rng() % 3]) + ":" + std::to_string(Uniform(rng, 1, 40));
        cl.KillProducer(who);
        StartOrViolate(&cl, 'p', who, &r);
        cl.PumpUntil([&] { return !cl.producer_running(who); }, seconds(10));
        cl.TakeExited();
        StartOrViolate(&cl, 'p', who, &r);
        break;
      case 2:  // consumer killed
        cl.KillConsumer(who);
        cl.TakeExited();
        RunFor(&cl, milliseconds(Uniform(rng, 0, 500)), &r);
        if (!cl.consumer_running(who)) StartOrViolate(&cl, 'c', who, &r);
        break;
      default:  // consumer paused
        cl.PauseConsumer(who);
        for (int k = 0; k < 2; ++k) cl.Pump(milliseconds(Uniform(rng, 100, 1500)));
        cl.ResumeConsumer(who);
        break;
    }
  }
  FinishRound(&cl, &history, 2, {0, 1}, {"c0", "c1"}, seconds(120), &r);
  r.notes.insert(r.notes.begin(), std::to_string(faults) + " faults in " +
                                      std::to_string(static_cast<int>(c.soak_seconds)) + " s");
  return r;
}

}  // namespace

std::vector<FaultSpec> ProcessFaults() {
  return {
      {"producer_kill", "producer SIGKILLed at random moments, restarted (each durability mode)",
       ProducerKill, 2, 200},
      {"producer_crash_point",
       "producer killed at named points: mid-batch, after commit before send, after send "
       "before acknowledging",
       ProducerCrashPoint, 2, 200},
      {"consumer_kill", "consumer SIGKILLed, also between delivery and commit; restarted",
       ConsumerKill, 2, 200},
      {"consumer_pause",
       "consumer SIGSTOPped while 20k (long: 100k) records go by, resumed, "
       "sometimes restarted",
       ConsumerPause, 1, 200},
      {"soak", "all of the above at random on 2 producers and 2 consumers for the soak's length",
       Soak, 1, 1},
  };
}

}  // namespace brook::fault
