// Fault 8 of docs/RELIABILITY.md (wall-clock jumps). Not written yet: this
// module registers no fault.
#include "tests/fault/fault.h"

namespace brook::fault {
std::vector<FaultSpec> ClockFaults() { return {}; }
}  // namespace brook::fault
