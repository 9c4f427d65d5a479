// A consumer process for the consumer's crash tests:
//
//   consumer_child <pub endpoint> <replay endpoint> <state dir> <name> <topic>
//
// Follows <topic> under consumer name <name>, committing positions after
// every Poll, and writes "r <partition> <offset>\n" to stdout for each record
// as its handler processes it (before the commit), until killed.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "brook/consumer.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PUB REPLAY STATE_DIR NAME TOPIC\n", argv[0]);
    return 64;
  }
  brook::ConsumerOptions o;
  o.producers.push_back({argv[1], argv[2]});
  o.state_dir = argv[3];
  o.name = argv[4];
  o.topics = {argv[5]};
  o.auto_commit_interval = std::chrono::milliseconds(0);
  o.request_timeout = std::chrono::milliseconds(500);
  std::unique_ptr<brook::Consumer> c;
  brook::Status s = brook::Consumer::Open(o, &c);
  if (!s.ok()) {
    std::fprintf(stderr, "consumer_child: %s\n", s.ToString().c_str());
    return 2;
  }
  std::string out;
  brook::PollHandler h;
  h.on_record = [&](const brook::StreamId& stream, const brook::RecordView& r) {
    out = "r " + std::to_string(stream.partition) + " " + std::to_string(r.offset) + "\n";
    // Reported before Poll commits the position: at-least-once, visibly.
    if (write(1, out.data(), out.size()) != static_cast<ssize_t>(out.size())) _exit(3);
  };
  for (;;) {
    s = c->Poll(h, 100, std::chrono::milliseconds(100));
    if (!s.ok()) {
      std::fprintf(stderr, "consumer_child: %s\n", s.ToString().c_str());
      return 2;
    }
  }
}
