// Translation of LMDB and OS error codes into brook::Status with messages that
// say what happened and what to do.
#ifndef BROOK_JOURNAL_LMDB_ERROR_H_
#define BROOK_JOURNAL_LMDB_ERROR_H_

#include <lmdb.h>

#include <cstdint>
#include <string_view>

#include "brook/status.h"

namespace brook::journal {

// `rc` is an mdb_* return code or an errno; `what` names the operation
// ("committing an append"), `path` the journal directory.
Status LmdbStatus(int rc, std::string_view what, std::string_view path);

// True for the errors that mean "no room": MDB_MAP_FULL, ENOSPC, EFBIG, EDQUOT.
bool IsNoRoom(int rc);

// Makes the data file of `env` (open read-write) at least as long as the pages
// its last commit counts, appending zeros; *added receives how many bytes. A
// page of a memory-mapped file that lies beyond the file's end kills the
// process that touches it (SIGBUS). LMDB never writes a page that its
// transaction freed again before committing, so a healthy file may end a few
// such free pages early; a file cut short (truncated by hand, a failed copy)
// ends before pages its trees still point at. Zeros there read as a damaged
// page (MDB_CORRUPTED) or a damaged record (checksum): an error, not a crash.
// Returns an mdb_* code or an errno; call it before any transaction.
int ExtendToLastPage(MDB_env* env, uint64_t* added);

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_LMDB_ERROR_H_
