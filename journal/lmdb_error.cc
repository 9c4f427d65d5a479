#include "journal/lmdb_error.h"

#include <lmdb.h>

#include <cerrno>
#include <string>

namespace brook::journal {

bool IsNoRoom(int rc) { return rc == MDB_MAP_FULL || rc == ENOSPC || rc == EFBIG || rc == EDQUOT; }

Status LmdbStatus(int rc, std::string_view what, std::string_view path) {
  std::string msg = "journal ";
  msg.append(path);
  msg += ": ";
  msg.append(what);
  msg += " failed: ";
  msg += mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status::ResourceExhausted(
          msg +
          ". The journal reached JournalOptions::max_map_size; nothing committed was lost. "
          "Make room (retention) or reopen with a larger max_map_size.");
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return Status::ResourceExhausted(
          msg +
          ". The disk (or quota, or file size limit) is full; nothing committed was lost. "
          "Free space: appends succeed again once there is room.");
    case MDB_READERS_FULL:
      return Status::ResourceExhausted(msg + ". Too many concurrent readers.");
    case MDB_INVALID:
      return Status::DataLoss(msg + ". data.mdb is damaged or is not an LMDB file.");
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
      return Status::DataLoss(
          msg +
          ". The journal file is damaged; restore it from a copy, or move it aside to start "
          "a new journal (consumers will see a new producer id).");
    case MDB_VERSION_MISMATCH:
      return Status::FailedPrecondition(
          msg + ". The file was written by an incompatible LMDB library version.");
    case MDB_PANIC:
      return Status::FailedPrecondition(
          msg + ". LMDB met a fatal error earlier; close the journal and open it again.");
    case EBADF:
      return Status::FailedPrecondition("journal " + std::string(path) + " is closed");
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::FailedPrecondition(msg +
                                        ". Check that the directory is writable by this process.");
    default:
      return Status::Internal(msg);
  }
}

}  // namespace brook::journal
