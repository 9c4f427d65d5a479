// Crash test with real processes. Method: a child process appends batches in
// a loop from two threads and reports every acknowledged record (partition,
// offset, sequence number) to this process through a pipe. We SIGKILL it at a
// random moment, then reopen the journal here with no recovery step and check:
// every acknowledged record is present with its exact payload; every stored
// record verifies (checksum) and offsets are dense from 0; timestamps never
// decrease; and an append continues from the high watermark. The next round's
// child continues in the same journal. At least 20 rounds per durability mode.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>

#include "tests/crash_payload.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;

namespace {

struct Ack {
  uint32_t partition;
  uint64_t offset;
  uint64_t seq;
};

// Starts the child, reads its acks for `run_ms`, kills it with SIGKILL and
// returns the complete ack lines it wrote.
std::vector<Ack> RunAndKill(const std::string& dir, const std::string& mode, unsigned seed,
                            int run_ms) {
  ChildProcess child = Spawn({BROOK_CRASH_CHILD, "append", dir, mode, std::to_string(seed)});
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  const auto hard_deadline = deadline + std::chrono::seconds(20);
  char buf[65536];
  // Read until the deadline, but at least until the child acknowledged
  // something (bounded by hard_deadline), so every round tests a live writer.
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= hard_deadline) break;
    if (now >= deadline && data.find('\n') != std::string::npos) break;
    if (WaitReadable(child.stdout_fd, 5)) {
      ssize_t n = read(child.stdout_fd, buf, sizeof buf);
      if (n <= 0) break;  // the child died on its own: checked below
      data.append(buf, static_cast<size_t>(n));
    }
  }
  const int status = KillAndReap(&child, &data);
  INFO("child output: " << data.substr(0, 500));
  REQUIRE(WIFSIGNALED(status));  // it was still running when killed
  CHECK(WTERMSIG(status) == SIGKILL);

  std::vector<Ack> acks;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line cut by the kill has no newline
    Ack a;
    std::string word;
    std::istringstream ls(line);
    ls >> word >> a.partition >> a.offset >> a.seq;
    if (word == "ack" && ls) acks.push_back(a);
  }
  return acks;
}

void CrashRounds(Durability durability, const std::string& mode) {
  TempDir dir;
  const std::string path = dir.Sub("journal");
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>()(mode)));
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> all_acked;  // position -> seq
  const int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const int run_ms = 20 + static_cast<int>(rng() % 150);
    auto acks = RunAndKill(path, mode, static_cast<unsigned>(round + 1), run_ms);
    for (const Ack& a : acks) {
      auto [it, fresh] = all_acked.emplace(std::make_pair(a.partition, a.offset), a.seq);
      INFO("round " << round << ": position " << a.partition << "/" << a.offset
                    << " acknowledged twice");
      REQUIRE(fresh);  // an offset is never reused
    }

    auto opts = TestOptions(path, durability);
    auto j = OpenJournal(opts);  // no recovery step
    for (uint32_t p = 0; p < 3; ++p) {
      auto got = ReadAll(*j, "crash", p);  // verifies every record's checksum
      Watermarks w;
      REQUIRE_OK(j->GetWatermarks("crash", p, &w));
      REQUIRE(got.size() == w.high_watermark);
      int64_t last_ts = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i].offset == i);  // dense
        REQUIRE(got[i].timestamp_ns >= last_ts);
        last_ts = got[i].timestamp_ns;
      }
      for (auto it = all_acked.lower_bound({p, 0}); it != all_acked.end() && it->first.first == p;
           ++it) {
        INFO("round " << round << ": acknowledged record " << p << "/" << it->first.second);
        REQUIRE(it->first.second < got.size());
        REQUIRE(got[it->first.second].payload == CrashPayload(it->second));
      }
      // Appending continues from the high watermark.
      std::vector<RecordInput> in(1);
      in[0].partition = p;
      const std::string payload = CrashPayload(999'000'000'000ull + round);
      in[0].payload = payload;
      std::vector<RecordPosition> pos;
      REQUIRE_OK(j->Append("crash", in, &pos));
      REQUIRE(pos[0].offset == w.high_watermark);
      all_acked[{p, pos[0].offset}] = 999'000'000'000ull + round;
    }
    REQUIRE_OK(j->Close());
  }
  CHECK(all_acked.size() > 20u * 3u);
}

}  // namespace

TEST_CASE("fsync journal survives SIGKILL: every acknowledged record is present and intact",
          "[journal][crash]") {
  CrashRounds(Durability::kFsync, "fsync");
}

TEST_CASE("nosync journal survives SIGKILL: every acknowledged record is present and intact",
          "[journal][crash]") {
  CrashRounds(Durability::kNoSync, "nosync");
}

// Starts the crash child in "reader" mode: it holds a read transaction on the
// journal's environment until killed. Returns its pid once it is inside it.
ChildProcess StartReader(const std::string& dir) {
  ChildProcess child = Spawn({BROOK_CRASH_CHILD, "reader", dir});
  REQUIRE(WaitReadable(child.stdout_fd, 10000));
  char buf[16] = {0};
  REQUIRE(read(child.stdout_fd, buf, sizeof buf - 1) > 0);
  REQUIRE(std::string(buf).rfind("ready", 0) == 0);
  return child;
}

TEST_CASE("reader slots left by a process killed inside a read transaction are cleared at open",
          "[journal][crash]") {
  // Method: two outside processes read the journal's environment (as an
  // operator's mdb_stat would); one is killed with SIGKILL inside its read
  // transaction. While the other still has the environment open, LMDB cannot
  // reset its reader table at open, so the dead slot survives until brook's
  // open clears it (a stale slot would pin old pages and grow the file).
  TempDir dir;
  OpenJournal(TestOptions(dir.path()));  // create, then close
  ChildProcess alive = StartReader(dir.path());
  ChildProcess doomed = StartReader(dir.path());
  KillAndReap(&doomed);

  auto opts = TestOptions(dir.path());
  std::vector<std::string> log;
  opts.logger = [&](LogLevel, std::string_view m) { log.emplace_back(m); };
  auto j = OpenJournal(opts);
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  AppendPayloads(j.get(), "t", {"still works"});
  REQUIRE_OK(j->Close());
  KillAndReap(&alive);
  bool cleared = false;
  for (auto& m : log) cleared |= m.find("cleared 1 reader slot") != std::string::npos;
  INFO((log.empty() ? std::string("no log") : log.front()));
  CHECK(cleared);
}
