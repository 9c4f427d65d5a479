// MDB_val from bytes, for brook's LMDB calls.
#ifndef BROOK_JOURNAL_LMDB_VAL_H_
#define BROOK_JOURNAL_LMDB_VAL_H_

#include <lmdb.h>

#include <cstddef>
#include <string_view>

namespace brook::journal {

inline MDB_val Val(const void* data, size_t size) {
  MDB_val v;
  v.mv_data = const_cast<void*>(data);
  v.mv_size = size;
  return v;
}
inline MDB_val Val(std::string_view s) { return Val(s.data(), s.size()); }

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_LMDB_VAL_H_
