// Faults 5-7 of docs/RELIABILITY.md: the storage under a producer or a
// consumer runs out or goes bad.
//  - disk_full: the producer's journal on a small tmpfs that fills up
//    (needs root); without one, a tiny maximum map stands in.
//  - map_full: the journal reaches JournalOptions::max_map_size.
//  - reader_slots: more processes than LMDB's reader table has slots open the
//    journal beside the producer and die holding a read transaction.
//  - corrupt_journal, corrupt_positions: bits flipped (anywhere, or in the
//    stored records), pages zeroed (not the journal's: see kJournalHarms) or
//    the file truncated, in the journal's or the consumer's LMDB files (and
//    their lock files) while the children are stopped; then they start again.
// What each round checks is said above its function.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fault/round_util.h"

namespace brook::fault {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

const char* const kDurabilities[] = {"fsync", "nometasync", "nosync"};
constexpr uint64_t kMiB = 1u << 20;

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool Contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Children that exited by themselves since the last call are violations.
void CheckExits(Cluster* cl, RoundResult* r, const std::string& when) {
  for (auto [kind, i] : cl->TakeExited()) {
    const int st = kind == 'p' ? cl->producer_exit_status(i) : cl->consumer_exit_status(i);
    r->Violation(std::string(kind == 'p' ? "producer " : "consumer ") +
                 (kind == 'p' ? cl->producer_spec(i).tag : cl->consumer_spec(i).name) + " " +
                 DescribeStatus(st) + " by itself " + when);
  }
}

// Records acknowledged so far by the producer, over all its streams.
uint64_t AckedTotal(const History& h, const ProducerSpec& p) {
  uint64_t n = 0;
  for (const std::string& t : p.topics)
    for (uint32_t part = 0; part < p.partitions; ++part) n += h.AckedEnd(p.tag, t, part);
  return n;
}

// Every failed publish must be the typed error that says all of `must_say`
// (what happened, that nothing committed was lost, what to do); the count
// and the first message go to the notes.
void CheckFailures(const Cluster& cl, const std::vector<const char*>& must_say, RoundResult* r) {
  const std::vector<std::string>& f = cl.producer_failures(0);
  if (f.empty()) {
    r->Violation("no publish failed");
    return;
  }
  uint64_t bad = 0;
  for (const std::string& m : f) {
    bool ok = true;
    for (const char* w : must_say) ok = ok && Contains(m, w);
    if (!ok && bad++ == 0) r->Violation("a failed publish said: " + m);
  }
  if (bad > 1) r->Violation(std::to_string(bad) + " failed publishes without the expected error");
  r->notes.push_back(std::to_string(cl.producer_failure_count(0)) + " publishes failed, e.g. " +
                     f.front());
}

// With --verbose: every note of the round, not only the table's first.
template <RoundResult (*Round)(const RoundConfig&)>
RoundResult Noted(const RoundConfig& c) {
  RoundResult r = Round(c);
  if (c.verbose)
    for (const std::string& n : r.notes) std::fprintf(stderr, "    note: %s\n", n.c_str());
  return r;
}

// ---------------------------------------------------------------------------
// A tmpfs mounted for the length of a round: unmounted (lazily if something
// still holds it) when it goes out of scope, whatever happened.

class TmpfsMount {
 public:
  TmpfsMount(std::string dir, uint64_t bytes) : dir_(std::move(dir)) {
    if (geteuid() != 0) {
      error_ = "not root";
      return;
    }
    if (mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
      error_ = "mkdir " + dir_ + ": " + std::strerror(errno);
      return;
    }
    const std::string opts = "size=" + std::to_string(bytes) + ",mode=0755";
    if (mount("brook-fault", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      error_ = "mount -t tmpfs -o " + opts + " " + dir_ + ": " + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~TmpfsMount() {
    if (mounted_ && umount2(dir_.c_str(), 0) != 0) umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

  // Grows (or shrinks) the file system in place.
  std::string Resize(uint64_t bytes) {
    const std::string opts = "size=" + std::to_string(bytes);
    if (mount("brook-fault", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV,
              opts.c_str()) != 0)
      return "mount -o remount," + opts + " " + dir_ + ": " + std::strerror(errno);
    return "";
  }

 private:
  std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

// Writes `bytes` of data (not a hole: tmpfs counts what is written).
std::string WriteFiller(const std::string& path, uint64_t bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "open " + path + ": " + std::strerror(errno);
  std::string block(64 * 1024, 'f');
  for (uint64_t done = 0; done < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - done));
    const ssize_t w = write(fd, block.data(), n);
    if (w <= 0) {
      const std::string e = "write " + path + ": " + std::strerror(errno);
      close(fd);
      return e;
    }
    done += static_cast<uint64_t>(w);
  }
  close(fd);
  return "";
}

// ---------------------------------------------------------------------------
// Full storage: disk_full and map_full share the round; only the cause of the
// failures and the way room is made differ.
//
// A producer publishes flat out with --keep-going, so failed publishes are
// reported ("f" lines) and it goes on trying new records. Checked:
//  - publishes fail, each with ResourceExhausted saying which limit was hit,
//    that nothing committed was lost and what to do;
//  - the producer never dies (no SIGBUS, no abort) while full;
//  - while full, a consumer restarted from its stored positions gets every
//    acknowledged record by replay (reads go on);
//  - after room is made, publishing resumes: new acknowledgements;
//  - no acknowledgement without a commit: a failed record is never delivered
//    (the checker's unexpected), every acknowledged record is (FinishRound).

struct FullRound {
  const RoundConfig& c;
  RoundResult* r;
  History h;
  Cluster cl;
  ProducerSpec p;

  FullRound(const RoundConfig& config, RoundResult* result, const std::string& journal)
      : c(config), r(result), cl(config.bin_dir, config.scratch, &h, config.seed) {
    p = StandardProducer(c, "p0");
    p.journal = journal;
    p.durability = kDurabilities[c.round % 3];
    p.keep_going = true;
    p.rate = 0;         // flat out
    p.max_batch = 256;  // fills a few MiB in seconds even at one fsync per batch
    cl.AddProducer(p);
    cl.AddConsumer(StandardConsumer(c, "c0", {p}));
  }

  bool Start() { return StartOrViolate(&cl, 'p', 0, r) && StartOrViolate(&cl, 'c', 0, r); }

  // Until `failures` publishes failed (bounded); false if they did not.
  bool FillUp(uint64_t failures) {
    const bool full = cl.PumpUntil(
        [&] { return cl.producer_failure_count(0) >= failures || !cl.producer_running(0); },
        seconds(30));
    CheckExits(&cl, r, "while the journal filled up");
    if (!cl.producer_running(0)) {
      r->Violation("the producer died while its journal filled up: " +
                   DescribeStatus(cl.producer_exit_status(0)));
      return false;
    }
    if (!full) r->Violation("no publish failed within 30 s of publishing flat out");
    return full;
  }

  // While full: the consumer, restarted, catches up by replay.
  void ReplayWhileFull() {
    cl.KillConsumer(0);
    cl.TakeExited();
    if (!StartOrViolate(&cl, 'c', 0, r)) return;
    if (!cl.PumpUntil([&] { return h.CaughtUp("c0"); }, seconds(15)))
      r->Violation(
          "while the journal was full, a restarted consumer did not get every acknowledged "
          "record within 15 s");
    CheckExits(&cl, r, "while the journal was full");
    if (!cl.producer_running(0)) r->Violation("the producer is gone while its journal is full");
  }

  // After room was made: at least `records` new acknowledgements (bounded).
  void ExpectResumed(uint64_t acked_before, uint64_t records, const std::string& how) {
    const bool resumed =
        cl.PumpUntil([&] { return AckedTotal(h, p) >= acked_before + records; }, seconds(10));
    CheckExits(&cl, r, "after room was made");
    if (!resumed)
      r->Violation("publishing did not resume within 10 s after " + how + " (" +
                   std::to_string(AckedTotal(h, p) - acked_before) + " new acknowledgements)");
  }

  void Finish() {
    cl.KillProducer(0);
    cl.TakeExited();
    FinishRound(&cl, &h, 1, {0}, {"c0"}, seconds(30), r);
  }
};

// map_full, and disk_full where no tmpfs can be mounted: the journal's map
// starts at 1 MiB with a maximum of 2..4 MiB. Room is made by reopening with
// a maximum 4 times larger, or (odd rounds) at the same maximum with a
// retention policy of half the records each partition holds.
RoundResult MapFullRound(const RoundConfig& c, const std::string& why) {
  RoundResult r;
  if (!why.empty()) r.notes.push_back(why);
  auto rng = RoundRng(c);
  const uint64_t max_map = Uniform(rng, 2, 4) * kMiB;
  const bool by_retention = c.round % 2 == 1;
  FullRound s(c, &r, c.scratch + "/p0");
  s.cl.producer_spec(0).initial_map = kMiB;
  s.cl.producer_spec(0).max_map = max_map;
  if (!s.Start()) return r;
  if (s.FillUp(Uniform(rng, 10, 40))) {
    CheckFailures(s.cl, {"ResourceExhausted: ", "max_map_size", "nothing committed was lost"}, &r);
    s.ReplayWhileFull();
    // Room: a restart with a larger maximum, or with retention.
    s.cl.KillProducer(0);
    s.cl.TakeExited();
    ProducerSpec& p = s.cl.producer_spec(0);
    p.rate = 2000;  // enough to see it resume; the consumer keeps up
    std::string how;
    if (by_retention) {
      uint64_t least = UINT64_MAX;
      for (uint32_t part = 0; part < p.partitions; ++part)
        least = std::min(least, s.h.AckedEnd(p.tag, "t0", part));
      const uint64_t keep = std::max<uint64_t>(1, least / 2);
      p.extra_args = {"--retention-records", std::to_string(keep)};
      how = "a restart at the same maximum with retention of " + std::to_string(keep) +
            " records per partition";
    } else {
      p.max_map = max_map * 4;
      how = "a restart with max_map_size " + std::to_string(p.max_map / kMiB) + " MiB";
    }
    const uint64_t acked = AckedTotal(s.h, p);
    if (StartOrViolate(&s.cl, 'p', 0, &r)) s.ExpectResumed(acked, 500, how);
    r.notes.insert(r.notes.begin(), "map " + std::to_string(max_map / kMiB) + " MiB at most, " +
                                        p.durability + "; room by " + how);
  }
  s.Finish();
  return r;
}

RoundResult MapFull(const RoundConfig& c) { return MapFullRound(c, ""); }

// disk_full: the journal on a tmpfs of 6..12 MiB. Room is made by deleting a
// filler file of 1..3 MiB written before the journal (even rounds) or by
// growing the tmpfs (remount) to three times its size.
RoundResult DiskFull(const RoundConfig& c) {
  auto rng = RoundRng(c);
  const uint64_t size = Uniform(rng, 6, 12) * kMiB;
  const bool by_filler = c.round % 2 == 0;
  TmpfsMount disk(c.scratch + "/disk", size);  // outlives the children (declared first)
  if (!disk.mounted())
    return MapFullRound(c, "no tmpfs (" + disk.error() + "): ran the max_map_size variant");
  RoundResult r;
  const uint64_t filler = by_filler ? Uniform(rng, 1, 3) * kMiB : 0;
  const std::string filler_path = disk.dir() + "/filler";
  if (filler) {
    const std::string e = WriteFiller(filler_path, filler);
    if (!e.empty()) {
      r.Violation("filler: " + e);
      return r;
    }
  }
  {
    FullRound s(c, &r, disk.dir() + "/p0");
    if (s.Start() && s.FillUp(Uniform(rng, 10, 40))) {
      CheckFailures(
          s.cl, {"ResourceExhausted: ", "full", "nothing committed was lost", "Free space"}, &r);
      s.ReplayWhileFull();
      const uint64_t acked = AckedTotal(s.h, s.p);
      std::string how;
      if (by_filler) {
        how = "deleting a " + std::to_string(filler / kMiB) + " MiB file";
        if (unlink(filler_path.c_str()) != 0)
          r.Violation("unlink " + filler_path + ": " + std::strerror(errno));
      } else {
        how = "growing the tmpfs to " + std::to_string(3 * size / kMiB) + " MiB";
        const std::string e = disk.Resize(3 * size);
        if (!e.empty()) r.Violation(e);
      }
      // The room is at least 1 MiB: a few thousand records.
      s.ExpectResumed(acked, 2000, how);
      r.notes.insert(r.notes.begin(), "tmpfs " + std::to_string(size / kMiB) + " MiB, " +
                                          s.p.durability + "; room by " + how);
    }
    // Room for the end of the round (the producer stops publishing first).
    s.cl.KillProducer(0);
    s.cl.TakeExited();
    const std::string e = disk.Resize(64 * kMiB);
    if (!e.empty()) r.Violation(e);
    s.Finish();
  }
  return r;
}

// ---------------------------------------------------------------------------
// reader_slots

// fault_reader children (fault_reader.cc), each holding a read transaction.
class Readers {
 public:
  explicit Readers(std::string bin) : bin_(std::move(bin)) {}
  ~Readers() { KillAll(); }
  Readers(const Readers&) = delete;
  Readers& operator=(const Readers&) = delete;

  bool Spawn(const std::string& journal, uint64_t transactions, std::string* error) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      *error = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
    const std::string path = bin_ + "/fault_reader", n = std::to_string(transactions);
    const char* argv[] = {path.c_str(),     "--journal", journal.c_str(),
                          "--transactions", n.c_str(),   nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);  // the pipe as its stdout, not CLOEXEC
    pid_t pid = -1;
    const int rc =
        posix_spawn(&pid, path.c_str(), &actions, nullptr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      *error = "posix_spawn " + path + ": " + std::strerror(rc);
      close(fds[0]);
      return false;
    }
    children_.push_back(Child{pid, fds[0], ""});
    return true;
  }

  // Waits (bounded) until every child said its line or closed its pipe; the
  // lines, in spawn order ("" for none).
  std::vector<std::string> Lines(milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<Child*> who;
      for (Child& ch : children_) {
        if (ch.fd < 0 || ch.line.find('\n') != std::string::npos) continue;
        fds.push_back(pollfd{ch.fd, POLLIN, 0});
        who.push_back(&ch);
      }
      const auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
      if (fds.empty() || left <= 0) break;
      if (poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left, 100))) <= 0)
        continue;
      for (size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        char buf[512];
        const ssize_t n = read(who[k]->fd, buf, sizeof buf);
        if (n > 0) {
          who[k]->line.append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          close(who[k]->fd);
          who[k]->fd = -1;
        }
      }
    }
    std::vector<std::string> out;
    for (const Child& ch : children_) out.push_back(ch.line.substr(0, ch.line.find('\n')));
    return out;
  }

  // SIGKILL, reaped; the transactions they held stay in the reader table.
  void KillAll() {
    for (Child& ch : children_) {
      kill(ch.pid, SIGKILL);
      waitpid(ch.pid, nullptr, 0);
      if (ch.fd >= 0) close(ch.fd);
    }
    children_.clear();
  }

 private:
  struct Child {
    pid_t pid;
    int fd;
    std::string line;
  };
  std::string bin_;
  std::vector<Child> children_;
};

