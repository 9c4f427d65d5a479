#include "tests/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace brook::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/brook-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  REQUIRE(mkdtemp(buf.data()) != nullptr);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

JournalOptions TestOptions(const std::string& dir, Durability d) {
  JournalOptions o;
  o.path = dir;
  o.durability = d;
  o.initial_map_size = 4u << 20;
  o.max_map_size = 1ull << 30;
  o.retention_interval = std::chrono::hours(1);  // tests call EnforceRetention
  return o;
}

std::unique_ptr<Journal> OpenJournal(const JournalOptions& options) {
  std::unique_ptr<Journal> j;
  REQUIRE_OK(Journal::Open(options, &j));
  REQUIRE(j);
  return j;
}

std::vector<RecordPosition> AppendPayloads(Journal* j, const std::string& topic,
                                           const std::vector<std::string>& payloads,
                                           uint32_t partition) {
  std::vector<RecordInput> in(payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    in[i].payload = payloads[i];
    in[i].partition = partition;
  }
  std::vector<RecordPosition> pos;
  REQUIRE_OK(j->Append(topic, in, &pos));
  REQUIRE(pos.size() == payloads.size());
  return pos;
}

std::vector<ReadRecord> ReadAll(const Journal& j, const std::string& topic, uint32_t partition,
                                uint64_t from) {
  std::vector<ReadRecord> out;
  RecordBatch batch;
  for (int guard = 0; guard < 1000000; ++guard) {
    REQUIRE_OK(j.Read(topic, partition, from, ReadOptions{}, &batch));
    if (batch.empty()) break;
    for (const RecordView& r : batch) {
      ReadRecord rr;
      rr.offset = r.offset;
      rr.timestamp_ns = r.timestamp_ns;
      if (r.key) rr.key = std::string(*r.key);
      rr.payload = std::string(r.payload);
      for (const Header* h = r.begin_headers(); h != r.end_headers(); ++h)
        rr.headers.emplace_back(std::string(h->name), std::string(h->value));
      out.push_back(std::move(rr));
    }
    from = batch.records().back().offset + 1;
  }
  return out;
}

ChildProcess Spawn(const std::vector<std::string>& argv) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  return ChildProcess{pid, fds[0]};
}

bool WaitReadable(int fd, int timeout_ms) {
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fd, &set);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  return select(fd + 1, &set, nullptr, nullptr, &tv) > 0;
}

int KillAndReap(ChildProcess* child, std::string* drained) {
  kill(child->pid, SIGKILL);
  char buf[65536];
  for (;;) {  // the pipe reaches EOF once the child is dead
    const ssize_t n = read(child->stdout_fd, buf, sizeof buf);
    if (n <= 0) break;
    if (drained) drained->append(buf, static_cast<size_t>(n));
  }
  close(child->stdout_fd);
  int status = 0;
  REQUIRE(waitpid(child->pid, &status, 0) == child->pid);
  child->pid = -1;
  child->stdout_fd = -1;
  return status;
}

uint16_t FreeUdpPort() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

DiscoveryOptions LoopbackDiscovery(uint16_t port, const std::string& cluster) {
  DiscoveryOptions o;
  o.enabled = true;
  o.cluster = cluster;
  o.address = "127.255.255.255";
  o.bind_address = "127.255.255.255";
  o.interface_address = "127.0.0.1";
  o.port = port;
  o.interval = std::chrono::milliseconds(50);
  o.silence_timeout = std::chrono::milliseconds(400);
  return o;
}

}  // namespace brook::test
