// `brook produce TOPIC`: records from stdin to a topic — through a running
// `brook node` (its ingest endpoint, from --config or --ingest) or straight
// into a journal directory no node has open (--journal).
//
// Input is read in large chunks and cut into lines; the records of a chunk
// go in one request (one commit), and a few requests stay in flight, so a
// bulk load runs at the journal's group-commit speed while a line typed by
// hand is published as soon as Enter is pressed (a partial batch goes as
// soon as stdin has nothing more to give).
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "brook/journal.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/ingest.h"
#include "tools/json_input.h"
#include "tools/node_config.h"

namespace brook::cli {

namespace {

CommandSpec ProduceSpec() {
  CommandSpec spec("produce");
  spec.positional = "TOPIC";
  spec.min_positional = spec.max_positional = 1;
  spec.summary = "Publish records read from stdin to TOPIC: one record per line.";
  spec.description =
      "Where to: a running `brook node` (--config, or --ingest ENDPOINT), or a journal\n"
      "directory no node has open (--journal; the records go out when a node opens it).\n"
      "Each record is acknowledged after its commit in the node's durability mode; brook\n"
      "produce exits 0 only when every record was acknowledged. On an error it says which\n"
      "input lines were not published (the lines before them were).\n"
      "\n"
      "With --json each line is an object (every field optional):\n"
      "  {\"key\": \"customer-7\", \"headers\": {\"source\": \"web\"}, \"payload\": \"...\", "
      "\"partition\": 2}\n"
      "a non-string payload is published as its JSON text. Bytes that are not UTF-8 come\n"
      "base64 in \"key_base64\", \"payload_base64\" and \"headers_base64\" ({base64 name:\n"
      "base64 value}), as `brook consume --json` prints them. Its lines can be read back\n"
      "as they are: their producer, topic, offset and timestamp fields are ignored (the\n"
      "node gives each record its own) and its event lines are skipped, said on stderr.\n"
      "\n"
      "examples:\n"
      "  echo 'hello' | brook produce --config node.conf greetings\n"
      "  brook produce --config node.conf --partitions 3 --key-separator : orders < orders.txt\n"
      "  brook consume --json --config a.conf orders | brook produce --json --config b.conf orders";
  spec.options = {
      {"config", "FILE", "publish through the `brook node` of this config file (its ingest)"},
      {"ingest", "ENDPOINT", "publish through the node listening for ingest here"},
      {"journal", "DIR", "append to this journal directory directly (no node has it open)"},
      {"partitions", "N", "create TOPIC with N partitions if it does not exist"},
      {"key", "KEY", "the key of every record (records with one key share a partition)"},
      {"key-separator", "SEP", "each line is KEY SEP PAYLOAD (split at the first SEP)"},
      {"header", "NAME=VALUE", "a header on every record", true},
      {"partition", "P", "put every record in partition P (default: by key, or round-robin)"},
      {"json", "", "read JSON lines (see above); --ack prints JSON lines"},
      {"ack", "", "print where each record landed: partition and offset, a line each"},
      {"batch", "N", "at most N records per commit (default 1000)"},
      {"durability", "MODE", "with --journal: fsync (default), nometasync or nosync"},
      {"timeout", "DURATION", "give up when the node does not answer this long (default 30s)"},
      {"verbose", "", "print a summary on stderr at the end"},
  };
  return spec;
}

// One request's worth of records; the views in `records` point into `parsed`.
struct Batch {
  uint64_t first_line = 0;  // input line number of records[0]
  std::vector<JsonRecord> parsed;
  std::vector<RecordInput> records;
  size_t bytes = 0;
};

// Where batches go. Submit may wait (a full window); each call to Submit or
// Finish reports acknowledged records through `on_ack` in input order.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Submit(Batch batch) = 0;
  virtual Status Finish() = 0;
  // Blocks until `fd` is readable (or at its end), reporting the answers to
  // what was submitted meanwhile: a line typed by hand gets its ack at once.
  virtual Status WaitForInput(int fd) {
    pollfd p{fd, POLLIN, 0};
    while (!StopRequested() && ::poll(&p, 1, 100) == 0) {
    }
    return Status::OK();
  }
  std::function<void(const Batch&, const std::vector<RecordPosition>&)> on_ack;
};

class JournalSink : public Sink {
 public:
  explicit JournalSink(std::unique_ptr<Journal> journal, std::string topic)
      : journal_(std::move(journal)), topic_(std::move(topic)) {}
  Status Submit(Batch batch) override {
    std::vector<RecordPosition> positions;
    Status s = journal_->Append(topic_, batch.records, &positions);
    if (s.ok()) on_ack(batch, positions);
    return s;
  }
  Status Finish() override { return journal_->Close(); }

