// A strict, allocation-free msgpack reader and a small writer, for brook's
// wire formats (docs/PROTOCOL.md). Strict: every length is checked against the
// bytes left and only the forms the protocol uses are accepted; a reader
// never reads past its input, whatever the input claims.
#ifndef BROOK_COMMON_MSGPACK_LITE_H_
#define BROOK_COMMON_MSGPACK_LITE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace brook::mp {

inline uint64_t LoadBE(const char* p, int bytes) {
  uint64_t v = 0;
  switch (bytes) {
    case 8: {
      std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      v = __builtin_bswap64(v);
#endif
      return v;
    }
    case 4: {
      uint32_t w;
      std::memcpy(&w, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      w = __builtin_bswap32(w);
#endif
      return w;
    }
    case 2:
      return (uint64_t{static_cast<uint8_t>(p[0])} << 8) | static_cast<uint8_t>(p[1]);
    case 1:
      return static_cast<uint8_t>(p[0]);
    default:
      for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
      return v;
  }
}

class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool empty() const { return p_ == end_; }
  const char* pos() const { return p_; }
  // The bytes not read yet.
  std::string_view rest() const { return std::string_view(p_, remaining()); }

  bool Byte(uint8_t* b) {
    if (p_ >= end_) return false;
    *b = static_cast<uint8_t>(*p_++);
    return true;
  }
  bool PeekByte(uint8_t* b) const {
    if (p_ >= end_) return false;
    *b = static_cast<uint8_t>(*p_);
    return true;
  }
  bool BE(int bytes, uint64_t* v) {
    if (remaining() < static_cast<size_t>(bytes)) return false;
    *v = LoadBE(p_, bytes);
    p_ += bytes;
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (remaining() < n) return false;
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  // bin 8/16/32 whose marker byte was already read.
  bool BinAfter(uint8_t marker, std::string_view* out) {
    uint64_t n;
    switch (marker) {
      case 0xc4:
        if (!BE(1, &n)) return false;
        break;
      case 0xc5:
        if (!BE(2, &n)) return false;
        break;
      case 0xc6:
        if (!BE(4, &n)) return false;
        break;
      default:
        return false;
    }
    return Bytes(static_cast<size_t>(n), out);
  }
  bool Bin(std::string_view* out) {
    uint8_t m;
    return Byte(&m) && BinAfter(m, out);
  }
  bool Str(std::string_view* out) {
    uint8_t m;
    if (!Byte(&m)) return false;
    uint64_t n;
    if ((m & 0xe0) == 0xa0) {
      n = m & 0x1f;
    } else if (m == 0xd9) {
      if (!BE(1, &n)) return false;
    } else if (m == 0xda) {
      if (!BE(2, &n)) return false;
    } else if (m == 0xdb) {
      if (!BE(4, &n)) return false;
    } else {
      return false;
    }
    return Bytes(static_cast<size_t>(n), out);
  }
  bool MapHeader(uint64_t* n) {
    uint8_t m;
    if (!Byte(&m)) return false;
    if ((m & 0xf0) == 0x80) {
      *n = m & 0x0f;
      return true;
    }
    if (m == 0xde) return BE(2, n);
    if (m == 0xdf) return BE(4, n);
    return false;
  }
  bool ArrayHeader(uint64_t* n) {
    uint8_t m;
    if (!Byte(&m)) return false;
    if ((m & 0xf0) == 0x90) {
      *n = m & 0x0f;
      return true;
    }
    if (m == 0xdc) return BE(2, n);
    if (m == 0xdd) return BE(4, n);
    return false;
  }
  // A non-negative integer in any msgpack integer form.
  bool Uint(uint64_t* v) {
    uint8_t m;
    if (!Byte(&m)) return false;
    if (m <= 0x7f) {
      *v = m;
      return true;
    }
    uint64_t raw;
    switch (m) {
      case 0xcc:
        return BE(1, v);
      case 0xcd:
        return BE(2, v);
      case 0xce:
        return BE(4, v);
      case 0xcf:
        return BE(8, v);
      case 0xd0:
        if (!BE(1, &raw) || (raw & 0x80)) return false;
        *v = raw;
        return true;
      case 0xd1:
        if (!BE(2, &raw) || (raw & 0x8000)) return false;
        *v = raw;
        return true;
      case 0xd2:
        if (!BE(4, &raw) || (raw & 0x80000000u)) return false;
        *v = raw;
        return true;
      case 0xd3:
        if (!BE(8, &raw) || (raw >> 63)) return false;
        *v = raw;
        return true;
      default:
        return false;
    }
  }
  // A non-negative integer no larger than `max`.
  bool UintAtMost(uint64_t max, uint64_t* v) { return Uint(v) && *v <= max; }

 private:
  const char* p_;
  const char* end_;
};

// Appends msgpack to a string, always in the smallest form.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void ArrayHeader(uint64_t n) { Header(n, 0x90, 15, 0xdc, 0xdd); }
  void MapHeader(uint64_t n) { Header(n, 0x80, 15, 0xde, 0xdf); }
  void Uint(uint64_t v) {
    if (v <= 0x7f) {
      out_->push_back(static_cast<char>(v));
    } else if (v <= 0xff) {
      Put(0xcc, v, 1);
    } else if (v <= 0xffff) {
      Put(0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
      Put(0xce, v, 4);
    } else {
      Put(0xcf, v, 8);
    }
  }
  void Str(std::string_view s) {
    if (s.size() < 32) {
      out_->push_back(static_cast<char>(0xa0 | s.size()));
    } else if (s.size() <= 0xff) {
      Put(0xd9, s.size(), 1);
    } else if (s.size() <= 0xffff) {
      Put(0xda, s.size(), 2);
    } else {
      Put(0xdb, s.size(), 4);
    }
    out_->append(s.data(), s.size());
  }
  void Bin(std::string_view b) {
    if (b.size() <= 0xff) {
      Put(0xc4, b.size(), 1);
    } else if (b.size() <= 0xffff) {
      Put(0xc5, b.size(), 2);
    } else {
      Put(0xc6, b.size(), 4);
    }
    out_->append(b.data(), b.size());
  }
  void Nil() { out_->push_back(static_cast<char>(0xc0)); }
  void Raw(std::string_view bytes) { out_->append(bytes.data(), bytes.size()); }

 private:
  void Put(uint8_t marker, uint64_t v, int bytes) {
    out_->push_back(static_cast<char>(marker));
    for (int i = bytes - 1; i >= 0; --i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void Header(uint64_t n, uint8_t fix, uint64_t fix_max, uint8_t m16, uint8_t m32) {
    if (n <= fix_max) {
      out_->push_back(static_cast<char>(fix | n));
    } else if (n <= 0xffff) {
      Put(m16, n, 2);
    } else {
      Put(m32, n, 4);
    }
  }
  std::string* out_;
};

}  // namespace brook::mp

#endif  // BROOK_COMMON_MSGPACK_LITE_H_
