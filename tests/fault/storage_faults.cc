// Faults 5-7 of docs/RELIABILITY.md (disk full, map full, reader slots,
// corrupted files). Not written yet: this module registers no fault.
#include "tests/fault/fault.h"

namespace brook::fault {
std::vector<FaultSpec> StorageFaults() { return {}; }
}  // namespace brook::fault
