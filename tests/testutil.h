// Shared helpers for brook's tests: temporary directories, status checks,
// journal setup, child processes.
#ifndef BROOK_TESTS_TESTUTIL_H_
#define BROOK_TESTS_TESTUTIL_H_

#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "brook/discovery.h"
#include "brook/journal.h"
#include "brook/status.h"

#define REQUIRE_OK(expr)         \
  do {                           \
    ::brook::Status _s = (expr); \
    INFO(_s.ToString());         \
    REQUIRE(_s.ok());            \
  } while (0)

#define CHECK_OK(expr)           \
  do {                           \
    ::brook::Status _s = (expr); \
    INFO(_s.ToString());         \
    CHECK(_s.ok());              \
  } while (0)

namespace brook::test {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Options for a journal in `dir` with small, fast settings for tests.
JournalOptions TestOptions(const std::string& dir, Durability d = Durability::kNoSync);

std::unique_ptr<Journal> OpenJournal(const JournalOptions& options);

// Appends one keyless record per payload to `partition` of `topic`.
std::vector<RecordPosition> AppendPayloads(Journal* j, const std::string& topic,
                                           const std::vector<std::string>& payloads,
                                           uint32_t partition = 0);

// Reads every record of topic/partition from `from` to the high watermark.
struct ReadRecord {
  uint64_t offset;
  int64_t timestamp_ns;
  std::optional<std::string> key;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> headers;
};
std::vector<ReadRecord> ReadAll(const Journal& j, const std::string& topic, uint32_t partition,
                                uint64_t from = 0);

// A child process whose standard output is a pipe to this process.
struct ChildProcess {
  int pid = -1;
  int stdout_fd = -1;
};

// Starts argv[0] (a path) with argv, its stdout piped to the returned fd.
ChildProcess Spawn(const std::vector<std::string>& argv);

// Waits up to `timeout_ms` for the child's stdout to become readable.
bool WaitReadable(int fd, int timeout_ms);

// Sends SIGKILL, reads what the child wrote before it died into *drained (if
// given), closes the pipe and reaps the child. Returns the wait status.
int KillAndReap(ChildProcess* child, std::string* drained = nullptr);

// A UDP port that was free on 127.0.0.1 a moment ago (0 if none could be had).
uint16_t FreeUdpPort();

// Discovery on the loopback broadcast address (nothing leaves the host), with
// short intervals: beacons every 50 ms, silent after 400 ms.
DiscoveryOptions LoopbackDiscovery(uint16_t port, const std::string& cluster = "test");

}  // namespace brook::test

#endif  // BROOK_TESTS_TESTUTIL_H_
