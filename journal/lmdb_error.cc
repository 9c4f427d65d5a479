#include "journal/lmdb_error.h"

#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

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
      return Status::ResourceExhausted(
          msg +
          ". Every slot of LMDB's reader table (lock.mdb, shared by all the processes that "
          "open this environment) is held by a live read transaction; end some readers "
          "(brook journal, mdb_copy, mdb_stat) and retry.");
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

int ExtendToLastPage(MDB_env* env, uint64_t* added) {
  *added = 0;
  MDB_envinfo info;
  MDB_stat st;
  mdb_filehandle_t fd;
  int rc = mdb_env_info(env, &info);
  if (rc == 0) rc = mdb_env_stat(env, &st);
  if (rc == 0) rc = mdb_env_get_fd(env, &fd);
  if (rc != 0) return rc;
  struct stat fs;
  if (fstat(fd, &fs) != 0) return errno;
  const uint64_t need = (uint64_t{info.me_last_pgno} + 1) * st.ms_psize;
  const uint64_t have = static_cast<uint64_t>(fs.st_size);
  if (have >= need) return 0;
  if (ftruncate(fd, static_cast<off_t>(need)) != 0) return errno;
  *added = need - have;
  return 0;
}

}  // namespace brook::journal
