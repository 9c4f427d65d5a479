// Fuzzes the real producer's replay request handler: the input is sent to a
// brook::Producer's replay endpoint (ROUTER) from a DEALER, as a peer on the
// network would.
//
// Set up once (LLVMFuzzerInitialize): a journal in a mkdtemp directory whose
// epoch 1 a child process writes and leaves without closing (an unclean end),
// then a Producer on it (epoch 2) with topic "t" (2 partitions) and topic "r"
// (retention: low watermark above 0), a few hundred records, small page
// limits, endpoints ipc://<dir>/pub and ipc://<dir>/replay; and a DEALER
// connected to the replay endpoint. See fuzz/replay_fixture.h.
//
// Input: the first byte is a separator; the rest, split at each occurrence of
// it (at most 64 frames), is sent as one multi-frame message. One frame is a
// request; more (or none after an empty split) exercise the server's refusal
// of wrong frame counts. Then a describe request with a fresh id is sent as a
// sentinel.
//
// Checks: the sentinel's answer arrives within 5 s (else abort(): the server
// must keep answering whatever it was sent); every answer received before it
// (and any that arrive late, at the next input) is a single frame that
// DecodeAnswer accepts, and is true to the journal: describe answers give the
// producer id, epoch and every topic's watermarks; pages hold `count` valid
// records (DecodeRecords) within the watermarks, no more than the page limit;
// end and offset answers lie within the watermarks; error codes are known
// ones. After the sentinel, a fetch that the input started is cancelled, so
// the per-peer limit does not starve later inputs.
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brook/journal.h"
#include "brook/producer.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/replay_fixture.h"
#include "node/wire.h"

namespace {

namespace fx = brook::fuzz::replay;
using brook::node::Answer;
using brook::node::ErrorCode;
using brook::node::Kind;

// Long enough for a machine starved of CPU (a campaign at nice 19 beside
// builds stalled a healthy server past 5 s), short of libFuzzer's -timeout,
// which would report a real hang with less to go on.
constexpr auto kAnswerDeadline = std::chrono::seconds(20);
constexpr int kReceiveTimeoutMs = 100;
constexpr size_t kMaxInput = 32 * 1024;  // well under the server's max_request_bytes
constexpr size_t kMaxFrames = 64;

struct Fixture {
  std::string dir;
  std::unique_ptr<brook::Producer> producer;
  zmq::context_t ctx;
  zmq::socket_t dealer;
  brook::ProducerId producer_id;
  uint64_t epoch = 0;
  std::map<std::string, std::vector<brook::Watermarks>> topics;
  uint64_t next_sentinel = 0x5e00'0000'0000'0000ull;
  // What the inputs drew from the server, printed at exit.
  uint64_t inputs = 0;
  std::map<int, uint64_t> answers;  // by kind
  std::map<int, uint64_t> errors;   // by code
};
Fixture* g = nullptr;

void Must(const brook::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "replay_fuzz setup: %s: %s\n", what, s.ToString().c_str());
  std::abort();
}

std::function<int64_t()> FakeClock(int64_t start) {
  auto now = std::make_shared<std::atomic<int64_t>>(start);
  return [now] { return now->fetch_add(fx::kClockStep); };
}

// `n` records with varied keys, headers and payload sizes (one larger than a
// page), deterministic.
void MakeRecords(int n, int seed, std::vector<std::string>* storage,
                 std::vector<brook::RecordInput>* out) {
  storage->clear();
  storage->reserve(static_cast<size_t>(n) * 2);
  out->assign(static_cast<size_t>(n), brook::RecordInput{});
  for (int i = 0; i < n; ++i) {
    const int k = seed + i;
    storage->push_back("key-" + std::to_string(k % 37));
    size_t payload = static_cast<size_t>((k * 7919) % 600);
    if (k % 97 == 13) payload = fx::kPageBytes + 1000;  // alone in its page
    storage->push_back(std::string(payload, static_cast<char>('a' + k % 26)));
    brook::RecordInput& r = (*out)[static_cast<size_t>(i)];
    if (k % 5 != 0) r.key = std::string_view((*storage)[storage->size() - 2]);
    if (k % 3 == 0) r.headers = {{"type", "fuzz"}, {"n", "x"}};
    r.payload = (*storage)[storage->size() - 1];
  }
}