// The journal's lock file has 512 reader slots (journal_impl.cc). Readers
// open the journal beside the running producer, each holding 16..64 read
// transactions (a slot each), in batches of 8 processes killed together,
// until 576..704 transactions died: dead processes hold every slot. Checked:
// the producer never dies; readers get slots or say the table is full,
// nothing else; afterwards the same producer process (never restarted: an
// open clears stale slots) serves a restarted consumer's replays of every
// acknowledged record, and a new reader opens and reads.
RoundResult ReaderSlots(const RoundConfig& c) {
  RoundResult r;
  auto rng = RoundRng(c);
  History h;
  Cluster cl(c.bin_dir, c.scratch, &h, c.seed);
  ProducerSpec p = StandardProducer(c, "p0");
  p.durability = kDurabilities[c.round % 3];
  p.rate = 1000;
  cl.AddProducer(p);
  cl.AddConsumer(StandardConsumer(c, "c0", {p}));
  if (!StartOrViolate(&cl, 'p', 0, &r) || !StartOrViolate(&cl, 'c', 0, &r)) return r;
  cl.Pump(milliseconds(Uniform(rng, 100, 400)));
  // It must replay what goes by meanwhile from the producer that met the dead readers.
  cl.KillConsumer(0);
  cl.TakeExited();

  const uint64_t total = 512 + Uniform(rng, 64, 192);
  uint64_t held = 0, asked = 0, processes = 0, full = 0, other = 0;
  std::string first_other;
  Readers readers(c.bin_dir);
  for (int batch = 0; batch < 64 && asked < total; ++batch) {
    std::vector<uint64_t> wanted;
    for (int k = 0; k < 8 && asked < total; ++k) {
      wanted.push_back(std::min<uint64_t>(Uniform(rng, 16, 64), total - asked));
      asked += wanted.back();
      std::string e;
      if (!readers.Spawn(p.journal, wanted.back(), &e)) {
        r.Violation("fault_reader: " + e);
        return r;
      }
    }
    processes += wanted.size();
    const std::vector<std::string> lines = readers.Lines(seconds(10));
    for (size_t k = 0; k < lines.size(); ++k) {
      const std::string& line = lines[k];
      const size_t sp = line.rfind(' ');
      if (line.rfind("ready ", 0) == 0 && sp != std::string::npos) {
        const uint64_t n = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
        held += n;
        full += wanted[k] - std::min(wanted[k], n);
      } else if (line.rfind("full ", 0) == 0) {
        full += wanted[k];
      } else if (other++ == 0) {
        first_other = line.empty() ? "(no answer in 10 s)" : line;
      }
    }
    readers.KillAll();
    cl.Pump(milliseconds(20));
    CheckExits(&cl, &r, "while readers died holding transactions");
  }
  if (other > 0)
    r.Violation(std::to_string(other) +
                " reader(s) failed otherwise than with a full reader "
                "table, e.g.: " +
                first_other);
  r.notes.push_back(std::to_string(asked) + " read transactions in " + std::to_string(processes) +
                    " readers killed holding them (" + std::to_string(held) + " had a slot, " +
                    std::to_string(full) + " found the table full), " + p.durability);
  if (!cl.producer_running(0)) {
    r.Violation("the producer is gone: " + DescribeStatus(cl.producer_exit_status(0)));
    return r;
  }
  // The producer serves replays (and heartbeats, describes) with the table
  // full of dead readers' slots.
  cl.Pump(milliseconds(200));
  if (StartOrViolate(&cl, 'c', 0, &r) &&
      !cl.PumpUntil([&] { return h.CaughtUp("c0"); }, seconds(15)))
    r.Violation(
        "the producer that met the dead readers did not serve a restarted consumer every "
        "acknowledged record within 15 s");
  // A new reader opens.
  std::string e;
  if (readers.Spawn(p.journal, 1, &e)) {
    const std::string line = readers.Lines(seconds(10)).front();
    if (line.rfind("ready ", 0) != 0)
      r.Violation("a new reader could not open the journal after dead readers held every slot: " +
                  (line.empty() ? std::string("no answer in 10 s") : line));
    readers.KillAll();
  } else {
    r.Violation("fault_reader: " + e);
  }
  CheckExits(&cl, &r, "after the readers died");
  FinishRound(&cl, &h, 1, {0}, {"c0"}, seconds(30), &r);
  return r;
}

