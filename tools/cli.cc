#include "tools/cli.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace brook::cli {

// ----- Args.

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return fallback;
  return it->second.back();
}

const std::vector<std::string>& Args::GetAll(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(name);
  return it == values_.end() ? kNone : it->second;
}

Status Args::GetUint(const std::string& name, uint64_t* out) const {
  if (!Has(name)) return Status::OK();
  Status s = ParseUint(Get(name), out);
  if (!s.ok()) return Status::InvalidArgument("--" + name + ": " + std::string(s.message()));
  return s;
}

Status Args::GetUint32(const std::string& name, uint32_t* out) const {
  if (!Has(name)) return Status::OK();
  uint64_t v = 0;
  Status s = GetUint(name, &v);
  if (!s.ok()) return s;
  if (v > UINT32_MAX)
    return Status::InvalidArgument("--" + name + ": " + Get(name) + " is too large");
  *out = static_cast<uint32_t>(v);
  return s;
}

Status Args::GetDuration(const std::string& name, std::chrono::milliseconds* out) const {
  if (!Has(name)) return Status::OK();
  Status s = ParseDuration(Get(name), out);
  if (!s.ok()) return Status::InvalidArgument("--" + name + ": " + std::string(s.message()));
  return s;
}

Status Args::GetSize(const std::string& name, uint64_t* out) const {
  if (!Has(name)) return Status::OK();
  Status s = ParseSize(Get(name), out);
  if (!s.ok()) return Status::InvalidArgument("--" + name + ": " + std::string(s.message()));
  return s;
}

// ----- Parsing and help.

namespace {

const OptionSpec* FindOption(const CommandSpec& spec, std::string_view name) {
  for (const OptionSpec& o : spec.options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string UsageLine(const CommandSpec& spec) {
  std::string line = "usage: brook " + spec.name;
  if (!spec.options.empty()) line += " [options]";
  if (!spec.positional.empty()) line += " " + spec.positional;
  return line;
}

}  // namespace

void PrintHelp(const CommandSpec& spec, FILE* to) {
  std::fprintf(to, "%s\n\n%s\n", UsageLine(spec).c_str(), spec.summary.c_str());
  if (!spec.description.empty()) std::fprintf(to, "\n%s\n", spec.description.c_str());
  if (spec.options.empty()) return;
  std::fprintf(to, "\noptions:\n");
  size_t width = 0;
  std::vector<std::string> left;
  for (const OptionSpec& o : spec.options) {
    std::string l = "  --" + o.name + (o.value.empty() ? "" : " " + o.value);
    width = std::max(width, l.size());
    left.push_back(l);
  }
  left.push_back("  -h, --help");
  width = std::max(width, left.back().size());
  for (size_t i = 0; i < left.size(); ++i) {
    std::string help = i < spec.options.size() ? spec.options[i].help : "show this help";
    if (i < spec.options.size() && spec.options[i].repeatable) help += " (repeatable)";
    // Continuation lines of a multi-line help align under the first.
    std::string indented;
    for (char c : help) {
      indented += c;
      if (c == '\n') indented += std::string(width + 2, ' ');
    }
    std::fprintf(to, "%-*s  %s\n", static_cast<int>(width), left[i].c_str(), indented.c_str());
  }
}

int UsageError(const CommandSpec& spec, const std::string& message) {
  std::fprintf(stderr, "brook %s: %s\n%s\n(brook %s --help for more)\n", spec.name.c_str(),
               message.c_str(), UsageLine(spec).c_str(), spec.name.c_str());
  return kExitUsage;
}

bool ParseArgs(const CommandSpec& spec, int argc, char** argv, int first, Args* out,
               int* exit_code) {
  bool options_done = false;
  for (int i = first; i < argc; ++i) {
    std::string_view a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
      out->mutable_positional().emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      PrintHelp(spec, stdout);
      *exit_code = kExitOk;
      return false;
    }
    if (a.substr(0, 2) != "--") {
      *exit_code =
          UsageError(spec, "unknown option " + std::string(a) + " (options are spelt --name)");
      return false;
    }
    std::string_view name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const OptionSpec* o = FindOption(spec, name);
    if (!o) {
      *exit_code = UsageError(spec, "unknown option --" + std::string(name));
      return false;
    }
    if (o->value.empty()) {
      if (value) {
        *exit_code = UsageError(spec, "--" + o->name + " takes no value");
        return false;
      }
      value = "";
    } else if (!value) {
      if (i + 1 >= argc) {
        *exit_code = UsageError(spec, "--" + o->name + " needs a value (" + o->value + ")");
        return false;
      }
      value = argv[++i];
    }
    auto& slot = out->values()[o->name];
    if (!slot.empty() && !o->repeatable && !o->value.empty() && slot.back() != *value) {
      *exit_code = UsageError(spec, "--" + o->name + " given twice");
      return false;
    }
    slot.push_back(*value);
  }
  const size_t n = out->positional().size();
  if (n < spec.min_positional) {
    *exit_code = UsageError(spec, "missing " + spec.positional);
    return false;
  }
  if (n > spec.max_positional) {
    *exit_code =
        UsageError(spec, "unexpected argument '" + out->positional()[spec.max_positional] + "'");
    return false;
  }
  return true;
}

int Fail(const CommandSpec& spec, const Status& s) {
  std::fprintf(stderr, "brook %s: %s\n", spec.name.c_str(), s.ToString().c_str());
  return kExitFailed;
}

int Fail(const CommandSpec& spec, const std::string& message) {
  std::fprintf(stderr, "brook %s: %s\n", spec.name.c_str(), message.c_str());
  return kExitFailed;
}

// ----- Values.

Status ParseUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return Status::InvalidArgument("expected a number, got nothing");
  uint64_t v = 0;
  for (char c : text) {
    if (c == '_') continue;  // 1_000_000
    if (c < '0' || c > '9') {
      return Status::InvalidArgument("expected a whole number, got '" + std::string(text) + "'");
    }
    if (v > (UINT64_MAX - (c - '0')) / 10) {
      return Status::InvalidArgument("'" + std::string(text) + "' is too large");
    }
    v = v * 10 + (c - '0');
  }
  *out = v;
  return Status::OK();
}