 private:
  std::unique_ptr<Journal> journal_;
  std::string topic_;
};

class IngestSink : public Sink {
 public:
  IngestSink(std::string endpoint, std::string topic, uint32_t create_partitions,
             std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)),
        topic_(std::move(topic)),
        create_partitions_(create_partitions),
        timeout_(timeout),
        ctx_(1),
        socket_(ctx_, zmq::socket_type::dealer) {}

  Status Connect() {
    try {
      socket_.set(zmq::sockopt::linger, 0);
      socket_.connect(endpoint_);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("cannot connect to the ingest endpoint " + endpoint_ + ": " +
                                     e.what());
    }
    return Status::OK();
  }

  Status Submit(Batch batch) override {
    while (failed_.ok() && in_flight_.size() >= kWindow) {
      Status s = AwaitOne();
      if (!s.ok()) return s;
    }
    if (!failed_.ok()) return failed_;
    ingest::EncodePublish(next_id_, topic_, create_partitions_, batch.records, &frame_);
    try {
      (void)socket_.send(zmq::buffer(frame_), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      return Status::Unavailable("cannot send to " + endpoint_ + ": " + e.what());
    }
    last_line_sent_ = batch.first_line + batch.records.size() - 1;
    in_flight_.push_back(
        Pending{next_id_++, std::chrono::steady_clock::now(), std::move(batch), false, {}});
    return Status::OK();
  }

  Status WaitForInput(int fd) override {
    for (;;) {
      pollfd input{fd, POLLIN, 0};
      if (StopRequested() || ::poll(&input, 1, 0) != 0) return Status::OK();
      if (!in_flight_.empty() &&
          std::chrono::steady_clock::now() - in_flight_.front().sent >= timeout_) {
        return NoAnswer(in_flight_.front());
      }
      zmq::pollitem_t items[2] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                  {nullptr, fd, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(100));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        return Status::Unavailable("polling " + endpoint_ + ": " + e.what());
      }
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t msg;
      while (!in_flight_.empty() && socket_.recv(msg, zmq::recv_flags::dontwait)) {
        Status s = Take(msg);
        if (!s.ok()) return s;
      }
      if (!failed_.ok()) return failed_;
    }
  }

  // Waits for every answer, so that what was acknowledged after a failure
  // is still reported.
  Status Finish() override {
    while (!in_flight_.empty()) {
      Status s = AwaitOne(/*finishing=*/true);
      if (!s.ok()) return s;
    }
    if (failed_.ok() || more_failures_ == 0) return failed_;
    return Status(failed_.code(), std::string(failed_.message()) + "; " +
                                      std::to_string(more_failures_) +
                                      " later request(s) failed too");
  }

 private:
  static constexpr size_t kWindow = 16;

  struct Pending {
    uint64_t id;
    std::chrono::steady_clock::time_point sent;
    Batch batch;
    bool answered = false;
    ingest::Answer answer;
  };

  Status NoAnswer(const Pending& oldest) const {
    const std::string from_line = std::to_string(oldest.batch.first_line);
    if (StopRequested())
      return Status::Unavailable("interrupted before " + endpoint_ +
                                 " acknowledged the records from input line " + from_line +
                                 " on: they may or may not have been published");
    return Status::Unavailable("no answer from " + endpoint_ + " within " +
                               FormatDuration(timeout_) +
                               ": is `brook node` running with this ingest endpoint? Records from "
                               "input line " +
                               from_line + " on may not have been published.");
  }