// ---------------------------------------------------------------------------
// corrupt_journal, corrupt_positions

// How a file is damaged.
enum class Harm {
  kFlipBits,    // 1..8 bits at random offsets anywhere
  kRotRecords,  // 1..8 bits inside stored fault payloads (bit rot in the data)
  kZeroPage,    // a 4 KiB page zeroed (a lost sector)
  kTruncate,    // cut at a random length, on a page boundary or not
};

// Damages `path` with one of `harms` (chosen by rng); says what it did.
std::string Damage(const std::string& path, const std::vector<Harm>& harms, std::mt19937_64& rng) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return path + " is missing";
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const std::string name = path.substr(path.rfind('/') + 1);
  if (size == 0) return name + " is empty";
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  std::string what;
  Harm harm = harms[rng() % harms.size()];
  std::vector<uint64_t> payloads;  // where stored payloads start
  if (harm == Harm::kRotRecords) {
    const std::string bytes = ReadFile(path);
    for (size_t at = bytes.find("F.p0."); at != std::string::npos && payloads.size() < 100000;
         at = bytes.find("F.p0.", at + 1))
      payloads.push_back(at);
    if (payloads.empty()) harm = Harm::kFlipBits;
  }
  if (harm == Harm::kFlipBits || harm == Harm::kRotRecords) {
    const uint64_t n = Uniform(rng, 1, 8);
    what = name + ": " + std::to_string(n) + " bit(s) flipped" +
           (harm == Harm::kRotRecords ? " in stored records" : "") + " at";
    for (uint64_t k = 0; k < n; ++k) {
      // In a record: within the 20 bytes from its payload's start.
      const off_t at = static_cast<off_t>(harm == Harm::kRotRecords
                                              ? payloads[rng() % payloads.size()] + rng() % 20
                                              : rng() % size);
      unsigned char b = 0;
      if (pread(fd, &b, 1, at) != 1) continue;
      b ^= static_cast<unsigned char>(1u << (rng() % 8));
      if (pwrite(fd, &b, 1, at) != 1) continue;
      what += " " + std::to_string(at);
    }
  } else if (harm == Harm::kZeroPage) {
    const uint64_t pages = (size + 4095) / 4096;
    const uint64_t page = rng() % pages;
    const std::string zeros(4096, '\0');
    const size_t n = static_cast<size_t>(std::min<uint64_t>(4096, size - page * 4096));
    if (pwrite(fd, zeros.data(), n, static_cast<off_t>(page * 4096)) != static_cast<ssize_t>(n))
      what = "zeroing failed: " + std::string(std::strerror(errno));
    else
      what = name + ": page " + std::to_string(page) + " of " + std::to_string(pages) + " zeroed";
  } else {
    const uint64_t len = rng() % 2 ? rng() % size : (rng() % ((size + 4095) / 4096)) * 4096;
    if (ftruncate(fd, static_cast<off_t>(len)) != 0)
      what = "truncate failed: " + std::string(std::strerror(errno));
    else
      what = name + ": truncated from " + std::to_string(size) + " to " + std::to_string(len);
  }
  close(fd);
  return what;
}

