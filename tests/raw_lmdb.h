// Raw LMDB access to a closed journal, for tests that damage it or make it
// look like one written by another brook, the way a disk error or an outside
// program would change it.
#ifndef BROOK_TESTS_RAW_LMDB_H_
#define BROOK_TESTS_RAW_LMDB_H_

#include <lmdb.h>

#include <catch2/catch.hpp>

#include <string>

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

}  // namespace brook::test

#endif  // BROOK_TESTS_RAW_LMDB_H_
