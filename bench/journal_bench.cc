// journal_bench: the journal's append and read throughput beside raw LMDB.
//
//   journal_bench [--seconds S] [--runs R] [--json FILE] [--only append|read] [--quick]
//
// For 100-byte payloads, at batch sizes 1, 100 and 1000, in each durability
// mode, it measures records/s of Journal::Append (one partition, explicit
// partition, keyless) and of a raw-LMDB baseline that does the least work
// that stores the same bytes: mdb_put(MDB_APPEND) of the very encoded record
// brook stores, 8-byte big-endian keys, the same batch per transaction and the
// same environment flags. Then sequential reads: Journal::Read (which checks a
// CRC and decodes every record) against a raw cursor walk over the same data,
// once touching no value ("walk") and once copying each value out
// ("walk+copy"), as a reader that keeps records beyond its transaction must;
// and Journal::Scan (verify and decode in place, no copy) against the walk.
//
// The machine is shared and noisy: each figure is the median of R runs, brook
// and raw alternate so noise hits both, and the ratio of medians is what to
// read. Progress goes to stderr; the table to stdout.
#include <lmdb.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "brook/journal.h"
#include "journal/journal_format.h"
#include "journal/record_format.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  double seconds = 1.5;
  int runs = 3;
  std::string json;
  std::string only;  // "append" or "read": run just that part
};

struct Row {
  std::string what;
  std::string mode;
  int batch;
  double brook;  // records/s, median
  double raw;
};

std::string TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/brook-bench-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return buf.data();
}

struct ScopedDir {
  std::string path = TempDir();
  ~ScopedDir() { std::filesystem::remove_all(path); }
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

brook::Durability ModeOf(const std::string& m) {
  return m == "fsync"        ? brook::Durability::kFsync
         : m == "nometasync" ? brook::Durability::kNoMetaSync
                             : brook::Durability::kNoSync;
}

unsigned LmdbFlags(const std::string& m) {
  return m == "nometasync" ? MDB_NOMETASYNC : m == "nosync" ? MDB_NOSYNC : 0u;
}

void Check(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "journal_bench: %s: %s\n", what, mdb_strerror(rc));
    std::exit(1);
  }
}

