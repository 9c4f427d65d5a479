#include "tests/fault/round_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace brook::fault {

ProducerSpec StandardProducer(const RoundConfig& c, const std::string& tag) {
  ProducerSpec p;
  p.tag = tag;
  p.journal = c.scratch + "/" + tag;
  p.pub = "ipc://" + c.scratch + "/" + tag + ".pub";
  p.replay = "ipc://" + c.scratch + "/" + tag + ".replay";
  return p;
}

ConsumerSpec StandardConsumer(const RoundConfig& c, const std::string& name,
                              const std::vector<ProducerSpec>& producers) {
  ConsumerSpec s;
  s.name = name;
  s.state_dir = c.scratch + "/state-" + name;
  for (const ProducerSpec& p : producers) s.producers.emplace_back(p.pub, p.replay);
  s.topics = producers.empty() ? std::vector<std::string>{"t0"} : producers[0].topics;
  return s;
}

namespace {

// Ports this process holds for its current round: a lock file per port,
// so that another harness process running at the same time never picks
// the same one between our check and our bind.
std::vector<int>& HeldPorts() {
  static std::vector<int> fds;
  return fds;
}

bool ReservePort(uint16_t port) {
  const std::string dir = "/tmp/brook-fault-ports";
  mkdir(dir.c_str(), 0777);
  const std::string path = dir + "/" + std::to_string(port) + ".lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no lock directory: the bind check alone
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  HeldPorts().push_back(fd);
  return true;
}

}  // namespace

void ReleasePorts() {
  for (int fd : HeldPorts()) close(fd);
  HeldPorts().clear();
}

uint16_t FreeTcpPort(std::mt19937_64& rng) {
  unsigned low = 32768, high = 60999;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%u %u", &low, &high) != 2) low = 32768;
    std::fclose(f);
  }
  const unsigned first = 10000, last = std::max(first + 1000, low) - 1;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const uint16_t port = static_cast<uint16_t>(Uniform(rng, first, last));
    if (!ReservePort(port)) continue;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

void PumpNoExits(Cluster* cluster, std::chrono::milliseconds d, RoundResult* result) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    cluster->Pump(std::chrono::milliseconds(20));
    for (auto [kind, i] : cluster->TakeExited())
      result->Violation(std::string(kind == 'p' ? "producer " : "consumer ") + std::to_string(i) +
                        " died by itself");
  }
}

bool StartOrViolate(Cluster* cluster, char kind, int i, RoundResult* result) {
  std::string error;
  const bool ok =
      kind == 'p' ? cluster->StartProducer(i, &error) : cluster->StartConsumer(i, &error);
  if (!ok) result->Violation("could not start: " + error);
  return ok;
}

void FinishRound(Cluster* cluster, History* history, int producers,
                 const std::vector<int>& consumers, const std::vector<std::string>& names,
                 std::chrono::seconds catch_up, RoundResult* result) {
  for (int p = 0; p < producers; ++p) {
    cluster->KillProducer(p);
    cluster->producer_spec(p).count = 1;
    cluster->producer_spec(p).crash_point.clear();
    if (!StartOrViolate(cluster, 'p', p, result)) continue;
    if (!cluster->PumpUntil([&] { return cluster->producer_done(p); }, std::chrono::seconds(15)))
      result->Violation("producer " + cluster->producer_spec(p).tag +
                        " did not publish its last records in 15 s");
  }
  for (size_t k = 0; k < consumers.size(); ++k) {
    const int c = consumers[k];
    cluster->ResumeConsumer(c);
    if (!cluster->consumer_running(c) && !StartOrViolate(cluster, 'c', c, result)) continue;
    // The consumer's own crash-before-commit lottery must not fire now.
    const auto deadline = std::chrono::steady_clock::now() + catch_up;
    while (!history->CaughtUp(names[k]) && std::chrono::steady_clock::now() < deadline) {
      cluster->Pump(std::chrono::milliseconds(50));
      if (!cluster->consumer_running(c)) {
        cluster->consumer_spec(c).crash_before_commit = 0;
        if (!StartOrViolate(cluster, 'c', c, result)) break;
      }
    }
    if (!history->CaughtUp(names[k]))
      result->Violation("consumer " + names[k] + " did not deliver every acknowledged record in " +
                        std::to_string(catch_up.count()) + " s");
    if (!cluster->StopConsumer(c)) {
      const int st = cluster->consumer_exit_status(c);
      result->Violation("consumer " + names[k] + " did not exit cleanly on SIGTERM (" +
                        (WIFSIGNALED(st) ? "killed by signal " + std::to_string(WTERMSIG(st))
                                         : "exit status " + std::to_string(WEXITSTATUS(st))) +
                        ")");
    }
  }
  for (const std::string& e : cluster->errors()) result->Violation(e);
  result->check = history->Check(names);
}

}  // namespace brook::fault