  // Waits until the oldest request in flight is settled (Take). Finishing
  // after Ctrl-C it still waits a little, so that what was sent is known
  // acknowledged or not rather than left unsaid.
  Status AwaitOne(bool finishing = false) {
    const bool interrupted = StopRequested();
    const auto patience = finishing && interrupted ? std::min<std::chrono::milliseconds>(
                                                         timeout_, std::chrono::seconds(5))
                                                   : timeout_;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    const size_t before = in_flight_.size();
    zmq::message_t msg;
    while (in_flight_.size() == before) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || (!finishing && StopRequested())) return NoAnswer(in_flight_.front());
      try {
        zmq::poll(&item, 1, std::min(left, std::chrono::milliseconds(100)));
        if (!(item.revents & ZMQ_POLLIN)) continue;
        if (!socket_.recv(msg, zmq::recv_flags::dontwait)) continue;
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        return Status::Unavailable("receiving from " + endpoint_ + ": " + e.what());
      }
      Status s = Take(msg);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  // One answer from the node. Acknowledgements come in commit order, which
  // is request order, but a request the node rejects before publishing is
  // answered at once: answers are kept until those before them are in.
  Status Take(const zmq::message_t& msg) {
    ingest::Answer answer;
    Status s = ingest::DecodeAnswer(
        std::string_view(static_cast<const char*>(msg.data()), msg.size()), &answer);
    if (!s.ok()) return s;
    for (Pending& p : in_flight_) {
      if (p.id != answer.id) continue;
      p.answered = true;
      p.answer = std::move(answer);
      break;
    }  // no such request: an answer to a request of an earlier run
    while (!in_flight_.empty() && in_flight_.front().answered) {
      Pending& oldest = in_flight_.front();
      const uint64_t first = oldest.batch.first_line;
      const uint64_t last = first + oldest.batch.records.size() - 1;
      if (oldest.answer.kind == ingest::kKindError) {
        const Status& e = oldest.answer.error;
        const std::string hint = e.IsNotFound() && create_partitions_ == 0
                                     ? "; give --partitions N to create the topic"
                                     : "";
        if (failed_.ok()) {
          failed_ = Status(e.code(), std::string(e.message()) + hint + " (input lines " +
                                         std::to_string(first) + ".." + std::to_string(last) +
                                         " were not published; no line after line " +
                                         std::to_string(last_line_sent_) + " was read)");
        } else {
          ++more_failures_;
        }
      } else if (oldest.answer.positions.size() != oldest.batch.records.size()) {
        return Status::Internal("the node acknowledged " +
                                std::to_string(oldest.answer.positions.size()) + " records of " +
                                std::to_string(oldest.batch.records.size()));
      } else {
        on_ack(oldest.batch, oldest.answer.positions);
      }
      in_flight_.pop_front();
    }
    return Status::OK();
  }

  std::string endpoint_;
  std::string topic_;
  uint32_t create_partitions_;
  std::chrono::milliseconds timeout_;
  zmq::context_t ctx_;
  zmq::socket_t socket_;
  std::string frame_;
  uint64_t next_id_ = 1;
  std::deque<Pending> in_flight_;
  uint64_t last_line_sent_ = 0;
  Status failed_;  // the first request the node refused
  uint64_t more_failures_ = 0;
};

// Turns input lines into records per the options.
class LineParser {
 public:
  Status Init(const Args& args) {
    json_ = args.Has("json");
    if (args.Has("key")) key_ = args.Get("key");
    separator_ = args.Get("key-separator");
    if (args.Has("key-separator") && separator_.empty()) {
      return Status::InvalidArgument("--key-separator is empty");
    }
    if (json_ && (args.Has("key-separator"))) {
      return Status::InvalidArgument("--key-separator reads plain lines; with --json give \"key\"");
    }
    if (args.Has("partition")) {
      uint32_t p = 0;
      Status s = args.GetUint32("partition", &p);
      if (!s.ok()) return s;
      partition_ = p;
    }
    for (const std::string& h : args.GetAll("header")) {
      const size_t eq = h.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::InvalidArgument("--header " + h + ": expected NAME=VALUE");
      }
      headers_.emplace_back(h.substr(0, eq), h.substr(eq + 1));
    }
    return Status::OK();
  }

  // Adds the record of `line` (input line `number`) to `batch`.
  // A `brook consume --json` event line adds nothing; *event gets its kind.
  Status Add(std::string line, uint64_t number, Batch* batch, std::string* event) {
    const size_t size = line.size();
    JsonRecord rec;
    if (json_) {
      Status s = ParseJsonRecord(line, &rec);
      if (!s.ok()) {
        return Status::InvalidArgument("input line " + std::to_string(number) + ": " +
                                       std::string(s.message()));
      }
      if (rec.event) {
        *event = *rec.event;
        return Status::OK();
      }
    } else {
      size_t cut = std::string::npos;
      if (!separator_.empty()) cut = line.find(separator_);
      if (cut != std::string::npos) {
        rec.key = line.substr(0, cut);
        rec.payload = line.substr(cut + separator_.size());
      } else {
        rec.payload = std::move(line);
      }
    }
    batch->bytes += size;
    if (key_ && !rec.key) rec.key = key_;
    if (partition_ && !rec.partition) rec.partition = partition_;
    for (const auto& h : headers_) rec.headers.push_back(h);
    batch->parsed.push_back(std::move(rec));
    return Status::OK();
  }

  // Builds the views once the batch's storage no longer moves.
  static void Seal(Batch* batch) {
    batch->records.resize(batch->parsed.size());
    for (size_t i = 0; i < batch->parsed.size(); ++i) {
      const JsonRecord& p = batch->parsed[i];
      RecordInput& r = batch->records[i];
      if (p.key) r.key = *p.key;
      r.payload = p.payload;
      r.partition = p.partition;
      r.headers.clear();
      for (const auto& h : p.headers) r.headers.push_back(Header{h.first, h.second});
    }
  }

 private:
  bool json_ = false;
  std::optional<std::string> key_;
  std::string separator_;
  std::optional<uint32_t> partition_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