void Check(const brook::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "journal_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

const std::string kPayload(100, 'p');

// The record exactly as brook stores it, so both sides write the same bytes.
std::vector<char> EncodedRecord() {
  brook::RecordInput in;
  in.payload = kPayload;
  std::vector<char> rec;
  brook::journal::EncodeRecord(in, &rec);
  brook::journal::SealRecord(rec.data(), rec.size(), 0, 1);
  return rec;
}

MDB_env* OpenRaw(const std::string& dir, unsigned flags) {
  MDB_env* env;
  Check(mdb_env_create(&env), "mdb_env_create");
  Check(mdb_env_set_mapsize(env, 8ull << 30), "mdb_env_set_mapsize");
  Check(mdb_env_open(env, dir.c_str(), flags | MDB_NOTLS, 0644), "mdb_env_open");
  return env;
}

std::unique_ptr<brook::Journal> OpenBrook(const std::string& dir, const std::string& mode) {
  brook::JournalOptions o;
  o.path = dir;
  o.durability = ModeOf(mode);
  o.initial_map_size = 1ull << 30;
  std::unique_ptr<brook::Journal> j;
  Check(brook::Journal::Open(o, &j), "Journal::Open");
  Check(j->CreateTopic("bench", brook::TopicConfig{}), "CreateTopic");
  return j;
}

// Appends batches until `seconds` pass or `max_records` are written.
double RawAppend(const std::string& mode, int batch, double seconds, uint64_t max_records) {
  ScopedDir dir;
  MDB_env* env = OpenRaw(dir.path, LmdbFlags(mode));
  std::vector<char> rec = EncodedRecord();
  MDB_dbi dbi;
  uint64_t offset = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end && offset < max_records) {
    MDB_txn* txn;
    Check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    Check(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
    char key[8];
    for (int i = 0; i < batch; ++i, ++offset) {
      brook::journal::PutU64BE(key, offset);
      MDB_val k{8, key}, v{rec.size(), rec.data()};
      Check(mdb_put(txn, dbi, &k, &v, MDB_APPEND), "mdb_put");
    }
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  mdb_env_close(env);
  return offset / s;
}

double BrookAppend(const std::string& mode, int batch, double seconds, uint64_t max_records) {
  ScopedDir dir;
  auto j = OpenBrook(dir.path, mode);
  std::vector<brook::RecordInput> in(batch);
  for (auto& r : in) {
    r.payload = kPayload;
    r.partition = 0;
  }
  std::vector<brook::RecordPosition> pos;
  uint64_t n = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end && n < max_records) {
    Check(j->Append("bench", in, &pos), "Append");
    n += batch;
  }
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  Check(j->Close(), "Close");
  return n / s;
}

// A journal with `count` records of partition 0, for the read measurements.
void FillForRead(const std::string& dir, uint64_t count) {
  auto j = OpenBrook(dir, "nosync");
  std::vector<brook::RecordInput> in(1000);
  for (auto& r : in) {
    r.payload = kPayload;
    r.partition = 0;
  }
  std::vector<brook::RecordPosition> pos;
  for (uint64_t n = 0; n < count; n += in.size()) Check(j->Append("bench", in, &pos), "Append");
  Check(j->Close(), "Close");
}

// Journal::Read from 0 to the end, 1000 records per read: each record is
// copied out, decoded and its CRC verified.
double BrookRead(const std::string& dir, uint64_t count) {
  brook::JournalOptions o;
  o.path = dir;
  o.create_if_missing = false;
  std::unique_ptr<brook::Journal> j;
  Check(brook::Journal::Open(o, &j), "Journal::Open");
  const auto start = Clock::now();
  brook::RecordBatch batch;
  brook::ReadOptions ro;
  ro.max_records = 1000;
  uint64_t from = 0, bytes = 0;
  while (from < count) {
    Check(j->Read("bench", 0, from, ro, &batch), "Read");
    for (const auto& r : batch) bytes += r.payload.size();
    from += batch.size();
  }
  const double rate = count / std::chrono::duration<double>(Clock::now() - start).count();
  if (bytes != count * kPayload.size()) std::fprintf(stderr, "journal_bench: short read\n");
  Check(j->Close(), "Close");
  return rate;
}

// Journal::Scan from 0 to the end: each record decoded and verified in place.
double BrookScan(const std::string& dir, uint64_t count) {
  brook::JournalOptions o;
  o.path = dir;
  o.create_if_missing = false;
  std::unique_ptr<brook::Journal> j;
  Check(brook::Journal::Open(o, &j), "Journal::Open");
  const auto start = Clock::now();
  brook::ReadOptions ro;
  ro.max_records = 1000;
  uint64_t from = 0, bytes = 0;
  while (from < count) {
    Check(j->Scan("bench", 0, from, ro,
                  [&](const brook::RecordView& r) {
                    bytes += r.payload.size();
                    ++from;
                    return true;
                  }),
          "Scan");
  }
  const double rate = count / std::chrono::duration<double>(Clock::now() - start).count();
  if (bytes != count * kPayload.size()) std::fprintf(stderr, "journal_bench: short scan\n");
  Check(j->Close(), "Close");
  return rate;
}

// A raw cursor walk over the same records in one read transaction. With
// `copy`, each value is copied into a reused buffer, as any reader that keeps
// records beyond its transaction must; without, values are not touched at all.
double RawRead(const std::string& dir, uint64_t count, bool copy) {
  MDB_env* env;
  Check(mdb_env_create(&env), "mdb_env_create");
  mdb_env_set_maxdbs(env, 16);
  Check(mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_RDONLY, 0644), "mdb_env_open");
  const auto start = Clock::now();
  MDB_txn* txn;
  Check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  MDB_dbi dbi;
  Check(mdb_dbi_open(txn, brook::journal::RecordDbName("bench", 0).c_str(), 0, &dbi), "dbi");
  MDB_cursor* cur;
  Check(mdb_cursor_open(txn, dbi, &cur), "mdb_cursor_open");
  MDB_val k, v;
  uint64_t n = 0, bytes = 0;
  std::vector<char> buf(1 << 20);
  size_t at = 0;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (copy) {
      if (at + v.mv_size > buf.size()) at = 0;
      std::memcpy(buf.data() + at, v.mv_data, v.mv_size);
      at += v.mv_size;
    }
    bytes += v.mv_size;
    ++n;
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  const double rate = n / std::chrono::duration<double>(Clock::now() - start).count();
  if (n != count || bytes == 0 || (copy && buf[0] == 0))
    std::fprintf(stderr, "journal_bench: raw read saw %llu\n", static_cast<unsigned long long>(n));
  mdb_env_close(env);
  return rate;
}