// A child that refused to start must have exited 2 after an "error" line
// saying what is wrong with which file; a signal is a crash.
void JudgeRefusal(const Cluster& cl, char kind, const std::string& error, size_t errors_before,
                  const std::vector<const char*>& names_one_of, RoundResult* r) {
  const int st = kind == 'p' ? cl.producer_exit_status(0) : cl.consumer_exit_status(0);
  const std::string who = kind == 'p' ? "producer" : "consumer";
  if (WIFSIGNALED(st)) {
    r->Violation(who + " crashed on the damaged files: " + DescribeStatus(st));
    return;
  }
  std::string line;
  for (size_t i = errors_before; i < cl.errors().size(); ++i)
    if (Contains(cl.errors()[i], "error ")) line = cl.errors()[i];
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || line.empty()) {
    r->Violation(who + " stopped without an error line and exit 2: " + error);
    return;
  }
  bool named = false;
  for (const char* n : names_one_of) named = named || Contains(line, n);
  if (!named) r->Violation(who + "'s error does not name the damaged file: " + line);
  if (!Contains(line, "DataLoss") && !Contains(line, "FailedPrecondition") &&
      !Contains(line, "ResourceExhausted") && !Contains(line, "Internal"))
    r->Violation(who + "'s error has no status code: " + line);
  r->notes.push_back(who + " refused: " + line.substr(0, 240));
}

