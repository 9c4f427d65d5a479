// brook::Status: the result of every fallible call in brook's C++ API.
//
// No exception crosses brook's API. A call that can fail returns a Status;
// ok() is true on success. On failure, code() tells the class of error and
// message() says what happened and what to do about it. An OK status holds no
// allocation, so returning one on a hot path is free.
//
// Codes follow absl's rules, so the caller can decide without parsing text:
//   kInvalidArgument    the caller passed something wrong (bad option, bad name)
//   kNotFound           a named thing (topic, journal) does not exist
//   kAlreadyExists      creating something that exists with another configuration
//   kFailedPrecondition the system is not in a state to do this; retrying will
//                       not help until someone acts (journal from a newer
//                       version, journal open elsewhere, closed handle)
//   kResourceExhausted  disk full or the map reached its configured maximum;
//                       retry after room is made
//   kDataLoss           stored data is damaged (checksum mismatch, corruption)
//   kOutOfRange         an offset below the low watermark (removed by
//                       retention) or past the high watermark
//   kUnavailable        a peer is gone or the operation timed out; retry
//   kInternal           an invariant broke: a bug in brook; please report it
//
// Thread-safety: a Status is a value; distinct objects may be used from
// distinct threads freely.
#ifndef BROOK_STATUS_H_
#define BROOK_STATUS_H_

#include <memory>
#include <string>
#include <string_view>

#include "brook/export.h"

namespace brook {

class [[nodiscard]] BROOK_EXPORT Status {
 public:
  enum class Code : int {
    kOk = 0,
    kInvalidArgument = 1,
    kNotFound = 2,
    kAlreadyExists = 3,
    kFailedPrecondition = 4,
    kResourceExhausted = 5,
    kDataLoss = 6,
    kOutOfRange = 7,
    kUnavailable = 8,
    kInternal = 9,
  };

  Status() noexcept = default;
  Status(Code code, std::string_view message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&& other) noexcept = default;
  Status& operator=(Status&& other) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status AlreadyExists(std::string_view msg) { return Status(Code::kAlreadyExists, msg); }
  static Status FailedPrecondition(std::string_view msg) {
    return Status(Code::kFailedPrecondition, msg);
  }
  static Status ResourceExhausted(std::string_view msg) {
    return Status(Code::kResourceExhausted, msg);
  }
  static Status DataLoss(std::string_view msg) { return Status(Code::kDataLoss, msg); }
  static Status OutOfRange(std::string_view msg) { return Status(Code::kOutOfRange, msg); }
  static Status Unavailable(std::string_view msg) { return Status(Code::kUnavailable, msg); }
  static Status Internal(std::string_view msg) { return Status(Code::kInternal, msg); }

  bool ok() const noexcept { return state_ == nullptr; }
  Code code() const noexcept { return state_ ? state_->code : Code::kOk; }
  // The message without the code's name; empty when ok().
  std::string_view message() const noexcept {
    return state_ ? std::string_view(state_->message) : std::string_view();
  }

  bool IsInvalidArgument() const noexcept { return code() == Code::kInvalidArgument; }
  bool IsNotFound() const noexcept { return code() == Code::kNotFound; }
  bool IsAlreadyExists() const noexcept { return code() == Code::kAlreadyExists; }
  bool IsFailedPrecondition() const noexcept { return code() == Code::kFailedPrecondition; }
  bool IsResourceExhausted() const noexcept { return code() == Code::kResourceExhausted; }
  bool IsDataLoss() const noexcept { return code() == Code::kDataLoss; }
  bool IsOutOfRange() const noexcept { return code() == Code::kOutOfRange; }
  bool IsUnavailable() const noexcept { return code() == Code::kUnavailable; }
  bool IsInternal() const noexcept { return code() == Code::kInternal; }

  // "OK", or "<CodeName>: <message>", e.g. "DataLoss: record 17 of orders/0 ...".
  std::string ToString() const;

  // The code's name, e.g. "ResourceExhausted".
  static const char* CodeName(Code code) noexcept;

 private:
  struct State {
    Code code;
    std::string message;
  };
  std::unique_ptr<State> state_;
};

}  // namespace brook

#endif  // BROOK_STATUS_H_