namespace {

// Splits "12.5ms" into 12.5 and "ms".
bool SplitNumber(std::string_view text, double* number, std::string_view* unit) {
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return false;
  std::string digits(text.substr(0, i));
  char* end = nullptr;
  errno = 0;
  *number = std::strtod(digits.c_str(), &end);
  if (errno != 0 || end != digits.c_str() + digits.size() || *number < 0) return false;
  *unit = text.substr(i);
  while (!unit->empty() && unit->front() == ' ') unit->remove_prefix(1);
  return true;
}

}  // namespace

Status ParseDuration(std::string_view text, std::chrono::milliseconds* out) {
  double n = 0;
  std::string_view unit;
  if (!SplitNumber(text, &n, &unit)) {
    return Status::InvalidArgument("expected a duration such as 500ms, 2s, 5m, 1h or 7d, got '" +
                                   std::string(text) + "'");
  }
  double ms = 0;
  if (unit.empty() || unit == "ms") {
    ms = n;
  } else if (unit == "s") {
    ms = n * 1e3;
  } else if (unit == "m" || unit == "min") {
    ms = n * 60e3;
  } else if (unit == "h") {
    ms = n * 3600e3;
  } else if (unit == "d") {
    ms = n * 86400e3;
  } else {
    return Status::InvalidArgument("unknown unit '" + std::string(unit) + "' in duration '" +
                                   std::string(text) + "' (use ms, s, m, h or d)");
  }
  if (ms > 1e15) return Status::InvalidArgument("duration '" + std::string(text) + "' is too long");
  *out = std::chrono::milliseconds(static_cast<int64_t>(ms + 0.5));
  return Status::OK();
}

