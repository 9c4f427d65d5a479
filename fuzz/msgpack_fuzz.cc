// Fuzzes the strict msgpack reader (common/msgpack_lite.h mp::Reader) against
// msgpack-c, an independent implementation, and the writer (mp::Writer)
// against msgpack-c's packer.
//
// Input: n = data[0] % 33, then n operation bytes, then the buffer the reader
// reads. Each operation byte picks a Reader call (op % 12) and an argument
// (op / 12): Byte, PeekByte, BE(n), Bytes(n), Bin, Str, MapHeader,
// ArrayHeader, Uint, UintAtMost(max), BinAfter(marker), or skipping one whole
// object as msgpack-c parses it.
//
// Checks, after every call: the reader never moves backwards nor past the end,
// pos/remaining/rest/empty agree; views returned lie inside the buffer, no
// read outside it (ASan). Per call: Byte/PeekByte/BE/Bytes return exactly the
// bytes there; Uint/UintAtMost/Str/Bin succeed exactly when msgpack-c parses
// a non-negative integer / str / bin there (with the same value and length);
// ArrayHeader/MapHeader succeed exactly when a complete array/map header is
// there, and agree with msgpack-c whenever it parses the whole array/map.
// Every value read, written back with mp::Writer, gives msgpack-c's packer's
// bytes (the smallest form) and reads back the same.
#define MSGPACK_NO_BOOST 1
#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/msgpack_lite.h"
#include "fuzz/fuzz_util.h"

namespace {

using brook::fuzz::Inside;
using brook::mp::Reader;
using brook::mp::Writer;

// msgpack-c's view of the object at `off`: parsed (with its size) or not.
struct Reference {
  bool ok = false;
  msgpack::object_handle handle;
  size_t size = 0;
  msgpack::type::object_type type() const { return handle.get().type; }
};

Reference Parse(std::string_view buf, size_t off) {
  Reference ref;
  if (off >= buf.size()) return ref;
  // msgpack-c allocates an array's or map's elements before reading them:
  // bound them by what the buffer can hold. Depth bounds its recursion.
  const msgpack::unpack_limit limit(buf.size(), buf.size(), 0xffffffff, 0xffffffff, 0xffffffff, 32);
  size_t o = off;
  try {
    ref.handle = msgpack::unpack(buf.data(), buf.size(), o, nullptr, nullptr, limit);
    ref.ok = true;
    ref.size = o - off;
  } catch (const std::exception&) {
    ref.ok = false;
  }
  return ref;
}

std::string Packed(void (*pack)(msgpack::packer<msgpack::sbuffer>&, uint64_t, std::string_view),
                   uint64_t n, std::string_view body) {
  msgpack::sbuffer sbuf;
  msgpack::packer<msgpack::sbuffer> pk(&sbuf);
  pack(pk, n, body);
  return std::string(sbuf.data(), sbuf.size());
}

void CheckUintWrite(uint64_t v, size_t read_size) {
  std::string w;
  Writer(&w).Uint(v);
  FUZZ_CHECK(w == Packed([](auto& pk, uint64_t x, std::string_view) { pk.pack_uint64(x); }, v, {}));
  FUZZ_CHECK(w.size() <= read_size);
  Reader r(w);
  uint64_t back = 0;
  FUZZ_CHECK(r.Uint(&back) && back == v && r.empty());
}

// The size of a complete array/map header at `p` (`fix` is 0x90 or 0x80), or
// 0 when there is none; *n receives its count.
size_t HeaderAt(const uint8_t* p, size_t left, uint8_t fix, uint8_t m16, uint8_t m32, uint64_t* n) {
  if (left < 1) return 0;
  if ((p[0] & 0xf0) == fix) {
    *n = p[0] & 0x0f;
    return 1;
  }
  if (p[0] == m16 && left >= 3) {
    *n = brook::fuzz::GetBE(p + 1, 2);
    return 3;
  }
  if (p[0] == m32 && left >= 5) {
    *n = brook::fuzz::GetBE(p + 1, 4);
    return 5;
  }
  return 0;
}

constexpr uint64_t kMaxima[] = {0,          1,  0x7f, 0xff, 0xffff, 0xffffffffu, UINT64_MAX >> 1,
                                UINT64_MAX, 255};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t nops = data[0] % 33;
  if (size < 1 + nops) return 0;
  const uint8_t* ops = data + 1;
  // The buffer ends exactly where libFuzzer's does: ASan sees any overread.
  const std::string_view buf(reinterpret_cast<const char*>(data) + 1 + nops, size - 1 - nops);
  const auto* ubuf = reinterpret_cast<const uint8_t*>(buf.data());