// Phase 1 of both rounds: records published, delivered and committed; then
// the children are stopped.
struct CorruptRound {
  const RoundConfig& c;
  RoundResult* r;
  std::mt19937_64 rng;
  History h;
  Cluster cl;
  ProducerSpec p;

  CorruptRound(const RoundConfig& config, RoundResult* result)
      : c(config),
        r(result),
        rng(RoundRng(config)),
        cl(config.bin_dir, config.scratch, &h, config.seed) {
    p = StandardProducer(c, "p0");
    p.durability = kDurabilities[c.round % 3];
    p.count = Uniform(rng, 200, 3000);
    p.keep_going = true;
    cl.AddProducer(p);
    cl.AddConsumer(StandardConsumer(c, "c0", {p}));
    cl.AddConsumer(StandardConsumer(c, "c1", {p}));  // phase 2 only: a fresh reader of it all
  }

  bool Phase1() {
    if (!StartOrViolate(&cl, 'p', 0, r) || !StartOrViolate(&cl, 'c', 0, r)) return false;
    if (!cl.PumpUntil([&] { return cl.producer_done(0) && h.CaughtUp("c0"); }, seconds(30))) {
      r->Violation("before the damage: the consumer did not get every record in 30 s");
      return false;
    }
    if (!cl.StopConsumer(0)) r->Violation("before the damage: the consumer did not stop cleanly");
    cl.KillProducer(0);
    CheckExits(&cl, r, "before the damage");
    h.AllowLossEvents(true);  // said, not silent: judged below
    return true;
  }

