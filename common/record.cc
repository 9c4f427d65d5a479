#include "brook/record.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include "brook/options.h"

namespace brook {

namespace detail {

ByteBuffer::ByteBuffer(ByteBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      capacity_(std::exchange(o.capacity_, 0)) {}

ByteBuffer& ByteBuffer::operator=(ByteBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
  }
  return *this;
}

ByteBuffer::~ByteBuffer() { std::free(data_); }

char* ByteBuffer::Extend(size_t n) {
  if (size_ + n > capacity_) {
    size_t cap = capacity_ ? capacity_ * 2 : 4096;
    while (cap < size_ + n) cap *= 2;
    char* p = static_cast<char*>(std::realloc(data_, cap));
    if (!p) throw std::bad_alloc();
    data_ = p;
    capacity_ = cap;
  }
  char* out = data_ + size_;
  size_ += n;
  return out;
}

}  // namespace detail

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
