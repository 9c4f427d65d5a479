// A journal restored from a backup (docs/OPERATIONS.md, "Backups"): the
// producer's data.mdb is copied while it is down, the producer goes on and
// publishes more, a consumer reads it all, then the copy is put back in
// place and the producer publishes new records at the same offsets. Every
// consumer that read past the copy must be told (kTailLost, from the
// copy's end) and then receive the new records; what the restore threw away
// is counted as discarded, and nothing else may be lost or mistaken.
#include <filesystem>

#include "tests/fault/round_util.h"

namespace brook::fault {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

RoundResult JournalRestore(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  History h;
  h.AllowTailLost(true);
  Cluster cl(c.bin_dir, c.scratch, &h, c.seed);
  ProducerSpec p = StandardProducer(c, "p0");
  p.durability = c.round % 2 ? "nosync" : "fsync";
  p.partitions = 2;
  p.count = Uniform(rng, 50, 400);
  ConsumerSpec s = StandardConsumer(c, "c0", {p});
  cl.AddProducer(p);
  cl.AddConsumer(s);
  // Whether the consumer stays connected through the restore, or is down.
  const bool connected = rng() % 2 == 0;
  auto publish_all = [&](const char* what) {
    if (!StartOrViolate(&cl, 'p', 0, &r)) return false;
    if (!cl.PumpUntil([&] { return cl.producer_done(0) && h.CaughtUp("c0"); }, seconds(30))) {
      r.Violation(std::string("the consumer did not receive ") + what + " in 30 s");
      return false;
    }
    return true;
  };
  if (!StartOrViolate(&cl, 'c', 0, &r) || !publish_all("the first records")) return r;
  cl.KillProducer(0);
  std::vector<uint64_t> copy_end(p.partitions);
  for (uint32_t part = 0; part < p.partitions; ++part)
    copy_end[part] = h.AckedEnd("p0", "t0", part);
  fs::create_directories(c.scratch + "/backup");
  fs::copy_file(p.journal + "/data.mdb", c.scratch + "/backup/data.mdb");

  // The producer goes on without the copy; the consumer reads everything.
  cl.producer_spec(0).count = Uniform(rng, 1, 400);
  if (!publish_all("the records after the copy")) return r;
  cl.KillProducer(0);
  if (!connected) cl.StopConsumer(0);

  // The copy back in place: what was published after it is gone.
  fs::copy_file(c.scratch + "/backup/data.mdb", p.journal + "/data.mdb",
                fs::copy_options::overwrite_existing);
  uint64_t read_past = 0;
  for (uint32_t part = 0; part < p.partitions; ++part) {
    if (h.AckedEnd("p0", "t0", part) > copy_end[part]) ++read_past;
    h.DiscardFrom("p0", "t0", part, copy_end[part]);
  }
  cl.producer_spec(0).count = Uniform(rng, 1, 600);
  if (!StartOrViolate(&cl, 'p', 0, &r)) return r;
  cl.Pump(milliseconds(Uniform(rng, 0, 300)));
  FinishRound(&cl, &h, 1, {0}, {"c0"}, seconds(45), &r);
  if (r.check.tail_lost_events != read_past)
    r.Violation("the consumer was told of lost tails in " +
                std::to_string(r.check.tail_lost_events) + " streams, expected " +
                std::to_string(read_past) + " (the streams it had read past the copy in)");
  r.notes.insert(r.notes.begin(), std::string(connected ? "consumer connected" : "consumer down") +
                                      ", " + std::to_string(r.check.discarded) +
                                      " acknowledged records discarded by the restore, " +
                                      std::to_string(r.check.tail_lost_events) + " kTailLost");
  return r;
}

}  // namespace

std::vector<FaultSpec> RestoreFaults() {
  return {
      {"journal_restore",
       "producer's data.mdb restored from a backup after it published more: consumers told "
       "(kTailLost) and given the new records at the reused offsets",
       JournalRestore, 2, 200},
  };
}

}  // namespace brook::fault