  // Runs the consumers in `which` (started already) until each caught up or
  // `d` passed; each that did not must have said why: a data_loss event
  // (ConsumerEvent::kDataLoss) naming the damaged record it stopped at.
  void Drain(const std::vector<int>& which, milliseconds d) {
    auto all = [&] {
      for (int i : which)
        if (cl.consumer_running(i) && !h.CaughtUp(cl.consumer_spec(i).name)) return false;
      return true;
    };
    cl.PumpUntil(all, d);
    for (int i : which) {
      const std::string& name = cl.consumer_spec(i).name;
      if (!cl.consumer_running(i) || h.CaughtUp(name)) continue;
      if (h.DataLossEvents(name) > 0) {
        r->notes.push_back("consumer " + name + " stopped at a damaged record (data_loss event)");
      } else {
        r->Violation("consumer " + name +
                     " did not get every acknowledged record and had no data_loss event");
      }
    }
  }

  // Stops what runs; exits by signal are crashes. Judges the history: no
  // record may be delivered but as published (unexpected, inconsistent), no
  // offset skipped silently (reordered). Loss events (a damaged producer id
  // seen as a new producer, a lost tail) are said, not silent: allowed.
  void End(const std::vector<int>& consumers) {
    for (int i : consumers) {
      if (!cl.consumer_running(i)) continue;
      if (!cl.StopConsumer(i)) {
        const int st = cl.consumer_exit_status(i);
        r->Violation("consumer " + cl.consumer_spec(i).name +
                     " did not stop cleanly: " + DescribeStatus(st));
      }
    }
    cl.Pump(milliseconds(50));
    CheckExits(&cl, r, "after the damage");
    if (cl.producer_running(0)) cl.KillProducer(0);
    r->check = h.Check({});
  }
};

