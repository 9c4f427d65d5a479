// What most fault rounds share: endpoints in the round's scratch directory,
// the standard producer and consumer, and the end of a round (stop
// publishing, let every consumer catch up, stop it cleanly, judge).
#ifndef BROOK_TESTS_FAULT_ROUND_UTIL_H_
#define BROOK_TESTS_FAULT_ROUND_UTIL_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fault/cluster.h"
#include "tests/fault/fault.h"
#include "tests/fault/history.h"

namespace brook::fault {

// A producer journaling into <scratch>/<tag>, bound on ipc:// endpoints in the
// scratch directory (no port to race for), fsync, 2 partitions of "t0".
ProducerSpec StandardProducer(const RoundConfig& c, const std::string& tag);
// A consumer named `name` with its state in <scratch>/state-<name>, dialing
// each producer where it is bound.
ConsumerSpec StandardConsumer(const RoundConfig& c, const std::string& name,
                              const std::vector<ProducerSpec>& producers);

// A TCP port that was free on 127.0.0.1 a moment ago, below the kernel's
// ephemeral range (0 if none): a listener that goes away and comes back
// there cannot find its port taken by a peer's reconnect attempt that
// connected to itself (TCP self-connect, possible only on ephemeral ports).
// The port stays reserved for this process (a lock file under
// /tmp/brook-fault-ports) until ReleasePorts, which the harness calls after
// each round, so harness processes running at once never share one.
uint16_t FreeTcpPort(std::mt19937_64& rng);
void ReleasePorts();

// Ends a round: every producer is restarted to publish one last record per
// stream and then only serve (so the end of each stream is acknowledged),
// every consumer that is running or listed in `complete` is (re)started if
// needed and must deliver every acknowledged record within `catch_up`, then
// is stopped with SIGTERM (a clean exit is required). Children's errors
// become violations. Fills result->check from the history.
void FinishRound(Cluster* cluster, History* history, int producers,
                 const std::vector<int>& consumers, const std::vector<std::string>& names,
                 std::chrono::seconds catch_up, RoundResult* result);

// Reads the children's pipes for `d`; a child that exits meanwhile (none
// was asked to) is a violation.
void PumpNoExits(Cluster* cluster, std::chrono::milliseconds d, RoundResult* result);

// Starts a child or records the violation; returns success.
bool StartOrViolate(Cluster* cluster, char kind, int i, RoundResult* result);

}  // namespace brook::fault

#endif  // BROOK_TESTS_FAULT_ROUND_UTIL_H_