void PrintRow(const Row& r) {
  std::printf("%-7s %-11s %6d %14.0f %14.0f %8.2f\n", r.what.c_str(), r.mode.c_str(), r.batch,
              r.brook, r.raw, r.brook / r.raw);
  std::fflush(stdout);
}

void WriteJson(const std::string& path, const std::vector<Row>& rows, const Config& c) {
  std::ofstream f(path);
  f << "{\n  \"benchmark\": \"journal_bench\",\n  \"runs\": " << c.runs
    << ",\n  \"seconds_per_run\": " << c.seconds << ",\n  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    f << "    {\"what\": \"" << r.what << "\", \"mode\": \"" << r.mode
      << "\", \"batch\": " << r.batch << ", \"brook_records_per_s\": " << r.brook
      << ", \"raw_lmdb_records_per_s\": " << r.raw << ", \"ratio\": " << r.brook / r.raw << "}"
      << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  f << "  ]\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      c.seconds = std::atof(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      c.runs = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      c.json = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      c.only = argv[++i];
    } else if (a == "--quick") {
      c.seconds = 0.1;
      c.runs = 1;
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--seconds S] [--runs R] [--json FILE] [--only append|read] [--quick]\n",
          argv[0]);
      return 64;
    }
  }
  if (c.runs < 1 || c.seconds <= 0) {
    std::fprintf(stderr, "journal_bench: --runs must be >= 1 and --seconds > 0\n");
    return 64;
  }

  std::printf("%-7s %-11s %6s %14s %14s %8s\n", "what", "mode", "batch", "brook rec/s",
              "raw LMDB rec/s", "ratio");
  std::vector<Row> rows;
  const uint64_t max_records = c.seconds < 0.5 ? 200000 : 20000000;
  for (const std::string mode : {"fsync", "nometasync", "nosync"}) {
    if (c.only == "read") break;
    for (int batch : {1, 100, 1000}) {
      std::fprintf(stderr, "append %s batch %d ...\n", mode.c_str(), batch);
      std::vector<double> b, r;
      for (int run = 0; run < c.runs; ++run) {
        r.push_back(RawAppend(mode, batch, c.seconds, max_records));
        b.push_back(BrookAppend(mode, batch, c.seconds, max_records));
      }
      rows.push_back({"append", mode, batch, Median(b), Median(r)});
      PrintRow(rows.back());
    }
  }
  if (c.only != "append") {
    const uint64_t count = c.seconds < 0.5 ? 100000 : 2000000;
    std::fprintf(stderr, "read %llu records ...\n", static_cast<unsigned long long>(count));
    ScopedDir dir;
    FillForRead(dir.path, count);
    std::vector<double> b, scan, walk, copy;
    // One untimed pass first, so every timed pass finds the file in the page
    // cache and none pays for the first faults of the mapping alone.
    RawRead(dir.path, count, false);
    for (int run = 0; run < std::max(3, c.runs); ++run) {
      b.push_back(BrookRead(dir.path, count));
      scan.push_back(BrookScan(dir.path, count));
      walk.push_back(RawRead(dir.path, count, false));
      copy.push_back(RawRead(dir.path, count, true));
    }
    rows.push_back({"read", "walk", 1000, Median(b), Median(walk)});
    PrintRow(rows.back());
    rows.push_back({"read", "walk+copy", 1000, Median(b), Median(copy)});
    PrintRow(rows.back());
    rows.push_back({"scan", "walk", 1000, Median(scan), Median(walk)});
    PrintRow(rows.back());
  }
  if (!c.json.empty()) WriteJson(c.json, rows, c);
  return 0;
}