Status ParseSize(std::string_view text, uint64_t* out) {
  double n = 0;
  std::string_view unit;
  if (!SplitNumber(text, &n, &unit)) {
    return Status::InvalidArgument("expected a size such as 4096, 64KiB, 1GiB, got '" +
                                   std::string(text) + "'");
  }
  static const struct {
    const char* name;
    double factor;
  } kUnits[] = {{"", 1},
                {"B", 1},
                {"K", 1024},
                {"KiB", 1024},
                {"KB", 1e3},
                {"M", 1024.0 * 1024},
                {"MiB", 1024.0 * 1024},
                {"MB", 1e6},
                {"G", 1024.0 * 1024 * 1024},
                {"GiB", 1024.0 * 1024 * 1024},
                {"GB", 1e9},
                {"T", 1024.0 * 1024 * 1024 * 1024},
                {"TiB", 1024.0 * 1024 * 1024 * 1024},
                {"TB", 1e12}};
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      const double bytes = n * u.factor;
      if (bytes > 1.8e19)
        return Status::InvalidArgument("size '" + std::string(text) + "' is too large");
      *out = static_cast<uint64_t>(bytes + 0.5);
      return Status::OK();
    }
  }
  return Status::InvalidArgument("unknown unit '" + std::string(unit) + "' in size '" +
                                 std::string(text) + "' (use B, KiB, MiB, GiB, TiB)");
}

