// The fault harness's side of its children: starts fault_producer and
// fault_consumer processes, kills, pauses and restarts them, and reads their
// pipes into a History. Never killed itself: it is the record of truth.
#ifndef BROOK_TESTS_FAULT_CLUSTER_H_
#define BROOK_TESTS_FAULT_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/fault/history.h"

namespace brook::fault {

struct ProducerSpec {
  std::string tag;          // names the journal in payloads and the history
  std::string journal;      // directory
  std::string pub, replay;  // endpoints it binds
  std::string durability = "fsync";
  std::vector<std::string> topics{"t0"};
  uint32_t partitions = 2;
  uint64_t count = 0;  // per stream per start; 0: until killed
  uint64_t rate = 0;   // records/s per stream; 0: flat out
  uint64_t max_batch = 16;
  uint64_t initial_map = 0, max_map = 0;  // 0: the child's defaults
  bool keep_going = false;                // go on after a failed publish
  std::string crash_point;                // BROOK_CRASH_POINT for its next start only
  std::vector<std::string> wrapper;       // argv prefix (e.g. ip netns exec NS)
  std::vector<std::string> extra_args;    // appended to its command line
  std::vector<std::string> env;           // NAME=VALUE added to its environment
};

struct ConsumerSpec {
  std::string name;
  std::string state_dir;
  std::vector<std::pair<std::string, std::string>> producers;  // pub, replay as it dials them
  std::vector<std::string> topics{"t0"};
  uint64_t commit_every = 200;
  uint64_t crash_before_commit = 0;  // per mille, at each commit
  std::vector<std::string> wrapper;
  std::vector<std::string> extra_args;  // appended to its command line
  std::vector<std::string> env;         // NAME=VALUE added to its environment
};

class Cluster {
 public:
  Cluster(std::string bin_dir, std::string log_dir, History* history, uint64_t seed);
  ~Cluster();  // kills every child
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int AddProducer(const ProducerSpec& spec);
  int AddConsumer(const ConsumerSpec& spec);
  ProducerSpec& producer_spec(int i) { return producers_[i].spec; }
  ConsumerSpec& consumer_spec(int i) { return consumers_[i].spec; }

  // Starts the child and waits (≤ 15 s) for its "ready". False with *error.
  bool StartProducer(int i, std::string* error);
  bool StartConsumer(int i, std::string* error);
  // SIGKILL, then reads what it wrote before it died and reaps it.
  void KillProducer(int i);
  void KillConsumer(int i);
  // SIGTERM and waits (≤ 10 s) for a clean exit; SIGKILL after that. True if it exited 0.
  bool StopConsumer(int i);
  void PauseConsumer(int i);   // SIGSTOP
  void ResumeConsumer(int i);  // SIGCONT

  bool producer_running(int i) const { return producers_[i].child.pid > 0; }
  bool consumer_running(int i) const { return consumers_[i].child.pid > 0; }
  bool producer_done(int i) const { return producers_[i].done; }  // "done" since its start
  // Whether the child died of SIGKILL by itself (a crash point) at its last exit.
  int producer_exit_status(int i) const { return producers_[i].child.last_status; }
  int consumer_exit_status(int i) const { return consumers_[i].child.last_status; }
  uint64_t producer_starts(int i) const { return producers_[i].starts; }
  uint64_t consumer_starts(int i) const { return consumers_[i].starts; }

  // Reads every child's pipe for `d` (less if all closed).
  void Pump(std::chrono::milliseconds d);
  // Pumps until pred() or the timeout; returns pred().
  bool PumpUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  // "error" lines and unexpected exits of children, in order.
  const std::vector<std::string>& errors() const { return errors_; }
  // The messages of producer i's "f" lines (failed publishes), in order: the
  // first 1,000, and how many there were in all.
  const std::vector<std::string>& producer_failures(int i) const { return producers_[i].failures; }
  uint64_t producer_failure_count(int i) const { return producers_[i].failure_count; }
  // Children reaped since the last call (kind 'p'/'c', index), for restart logic.
  std::vector<std::pair<char, int>> TakeExited();
  // The process id of every child started so far, in order (for cleaning up
  // what a killed child leaves behind, such as libfaketime's /dev/shm files).
  const std::vector<pid_t>& spawned() const { return spawned_; }

 private:
  struct Child {
    pid_t pid = -1;
    int fd = -1;
    std::string buf;
    int last_status = 0;
  };
  struct ProducerProc {
    ProducerSpec spec;
    Child child;
    bool ready = false, done = false;
    uint64_t starts = 0;
    std::vector<std::string> failures;
    uint64_t failure_count = 0;
  };
  struct ConsumerProc {
    ConsumerSpec spec;
    Child child;
    bool ready = false;
    uint64_t starts = 0;
  };

  bool Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::string& log, Child* child, std::string* error);
  // Reads what is there; on EOF reaps the child. Returns false at EOF.
  bool ReadChild(Child* child, const std::function<void(const std::string&)>& line);
  void Reap(Child* child, bool wait);
  // Reads the child's pipe until it closes (≤ 10 s); true if it closed.
  bool DrainChild(Child* child, const std::function<void(const std::string&)>& line);
  // SIGKILL, drain, reap.
  void KillChild(Child* child, const std::function<void(const std::string&)>& line);
  void OnProducerLine(int i, const std::string& line);
  void OnConsumerLine(int i, const std::string& line);
  // BROOK_FAULT_TRANSCRIPTS set: every line a child wrote, in
  // <log_dir>/<producer|consumer>-<name>.lines, for debugging a round.
  void Transcribe(const std::string& who, const std::string& line);

  std::string bin_dir_, log_dir_;
  History* history_;
  uint64_t seed_;
  std::vector<ProducerProc> producers_;
  std::vector<ConsumerProc> consumers_;
  std::vector<std::string> errors_;
  std::vector<std::pair<char, int>> exited_;
  std::vector<pid_t> spawned_;
  bool transcripts_ = false;
  std::map<std::string, FILE*> transcript_files_;
};

}  // namespace brook::fault

#endif  // BROOK_TESTS_FAULT_CLUSTER_H_
