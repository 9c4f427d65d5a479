// A consumer's positions, kept in its own small LMDB environment: for each
// (consumer name, producer id, topic, partition), the next offset to deliver
// and the producer epoch under which the records below it were read (so a
// tail the producer lost in a crash is found: docs/JOURNAL.md, "Epochs"),
// and for each producer endpoint the producer id last seen there (so a wiped
// journal behind the same endpoint is reported).
//
// Written with MDB_NOSYNC: a crash can only take positions back (records are
// delivered again: at-least-once), never forward. Thread-safe.
#ifndef BROOK_NODE_POSITION_STORE_H_
#define BROOK_NODE_POSITION_STORE_H_

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "brook/consumer.h"
#include "brook/status.h"

namespace brook::node {

class PositionStore {
 public:
  // Opens (creating) the store in `dir` for consumer `name`.
  static Status Open(const std::string& dir, const std::string& name,
                     std::unique_ptr<PositionStore>* out);
  ~PositionStore();
  PositionStore(const PositionStore&) = delete;
  PositionStore& operator=(const PositionStore&) = delete;

  struct Position {
    uint64_t next = 0;
    uint64_t epoch = 0;  // 0: unknown (a position stored before epochs were kept)
  };
  std::optional<Position> Get(const StreamId& stream) const;
  struct Entry {
    StreamId stream;
    Position position;
  };
  // Stores every entry in one transaction.
  Status Put(const std::vector<Entry>& entries);

  std::optional<ProducerId> ProducerAt(const std::string& endpoint) const;
  Status SetProducerAt(const std::string& endpoint, const ProducerId& id);

 private:
  PositionStore() = default;
  std::string Key(const StreamId& s) const;

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::string dir_;
  std::string name_;
};

}  // namespace brook::node

#endif  // BROOK_NODE_POSITION_STORE_H_
