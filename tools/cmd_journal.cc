// `brook journal`: offline tools on a journal directory (stats, dump, verify,
// copy). They read through JournalReader (tools/journal_inspect.h), never
// through brook::Journal, so they work while a node has the journal open.
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/journal_inspect.h"

namespace brook::cli {

namespace {

CommandSpec SubcommandSpec(const std::string& name, const std::string& positional,
                           size_t positionals, const std::string& summary,
                           const std::string& description, std::vector<OptionSpec> options) {
  CommandSpec spec("journal " + name);
  spec.positional = positional;
  spec.summary = summary;
  spec.description = description;
  spec.options = std::move(options);
  spec.min_positional = spec.max_positional = positionals;
  return spec;
}

// ----- stats

CommandSpec StatsSpec() {
  return SubcommandSpec(
      "stats", "DIR", 1,
      "the journal's identity, sizes and every partition's watermarks and contents",
      "Producer id, epoch, format version, creation time, whether the last epoch closed\n"
      "cleanly, file and map size; per topic its retention, per partition its low and high\n"
      "watermarks, record count, stored bytes and first/last timestamps. Read-only: works\n"
      "while a node has the journal open.",
      {{"json", "", "one JSON object instead of tables"}});
}

int RunStats(int argc, char** argv) {
  const CommandSpec spec = StatsSpec();
  Args args;
  int code = 0;
  if (!ParseArgs(spec, argc, argv, 2, &args, &code)) return code;
  return PrintJournalStats(spec.name, args.positional()[0], args.Has("json"));
}

// ----- dump

CommandSpec DumpSpec() {
  return SubcommandSpec(
      "dump", "DIR", 1, "print a topic's stored records in offset order",
      "One line per record: topic/partition@offset, time, key, headers and payload\n"
      "(bytes that are not printable UTF-8 shown as \\xNN). --json prints JSON lines with the\n"
      "fields of `brook consume --json`: producer, topic, partition, offset, timestamp_ns,\n"
      "timestamp, key, headers, payload (key_base64, headers_base64, payload_base64 for\n"
      "bytes that are not UTF-8). Without --partition, partitions in turn.\n"
      "A damaged record is reported on stderr and skipped; the exit status is then 1.",
      {
          {"topic", "T", "the topic (required)"},
          {"partition", "P", "only this partition"},
          {"from", "OFFSET", "start at this offset (default: the low watermark)"},
          {"to", "OFFSET", "stop before this offset (exclusive; default: the high watermark)"},
          {"count", "N", "print at most N records in all"},
          {"json", "", "JSON lines instead of text"},
      });
}

// Readable form of arbitrary bytes: printable UTF-8 as it is; a backslash,
// control characters and bytes that are not UTF-8 as escapes, so the line
// stays one line and says exactly which bytes are there.
std::string Readable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    if (c >= 0x20 && c < 0x7f) {
      len = 1;
    } else if (c >= 0xc2 && c <= 0xf4) {
      const size_t want = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      // Only the lead/continuation pattern is checked: an overlong form or a
      // surrogate passes as it is here, where people read; --json is exact.
      if (i + want <= s.size()) {
        len = want;
        for (size_t j = 1; j < want; ++j) {
          if ((static_cast<unsigned char>(s[i + j]) & 0xc0) != 0x80) len = 0;
        }
      }
    }
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (len > 0) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
      ++i;
    }
  }
  return out;
}

// Readable in double quotes, a quote inside escaped: for keys and headers,
// whose ends must show.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : Readable(s)) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string HeadersText(const RecordView& r) {
  std::string out = "{";
  for (const Header* h = r.begin_headers(); h != r.end_headers(); ++h) {
    if (out.size() > 1) out += ',';
    out += Quoted(h->name);
    out += ':';
    out += Quoted(h->value);
  }
  return out + "}";
}

