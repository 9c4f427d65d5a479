#include "journal/group_name.h"

#include <string>

namespace brook::journal {

Status ValidateGroupName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    std::string shown;
    for (char c : name.substr(0, 64)) {
      const auto u = static_cast<unsigned char>(c);
      shown += u < 0x20 || u == 0x7f ? '?' : c;
    }
    if (name.size() > 64) shown += "...";
    return Status::InvalidArgument("invalid consumer group name '" + shown + "': " + why);
  };
  if (name.empty()) return bad("it is empty; give the group a name of 1 to 255 bytes");
  if (name.size() > kMaxGroupNameLength)
    return bad("it has " + std::to_string(name.size()) + " bytes; at most " +
               std::to_string(kMaxGroupNameLength) + " are allowed");
  for (size_t i = 0; i < name.size(); ++i) {
    const auto u = static_cast<unsigned char>(name[i]);
    if (u < 0x20 || u == 0x7f)
      return bad("byte " + std::to_string(i + 1) +
                 " is a control character; use printable characters (UTF-8 is fine)");
  }
  return Status::OK();
}

}  // namespace brook::journal
