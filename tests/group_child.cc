// A consumer group member process for the group tests:
//
//   group_child GROUP TOPIC SESSION_MS PUB REPLAY [PUB REPLAY ...]
//
// Joins GROUP on the producers given, commits positions after every Poll,
// and writes one line to stdout for everything its handler sees, as it sees
// it (before the commit), until killed:
//   a <producer> <partition> <from>     the stream was assigned to it
//   v <producer> <partition> <from>     the stream was revoked
//   r <producer> <partition> <offset>   a record
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "brook/consumer.h"

namespace {

void Line(const std::string& line) {
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6 || (argc - 4) % 2 != 0) {
    std::fprintf(stderr, "usage: %s GROUP TOPIC SESSION_MS PUB REPLAY [PUB REPLAY ...]\n", argv[0]);
    return 64;
  }
  brook::ConsumerOptions o;
  o.group = argv[1];
  o.topics = {argv[2]};
  o.group_session_timeout = std::chrono::milliseconds(std::atoi(argv[3]));
  o.group_heartbeat_interval = o.group_session_timeout / 5;
  for (int i = 4; i + 1 < argc; i += 2) o.producers.push_back({argv[i], argv[i + 1]});
  o.auto_commit_interval = std::chrono::milliseconds(0);
  o.request_timeout = std::chrono::milliseconds(500);
  std::unique_ptr<brook::Consumer> c;
  brook::Status s = brook::Consumer::Open(o, &c);
  if (!s.ok()) {
    std::fprintf(stderr, "group_child: %s\n", s.ToString().c_str());
    return 2;
  }
  brook::PollHandler h;
  h.on_record = [](const brook::StreamId& stream, const brook::RecordView& r) {
    Line("r " + stream.producer.ToHex() + " " + std::to_string(stream.partition) + " " +
         std::to_string(r.offset) + "\n");
  };
  h.on_event = [](const brook::ConsumerEvent& e) {
    const char* kind = e.kind == brook::ConsumerEvent::Kind::kAssigned  ? "a"
                       : e.kind == brook::ConsumerEvent::Kind::kRevoked ? "v"
                                                                        : "e";
    Line(std::string(kind) + " " + e.stream.producer.ToHex() + " " +
         std::to_string(e.stream.partition) + " " + std::to_string(e.from) + "\n");
  };
  for (;;) {
    s = c->Poll(h, 100, std::chrono::milliseconds(100));
    if (!s.ok()) {
      std::fprintf(stderr, "group_child: %s\n", s.ToString().c_str());
      return 2;
    }
  }
}
