// Raw LMDB access to a closed journal, for tests that damage it or make it
// look like one written by another brook, the way a disk error or an outside
// program would change it.
#ifndef BROOK_TESTS_RAW_LMDB_H_
#define BROOK_TESTS_RAW_LMDB_H_

#include <lmdb.h>

#include <catch2/catch.hpp>

#include <string>

#include "journal/journal_format.h"

namespace brook::test {

// Opens the LMDB environment in `dir` with `maxdbs` database slots and runs
// fn(txn) in one write transaction, committed afterwards.
template <typename Fn>
void WithRawLmdb(const std::string& dir, Fn fn, unsigned maxdbs = 64) {
  MDB_env* env;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, maxdbs);
  mdb_env_set_mapsize(env, 1u << 30);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
  MDB_txn* txn;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  fn(txn);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

// XORs `mask` into byte `from_end` bytes before the end of the stored record
// at `offset` of topic/partition in the closed journal in `dir`, as a bad
// disk sector would change it.
inline void DamageStoredRecord(const std::string& dir, const std::string& topic, uint32_t partition,
                               uint64_t offset, size_t from_end, unsigned char mask) {
  WithRawLmdb(dir, [&](MDB_txn* txn) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, journal::RecordDbName(topic, partition).c_str(), 0, &dbi) == 0);
    char key[8];
    journal::PutU64BE(key, offset);
    MDB_val k{8, key}, v;
    REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
    std::string value(static_cast<const char*>(v.mv_data), v.mv_size);
    REQUIRE(from_end <= value.size());
    value[value.size() - from_end] = static_cast<char>(value[value.size() - from_end] ^ mask);
    MDB_val nv{value.size(), value.data()};
    REQUIRE(mdb_put(txn, dbi, &k, &nv, 0) == 0);
  });
}

}  // namespace brook::test

#endif  // BROOK_TESTS_RAW_LMDB_H_
