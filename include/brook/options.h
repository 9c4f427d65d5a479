// Options of the journal and its topics. Plain structs with in-class defaults;
// each field says what it means, its default and the trade-off.
#ifndef BROOK_OPTIONS_H_
#define BROOK_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace brook {

// When an append is acknowledged, and what survives which crash.
enum class Durability {
  // Acknowledged after the commit reached the disk (LMDB syncs data, then its
  // meta page). Survives SIGKILL and power loss. The default.
  kFsync,
  // LMDB's MDB_NOMETASYNC: data is synced, the meta page is not. Atomic and
  // consistent; a power loss may undo the last commit(s). Survives SIGKILL.
  kNoMetaSync,
  // Acknowledged after the commit reached the OS page cache (MDB_NOSYNC).
  // Survives SIGKILL of the process, not a power loss or kernel crash; the
  // journal is flushed every JournalOptions::sync_interval. After a power loss
  // the tail may be undone: consumers detect it by the epoch (see journal.h).
  kNoSync,
};

// "fsync", "nometasync", "nosync".
const char* DurabilityName(Durability d);

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// brook never prints. Messages go to this function when set; it may be called
// from brook's internal threads, so it must be thread-safe.
using Logger = std::function<void(LogLevel level, std::string_view message)>;

// Which records a topic keeps. A record is removed when any rule says so;
// zero means "no limit" for each rule. Offsets are never reused after removal:
// the low watermark moves up, the high watermark does not move down.
struct RetentionPolicy {
  // Remove records older than this (by their timestamp). 0: keep forever.
  std::chrono::milliseconds max_age{0};
  // Keep at most this many bytes of encoded records per partition. 0: no limit.
  uint64_t max_bytes = 0;
  // Keep at most this many records per partition. 0: no limit.
  uint64_t max_records = 0;

  bool unlimited() const { return max_age.count() == 0 && max_bytes == 0 && max_records == 0; }
};

struct TopicConfig {
  // Number of partitions, 1 .. 4096. Fixed at creation.
  uint32_t partitions = 1;
  RetentionPolicy retention;
};

struct JournalOptions {
  // Directory of the journal (one LMDB environment). Required.
  std::string path;

  // Create the directory and a new journal (with a new producer id) when the
  // directory does not hold one. false: Open fails with NotFound instead.
  bool create_if_missing = true;

  // See Durability. Default: kFsync, the only mode that survives power loss.
  Durability durability = Durability::kFsync;

  // kNoSync only: how often the writer flushes the journal to disk. Bounds what
  // a power loss can undo. Default 1 s.
  std::chrono::milliseconds sync_interval{1000};

  // The memory map starts at this size and doubles whenever it is full, up to
  // max_map_size. Only address space: the file grows as records are written.
  uint64_t initial_map_size = 64ull << 20;  // 64 MiB
  // The journal never grows beyond this. At this size (or when the disk is
  // full) appends fail with ResourceExhausted until room is made (retention,
  // or reopening with a larger maximum). Default 1 TiB.
  uint64_t max_map_size = 1ull << 40;

  // Total partitions across all topics (each is an LMDB database). Default 1024.
  uint32_t max_partitions = 1024;

  // Largest encoded record accepted by Append (key + headers + payload +
  // about 30 bytes of framing). Default 8 MiB.
  uint32_t max_record_bytes = 8u << 20;

  // Appends waiting for the writer, in bytes. A caller that would pass this
  // waits (back-pressure) instead of growing memory. Default 64 MiB.
  uint64_t max_pending_bytes = 64ull << 20;

  // How often the writer applies retention policies. Default 1 s.
  std::chrono::milliseconds retention_interval{1000};

  // Clock for record timestamps and age retention, in ns since the Unix
  // epoch. Default (empty): the system clock. For tests and simulations.
  std::function<int64_t()> clock;

  // Clock that measures elapsed time, in ns from any origin; it never jumps.
  // Age retention measures wall-clock jumps against it, so that a jump
  // forward does not age records faster than time really passes
  // (docs/JOURNAL.md, "Retention and wall-clock jumps"). Default (empty):
  // CLOCK_BOOTTIME (which goes on while the machine is suspended). A test
  // that simulates time passing with `clock` advances this one with it.
  std::function<int64_t()> monotonic_clock;

  // Where brook's diagnostics go (see Logger). Default: nowhere.
  Logger logger;
};

// Bounds of one read. A read returns at least one record when one exists at
// the requested offset, even if that record alone exceeds max_bytes.
struct ReadOptions {
  uint32_t max_records = 1000;
  uint64_t max_bytes = 1u << 20;
};

}  // namespace brook

#endif  // BROOK_OPTIONS_H_
