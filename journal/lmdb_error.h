// Translation of LMDB and OS error codes into brook::Status with messages that
// say what happened and what to do.
#ifndef BROOK_JOURNAL_LMDB_ERROR_H_
#define BROOK_JOURNAL_LMDB_ERROR_H_

#include <string_view>

#include "brook/status.h"

namespace brook::journal {

// `rc` is an mdb_* return code or an errno; `what` names the operation
// ("committing an append"), `path` the journal directory.
Status LmdbStatus(int rc, std::string_view what, std::string_view path);

// True for the errors that mean "no room": MDB_MAP_FULL, ENOSPC, EFBIG, EDQUOT.
bool IsNoRoom(int rc);

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_LMDB_ERROR_H_