  Reader r(buf);
  for (size_t i = 0; i < nops; ++i) {
    const size_t off = static_cast<size_t>(r.pos() - buf.data());
    const size_t left = r.remaining();
    FUZZ_CHECK(off <= buf.size() && off + left == buf.size());
    const uint8_t op = ops[i] % 12;
    const uint8_t arg = ops[i] / 12;  // 0 .. 21
    bool ok = false;
    switch (op) {
      case 0: {  // Byte
        uint8_t b = 0;
        ok = r.Byte(&b);
        FUZZ_CHECK(ok == (left >= 1));
        if (ok) FUZZ_CHECK(b == ubuf[off]);
        break;
      }
      case 1: {  // PeekByte: no move
        uint8_t b = 0;
        ok = r.PeekByte(&b);
        FUZZ_CHECK(ok == (left >= 1));
        if (ok) FUZZ_CHECK(b == ubuf[off]);
        FUZZ_CHECK(r.remaining() == left);
        break;
      }
      case 2: {  // BE(0..8)
        const int n = arg % 9;
        uint64_t v = 0;
        ok = r.BE(n, &v);
        FUZZ_CHECK(ok == (left >= static_cast<size_t>(n)));
        if (ok) FUZZ_CHECK(v == brook::fuzz::GetBE(ubuf + off, n));
        break;
      }
      case 3: {  // Bytes(n)
        const size_t n = size_t{arg} * arg;
        std::string_view v;
        ok = r.Bytes(n, &v);
        FUZZ_CHECK(ok == (left >= n));
        if (ok) FUZZ_CHECK(v.data() == buf.data() + off && v.size() == n);
        break;
      }
      case 4:    // Bin
      case 5: {  // Str
        const Reference ref = Parse(buf, off);
        const auto want = op == 4 ? msgpack::type::BIN : msgpack::type::STR;
        std::string_view v;
        ok = op == 4 ? r.Bin(&v) : r.Str(&v);
        FUZZ_CHECK(ok == (ref.ok && ref.type() == want));
        if (!ok) break;
        FUZZ_CHECK(Inside(v, buf));
        const size_t used = static_cast<size_t>(r.pos() - buf.data()) - off;
        FUZZ_CHECK(used == ref.size);
        const msgpack::object& o = ref.handle.get();
        if (op == 4) {
          FUZZ_CHECK(v == std::string_view(o.via.bin.ptr, o.via.bin.size));
        } else {
          FUZZ_CHECK(v == std::string_view(o.via.str.ptr, o.via.str.size));
        }
        std::string w;
        if (op == 4) {
          Writer(&w).Bin(v);
          FUZZ_CHECK(w == Packed(
                              [](auto& pk, uint64_t n, std::string_view b) {
                                pk.pack_bin(static_cast<uint32_t>(n));
                                pk.pack_bin_body(b.data(), static_cast<uint32_t>(b.size()));
                              },
                              v.size(), v));
        } else {
          Writer(&w).Str(v);
          FUZZ_CHECK(w == Packed(
                              [](auto& pk, uint64_t n, std::string_view b) {
                                pk.pack_str(static_cast<uint32_t>(n));
                                pk.pack_str_body(b.data(), static_cast<uint32_t>(b.size()));
                              },
                              v.size(), v));
        }
        FUZZ_CHECK(w.size() <= used);
        Reader back(w);
        std::string_view bv;
        FUZZ_CHECK((op == 4 ? back.Bin(&bv) : back.Str(&bv)) && bv == v && back.empty());
        break;
      }
      case 6:    // MapHeader
      case 7: {  // ArrayHeader
        const bool is_map = op == 6;
        const Reference ref = Parse(buf, off);
        uint64_t want_n = 0;
        const size_t header = is_map ? HeaderAt(ubuf + off, left, 0x80, 0xde, 0xdf, &want_n)
                                     : HeaderAt(ubuf + off, left, 0x90, 0xdc, 0xdd, &want_n);
        uint64_t n = 0;
        ok = is_map ? r.MapHeader(&n) : r.ArrayHeader(&n);
        FUZZ_CHECK(ok == (header != 0));
        const auto want = is_map ? msgpack::type::MAP : msgpack::type::ARRAY;
        if (ref.ok && ref.type() == want) {
          FUZZ_CHECK(ok);
          const msgpack::object& o = ref.handle.get();
          FUZZ_CHECK(n == (is_map ? o.via.map.size : o.via.array.size));
        }
        if (!ok) break;
        FUZZ_CHECK(n == want_n);
        FUZZ_CHECK(static_cast<size_t>(r.pos() - buf.data()) - off == header);
        std::string w;
        if (is_map) {
          Writer(&w).MapHeader(n);
          FUZZ_CHECK(w == Packed([](auto& pk, uint64_t x,
                                    std::string_view) { pk.pack_map(static_cast<uint32_t>(x)); },
                                 n, {}));
        } else {
          Writer(&w).ArrayHeader(n);
          FUZZ_CHECK(w == Packed([](auto& pk, uint64_t x,
                                    std::string_view) { pk.pack_array(static_cast<uint32_t>(x)); },
                                 n, {}));
        }
        FUZZ_CHECK(w.size() <= header);
        break;
      }
      case 8:    // Uint
      case 9: {  // UintAtMost
        const uint64_t max = op == 8 ? UINT64_MAX : kMaxima[arg % 9];
        const Reference ref = Parse(buf, off);
        uint64_t v = 0;
        ok = op == 8 ? r.Uint(&v) : r.UintAtMost(max, &v);
        const bool is_uint = ref.ok && ref.type() == msgpack::type::POSITIVE_INTEGER;
        FUZZ_CHECK(ok == (is_uint && ref.handle.get().via.u64 <= max));
        if (!ok) break;
        FUZZ_CHECK(v == ref.handle.get().via.u64);
        const size_t used = static_cast<size_t>(r.pos() - buf.data()) - off;
        FUZZ_CHECK(used == ref.size);
        CheckUintWrite(v, used);
        break;
      }
      case 10: {  // BinAfter(marker), the marker already consumed
        const uint8_t marker = static_cast<uint8_t>(0xc3 + arg % 5);
        std::string_view v;
        ok = r.BinAfter(marker, &v);
        const int len_bytes = marker == 0xc4 ? 1 : marker == 0xc5 ? 2 : marker == 0xc6 ? 4 : 0;
        bool want = len_bytes > 0 && left >= static_cast<size_t>(len_bytes);
        if (want) {
          const uint64_t n = brook::fuzz::GetBE(ubuf + off, len_bytes);
          want = left - len_bytes >= n;
          if (want && ok) FUZZ_CHECK(v.data() == buf.data() + off + len_bytes && v.size() == n);
        }
        FUZZ_CHECK(ok == want);
        break;
      }
      case 11: {  // skip one object as msgpack-c sees it
        const Reference ref = Parse(buf, off);
        if (!ref.ok) break;
        std::string_view v;
        ok = r.Bytes(ref.size, &v);
        FUZZ_CHECK(ok);
        break;
      }
    }
    const size_t now = r.remaining();
    FUZZ_CHECK(now <= left);
    FUZZ_CHECK(r.pos() == buf.data() + (buf.size() - now));
    FUZZ_CHECK(r.empty() == (now == 0));
    FUZZ_CHECK(r.rest().data() == r.pos() && r.rest().size() == now);
    (void)ok;
  }
  return 0;
}