// Epoch 1, in a child process that exits without closing the journal.
void WriteFirstEpoch(const brook::JournalOptions& base) {
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("replay_fuzz setup: fork");
    std::abort();
  }
  if (pid == 0) {
    brook::JournalOptions o = base;
    o.clock = FakeClock(fx::kBaseTimestamp);
    std::unique_ptr<brook::Journal> j;
    Must(brook::Journal::Open(o, &j), "child: open the journal");
    if (j->epoch() != fx::kFirstEpoch) _exit(3);
    brook::TopicConfig t;
    t.partitions = fx::kPartitions;
    Must(j->CreateTopic(fx::kTopic, t), "child: create topic");
    brook::TopicConfig r;
    r.retention.max_records = fx::kRetainedRecords;
    Must(j->CreateTopic(fx::kRetainedTopic, r), "child: create topic");
    std::vector<std::string> storage;
    std::vector<brook::RecordInput> records;
    for (int done = 0; done < fx::kRecordsFirstEpoch; done += 10) {
      MakeRecords(10, done, &storage, &records);
      Must(j->Append(fx::kTopic, records, nullptr), "child: append");
    }
    MakeRecords(fx::kRetainedPerEpoch, 1000, &storage, &records);
    Must(j->Append(fx::kRetainedTopic, records, nullptr), "child: append");
    Must(j->Sync(), "child: sync");
    _exit(0);  // no Close: the epoch ends uncleanly
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "replay_fuzz setup: the child writing epoch 1 failed (status %d)\n",
                 status);
    std::abort();
  }
}

void Cleanup() {
  if (g == nullptr) return;
  std::fprintf(stderr,
               "replay_fuzz: %llu inputs; answers: describe %llu, page %llu, end %llu, "
               "offset %llu, error %llu (",
               static_cast<unsigned long long>(g->inputs),
               static_cast<unsigned long long>(g->answers[int(Kind::kDescribeAnswer)]),
               static_cast<unsigned long long>(g->answers[int(Kind::kPage)]),
               static_cast<unsigned long long>(g->answers[int(Kind::kEnd)]),
               static_cast<unsigned long long>(g->answers[int(Kind::kOffset)]),
               static_cast<unsigned long long>(g->answers[int(Kind::kError)]));
  const char* sep = "";
  for (const auto& [code, n] : g->errors) {
    std::fprintf(stderr, "%scode %d: %llu", sep, code, static_cast<unsigned long long>(n));
    sep = ", ";
  }
  std::fprintf(stderr, ")\n");
  g->dealer.close();
  if (g->producer) {
    brook::Status s = g->producer->Close();
    (void)s;
    g->producer.reset();
  }
  g->ctx.close();
  std::error_code ec;
  std::filesystem::remove_all(g->dir, ec);
  delete g;
  g = nullptr;
}

void DumpAndAbort(const char* why, std::string_view bytes) {
  std::fprintf(stderr, "replay_fuzz: %s; the answer's %zu bytes:", why, bytes.size());
  for (size_t i = 0; i < bytes.size() && i < 256; ++i)
    std::fprintf(stderr, " %02x", static_cast<unsigned>(static_cast<uint8_t>(bytes[i])));
  std::fprintf(stderr, "%s\n", bytes.size() > 256 ? " ..." : "");
  std::abort();
}

const std::vector<brook::Watermarks>* Partitions(std::string_view topic) {
  auto it = g->topics.find(std::string(topic));
  return it == g->topics.end() ? nullptr : &it->second;
}

// True if some topic's partition `p` has watermarks `w` (answers other than
// describe do not name their topic).
bool KnownWatermarks(uint32_t p, const brook::Watermarks& w) {
  for (const auto& [name, parts] : g->topics)
    if (p < parts.size() && brook::fuzz::SameWatermarks(parts[p], w)) return true;
  return false;
}
bool AnyPartitionHas(const brook::Watermarks& w) {
  for (uint32_t p = 0; p < fx::kPartitions; ++p)
    if (KnownWatermarks(p, w)) return true;
  return false;
}

