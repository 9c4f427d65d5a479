// Consumer group name rules, shared by the journal (where group positions
// are kept) and the producer's group coordinator (docs/GROUPS.md).
#ifndef BROOK_JOURNAL_GROUP_NAME_H_
#define BROOK_JOURNAL_GROUP_NAME_H_

#include <cstddef>
#include <string_view>

#include "brook/status.h"

namespace brook::journal {

constexpr size_t kMaxGroupNameLength = 255;

// 1..255 bytes, none of them a control character (0x00..0x1f, 0x7f): any
// other bytes (UTF-8 included) are allowed. Group names are keys in the
// journal, where a NUL separates the group from the stream, and are shown by
// tools, hence no control characters. The message names the rule broken.
Status ValidateGroupName(std::string_view name);

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_GROUP_NAME_H_
