#include <catch2/catch.hpp>

#include "brook/status.h"

using brook::Status;

TEST_CASE("an OK status says OK and carries no message", "[status]") {
  Status s;
  CHECK(s.ok());
  CHECK(s.code() == Status::Code::kOk);
  CHECK(s.message().empty());
  CHECK(s.ToString() == "OK");
}

TEST_CASE("an error status keeps its code and message through copies and moves", "[status]") {
  Status s = Status::DataLoss("record 7 is damaged");
  CHECK_FALSE(s.ok());
  CHECK(s.IsDataLoss());
  CHECK(s.ToString() == "DataLoss: record 7 is damaged");
  Status copy = s;
  CHECK(copy.IsDataLoss());
  CHECK(copy.message() == "record 7 is damaged");
  Status moved = std::move(copy);
  CHECK(moved.IsDataLoss());
  copy = moved;
  CHECK(copy.ToString() == s.ToString());
  CHECK(Status::ResourceExhausted("x").IsResourceExhausted());
  CHECK(Status::OutOfRange("x").IsOutOfRange());
  CHECK(Status::FailedPrecondition("x").IsFailedPrecondition());
  CHECK(Status::InvalidArgument("x").IsInvalidArgument());
  CHECK(Status::NotFound("x").IsNotFound());
  CHECK(Status::AlreadyExists("x").IsAlreadyExists());
  CHECK(Status::Unavailable("x").IsUnavailable());
  CHECK(Status::Internal("x").IsInternal());
}