Status ParseTime(std::string_view text, int64_t* ns) {
  const std::string t(text);
  if (!t.empty() && t[0] == '-') {
    std::chrono::milliseconds ago{0};
    Status s = ParseDuration(text.substr(1), &ago);
    if (!s.ok()) return s;
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    *ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - ago).count();
    return Status::OK();
  }
  if (!t.empty() && t[0] == '@') {
    double secs = 0;
    std::string_view unit;
    if (!SplitNumber(text.substr(1), &secs, &unit) || !unit.empty()) {
      return Status::InvalidArgument("expected @<seconds since the Unix epoch>, got '" + t + "'");
    }
    *ns = static_cast<int64_t>(secs * 1e9);
    return Status::OK();
  }
  // RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm); a date alone is midnight UTC.
  int year, mon, day, hour = 0, min = 0, sec = 0, consumed = 0;
  const std::string bad =
      "expected a time such as 2026-11-25T10:00:00Z, @1764064800 or -1h, got '" + t + "'";
  if (std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &year, &mon, &day, &consumed) != 3) {
    return Status::InvalidArgument(bad);
  }
  size_t i = static_cast<size_t>(consumed);
  int64_t frac_ns = 0;
  int64_t offset_s = 0;
  if (i < t.size()) {
    if (t[i] != 'T' && t[i] != 't' && t[i] != ' ') return Status::InvalidArgument(bad);
    int n2 = 0;
    if (std::sscanf(t.c_str() + i + 1, "%2d:%2d:%2d%n", &hour, &min, &sec, &n2) != 3) {
      return Status::InvalidArgument(bad);
    }
    i += 1 + static_cast<size_t>(n2);
    if (i < t.size() && t[i] == '.') {
      ++i;
      int64_t scale = 100000000;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        frac_ns += (t[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
    }
    if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
      ++i;
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
      int oh = 0, om = 0;
      if (std::sscanf(t.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2)
        return Status::InvalidArgument(bad);
      offset_s = (oh * 3600 + om * 60) * (t[i] == '+' ? 1 : -1);
      i += 6;
    } else {
      return Status::InvalidArgument(bad + " (give the zone: Z or +hh:mm)");
    }
    if (i != t.size()) return Status::InvalidArgument(bad);
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return Status::InvalidArgument(bad);
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_s;
  *ns = secs * 1000000000 + frac_ns;
  return Status::OK();
}

std::string FormatTime(int64_t ns) {
  const int64_t secs = ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000;
  const int64_t frac = ns - secs * 1000000000;
  const time_t t = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  }
  return buf;
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  char buf[32];
  if (ns < 0) return "unknown";
  if (ns < 1e3) {
    std::snprintf(buf, sizeof buf, "%.0f ns", ns);
  } else if (ns < 1e6) {
    std::snprintf(buf, sizeof buf, "%.1f us", ns / 1e3);
  } else if (ns < 1e9) {
    std::snprintf(buf, sizeof buf, "%.1f ms", ns / 1e6);
  } else if (ns < 120e9) {
    std::snprintf(buf, sizeof buf, "%.1f s", ns / 1e9);
  } else if (ns < 7200e9) {
    std::snprintf(buf, sizeof buf, "%.1f min", ns / 60e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f h", ns / 3600e9);
  }
  return buf;
}

std::string DurabilityText(Durability d) { return DurabilityName(d); }

Status ParseDurability(std::string_view text, Durability* out) {
  if (text == "fsync") {
    *out = Durability::kFsync;
  } else if (text == "nometasync") {
    *out = Durability::kNoMetaSync;
  } else if (text == "nosync") {
    *out = Durability::kNoSync;
  } else {
    return Status::InvalidArgument("unknown durability '" + std::string(text) +
                                   "' (fsync, nometasync or nosync)");
  }
  return Status::OK();
}

// ----- JSON.

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong encodings, surrogates and values beyond Unicode are not UTF-8.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto b = [&](size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64[(v >> shift) & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    const uint32_t v = (b(i) << 16) | (rest == 2 ? b(i + 1) << 8 : 0);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += rest == 2 ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Status Base64Decode(std::string_view text, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] != '='; ++i) {
    const char* p = std::strchr(kBase64, text[i]);
    if (!p || text[i] == '\0') return Status::InvalidArgument("not base64: unexpected character");
    acc = (acc << 6) | static_cast<uint32_t>(p - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  size_t pad = 0;
  for (; i < text.size(); ++i, ++pad) {
    if (text[i] != '=') return Status::InvalidArgument("not base64: data after '='");
  }
  if ((text.size() % 4) != 0 || pad > 2) return Status::InvalidArgument("not base64: bad length");
  return Status::OK();
}

void AppendRecordContentJson(const RecordView& r, std::string* out) {
  if (!r.key) {
    *out += "\"key\":null";
  } else if (IsUtf8(*r.key)) {
    *out += "\"key\":";
    AppendJsonString(*r.key, out);
  } else {
    *out += "\"key_base64\":\"";
    *out += Base64Encode(*r.key);
    *out += '"';
  }
  *out += ",\"headers\":{";
  bool first = true, binary = false;
  for (const Header* h = r.begin_headers(); h != r.end_headers(); ++h) {
    if (!IsUtf8(h->name) || !IsUtf8(h->value)) {
      binary = true;
      continue;
    }
    if (!first) *out += ',';
    first = false;
    AppendJsonString(h->name, out);
    *out += ':';
    AppendJsonString(h->value, out);
  }
  *out += '}';
  if (binary) {
    *out += ",\"headers_base64\":{";
    first = true;
    for (const Header* h = r.begin_headers(); h != r.end_headers(); ++h) {
      if (IsUtf8(h->name) && IsUtf8(h->value)) continue;
      if (!first) *out += ',';
      first = false;
      *out += '"';
      *out += Base64Encode(h->name);
      *out += "\":\"";
      *out += Base64Encode(h->value);
      *out += '"';
    }
    *out += '}';
  }
  if (IsUtf8(r.payload)) {
    *out += ",\"payload\":";
    AppendJsonString(r.payload, out);
  } else {
    *out += ",\"payload_base64\":\"";
    *out += Base64Encode(r.payload);
    *out += '"';
  }
}

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

void AppendJsonString(std::string_view s, std::string* out_ptr) {
  std::string& out = *out_ptr;
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else {
      const size_t n = c >= 0x80 ? Utf8Length(s, i) : 0;
      if (n > 1) {
        out.append(s.data() + i, n);
        i += n;
      } else {
        // Not text: each byte as U+00XX (JSON has no byte escapes; decoders
        // that want the bytes back read code points below 256 as bytes).
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
        ++i;
      }
    }
  }
  out += '"';
}

void JsonObject::Key(std::string_view key) {
  if (body_.size() > 1) body_ += ',';
  body_ += JsonString(key);
  body_ += ':';
}

JsonObject& JsonObject::Members(std::string_view members) {
  if (members.empty()) return *this;
  if (body_.size() > 1) body_ += ',';
  body_ += members;
  return *this;
}

JsonObject& JsonObject::Str(std::string_view key, std::string_view value) {
  Key(key);
  body_ += JsonString(value);
  return *this;
}

JsonObject& JsonObject::Num(std::string_view key, uint64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Int(std::string_view key, int64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Bool(std::string_view key, bool value) {
  Key(key);
  body_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::Null(std::string_view key) {
  Key(key);
  body_ += "null";
  return *this;
}

JsonObject& JsonObject::Raw(std::string_view key, std::string_view json) {
  Key(key);
  body_ += json;
  return *this;
}

std::string JsonArray(const std::vector<std::string>& encoded_items) {
  std::string out = "[";
  for (size_t i = 0; i < encoded_items.size(); ++i) {
    if (i) out += ',';
    out += encoded_items[i];
  }
  return out + "]";
}

// ----- Table.

Table::Table(std::vector<std::string> headings) : headings_(std::move(headings)) {}

void Table::Row(std::vector<std::string> cells) {
  cells.resize(headings_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(FILE* to) const {
  std::vector<size_t> width(headings_.size());
  std::vector<bool> numeric(headings_.size(), !rows_.empty());
  for (size_t c = 0; c < headings_.size(); ++c) {
    width[c] = headings_[c].size();
    for (const auto& r : rows_) {
      width[c] = std::max(width[c], r[c].size());
      const bool num =
          !r[c].empty() && r[c].find_first_not_of("0123456789.,-") == std::string::npos;
      if (!num && !r[c].empty()) numeric[c] = false;
    }
  }
  auto line = [&](const std::vector<std::string>& cells, bool heading) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      const bool last = c + 1 == cells.size();
      const size_t pad = width[c] - cells[c].size();
      if (numeric[c] && !heading) out.append(pad, ' ');
      out += cells[c];
      if ((!numeric[c] || heading) && !last) out.append(pad, ' ');
      if (numeric[c] && heading && last) out.append(pad, ' ');
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::fprintf(to, "%s\n", out.c_str());
  };
  line(headings_, true);
  for (const auto& r : rows_) line(r, false);
}

// ----- Security.

void AddClientSecurityOptions(CommandSpec* spec) {
  spec->options.push_back(
      {"server-key", "FILE", "the node's public CURVE key (turns CURVE on; docs/SECURITY.md)"});
  spec->options.push_back({"client-key", "FILE",
                           "this client's public key file (its secret key: FILE.secret,\n"
                           "or --client-secret-key); with --server-key"});
  spec->options.push_back({"client-secret-key", "FILE", "this client's secret key file"});
}

Status ClientSecurityFromArgs(const Args& args, ClientSecurity* out) {
  const bool any =
      args.Has("server-key") || args.Has("client-key") || args.Has("client-secret-key");
  if (!any) return Status::OK();
  if (!args.Has("server-key") || !args.Has("client-key")) {
    return Status::InvalidArgument(
        "CURVE needs both --server-key (the node's public key file) and --client-key (this "
        "client's public key file); `brook keygen` makes key files");
  }
  out->enabled = true;
  Status s = LoadPublicKey(args.Get("server-key"), &out->server_public_key);
  if (!s.ok()) return s;
  const std::string pub = args.Get("client-key");
  const std::string secret = args.Get("client-secret-key", pub + ".secret");
  return LoadKeyPair(pub, secret, &out->client);
}

// ----- Diagnostics.

Logger StderrLogger(const std::string& command, bool verbose) {
  return [command, verbose](LogLevel level, std::string_view message) {
    if (!verbose && (level == LogLevel::kDebug || level == LogLevel::kInfo)) return;
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    std::fprintf(stderr, "brook %s: %s: %.*s\n", command.c_str(), kNames[static_cast<int>(level)],
                 static_cast<int>(message.size()), message.data());
  };
}

// ----- Signals.

namespace {

std::atomic<bool> g_stop{false};

void OnStopSignal(int) {
  if (g_stop.exchange(true)) _exit(130);  // the second Ctrl-C: now
}

}  // namespace

void InstallStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed stdout is an EPIPE write error, not a silent death
}

bool StopRequested() { return g_stop.load(std::memory_order_relaxed); }

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace brook::cli
