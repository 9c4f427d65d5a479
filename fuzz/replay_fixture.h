// What the replay fuzz target (fuzz/replay_fuzz.cc) stores in its producer's
// journal, shared with the seed generator (fuzz/make_seeds.cc) so the seeds
// ask for offsets, epochs and timestamps that exist.
#ifndef BROOK_FUZZ_REPLAY_FIXTURE_H_
#define BROOK_FUZZ_REPLAY_FIXTURE_H_

#include <cstdint>

namespace brook::fuzz::replay {

// Topic "t": 2 partitions, keyed records. Topic "r": 1 partition whose
// retention keeps the last kRetainedRecords, so its low watermark is above 0.
constexpr const char* kTopic = "t";
constexpr uint32_t kPartitions = 2;
constexpr const char* kRetainedTopic = "r";
constexpr uint64_t kRetainedRecords = 40;

// Epoch 1 is written by a child process that exits without closing the
// journal (an unclean end), epoch 2 by the producer, which therefore records
// where epoch 2 began: fetches naming epoch 1 past that point get "tail lost".
constexpr uint64_t kFirstEpoch = 1;
constexpr uint64_t kProducerEpoch = 2;
constexpr int kRecordsFirstEpoch = 120;   // to "t", spread over its partitions by key
constexpr int kRecordsSecondEpoch = 180;  // to "t"
constexpr int kRetainedPerEpoch = 60;     // to "r" in each epoch

// Record timestamps: a fake clock from kBaseTimestamp in steps of kClockStep
// per call; epoch 2's clock starts kSecondEpochClock later.
constexpr int64_t kBaseTimestamp = 1'700'000'000'000'000'000;
constexpr int64_t kClockStep = 1'000'000;
constexpr int64_t kSecondEpochClock = 1'000'000'000'000;

// Server limits, small so that fetches span several pages.
constexpr uint32_t kPageRecords = 16;
constexpr uint64_t kPageBytes = 8192;
constexpr uint32_t kFetchesPerPeer = 4;

// Frames: the first input byte separates frames in the rest (see
// replay_fuzz.cc); seeds use a byte their request does not contain.

}  // namespace brook::fuzz::replay

#endif  // BROOK_FUZZ_REPLAY_FIXTURE_H_
