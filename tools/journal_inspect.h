// A read-only view of a journal directory for `brook journal` and
// `brook describe --journal`. It opens LMDB with MDB_RDONLY and never takes
// brook's exclusive journal lock (brook.lock), so it works while a node or
// Producer has the journal open. Every read runs in a short read transaction
// (a scan renews it every kScanBatch records) so a long verify or dump never
// keeps old pages alive and makes the writer's file grow.
#ifndef BROOK_TOOLS_JOURNAL_INSPECT_H_
#define BROOK_TOOLS_JOURNAL_INSPECT_H_

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brook/record.h"
#include "brook/status.h"

namespace brook::cli {

// Prints the journal's identity (producer id, epoch), topics, partitions,
// watermarks, sizes and retention to stdout: tables, or one JSON object
// when `json`. Returns the process exit code (tools/cli.h): 0, or 1 with the
// reason on stderr.
int DescribeJournalDirectory(const std::string& path, bool json);

struct InspectTopic {
  std::string name;
  uint32_t partitions = 0;
  uint64_t max_age_ms = 0;  // retention; 0 = no limit
  uint64_t max_bytes = 0;
  uint64_t max_records = 0;
  int64_t created_ns = 0;
};

// A partition's state record (docs/JOURNAL.md, brook.partitions).
struct PartitionState {
  uint64_t low = 0;   // low watermark
  uint64_t high = 0;  // high watermark: the next offset
  uint64_t bytes = 0;
  int64_t last_appended_ns = 0;  // the newest record ever appended, even if removed since
};

struct InspectPartition {
  std::string topic;
  uint32_t partition = 0;
  PartitionState state;
  uint64_t records = 0;  // entries in the partition's record database
  // Of the first and last stored records; nullopt when there are none or
  // they do not decode (verify says why).
  std::optional<int64_t> first_ns, last_ns;
};

struct JournalInfo {
  std::string path;
  uint32_t format_version = 0;
  ProducerId producer;
  uint64_t epoch = 0;
  int64_t created_ns = 0;
  std::optional<bool> clean_close;           // nullopt: not recorded (an older journal)
  uint64_t file_bytes = 0;                   // data.mdb on disk
  uint64_t map_bytes = 0;                    // the map size the writer last recorded
  uint64_t used_bytes = 0;                   // pages in use up to the last one written
  std::vector<InspectTopic> topics;          // by name
  std::vector<InspectPartition> partitions;  // by topic name, then partition
};

// One stored record as a scan meets it. Views are valid only during the visit.
struct ScannedRecord {
  uint64_t key_offset = 0;   // the record's LMDB key
  std::string_view encoded;  // its stored bytes
  Status decoded;            // what DecodeRecord found wrong, or OK
  RecordView view;           // when decoded.ok(); headers point into the scan
  PartitionState state;      // the partition state in the same transaction
};

class JournalReader {
 public:
  // Records per read transaction in Scan.
  static constexpr uint64_t kScanBatch = 10000;

  // Errors: NotFound ("no brook journal in DIR"), FailedPrecondition (a newer
  // format version; an LMDB environment that is not a brook journal),
  // DataLoss (damaged metadata), or the LMDB error.
  static Status Open(const std::string& path, std::unique_ptr<JournalReader>* out);
  // Open, then Describe.
  static Status OpenAndDescribe(const std::string& path, std::unique_ptr<JournalReader>* out,
                                JournalInfo* info);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  const std::string& path() const { return path_; }

  // Metadata, topics and every partition's state, in one read transaction.
  Status Describe(JournalInfo* out);

  // Visits the stored records of topic/partition with offsets in
  // [from, to), in offset order, until `visit` returns false. A record that
  // fails to decode is visited too (decoded holds why).
  // Errors: NotFound (no such partition), DataLoss (its state is damaged).
  Status Scan(const std::string& topic, uint32_t partition, uint64_t from, uint64_t to,
              const std::function<bool(const ScannedRecord&)>& visit);

  // Checks, in one read transaction, that the partition's record database
  // holds exactly [low, high) by its first and last keys and entry count;
  // appends what is wrong to *problems.
  Status CheckBounds(const std::string& topic, uint32_t partition, PartitionState* state,
                     std::vector<std::string>* problems);

  // A consistent copy of the environment into directory `dest` (which must
  // exist and hold no data.mdb), compacted when `compact`.
  Status CopyTo(const std::string& dest, bool compact);

 private:
  JournalReader() = default;
  Status BeginRead(MDB_txn** txn);
  Status RecordDb(const std::string& topic, uint32_t partition, MDB_dbi* dbi);
  Status ReadState(MDB_txn* txn, const std::string& topic, uint32_t partition, PartitionState* out);

  std::string path_;
  MDB_env* env_ = nullptr;
  MDB_dbi meta_dbi_ = 0, topics_dbi_ = 0, partitions_dbi_ = 0;
  std::map<std::string, MDB_dbi> record_dbs_;
};

// The stats tables (or JSON object) for `info`, on stdout.
void PrintJournalInfo(const JournalInfo& info, bool json);

// DescribeJournalDirectory with errors reported as `brook <command>: ...`.
int PrintJournalStats(const std::string& command, const std::string& path, bool json);

}  // namespace brook::cli

#endif  // BROOK_TOOLS_JOURNAL_INSPECT_H_
