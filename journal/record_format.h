// The encoding of one record: the same bytes in the journal (an LMDB value),
// on the live path and in replay. docs/PROTOCOL.md "Record encoding" is the
// specification; the constants here are persistent format: do not change.
//
//   0x96                      msgpack fixarray of 6
//   0xcf <u64 BE>             offset            (always uint64 form)
//   0xcf <u64 BE>             timestamp, ns since the Unix epoch (<= INT64_MAX)
//   nil | bin                 key
//   map of str -> bin         headers (names unique)
//   bin                       payload
//   0xce <u32 BE>             CRC-32C of every byte before this field
//
// Fixed-width offset and timestamp let the writer encode a record in the
// caller's thread and patch them in when the commit assigns them.
#ifndef BROOK_JOURNAL_RECORD_FORMAT_H_
#define BROOK_JOURNAL_RECORD_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "brook/record.h"
#include "brook/status.h"

namespace brook::journal {

constexpr uint8_t kRecordMarker = 0x96;                                   // fixarray, 6 elements
constexpr size_t kOffsetValuePos = 2;                                     // after 0x96 0xcf
constexpr size_t kTimestampValuePos = 11;                                 // after ... 0xcf
constexpr size_t kCrcFieldSize = 5;                                       // 0xce + 4 bytes
constexpr size_t kMinRecordSize = 1 + 9 + 9 + 1 + 1 + 2 + kCrcFieldSize;  // 28

// Size of the encoding of `in`, or 0 if a header name repeats.
size_t EncodedRecordSize(const RecordInput& in);

// Appends the encoding of `in` to *out with offset 0, timestamp 0 and no valid
// checksum; SealRecord completes it. Returns the record's size.
size_t EncodeRecord(const RecordInput& in, std::vector<char>* out);

// Writes offset, timestamp and checksum into an encoded record in place.
void SealRecord(char* record, size_t size, uint64_t offset, int64_t timestamp_ns);

// Decodes the record at the start of `in` (which may hold more after it) into
// *out, appending its headers to *headers (out->headers_begin is left null;
// out->header_count is set). Verifies the structure, every length against the
// input and the checksum. *consumed receives the record's size.
// Errors: DataLoss describing what is wrong.
Status DecodeRecord(std::string_view in, RecordView* out, std::vector<Header>* headers,
                    size_t* consumed);

// Points each record's headers_begin into `headers`, in which DecodeRecord
// appended them in record order. Call after the last DecodeRecord of a batch.
void LinkHeaders(std::vector<RecordView>* records, std::vector<Header>* headers);

// Reads the offset / timestamp fields of an encoded record without verifying
// it; `record` must hold at least kMinRecordSize bytes.
uint64_t PeekOffset(const char* record);
int64_t PeekTimestamp(const char* record);

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_RECORD_FORMAT_H_
