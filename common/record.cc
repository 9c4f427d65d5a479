#include "brook/record.h"
#include "brook/options.h"

namespace brook {

std::optional<std::string_view> RecordView::header(std::string_view name) const {
  for (const Header* h = begin_headers(); h != end_headers(); ++h)
    if (h->name == name) return h->value;
  return std::nullopt;
}

void RecordBatch::Clear() {
  data_.clear();
  records_.clear();
  headers_.clear();
  low_watermark = 0;
  high_watermark = 0;
}

std::string ProducerId::ToHex() const {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

const char* DurabilityName(Durability d) {
  switch (d) {
    case Durability::kFsync:
      return "fsync";
    case Durability::kNoMetaSync:
      return "nometasync";
    case Durability::kNoSync:
      return "nosync";
  }
  return "unknown";
}

}  // namespace brook
