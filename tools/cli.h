// The pieces every `brook` subcommand shares: its option parser, help text,
// error reporting, value parsers (durations, sizes, times), table and JSON
// output, and the signal flag for clean shutdown.
//
// Conventions (docs/CLI.md): exit 0 on success, 1 when the work failed (the
// Status message on stderr), 2 on bad arguments (the problem and the usage on
// stderr). Tables for people by default, --json for scripts.
#ifndef BROOK_TOOLS_CLI_H_
#define BROOK_TOOLS_CLI_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brook/consumer.h"
#include "brook/record.h"
#include "brook/security.h"
#include "brook/status.h"

namespace brook::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// One --option of a subcommand. `value` empty: a flag without a value.
struct OptionSpec {
  OptionSpec(std::string n, std::string v, std::string h, bool r = false)
      : name(std::move(n)), value(std::move(v)), help(std::move(h)), repeatable(r) {}
  std::string name;   // without the dashes
  std::string value;  // e.g. "N", "DIR"; empty for flags
  std::string help;
  bool repeatable = false;
};

struct CommandSpec {
  explicit CommandSpec(std::string n = {}) : name(std::move(n)) {}
  std::string name;         // e.g. "produce", or "journal verify"
  std::string positional;   // usage of the positional arguments, e.g. "TOPIC"
  std::string summary;      // one line
  std::string description;  // paragraphs after the usage line (may be empty)
  std::vector<OptionSpec> options;
  size_t min_positional = 0;
  size_t max_positional = 0;
};

// The arguments of one invocation, after parsing.
class Args {
 public:
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // The last value given for `name`, or `fallback`.
  std::string Get(const std::string& name, const std::string& fallback = {}) const;
  const std::vector<std::string>& GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // Typed getters: absent leaves *out unchanged and returns OK; a malformed
  // value is InvalidArgument naming the option.
  Status GetUint(const std::string& name, uint64_t* out) const;
  Status GetUint32(const std::string& name, uint32_t* out) const;
  Status GetDuration(const std::string& name, std::chrono::milliseconds* out) const;
  Status GetSize(const std::string& name, uint64_t* out) const;

  std::map<std::string, std::vector<std::string>>& values() { return values_; }
  std::vector<std::string>& mutable_positional() { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Parses argv[first..argc) against `spec`. Prints help and returns false with
// *exit_code = 0 for -h/--help; prints the problem and the usage to stderr and
// returns false with *exit_code = 2 for bad arguments.
bool ParseArgs(const CommandSpec& spec, int argc, char** argv, int first, Args* out,
               int* exit_code);

void PrintHelp(const CommandSpec& spec, FILE* to);

// "brook <command>: <message>" on stderr; returns kExitFailed.
int Fail(const CommandSpec& spec, const Status& s);
int Fail(const CommandSpec& spec, const std::string& message);
// For an argument that is well-formed but wrong: message, usage hint, kExitUsage.
int UsageError(const CommandSpec& spec, const std::string& message);

// ----- Values.

// "250ms", "2s", "5m", "1h", "7d"; a bare number is milliseconds.
Status ParseDuration(std::string_view text, std::chrono::milliseconds* out);
// "1000", "64KiB", "1MiB", "2GiB", "1TiB" (also K/M/G/T, KB/MB/GB/TB as powers of 1000).
Status ParseSize(std::string_view text, uint64_t* out);
Status ParseUint(std::string_view text, uint64_t* out);
// An instant in ns since the Unix epoch: RFC 3339 "2026-11-25T10:00:00Z"
// (fraction and +hh:mm offset allowed), "@<unix seconds>", or "-<duration>"
// (that long ago, e.g. "-1h").
Status ParseTime(std::string_view text, int64_t* ns);
// "2026-11-25T10:00:00.123456789Z".
std::string FormatTime(int64_t ns);
std::string FormatBytes(uint64_t bytes);                 // "1.5 MiB"
std::string FormatDuration(std::chrono::nanoseconds d);  // "1.2 s", "3 ms"
std::string DurabilityText(Durability d);
Status ParseDurability(std::string_view text, Durability* out);

// ----- Output.

// JSON string literal: valid UTF-8 passes through, control characters are
// escaped. Meant for text; a byte that is not UTF-8 is escaped as \u00XX (a
// different character), so records' bytes go through AppendRecordContentJson.
std::string JsonString(std::string_view s);
void AppendJsonString(std::string_view s, std::string* out);

bool IsUtf8(std::string_view s);
std::string Base64Encode(std::string_view bytes);
// Errors: InvalidArgument (not base64).
Status Base64Decode(std::string_view text, std::string* out);

// A record's content as JSON object members (no braces, no leading comma),
// the same in every command that prints records and what `brook produce
// --json` reads back:
//   "key":"..." (or null when keyless),"headers":{"name":"value",...},"payload":"..."
// JSON strings are Unicode text, so bytes that are not UTF-8 go base64 instead:
// "key_base64" and "payload_base64" replace "key" and "payload", and headers
// whose name or value is not UTF-8 go in "headers_base64":{b64(name):b64(value)}.
void AppendRecordContentJson(const RecordView& r, std::string* out);

// One JSON object built field by field: {"a":1,"b":"x"}.
class JsonObject {
 public:
  JsonObject& Str(std::string_view key, std::string_view value);
  JsonObject& Num(std::string_view key, uint64_t value);
  JsonObject& Int(std::string_view key, int64_t value);
  JsonObject& Bool(std::string_view key, bool value);
  JsonObject& Null(std::string_view key);
  // `json` is already encoded JSON (an object, an array...).
  JsonObject& Raw(std::string_view key, std::string_view json);
  // `members` is already encoded "key":value pairs, comma separated.
  JsonObject& Members(std::string_view members);
  std::string Done() const { return body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_ = "{";
};

std::string JsonArray(const std::vector<std::string>& encoded_items);

// Columns aligned for people; numbers right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> headings);
  void Row(std::vector<std::string> cells);
  void Print(FILE* to) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headings_;
  std::vector<std::vector<std::string>> rows_;
};

// ----- Security options shared by the commands that talk to a node.

// Adds --server-key FILE, --client-key FILE (the public key file; the secret
// one is FILE with ".secret" or given by --client-secret-key).
void AddClientSecurityOptions(CommandSpec* spec);
Status ClientSecurityFromArgs(const Args& args, ClientSecurity* out);

// ----- Diagnostics.

// brook's log messages on stderr, prefixed with the command: warnings and
// errors always, info and debug only when `verbose`.
Logger StderrLogger(const std::string& command, bool verbose);

// ----- Signals.

// SIGINT and SIGTERM set the flag (and a second one exits at once).
void InstallStopSignals();
bool StopRequested();

// stderr is a terminal (for progress output).
bool StderrIsTerminal();

}  // namespace brook::cli

#endif  // BROOK_TOOLS_CLI_H_
