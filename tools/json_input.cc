#include "tools/json_input.h"

#include <set>

#include "tools/cli.h"

namespace brook::cli {

namespace {

// A recursive-descent reader over one line; depth-limited so a hostile line
// cannot exhaust the stack.
class JsonReader {
 public:
  explicit JsonReader(std::string_view in) : in_(in) {}

  Status Error(const std::string& what) const {
    return Status::InvalidArgument("JSON column " + std::to_string(pos_ + 1) + ": " + what);
  }

  void Space() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\r' || in_[pos_] == '\n')) {
      ++pos_;
    }
  }
  bool Peek(char c) {
    Space();
    return pos_ < in_.size() && in_[pos_] == c;
  }
  bool Eat(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  bool AtEnd() {
    Space();
    return pos_ == in_.size();
  }
  bool Literal(std::string_view word) {
    Space();
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status String(std::string* out) {
    if (!Eat('"')) return Error("expected a string");
    out->clear();
    while (pos_ < in_.size()) {
      const char c = in_[pos_++];
      if (c == '"') return Status::OK();
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string");
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= in_.size()) break;
      const char e = in_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          *out += e;
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'n':
          *out += '\n';
          break;
        case 'r':
          *out += '\r';
          break;
        case 't':
          *out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          Status s = Hex4(&cp);
          if (!s.ok()) return s;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
            uint32_t low = 0;
            if (in_.substr(pos_, 2) != "\\u") return Error("lone high surrogate");
            pos_ += 2;
            s = Hex4(&low);
            if (!s.ok()) return s;
            if (low < 0xDC00 || low > 0xDFFF) return Error("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Error("lone low surrogate");
          }
          AppendCodePoint(cp, out);
          break;
        }
        default:
          return Error(std::string("unknown escape \\") + e);
      }
    }
    return Error("unterminated string");
  }

  // Skips any value, returning its text.
  Status RawValue(std::string_view* text, int depth = 0) {
    if (depth > 64) return Error("nested too deeply");
    Space();
    const size_t start = pos_;
    std::string scratch;
    Status s;
    if (Peek('"')) {
      s = String(&scratch);
    } else if (Eat('{')) {
      if (!Eat('}')) {
        do {
          s = String(&scratch);
          if (s.ok() && !Eat(':')) s = Error("expected ':'");
          std::string_view ignored;
          if (s.ok()) s = RawValue(&ignored, depth + 1);
        } while (s.ok() && Eat(','));
        if (s.ok() && !Eat('}')) s = Error("expected ',' or '}'");
      }
    } else if (Eat('[')) {
      if (!Eat(']')) {
        do {
          std::string_view ignored;
          s = RawValue(&ignored, depth + 1);
        } while (s.ok() && Eat(','));
        if (s.ok() && !Eat(']')) s = Error("expected ',' or ']'");
      }
    } else if (Literal("true") || Literal("false") || Literal("null")) {
    } else {
      s = Number();
    }
    if (!s.ok()) return s;
    *text = in_.substr(start, pos_ - start);
    while (!text->empty() && (text->front() == ' ' || text->front() == '\t'))
      text->remove_prefix(1);
    return Status::OK();
  }

  // JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  Status Number() {
    const auto digits = [this] {
      const size_t begin = pos_;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
      return pos_ - begin;
    };
    // No whitespace inside a number, so not Eat().
    const auto take = [this](char c) {
      if (pos_ >= in_.size() || in_[pos_] != c) return false;
      ++pos_;
      return true;
    };
    const size_t begin = pos_;
    take('-');
    const bool leading_zero = pos_ < in_.size() && in_[pos_] == '0';
    const size_t whole = digits();
    if (whole == 0) return Error(pos_ == begin ? "expected a value" : "expected a number");
    if (leading_zero && whole > 1) return Error("a number has no leading zeros");
    if (take('.') && digits() == 0) return Error("expected digits after '.'");
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Error("expected digits in the exponent");
    }
    return Status::OK();
  }

  Status Uint32(uint32_t* out) {
    Space();
    uint64_t v = 0;
    const size_t begin = pos_;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
      v = v * 10 + static_cast<uint64_t>(in_[pos_++] - '0');
      if (v > UINT32_MAX) return Error("number too large");
    }
    if (pos_ == begin) return Error("expected a whole number");
    *out = static_cast<uint32_t>(v);
    return Status::OK();
  }

 private:
  Status Hex4(uint32_t* out) {
    if (pos_ + 4 > in_.size()) return Error("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = in_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return Error("bad hex digit in \\u escape");
      }
    }
    *out = v;
    return Status::OK();
  }

  static void AppendCodePoint(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
};