const std::vector<Harm> kAllHarms = {Harm::kFlipBits, Harm::kZeroPage, Harm::kTruncate};
// A zeroed page of the journal's B-trees makes LMDB 0.9 abort (mdb.c:
// "Assertion 'IS_LEAF(mp)' failed in mdb_cursor_next()") when a cursor steps
// onto it, which brook cannot catch: documented in docs/JOURNAL.md
// ("Damage"), and left out here. Bits flipped anywhere may hit B-tree pages
// too, rarely; flips inside the records are what brook's checksums answer.
const std::vector<Harm> kJournalHarms = {Harm::kFlipBits, Harm::kRotRecords, Harm::kRotRecords,
                                         Harm::kTruncate};

// Whether LMDB alone, with no brook code, crashes reading `dir`'s data.mdb:
// mdb_dump -a of it (every database, every record), with 20 s to finish.
// Returns how it died, or "" when it did not. LMDB 0.9 keeps no page
// checksums, so bits flipped in a B-tree page can send it to a bad address
// or an assertion, which no caller can catch (docs/JOURNAL.md, "Damage").
std::string LmdbItselfCrashes(const std::string& dir) {
  const pid_t pid = fork();
  if (pid < 0) return "";
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    alarm(20);
    execlp("mdb_dump", "mdb_dump", "-a", dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return "";
  return WIFSIGNALED(st) ? DescribeStatus(st) : "";
}

// A producer that died by a signal on the damaged journal is a violation,
// unless LMDB alone dies on the same file (`pristine`: a copy of the damaged
// data.mdb taken before anything opened it). Then that crash, and the
// consumers left short by it, are LMDB's limitation: noted, not counted.
// `died`: the producer had stopped by itself before the round stopped it.
void AttributeCrashToLmdb(const Cluster& cl, bool died, const std::string& pristine,
                          size_t notes_before, RoundResult* r) {
  const int st = cl.producer_exit_status(0);
  if (!died || !WIFSIGNALED(st) || WTERMSIG(st) == SIGKILL) return;
  const std::string how = LmdbItselfCrashes(pristine);
  if (how.empty()) return;
  for (size_t i = notes_before; i < r->notes.size(); ++i) {
    std::string& n = r->notes[i];
    if (Contains(n, "producer p0") || Contains(n, "producer crashed") ||
        Contains(n, "had no data_loss event")) {
      --r->violations;
      n = "(LMDB's, not counted) " + n;
    }
  }
  r->notes.push_back("LMDB itself crashes reading this data.mdb (mdb_dump -a " + how +
                     "): bits flipped in a B-tree page, which LMDB 0.9 cannot detect");
}

// corrupt_journal: the producer published 200..3000 records per stream, the
// consumer delivered and committed them; both stopped. data.mdb (and in
// half the rounds lock.mdb) is damaged. The producer restarts on it, to
// publish 100 more per stream: it refuses with an error naming the problem
// and exits 2 (accepted, noted), or runs. Then the consumer resumes from its
// positions and a new one reads everything from the earliest offset. No
// crash; nothing delivered that was not published as it was (CRC-checked
// payloads); no offset skipped; a consumer that stops short says it met
// damage. Loss events (a new producer id, a lost tail) are noted. A crash
// that LMDB alone reproduces on the damaged file is noted as LMDB's.
RoundResult CorruptJournal(const RoundConfig& c) {
  RoundResult r;
  CorruptRound s(c, &r);
  if (!s.Phase1()) return r;
  r.notes.push_back(s.p.durability + ", " + std::to_string(s.p.count) + " records per stream; " +
                    Damage(s.p.journal + "/data.mdb", kJournalHarms, s.rng));
  const std::string pristine = c.scratch + "/damaged-data";
  std::filesystem::create_directories(pristine);
  std::filesystem::copy_file(s.p.journal + "/data.mdb", pristine + "/data.mdb");
  if (s.rng() % 2) r.notes.push_back(Damage(s.p.journal + "/lock.mdb", kAllHarms, s.rng));
  const size_t notes_before = r.notes.size();
  s.cl.producer_spec(0).count = 100;
  const size_t errors_before = s.cl.errors().size();
  std::string error;
  if (!s.cl.StartProducer(0, &error)) {
    if (s.cl.producer_running(0)) {
      r.Violation("producer on the damaged journal: " + error);
    } else {
      JudgeRefusal(s.cl, 'p', error, errors_before, {"data.mdb", s.p.journal.c_str()}, &r);
    }
    s.cl.TakeExited();
    s.End({});
    AttributeCrashToLmdb(s.cl, true, pristine, notes_before, &r);
    return r;
  }
  for (int i : {0, 1})
    if (!StartOrViolate(&s.cl, 'c', i, &r)) return r;
  s.Drain({0, 1}, seconds(6));
  const bool died = !s.cl.producer_running(0);
  s.End({0, 1});
  AttributeCrashToLmdb(s.cl, died, pristine, notes_before, &r);
  return r;
}

// corrupt_positions: as above, but the consumer's position store (its
// state directory's data.mdb, and in half the rounds lock.mdb) is damaged;
// the journal is intact and the producer publishes 100 more records per
// stream. The consumer refuses with an error naming its state and exits 2,
// at the start or at a later commit, the last one at Close included
// (accepted, noted), or runs: it must then
// deliver every acknowledged record; either way none altered and none
// skipped. Positions that went back (records delivered
// again) are at-least-once and noted, not counted as duplicates; a position
// that went forward skips records silently and is counted (reordered, lost).
RoundResult CorruptPositions(const RoundConfig& c) {
  RoundResult r;
  CorruptRound s(c, &r);
  if (!s.Phase1()) return r;
  const std::string state = s.cl.consumer_spec(0).state_dir;
  r.notes.push_back(s.p.durability + ", " + std::to_string(s.p.count) + " records per stream; " +
                    Damage(state + "/data.mdb", kAllHarms, s.rng));
  if (s.rng() % 2) r.notes.push_back(Damage(state + "/lock.mdb", kAllHarms, s.rng));
  s.cl.producer_spec(0).count = 100;
  if (!StartOrViolate(&s.cl, 'p', 0, &r)) return r;
  const size_t errors_before = s.cl.errors().size();
  std::string error;
  if (!s.cl.StartConsumer(0, &error)) {
    JudgeRefusal(s.cl, 'c', error, errors_before, {state.c_str()}, &r);
    s.cl.TakeExited();
    s.End({});
    return r;
  }
  s.cl.PumpUntil([&] { return s.cl.producer_done(0); }, seconds(15));
  s.cl.PumpUntil([&] { return s.h.CaughtUp("c0") || !s.cl.consumer_running(0); }, seconds(15));
  // Damage the open did not meet stops it later (a commit): then too it must
  // exit 2 with an error naming its state, having delivered nothing bad.
  const bool stopped = !s.cl.consumer_running(0);
  if (stopped) {
    s.cl.TakeExited();
    JudgeRefusal(s.cl, 'c', "it stopped after it started", errors_before, {state.c_str()}, &r);
  } else if (!s.h.CaughtUp("c0")) {
    r.Violation("the consumer with damaged positions did not get every acknowledged record");
  } else if (!s.cl.StopConsumer(0)) {
    // Its last commit, at Close, met damage the run had not: the same
    // refusal, after every acknowledged record was delivered.
    JudgeRefusal(s.cl, 'c', "its last commit failed", errors_before, {state.c_str()}, &r);
  }
  s.End({0});
  r.check = s.h.Check(stopped ? std::vector<std::string>{} : std::vector<std::string>{"c0"});
  // Restarts below the committed position: the damaged store lost positions.
  uint64_t back = 0;
  for (const std::string& pr : r.check.problems)
    if (Contains(pr, "restarted below its committed position")) ++back;
  if (back > 0 && back == r.check.duplicated) {
    r.notes.push_back(std::to_string(back) +
                      " stream(s) resumed below the committed position (positions lost: "
                      "delivered again)");
    r.check.redelivered += back;
    r.check.duplicated = 0;
  }
  return r;
}

}  // namespace

std::vector<FaultSpec> StorageFaults() {
  return {
      {"disk_full",
       "journal on a 6-12 MiB tmpfs that fills up (root; else a tiny max map): typed errors, "
       "no ack without commit, resumes once room is made",
       Noted<DiskFull>, 2, 200},
      {"map_full",
       "journal at a 2-4 MiB max_map_size: typed errors, replays go on, resumes after a "
       "restart with a larger map or with retention",
       Noted<MapFull>, 2, 200},
      {"reader_slots",
       "readers die holding 576-704 read transactions (512 slots): the producer serves on, new "
       "readers open",
       Noted<ReaderSlots>, 2, 200},
      {"corrupt_journal",
       "data.mdb (and lock.mdb) bit-flipped, a page zeroed or truncated while stopped: "
       "refused with an error or served without bad data",
       Noted<CorruptJournal>, 3, 200},
      {"corrupt_positions",
       "the consumer's position store damaged likewise: refused with an error or resumed with "
       "nothing skipped",
       Noted<CorruptPositions>, 3, 200},
  };
}

}  // namespace brook::fault
