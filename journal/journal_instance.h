// A journal's instance mark: a random number, new at every open, kept both in
// the journal's metadata (meta key "instance") and in a small file beside
// data.mdb (DIR/instance). A copy of data.mdb (mdb_copy, a file backup) takes
// the metadata's number with it but not the file, and the journal it came
// from changes both at its next open; so an open that finds the two
// different, or the file missing, is opening data.mdb that was put there
// from elsewhere: most likely a restored backup, whose producer may have
// published records after the copy that consumers read and this copy lacks.
//
// Such an open moves the epoch up by kRestoredEpochJump instead of 1 and
// records where the new epoch starts, so that every epoch the original went
// on to use is below it: the replay server's epoch check (docs/JOURNAL.md,
// "Epochs") then tells a consumer that read past the copy which offsets it
// read are gone (ConsumerEvent::kTailLost), and it receives the new records
// at those offsets. A false alarm (the file lost, a crash between the
// metadata commit and the file write, a journal moved with mdb_copy -c)
// costs only the jump: where nothing was lost, the epoch check finds nothing.
#ifndef BROOK_JOURNAL_JOURNAL_INSTANCE_H_
#define BROOK_JOURNAL_JOURNAL_INSTANCE_H_

#include <cstdint>
#include <string>

namespace brook::journal {

constexpr const char* kInstanceFileName = "instance";
// Far above any epoch a journal reaches by opening (one per open).
constexpr uint64_t kRestoredEpochJump = uint64_t{1} << 32;

// A random nonzero number (getrandom).
uint64_t NewInstanceMark();

// The mark in DIR/instance, or 0 when the file is missing or unreadable.
uint64_t ReadInstanceFile(const std::string& dir);

// Writes DIR/instance atomically (temporary file, fsync, rename, fsync of the
// directory). Returns "" or what failed.
std::string WriteInstanceFile(const std::string& dir, uint64_t mark);

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_JOURNAL_INSTANCE_H_