Status Decode(const JsonReader& r, const std::string& text, const std::string& field,
              std::string* out) {
  std::string bytes;
  Status s = Base64Decode(text, &bytes);
  if (!s.ok()) return r.Error("\"" + field + "\": " + std::string(s.message()));
  *out = std::move(bytes);
  return Status::OK();
}

}  // namespace

Status ParseJsonRecord(std::string_view line, JsonRecord* out) {
  *out = JsonRecord{};
  JsonReader r(line);
  if (!r.Eat('{')) return r.Error("a record is a JSON object: {\"key\": ..., \"payload\": ...}");
  if (r.Eat('}')) return r.AtEnd() ? Status::OK() : r.Error("text after the object");
  std::set<std::string> seen;
  std::set<std::string> names;  // of headers, both forms
  do {
    std::string field;
    Status s = r.String(&field);
    if (!s.ok()) return s;
    if (!r.Eat(':')) return r.Error("expected ':' after \"" + field + "\"");
    if (out->event || field == "producer" || field == "topic" || field == "offset" ||
        field == "timestamp_ns" || field == "timestamp") {
      // Where a `brook consume --json` line's record was: the node it goes to
      // gives it its own offset and time. And the rest of an event line.
      std::string_view ignored;
      s = r.RawValue(&ignored);
      if (!s.ok()) return s;
      continue;
    }
    if (field == "event") {
      std::string kind;
      s = r.String(&kind);
      if (!s.ok()) return s;
      out->event = std::move(kind);
      continue;
    }
    if (field != "key" && field != "key_base64" && field != "headers" &&
        field != "headers_base64" && field != "payload" && field != "payload_base64" &&
        field != "partition") {
      return r.Error("unknown field \"" + field +
                     "\" (key, key_base64, headers, headers_base64, payload, payload_base64, "
                     "partition; ignored: producer, topic, offset, timestamp, timestamp_ns)");
    }
    if (!seen.insert(field).second) return r.Error("\"" + field + "\" given twice");
    if ((field == "key" && seen.count("key_base64")) ||
        (field == "key_base64" && seen.count("key")) ||
        (field == "payload" && seen.count("payload_base64")) ||
        (field == "payload_base64" && seen.count("payload"))) {
      return r.Error("\"" + field + "\" and its other form given both");
    }
    if (field == "key" || field == "key_base64") {
      if (!r.Literal("null")) {
        std::string text;
        s = r.String(&text);
        if (s.ok() && field == "key_base64") s = Decode(r, text, "key_base64", &text);
        out->key = std::move(text);
      }
    } else if (field == "headers" || field == "headers_base64") {
      if (!r.Literal("null")) {
        if (!r.Eat('{')) return r.Error("\"" + field + "\" is an object of strings");
        if (!r.Eat('}')) {
          do {
            std::pair<std::string, std::string> h;
            s = r.String(&h.first);
            if (s.ok() && !r.Eat(':')) s = r.Error("expected ':'");
            if (s.ok()) s = r.String(&h.second);
            if (s.ok() && field == "headers_base64") s = Decode(r, h.first, field, &h.first);
            if (s.ok() && field == "headers_base64") s = Decode(r, h.second, field, &h.second);
            if (!s.ok()) return s;
            if (!names.insert(h.first).second) {
              return r.Error("header \"" + h.first + "\" given twice");
            }
            out->headers.push_back(std::move(h));
          } while (r.Eat(','));
          if (!r.Eat('}')) return r.Error("expected ',' or '}' in \"" + field + "\"");
        }
      }
    } else if (field == "payload_base64") {
      s = r.String(&out->payload);
      if (s.ok()) s = Decode(r, out->payload, field, &out->payload);
    } else if (field == "payload") {
      if (r.Peek('"')) {
        s = r.String(&out->payload);
      } else {
        std::string_view raw;
        s = r.RawValue(&raw);
        if (s.ok()) out->payload.assign(raw);
      }
    } else {
      if (!r.Literal("null")) {
        uint32_t p = 0;
        s = r.Uint32(&p);
        out->partition = p;
      }
    }
    if (!s.ok()) return s;
  } while (r.Eat(','));
  if (!r.Eat('}')) return r.Error("expected ',' or '}'");
  if (!r.AtEnd()) return r.Error("text after the object");
  return Status::OK();
}

}  // namespace brook::cli
