// Topic name rules, shared by the journal and (later) the wire protocol.
#ifndef BROOK_JOURNAL_TOPIC_NAME_H_
#define BROOK_JOURNAL_TOPIC_NAME_H_

#include <cstddef>
#include <string_view>

#include "brook/status.h"

namespace brook::journal {

constexpr size_t kMaxTopicNameLength = 200;

// 1..200 characters of [A-Za-z0-9._-]; not "." or ".."; not starting with
// "__" (reserved for brook's own topics). The message names the rule broken.
Status ValidateTopicName(std::string_view name);

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_TOPIC_NAME_H_
