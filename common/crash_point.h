// Crash points: named places in the write and publish paths where a test can
// make the process kill itself (SIGKILL), to prove that a crash at exactly
// that moment loses nothing acknowledged (tests/fault/).
//
// Armed only by the environment of a process that asks for it:
//
//   BROOK_CRASH_POINT=<name>:<n>   SIGKILL the n-th time (1-based) <name> is reached
//
// Unarmed (the normal case) a crash point costs one relaxed atomic load.
// The names are listed in docs/RELIABILITY.md.
#ifndef BROOK_COMMON_CRASH_POINT_H_
#define BROOK_COMMON_CRASH_POINT_H_

#include <atomic>

namespace brook::internal {

extern std::atomic<bool> g_crash_points_armed;
void ReachCrashPoint(const char* name);

inline void CrashPoint(const char* name) {
  if (g_crash_points_armed.load(std::memory_order_relaxed)) ReachCrashPoint(name);
}

}  // namespace brook::internal

#endif  // BROOK_COMMON_CRASH_POINT_H_