void CheckAnswer(const Answer& a, std::string_view bytes) {
  ++g->answers[int(a.kind)];
  switch (a.kind) {
    case Kind::kDescribeAnswer: {
      if (a.producer != g->producer_id || a.epoch != g->epoch)
        DumpAndAbort("a describe answer names another producer or epoch", bytes);
      if (a.topics.size() != g->topics.size())
        DumpAndAbort("a describe answer lists the wrong number of topics", bytes);
      for (const brook::node::TopicDescription& t : a.topics) {
        const std::vector<brook::Watermarks>* want = Partitions(t.name);
        if (want == nullptr || want->size() != t.partitions.size())
          DumpAndAbort("a describe answer lists an unknown topic or partition count", bytes);
        for (size_t p = 0; p < want->size(); ++p)
          if (!brook::fuzz::SameWatermarks((*want)[p], t.partitions[p]))
            DumpAndAbort("a describe answer gives wrong watermarks", bytes);
      }
      return;
    }
    case Kind::kPage: {
      if (a.epoch != g->epoch) DumpAndAbort("a page names another epoch", bytes);
      if (!KnownWatermarks(a.partition, a.watermarks))
        DumpAndAbort("a page gives watermarks no partition has", bytes);
      if (a.count > fx::kPageRecords) DumpAndAbort("a page holds more records than allowed", bytes);
      if (a.first_offset < a.watermarks.low_watermark ||
          a.first_offset + a.count > a.watermarks.high_watermark)
        DumpAndAbort("a page holds offsets outside the watermarks", bytes);
      brook::RecordBatch batch;
      const brook::Status s =
          brook::node::DecodeRecords(a.record_bytes, a.first_offset, a.count, &batch);
      if (!s.ok()) DumpAndAbort(("a page's records do not decode: " + s.ToString()).c_str(), bytes);
      brook::fuzz::CheckDecodedBatch(batch, a.record_bytes, a.first_offset, a.count);
      return;
    }
    case Kind::kEnd:
    case Kind::kOffset:
      if (a.epoch != g->epoch) DumpAndAbort("an end or offset answer names another epoch", bytes);
      if (!AnyPartitionHas(a.watermarks))
        DumpAndAbort("an end or offset answer gives watermarks no partition has", bytes);
      if (a.next_offset > a.watermarks.high_watermark)
        DumpAndAbort("an end or offset answer lies beyond the high watermark", bytes);
      if (a.kind == Kind::kOffset && a.next_offset < a.watermarks.low_watermark)
        DumpAndAbort("an offset answer lies below the low watermark", bytes);
      return;
    case Kind::kError:
      ++g->errors[int(a.error)];
      if (a.error < ErrorCode::kBadRequest || a.error > ErrorCode::kTailLost)
        DumpAndAbort("an error answer has an unknown code", bytes);
      if (a.message.empty()) DumpAndAbort("an error answer says nothing", bytes);
      if (a.watermarks.low_watermark > a.watermarks.high_watermark)
        DumpAndAbort("an error answer gives low > high", bytes);
      return;
    default:
      DumpAndAbort("DecodeAnswer accepted a kind that is not an answer", bytes);
  }
}

// Receives and checks answers until the describe answer with id `sentinel`.
void AwaitSentinel(uint64_t sentinel) {
  const auto deadline = std::chrono::steady_clock::now() + kAnswerDeadline;
  for (;;) {
    zmq::message_t msg;
    zmq::recv_result_t got;
    try {
      got = g->dealer.recv(msg);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {  // libFuzzer's timers interrupt system calls
        std::fprintf(stderr, "replay_fuzz: recv: %s\n", e.what());
        std::abort();
      }
    }
    if (!got) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr,
                     "replay_fuzz: no answer to describe request %llu within %lld s after the "
                     "input: the replay server stopped answering\n",
                     static_cast<unsigned long long>(sentinel),
                     static_cast<long long>(kAnswerDeadline.count()));
        std::abort();
      }
      continue;
    }
    const std::string_view bytes(static_cast<const char*>(msg.data()), msg.size());
    if (msg.more()) DumpAndAbort("an answer of more than one frame", bytes);
    Answer a;
    const brook::Status s = brook::node::DecodeAnswer(bytes, &a);
    if (!s.ok())
      DumpAndAbort(("the node sent an answer DecodeAnswer refuses: " + s.ToString()).c_str(),
                   bytes);
    CheckAnswer(a, bytes);
    if (a.kind == Kind::kDescribeAnswer && a.id == sentinel) return;
  }
}

void Send(std::string_view frame, bool more) {
  zmq::send_result_t sent;
  for (;;) {
    try {
      sent = g->dealer.send(zmq::buffer(frame.data(), frame.size()),
                            more ? zmq::send_flags::sndmore : zmq::send_flags::none);
      break;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // libFuzzer's timers interrupt system calls
      std::fprintf(stderr, "replay_fuzz: send: %s\n", e.what());
      std::abort();
    }
  }
  if (!sent) {
    std::fprintf(stderr,
                 "replay_fuzz: could not send within the timeout: the server stopped "
                 "reading requests\n");
    std::abort();
  }
}