bool StdinHasData() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

Status OpenSink(const CommandSpec& spec, const Args& args, const std::string& topic,
                std::unique_ptr<Sink>* out, int* usage_error) {
  const int targets = args.Has("config") + args.Has("ingest") + args.Has("journal");
  if (targets != 1) {
    *usage_error =
        UsageError(spec, "say where to publish: exactly one of --config, --ingest, --journal");
    return Status::InvalidArgument("");
  }
  uint32_t partitions = 0;
  Status s = args.GetUint32("partitions", &partitions);
  if (!s.ok()) return s;
  if (args.Has("partitions") && (partitions < 1 || partitions > 4096)) {
    return Status::InvalidArgument("--partitions must be 1 .. 4096");
  }
  if (args.Has("journal")) {
    JournalOptions options;
    options.path = args.Get("journal");
    // Creating a journal needs the intent: a typo in DIR must not make one.
    options.create_if_missing = args.Has("partitions");
    if (args.Has("durability")) {
      s = ParseDurability(args.Get("durability"), &options.durability);
      if (!s.ok()) return s;
    }
    options.logger = StderrLogger("produce", args.Has("verbose"));
    std::unique_ptr<Journal> journal;
    s = Journal::Open(options, &journal);
    if (s.IsNotFound()) {
      return Status::NotFound("no journal in " + options.path +
                              " (give --partitions N to create one with topic " + topic + ")");
    }
    if (s.IsFailedPrecondition()) {
      return Status::FailedPrecondition(std::string(s.message()) +
                                        " (if a node has it open, publish through the node: "
                                        "--config or --ingest)");
    }
    if (!s.ok()) return s;
    TopicInfo info;
    if (journal->GetTopic(topic, &info).IsNotFound()) {
      if (!args.Has("partitions")) {
        return Status::NotFound("topic " + topic + " does not exist in " + options.path +
                                " (give --partitions N to create it)");
      }
      TopicConfig config;
      config.partitions = partitions;
      s = journal->CreateTopic(topic, config);
      if (!s.ok()) return s;
    }
    *out = std::make_unique<JournalSink>(std::move(journal), topic);
    return Status::OK();
  }
  if (args.Has("durability")) {
    *usage_error =
        UsageError(spec, "--durability is the node's setting; it goes with --journal only");
    return Status::InvalidArgument("");
  }
  std::string endpoint = args.Get("ingest");
  if (args.Has("config")) {
    NodeConfig config;
    s = LoadNodeConfig(args.Get("config"), /*load_secrets=*/false, &config);
    if (!s.ok()) return s;
    if (config.ingest_endpoint.empty()) {
      return Status::FailedPrecondition("the node of " + config.path +
                                        " takes no records: add 'ingest = ipc:///PATH' to it");
    }
    s = ConnectableEndpoint(config.ingest_endpoint, &endpoint);
    if (!s.ok()) return s;
  }
  std::chrono::milliseconds timeout{30000};
  s = args.GetDuration("timeout", &timeout);
  if (!s.ok()) return s;
  auto sink = std::make_unique<IngestSink>(endpoint, topic, partitions, timeout);
  s = sink->Connect();
  if (!s.ok()) return s;
  *out = std::move(sink);
  return Status::OK();
}

}  // namespace

