// Reads one record from a JSON line for `brook produce --json`:
//
//   {"key": "customer-7", "headers": {"source": "web"}, "payload": "...",
//    "partition": 2}
//
// Every field is optional ("payload" missing: empty). "key": a string, or
// null for a keyless record. "payload": a string is taken as its bytes; any
// other JSON value (object, array, number) is taken as its JSON text, so
// {"payload": {"order": 1}} publishes {"order": 1}. Strings are bytes:
// \u0000..\u00ff escapes stand for single bytes (what `brook consume --json`
// writes for bytes that are not UTF-8), other escapes for UTF-8 text.
#ifndef BROOK_TOOLS_JSON_INPUT_H_
#define BROOK_TOOLS_JSON_INPUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brook/status.h"

namespace brook::cli {

struct JsonRecord {
  std::optional<std::string> key;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;
  std::optional<uint32_t> partition;
};

// Errors: InvalidArgument saying what is wrong and at which column.
Status ParseJsonRecord(std::string_view line, JsonRecord* out);

}  // namespace brook::cli

#endif  // BROOK_TOOLS_JSON_INPUT_H_
