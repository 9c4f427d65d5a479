#include "journal/topic_name.h"

#include <string>

namespace brook::journal {

Status ValidateTopicName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    std::string shown(name.substr(0, 64));
    if (name.size() > 64) shown += "...";
    return Status::InvalidArgument("invalid topic name '" + shown + "': " + why);
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > kMaxTopicNameLength)
    return bad("it has " + std::to_string(name.size()) + " characters; at most " +
               std::to_string(kMaxTopicNameLength) + " are allowed");
  if (name == "." || name == "..") return bad("'.' and '..' are not allowed");
  if (name.substr(0, 2) == "__") return bad("names starting with '__' are reserved for brook");
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok)
      return bad("character " + std::to_string(i + 1) +
                 " is not allowed; use letters, digits, '.', '_' and '-'");
  }
  return Status::OK();
}

}  // namespace brook::journal
