// Records as the user writes them (RecordInput) and reads them (RecordView,
// RecordBatch), and the identifiers that name a stream of records.
//
// A record is: an offset (dense per partition from 0), a timestamp (ns since
// the Unix epoch, UTC, non-decreasing within a partition), an optional key,
// headers (string name -> bytes value, names unique within a record) and a
// payload. Its exact byte encoding, identical in the journal, on the live path
// and in replay, is specified in docs/PROTOCOL.md ("Record encoding").
#ifndef BROOK_RECORD_H_
#define BROOK_RECORD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brook/export.h"

namespace brook {

// A record header. Names are UTF-8 by convention and unique within a record.
struct Header {
  std::string_view name;
  std::string_view value;
};

// A record to append. Every view must stay valid for the duration of the
// Append call that receives it; the journal copies the bytes before returning
// (AppendAsync included).
struct RecordInput {
  // nullopt: keyless. Keyless records spread round-robin over partitions. An
  // empty key is a key (it hashes like any other).
  std::optional<std::string_view> key;
  std::vector<Header> headers;
  std::string_view payload;
  // nullopt: chosen by the partitioner (brook/partitioner.h). Set it to place
  // the record in a partition of your choosing.
  std::optional<uint32_t> partition;
};

// Where an appended record landed.
struct RecordPosition {
  uint32_t partition = 0;
  uint64_t offset = 0;
  int64_t timestamp_ns = 0;
};

// A decoded record. Views point into the RecordBatch that produced it and are
// valid as long as that batch is alive and not Clear()ed or refilled.
struct RecordView {
  uint64_t offset = 0;
  int64_t timestamp_ns = 0;
  std::optional<std::string_view> key;
  std::string_view payload;
  // Headers of this record: headers_begin[0 .. header_count).
  const Header* headers_begin = nullptr;
  size_t header_count = 0;
  // The record's complete encoded bytes (docs/PROTOCOL.md "Record encoding").
  std::string_view encoded;

  const Header* begin_headers() const { return headers_begin; }
  const Header* end_headers() const { return headers_begin + header_count; }
  // The value of the header called `name`, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

namespace detail {

// A growable byte buffer that, unlike std::vector<char>, does not zero the
// bytes it is about to have copied over (a read copies every record once).
// Moves keep the storage, so views into it stay valid across a move.
class BROOK_EXPORT ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&& o) noexcept;
  ByteBuffer& operator=(ByteBuffer&& o) noexcept;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer();

  const char* data() const { return data_; }
  char* data() { return data_; }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }
  // Grows the buffer by n bytes (uninitialised) and returns them. Growing may
  // move the storage: views into it are invalid after an Extend.
  char* Extend(size_t n);
  // Keeps the first n bytes (n <= size()).
  void Truncate(size_t n) { size_ = n; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace detail

// A run of consecutive records of one partition, as returned by a read. It
// owns the encoded bytes (contiguous, ready to send as is) and the decoded
// views into them.
//
// Move-only: views stay valid across a move. Thread-compatible.
class BROOK_EXPORT RecordBatch {
 public:
  RecordBatch() = default;
  RecordBatch(RecordBatch&&) noexcept = default;
  RecordBatch& operator=(RecordBatch&&) noexcept = default;
  RecordBatch(const RecordBatch&) = delete;
  RecordBatch& operator=(const RecordBatch&) = delete;

  const std::vector<RecordView>& records() const { return records_; }
  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  const RecordView& operator[](size_t i) const { return records_[i]; }
  std::vector<RecordView>::const_iterator begin() const { return records_.begin(); }
  std::vector<RecordView>::const_iterator end() const { return records_.end(); }

  // The encoded bytes of all records, back to back.
  std::string_view encoded() const { return std::string_view(data_.data(), data_.size()); }

  // Watermarks of the partition as seen by the read that filled this batch:
  // offsets [low_watermark, high_watermark) were readable at that moment.
  uint64_t low_watermark = 0;
  uint64_t high_watermark = 0;

  void Clear();

  // For brook's internals: the owned storage that views point into.
  detail::ByteBuffer& mutable_data() { return data_; }
  std::vector<RecordView>& mutable_records() { return records_; }
  std::vector<Header>& mutable_headers() { return headers_; }

 private:
  detail::ByteBuffer data_;
  std::vector<RecordView> records_;
  std::vector<Header> headers_;
};

// A producer's identity: 128 random bits chosen when its journal was created.
// A wiped journal is a new producer, so offsets of two journals never mix.
struct ProducerId {
  std::array<uint8_t, 16> bytes{};

  // 32 lowercase hex digits.
  std::string ToHex() const;
  bool operator==(const ProducerId& o) const { return bytes == o.bytes; }
  bool operator!=(const ProducerId& o) const { return bytes != o.bytes; }
  bool operator<(const ProducerId& o) const { return bytes < o.bytes; }
};

}  // namespace brook

#endif  // BROOK_RECORD_H_
