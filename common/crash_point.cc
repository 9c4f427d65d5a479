#include "common/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace brook::internal {
namespace {

struct Armed {
  std::string name;
  long remaining = 0;  // kill when it reaches 0
};

Armed* ParseEnvironment() {
  const char* spec = std::getenv("BROOK_CRASH_POINT");
  if (spec == nullptr || *spec == '\0') return nullptr;
  const char* colon = std::strrchr(spec, ':');
  auto* a = new Armed;  // lives as long as the process
  a->name = colon ? std::string(spec, colon) : std::string(spec);
  a->remaining = colon ? std::strtol(colon + 1, nullptr, 10) : 1;
  if (a->remaining < 1) a->remaining = 1;
  return a;
}

Armed* const g_armed = ParseEnvironment();

}  // namespace

std::atomic<bool> g_crash_points_armed{g_armed != nullptr};

void ReachCrashPoint(const char* name) {
  if (g_armed == nullptr || g_armed->name != name) return;
  // Points are reached from the journal's writer and the caller's threads:
  // count atomically so exactly one of them fires.
  static std::atomic<long> remaining{g_armed->remaining};
  if (remaining.fetch_sub(1) != 1) return;
  static const char msg[] = "brook: crash point reached, killing the process (BROOK_CRASH_POINT)\n";
  (void)!write(2, msg, sizeof msg - 1);
  kill(getpid(), SIGKILL);
  _exit(137);  // not reached
}

}  // namespace brook::internal
