// Fuzzes node::DecodeRecords: `count` records from `first_offset`, back to
// back, as they follow a live records header or a replay page header.
//
// Input: flags (1 byte), count (4 bytes, big-endian), first_offset (8 bytes,
// big-endian), then the record bytes. Flags bit 0: make every record's
// checksum right before decoding (fuzz/fuzz_util.h SealRecords); bit 1: also
// rewrite the records' offsets to first_offset, first_offset+1, ... So most
// mutations get past the CRC and offset checks to what lies behind them.
//
// Checks: no read outside the input (ASan); on success exactly `count`
// records with consecutive offsets whose encodings, back to back, are the
// batch's copy of the input, every view inside it, headers linked in order,
// and each record passes fuzz/fuzz_util.h CheckDecodedRecord (checksum,
// re-encoding round trip); on failure DataLoss and an empty batch.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "node/wire.h"

namespace {

void DecodeAndCheck(std::string_view bytes, uint64_t first_offset, uint32_t count) {
  brook::RecordBatch batch;
  const brook::Status s = brook::node::DecodeRecords(bytes, first_offset, count, &batch);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsDataLoss());
    FUZZ_CHECK(batch.empty() && batch.encoded().empty());
    return;
  }
  brook::fuzz::CheckDecodedBatch(batch, bytes, first_offset, count);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kPrefix = 1 + 4 + 8;
  if (size < kPrefix) return 0;
  const uint8_t flags = data[0];
  const auto count = static_cast<uint32_t>(brook::fuzz::GetBE(data + 1, 4));
  const uint64_t first_offset = brook::fuzz::GetBE(data + 5, 8);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + kPrefix, size - kPrefix);
  if (flags & 3) {
    std::vector<char> sealed(bytes.begin(), bytes.end());  // exact size: ASan sees overreads
    brook::fuzz::SealRecords(sealed.data(), sealed.size(), (flags & 2) != 0, first_offset);
    DecodeAndCheck(std::string_view(sealed.data(), sealed.size()), first_offset, count);
  } else {
    DecodeAndCheck(bytes, first_offset, count);
  }
  return 0;
}
