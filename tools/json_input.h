// Reads one record from a JSON line for `brook produce --json`:
//
//   {"key": "customer-7", "headers": {"source": "web"}, "payload": "...",
//    "partition": 2}
//
// Every field is optional ("payload" missing: empty). "key": a string, or
// null for a keyless record. "payload": a string is taken as its UTF-8
// bytes; any other JSON value (object, array, number) as its JSON text, so
// {"payload": {"order": 1}} publishes {"order": 1}. Bytes that are not text
// come base64: "key_base64", "payload_base64", and "headers_base64" (an
// object of base64 name to base64 value) — what `brook consume --json`
// writes for them (cli.h, AppendRecordContentJson). The other fields of
// `brook consume --json` lines (producer, topic, offset, timestamp,
// timestamp_ns) are ignored, so its output can be read back as it is.
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
  // Set for an event line of `brook consume --json` ({"event": "skipped",
  // ...}): not a record. Its kind.
  std::optional<std::string> event;
};

// Errors: InvalidArgument saying what is wrong and at which column.
Status ParseJsonRecord(std::string_view line, JsonRecord* out);

}  // namespace brook::cli

#endif  // BROOK_TOOLS_JSON_INPUT_H_