void RoundTrip(const std::vector<std::string_view>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) Send(frames[i], i + 1 < frames.size());
  const uint64_t sentinel = g->next_sentinel++;
  std::string describe;
  brook::node::EncodeDescribe(sentinel, &describe);
  Send(describe, false);
  AwaitSentinel(sentinel);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  g = new Fixture;
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/brook-replay-fuzz-XXXXXX";
  if (tmpl.size() > 80) tmpl = "/tmp/brook-replay-fuzz-XXXXXX";  // ipc paths are short
  std::vector<char> path(tmpl.begin(), tmpl.end());
  path.push_back('\0');
  if (mkdtemp(path.data()) == nullptr) {
    std::perror("replay_fuzz setup: mkdtemp");
    std::abort();
  }
  g->dir = path.data();
  std::atexit(Cleanup);

  brook::ProducerOptions o;
  o.journal.path = g->dir + "/journal";
  o.journal.durability = brook::Durability::kNoSync;
  WriteFirstEpoch(o.journal);

  o.journal.clock = FakeClock(fx::kBaseTimestamp + fx::kSecondEpochClock);
  o.pub_endpoint = "ipc://" + g->dir + "/pub";
  o.replay_endpoint = "ipc://" + g->dir + "/replay";
  o.heartbeat_interval = std::chrono::hours(1);  // quiet: no coverage noise
  o.replay_page_records = fx::kPageRecords;
  o.replay_page_bytes = fx::kPageBytes;
  o.max_fetches_per_peer = fx::kFetchesPerPeer;
  Must(brook::Producer::Open(o, &g->producer), "open the producer");
  g->producer_id = g->producer->producer_id();
  g->epoch = g->producer->epoch();
  if (g->epoch != fx::kProducerEpoch)
    Must(brook::Status::Internal("epoch " + std::to_string(g->epoch)), "the producer's epoch");
  std::vector<std::string> storage;
  std::vector<brook::RecordInput> records;
  for (int done = 0; done < fx::kRecordsSecondEpoch; done += 20) {
    MakeRecords(20, 500 + done, &storage, &records);
    Must(g->producer->PublishBatch(fx::kTopic, records), "publish");
  }
  MakeRecords(fx::kRetainedPerEpoch, 2000, &storage, &records);
  Must(g->producer->PublishBatch(fx::kRetainedTopic, records), "publish");
  Must(g->producer->journal()->EnforceRetention(), "enforce retention");
  for (const brook::TopicInfo& t : g->producer->journal()->ListTopics()) {
    std::vector<brook::Watermarks>& parts = g->topics[t.name];
    parts.resize(t.config.partitions);
    for (uint32_t p = 0; p < t.config.partitions; ++p)
      Must(g->producer->journal()->GetWatermarks(t.name, p, &parts[p]), "watermarks");
  }

  g->dealer = zmq::socket_t(g->ctx, zmq::socket_type::dealer);
  g->dealer.set(zmq::sockopt::linger, 0);
  g->dealer.set(zmq::sockopt::rcvtimeo, kReceiveTimeoutMs);
  g->dealer.set(zmq::sockopt::sndtimeo, 1000);
  g->dealer.connect(g->producer->replay_endpoint());
  RoundTrip({});  // the connection is up and the server answers
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ++g->inputs;
  size = std::min(size, kMaxInput);
  std::vector<std::string_view> frames;
  if (size == 0) {
    frames.emplace_back();
  } else {
    const char sep = static_cast<char>(data[0]);
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    while (frames.size() + 1 < kMaxFrames) {
      const size_t at = rest.find(sep);
      if (at == std::string_view::npos) break;
      frames.push_back(rest.substr(0, at));
      rest.remove_prefix(at + 1);
    }
    frames.push_back(rest);
  }
  RoundTrip(frames);

  // A fetch the input started may wait for credit: cancel it, so that the
  // per-peer limit does not turn every later fetch into "busy".
  if (frames.size() == 1) {
    brook::node::Request req;
    ErrorCode code;
    if (brook::node::DecodeRequest(frames[0], &req, &code).ok() && req.kind == Kind::kFetch) {
      std::string cancel;
      brook::node::EncodeCancel(req.id, &cancel);
      Send(cancel, false);
    }
  }
  return 0;
}