std::string RecordLine(const std::string& producer, const std::string& topic, uint32_t partition,
                       const RecordView& r, bool json) {
  if (json) {
    JsonObject o;
    o.Str("producer", producer)
        .Str("topic", topic)
        .Num("partition", partition)
        .Num("offset", r.offset)
        .Int("timestamp_ns", r.timestamp_ns)
        .Str("timestamp", FormatTime(r.timestamp_ns));
    std::string content;
    AppendRecordContentJson(r, &content);
    o.Members(content);
    return o.Done();
  }
  std::string line = topic + "/" + std::to_string(partition) + "@" + std::to_string(r.offset) +
                     " " + FormatTime(r.timestamp_ns);
  line += " key=" + (r.key ? Quoted(*r.key) : std::string("null"));
  if (r.header_count > 0) line += " headers=" + HeadersText(r);
  line += " ";
  line += Readable(r.payload);
  return line;
}

// Reads an offset option; false after reporting a usage error in *code.
bool OffsetOption(const CommandSpec& spec, const Args& args, const std::string& name, uint64_t* out,
                  int* code) {
  Status s = args.GetUint(name, out);
  if (s.ok()) return true;
  *code = UsageError(spec, std::string(s.message()));
  return false;
}

int RunDump(int argc, char** argv) {
  const CommandSpec spec = DumpSpec();
  Args args;
  int code = 0;
  if (!ParseArgs(spec, argc, argv, 2, &args, &code)) return code;
  if (!args.Has("topic")) return UsageError(spec, "--topic is required");
  const std::string topic = args.Get("topic");
  uint64_t from = 0, to = UINT64_MAX, count = UINT64_MAX, partition = 0;
  if (!OffsetOption(spec, args, "from", &from, &code) ||
      !OffsetOption(spec, args, "to", &to, &code) ||
      !OffsetOption(spec, args, "count", &count, &code) ||
      !OffsetOption(spec, args, "partition", &partition, &code))
    return code;
  if (from > to)
    return UsageError(spec,
                      "--from " + std::to_string(from) + " is above --to " + std::to_string(to));
  const bool json = args.Has("json");

  std::unique_ptr<JournalReader> reader;
  JournalInfo info;
  Status s = JournalReader::OpenAndDescribe(args.positional()[0], &reader, &info);
  if (!s.ok()) return Fail(spec, s);
  const InspectTopic* found = nullptr;
  std::string names;
  for (const InspectTopic& t : info.topics) {
    if (t.name == topic) found = &t;
    names += (names.empty() ? "" : ", ") + t.name;
  }
  if (!found)
    return Fail(spec,
                Status::NotFound("topic '" + topic + "' does not exist in journal " + info.path +
                                 " (its topics: " + (names.empty() ? "none" : names) + ")"));
  if (args.Has("partition") && partition >= found->partitions)
    return Fail(spec,
                Status::NotFound("topic '" + topic + "' has " + std::to_string(found->partitions) +
                                 " partition(s), numbered from 0; there is no partition " +
                                 std::to_string(partition)));

  InstallStopSignals();
  const std::string producer = info.producer.ToHex();
  uint64_t printed = 0, damaged = 0;
  bool output_failed = false;
  for (const InspectPartition& ip : info.partitions) {
    if (ip.topic != topic || (args.Has("partition") && ip.partition != partition)) continue;
    if (printed >= count || StopRequested() || output_failed) break;
    // The high watermark of the snapshot bounds the dump: records appended
    // while it runs are not chased.
    const uint64_t end = std::min(to, ip.state.high);
    if (args.Has("from") && from < ip.state.low && args.Has("partition"))
      std::fprintf(stderr,
                   "brook %s: offsets %llu..%llu of %s/%u were removed by retention; starting at "
                   "%llu\n",
                   spec.name.c_str(), static_cast<unsigned long long>(from),
                   static_cast<unsigned long long>(ip.state.low - 1), topic.c_str(), ip.partition,
                   static_cast<unsigned long long>(ip.state.low));
    s = reader->Scan(
        topic, ip.partition, std::max(from, ip.state.low), end, [&](const ScannedRecord& rec) {
          if (StopRequested() || printed >= count) return false;
          if (!rec.decoded.ok()) {
            ++damaged;
            std::fprintf(stderr, "brook %s: %s/%u offset %llu is damaged: %s\n", spec.name.c_str(),
                         topic.c_str(), ip.partition,
                         static_cast<unsigned long long>(rec.key_offset),
                         std::string(rec.decoded.message()).c_str());
            return true;
          }
          const std::string line = RecordLine(producer, topic, ip.partition, rec.view, json);
          if (std::fprintf(stdout, "%s\n", line.c_str()) < 0) {
            output_failed = true;
            return false;
          }
          ++printed;
          return true;
        });
    if (!s.ok()) return Fail(spec, s);
  }
  if (std::fflush(stdout) != 0 || output_failed) {
    // A reader that stopped early (`| head`) is not a failure.
    if (errno == EPIPE) return kExitOk;
    return Fail(spec, std::string("writing to stdout failed: ") + std::strerror(errno));
  }
  if (StopRequested()) return Fail(spec, "interrupted");
  if (damaged > 0)
    return Fail(spec, std::to_string(damaged) +
                          " damaged record(s) skipped (listed above); `brook journal verify " +
                          info.path + "` checks the whole journal");
  return kExitOk;
}