int RunProduce(int argc, char** argv) {
  const CommandSpec spec = ProduceSpec();
  Args args;
  int code = 0;
  if (!ParseArgs(spec, argc, argv, 1, &args, &code)) return code;
  const std::string topic = args.positional()[0];
  uint64_t batch_limit = 1000;
  Status s = args.GetUint("batch", &batch_limit);
  if (!s.ok()) return UsageError(spec, std::string(s.message()));
  if (batch_limit == 0 || batch_limit > ingest::kMaxRecordsPerRequest) {
    return UsageError(spec,
                      "--batch must be 1 .. " + std::to_string(ingest::kMaxRecordsPerRequest));
  }
  LineParser parser;
  s = parser.Init(args);
  if (!s.ok()) return UsageError(spec, std::string(s.message()));

  InstallStopSignals();
  std::unique_ptr<Sink> sink;
  int usage = 0;
  s = OpenSink(spec, args, topic, &sink, &usage);
  if (usage) return usage;
  if (!s.ok()) return Fail(spec, s);

  const bool ack = args.Has("ack");
  const bool json = args.Has("json");
  uint64_t acknowledged = 0;
  std::string ack_out;
  sink->on_ack = [&](const Batch& batch, const std::vector<RecordPosition>& positions) {
    acknowledged += positions.size();
    if (!ack) return;
    ack_out.clear();
    for (size_t i = 0; i < positions.size(); ++i) {
      const RecordPosition& p = positions[i];
      if (json) {
        ack_out += JsonObject()
                       .Str("topic", topic)
                       .Num("partition", p.partition)
                       .Num("offset", p.offset)
                       .Int("timestamp_ns", p.timestamp_ns)
                       .Num("line", batch.first_line + i)
                       .Done();
      } else {
        ack_out += topic + " partition " + std::to_string(p.partition) + " offset " +
                   std::to_string(p.offset);
      }
      ack_out += '\n';
    }
    std::fwrite(ack_out.data(), 1, ack_out.size(), stdout);
    std::fflush(stdout);
  };

  const auto started = std::chrono::steady_clock::now();
  Batch batch;
  uint64_t line_number = 0;
  std::string pending;  // a line not yet ended by '\n'
  std::vector<char> buf(1 << 16);
  const auto flush = [&]() -> Status {
    if (batch.parsed.empty()) return Status::OK();
    LineParser::Seal(&batch);
    Status r = sink->Submit(std::move(batch));
    batch = Batch{};
    return r;
  };
  // Adds `pending` as the next line; a bad line ends the input, but the
  // lines before it are published, as the help promises.
  const auto add_line = [&]() -> Status {
    if (batch.parsed.empty()) batch.first_line = line_number + 1;
    std::string event;
    Status r = parser.Add(std::move(pending), ++line_number, &batch, &event);
    pending.clear();
    if (r.ok() && !event.empty()) {
      std::fprintf(stderr,
                   "brook produce: input line %llu is a \"%s\" event of `brook consume`, not a "
                   "record: skipped\n",
                   static_cast<unsigned long long>(line_number), event.c_str());
      return flush();  // the next batch starts after it: acks keep their line numbers
    }
    if (r.ok()) return r;
    Status flushed = flush();
    return flushed.ok() ? r : flushed;
  };
  bool eof = false;
  while (s.ok() && !eof && !StopRequested()) {
    s = sink->WaitForInput(STDIN_FILENO);
    if (!s.ok() || StopRequested()) break;
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = Status::Internal(std::string("reading stdin: ") + std::strerror(errno));
      break;
    }
    if (n == 0) {
      eof = true;
      if (!pending.empty()) {  // a last line without '\n'
        s = add_line();
      }
    } else {
      size_t start = 0;
      const char* data = buf.data();
      for (size_t i = 0; i < static_cast<size_t>(n) && s.ok(); ++i) {
        if (data[i] != '\n') continue;
        pending.append(data + start, i - start);
        start = i + 1;
        s = add_line();
        if (s.ok() && (batch.parsed.size() >= batch_limit || batch.bytes >= (1u << 20))) {
          s = flush();
        }
      }
      pending.append(data + start, static_cast<size_t>(n) - start);
    }
    // Interactive input: nothing more waiting means publish what we have.
    if (s.ok() && (eof || !StdinHasData())) s = flush();
  }
  if (s.ok() && StopRequested()) {
    s = Status::Unavailable("interrupted: input after line " + std::to_string(line_number) +
                            " was not read");
  }
  Status finish = sink->Finish();
  if (s.ok()) s = finish;
  if (args.Has("verbose") || StderrIsTerminal()) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "brook produce: %llu records published to %s in %.2f s\n",
                 static_cast<unsigned long long>(acknowledged), topic.c_str(), secs);
  }
  if (!s.ok()) return Fail(spec, s);
  return kExitOk;
}

}  // namespace brook::cli