// ----- verify

CommandSpec VerifySpec() {
  return SubcommandSpec(
      "verify", "DIR", 1, "read every record and check checksums, offsets, timestamps and metadata",
      "Checks every stored record's CRC-32C and encoding, that offsets are dense between\n"
      "the watermarks, that timestamps never decrease, and that each partition's state\n"
      "(watermarks, record count, stored bytes) agrees with what is stored. Exit status 1\n"
      "names each problem (topic/partition, offset, what is wrong). Read-only, in short\n"
      "read transactions: safe while a node has the journal open (records appended or\n"
      "removed by retention meanwhile are not reported as problems).",
      {{"json", "", "the summary and problems as one JSON object"}});
}

struct Problem {
  std::string topic;
  uint32_t partition = 0;
  std::optional<uint64_t> offset;
  std::string what;
};

// Memory stays bounded on a journal where everything is damaged.
constexpr size_t kMaxProblemsKept = 10000;
constexpr size_t kMaxProblemsPrinted = 100;

class Progress {
 public:
  Progress(uint64_t total, bool enabled)
      : total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

  void Update(uint64_t done) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100) && done != total_) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    constexpr int kWidth = 30;
    const double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1;
    const int filled = static_cast<int>(std::min(1.0, frac) * kWidth);
    std::fprintf(stderr, "\rverifying [%s%s] %3d%%  %llu/%llu records  %.0f records/s\033[K",
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), ' ').c_str(),
                 static_cast<int>(std::min(1.0, frac) * 100), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), rate);
    std::fflush(stderr);
  }

  void Clear() {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  uint64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

struct VerifyTotals {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t partitions = 0;
  uint64_t changed = 0;  // partitions written to while verified: bytes not compared
  uint64_t problems = 0;
  std::vector<Problem> kept;
  bool interrupted = false;

  void Add(const InspectPartition& ip, std::optional<uint64_t> offset, std::string what) {
    ++problems;
    if (kept.size() < kMaxProblemsKept)
      kept.push_back({ip.topic, ip.partition, offset, std::move(what)});
  }
};

Status VerifyPartition(JournalReader* reader, const InspectPartition& ip, Progress* progress,
                       VerifyTotals* t) {
  uint64_t expected = ip.state.low;
  std::optional<int64_t> prev_ts;
  uint64_t stored = 0;
  auto missing = [&](uint64_t first, uint64_t last) {
    t->Add(ip, first,
           first == last
               ? "offset " + std::to_string(first) + " is missing (it lies between the watermarks)"
               : "offsets " + std::to_string(first) + ".." + std::to_string(last) +
                     " are missing (they lie between the watermarks)");
  };
  Status s = reader->Scan(
      ip.topic, ip.partition, ip.state.low, ip.state.high, [&](const ScannedRecord& rec) {
        if (StopRequested()) {
          t->interrupted = true;
          return false;
        }
        // Retention removing records meanwhile leaves no gap.
        expected = std::max(expected, rec.state.low);
        if (rec.key_offset > expected) missing(expected, rec.key_offset - 1);
        expected = rec.key_offset + 1;
        stored += rec.encoded.size();
        if (!rec.decoded.ok()) {
          t->Add(ip, rec.key_offset, std::string(rec.decoded.message()));
        } else {
          const int64_t ts = rec.view.timestamp_ns;
          if (prev_ts && ts < *prev_ts)
            t->Add(ip, rec.key_offset,
                   "timestamp " + FormatTime(ts) + " is before the previous record's " +
                       FormatTime(*prev_ts));
          if (ts > rec.state.last_appended_ns)
            t->Add(ip, rec.key_offset,
                   "timestamp " + FormatTime(ts) + " is after the partition's last append at " +
                       FormatTime(rec.state.last_appended_ns));
          prev_ts = ts;
        }
        ++t->records;
        t->bytes += rec.encoded.size();
        progress->Update(t->records);
        return true;
      });
  if (!s.ok() || t->interrupted) return s;
  ++t->partitions;

  PartitionState now;
  std::vector<std::string> bounds;
  s = reader->CheckBounds(ip.topic, ip.partition, &now, &bounds);
  if (!s.ok()) return s;
  for (std::string& b : bounds) t->Add(ip, std::nullopt, std::move(b));
  expected = std::max(expected, now.low);
  if (expected < ip.state.high) missing(expected, ip.state.high - 1);
  if (now.low == ip.state.low && now.high == ip.state.high) {
    if (stored != now.bytes)
      t->Add(ip, std::nullopt,
             "its records take " + std::to_string(stored) + " bytes but its state says " +
                 std::to_string(now.bytes));
  } else {
    ++t->changed;
  }
  return Status::OK();
}

std::string Verdict(const VerifyTotals& t) {
  std::string v = t.problems == 0 ? "no damage found" : std::to_string(t.problems) + " problem(s)";
  return t.interrupted ? "interrupted, " + v + " so far" : v;
}

std::string ProblemText(const Problem& p) {
  std::string out = p.topic + "/" + std::to_string(p.partition);
  if (p.offset) out += " offset " + std::to_string(*p.offset);
  return out + ": " + p.what;
}

int RunVerify(int argc, char** argv) {
  const CommandSpec spec = VerifySpec();
  Args args;
  int code = 0;
  if (!ParseArgs(spec, argc, argv, 2, &args, &code)) return code;
  const bool json = args.Has("json");

  std::unique_ptr<JournalReader> reader;
  JournalInfo info;
  Status s = JournalReader::OpenAndDescribe(args.positional()[0], &reader, &info);
  if (!s.ok()) return Fail(spec, s);

  InstallStopSignals();
  uint64_t total = 0;
  for (const InspectPartition& ip : info.partitions) total += ip.state.high - ip.state.low;
  Progress progress(total, StderrIsTerminal());
  VerifyTotals t;
  const auto start = std::chrono::steady_clock::now();
  for (const InspectPartition& ip : info.partitions) {
    s = VerifyPartition(reader.get(), ip, &progress, &t);
    if (!s.ok() || t.interrupted) break;
  }
  progress.Clear();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (!s.ok() && !s.IsDataLoss()) return Fail(spec, s);
  if (!s.ok()) {
    // Damaged metadata ends the walk; it is a finding like any other.
    ++t.problems;
    t.kept.push_back({"", 0, std::nullopt, std::string(s.message())});
  }

  if (json) {
    std::vector<std::string> problems;
    for (const Problem& p : t.kept) {
      JsonObject o;
      o.Str("topic", p.topic).Num("partition", p.partition);
      if (p.offset) {
        o.Num("offset", *p.offset);
      } else {
        o.Null("offset");
      }
      problems.push_back(o.Str("problem", p.what).Done());
    }
    JsonObject o;
    o.Str("path", info.path)
        .Bool("ok", t.problems == 0 && !t.interrupted)
        .Bool("interrupted", t.interrupted)
        .Num("records", t.records)
        .Num("bytes", t.bytes)
        .Num("partitions", t.partitions)
        .Num("partitions_changed", t.changed)
        .Num("problem_count", t.problems)
        .Raw("problems", JsonArray(problems))
        .Num("elapsed_ms",
             static_cast<uint64_t>(
                 std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
    std::printf("%s\n", o.Done().c_str());
  } else {
    for (size_t i = 0; i < t.kept.size() && i < kMaxProblemsPrinted; ++i)
      std::printf("damaged: %s\n", ProblemText(t.kept[i]).c_str());
    if (t.problems > kMaxProblemsPrinted)
      std::printf("... and %llu more problem(s) (--json lists up to %zu)\n",
                  static_cast<unsigned long long>(t.problems - kMaxProblemsPrinted),
                  kMaxProblemsKept);
    std::printf("verified %llu record(s), %s, in %llu partition(s) of %zu topic(s) in %s: %s\n",
                static_cast<unsigned long long>(t.records), FormatBytes(t.bytes).c_str(),
                static_cast<unsigned long long>(t.partitions), info.topics.size(),
                FormatDuration(elapsed).c_str(), Verdict(t).c_str());
    if (t.changed > 0)
      std::printf(
          "%llu partition(s) were written to while verified; their stored-bytes totals "
          "were not compared\n",
          static_cast<unsigned long long>(t.changed));
  }
  std::fflush(stdout);
  if (t.interrupted)
    return Fail(spec, "interrupted after " + std::to_string(t.records) + " of " +
                          std::to_string(total) + " records; the rest was not verified");
  if (t.problems > 0)
    return Fail(
        spec, "journal " + info.path + " is damaged: " + ProblemText(t.kept[0]) +
                  (t.problems > 1 ? " (and " + std::to_string(t.problems - 1) + " more problem(s))"
                                  : std::string()) +
                  ". Readers get DataLoss at damaged records and are served the ones "
                  "after them; restore the journal from a copy if you need them");
  return kExitOk;
}

// ----- copy

CommandSpec CopySpec() {
  return SubcommandSpec(
      "copy", "DIR DEST", 2, "a consistent copy of a journal, even while a node has it open",
      "Copies the journal in DIR into DEST (created if missing; it must be empty) as one\n"
      "consistent snapshot, with LMDB's mdb_env_copy2. --compact leaves out free pages,\n"
      "so the copy can be much smaller than a journal that retention has thinned.\n"
      "A copy is a backup: a journal restored from it has the same producer id and an\n"
      "older epoch, so treat it as a new producer (docs/JOURNAL.md, \"Epochs\").",
      {{"compact", "", "leave out free pages (renumbers pages; slower)"},
       {"json", "", "the sizes as one JSON object"}});
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Prepares DEST: an existing empty directory, or one made now (*made).
Status PrepareDestination(const std::string& dest, bool* made) {
  *made = false;
  struct stat st;
  if (stat(dest.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return Status::FailedPrecondition(dest +
                                        " exists and is not a directory; choose a new "
                                        "or empty directory for the copy");
    if (stat((dest + "/data.mdb").c_str(), &st) == 0)
      return Status::AlreadyExists(dest +
                                   " already holds a journal (data.mdb); choose a new or empty "
                                   "directory for the copy");
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dest.c_str()), closedir);
    if (!d) return Status::FailedPrecondition("cannot read " + dest + ": " + std::strerror(errno));
    while (dirent* e = readdir(d.get())) {
      const std::string n = e->d_name;
      if (n != "." && n != "..")
        return Status::FailedPrecondition(dest + " is not empty (it holds '" + n +
                                          "'); choose a new or empty directory for the copy");
    }
    return Status::OK();
  }
  if (errno != ENOENT)
    return Status::FailedPrecondition("cannot access " + dest + ": " + std::strerror(errno));
  // Like `mkdir -p`: parents too.
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dest.find('/', pos + 1);
    const std::string part = dest.substr(0, pos);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FailedPrecondition("cannot create " + part + ": " + std::strerror(errno));
  }
  *made = true;
  return Status::OK();
}

int RunCopy(int argc, char** argv) {
  const CommandSpec spec = CopySpec();
  Args args;
  int code = 0;
  if (!ParseArgs(spec, argc, argv, 2, &args, &code)) return code;
  std::string dest = args.positional()[1];
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  const bool compact = args.Has("compact");

  std::unique_ptr<JournalReader> reader;
  Status s = JournalReader::Open(args.positional()[0], &reader);
  if (!s.ok()) return Fail(spec, s);
  bool made = false;
  s = PrepareDestination(dest, &made);
  if (!s.ok()) return Fail(spec, s);
  const uint64_t before = FileSize(reader->path() + "/data.mdb");
  s = reader->CopyTo(dest, compact);
  if (!s.ok()) {
    // Leave DEST as it was found: a partial copy must not pass for a journal.
    unlink((dest + "/data.mdb").c_str());
    if (made) rmdir(dest.c_str());
    return Fail(spec, s);
  }
  const uint64_t after = FileSize(dest + "/data.mdb");
  if (args.Has("json")) {
    std::printf("%s\n", JsonObject()
                            .Str("source", reader->path())
                            .Str("destination", dest)
                            .Num("source_bytes", before)
                            .Num("destination_bytes", after)
                            .Bool("compact", compact)
                            .Done()
                            .c_str());
  } else {
    std::printf("copied %s (%s) to %s (%s%s)\n", reader->path().c_str(),
                FormatBytes(before).c_str(), dest.c_str(), FormatBytes(after).c_str(),
                compact ? ", compacted" : "");
  }
  return kExitOk;
}

// ----- dispatch

struct Subcommand {
  const char* name;
  CommandSpec (*spec)();
  int (*run)(int argc, char** argv);
};

constexpr Subcommand kSubcommands[] = {
    {"stats", StatsSpec, RunStats},
    {"dump", DumpSpec, RunDump},
    {"verify", VerifySpec, RunVerify},
    {"copy", CopySpec, RunCopy},
};

void PrintJournalUsage(FILE* to) {
  std::fprintf(to,
               "usage: brook journal <subcommand> [options] DIR\n\n"
               "Offline tools on a journal directory. They open it read-only and never take its\n"
               "lock, so they work while a node has the journal open.\n\n"
               "subcommands:\n");
  for (const Subcommand& c : kSubcommands)
    std::fprintf(to, "  %-7s %s\n", c.name, c.spec().summary.c_str());
  std::fprintf(to, "\n`brook journal <subcommand> --help` describes its options.\n");
}

}  // namespace

int RunJournal(int argc, char** argv) {
  if (argc < 2) {
    PrintJournalUsage(stderr);
    return kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    PrintJournalUsage(stdout);
    return kExitOk;
  }
  for (const Subcommand& c : kSubcommands) {
    if (name == c.name) return c.run(argc, argv);
  }
  std::fprintf(stderr, "brook journal: unknown subcommand '%s'\n\n", argv[1]);
  PrintJournalUsage(stderr);
  return kExitUsage;
}

}  // namespace brook::cli
