// daemon_event_loop: brook inside a daemon's own event loop, without a thread
// of the daemon's.
//
//   daemon_event_loop [--records N] [--seconds S] [directory]
//
// A daemon usually has one loop that waits on all its file descriptors
// (poll, epoll, libevent, asio...). brook fits in it:
//
//  - the producer needs no descriptor: publish when the loop decides to
//    (here a timerfd fires every 5 ms and the daemon publishes a "tick");
//  - the consumer has one, Consumer::fd(), readable while records wait:
//    when epoll reports it, call Poll with a zero timeout until it delivers
//    nothing, and go back to waiting;
//  - a signalfd turns SIGINT/SIGTERM into one more event, so the daemon
//    stops between two handlers, closing brook cleanly.
//
// The example publishes N ticks (default 200), consumes them in the same
// loop, checks every one (none lost, none twice, in order) and stops; it
// gives up after S seconds (default 20). SIGINT/SIGTERM stop it early; what it
// published until then is still checked. Exit status 0 only if the check passed.
#include <brook/consumer.h>
#include <brook/producer.h>

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "example_util.h"

namespace {

using namespace std::chrono_literals;
using example::Fail;

int Usage() {
  std::fprintf(stderr, "usage: daemon_event_loop [--records N] [--seconds S] [directory]\n");
  return 64;
}

void Watch(int epoll_fd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    std::perror("daemon_event_loop: epoll_ctl");
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 200;
  int seconds = 20;
  const char* dir_arg = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--records") == 0 && i + 1 < argc) {
      records = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atoi(argv[++i]);
    } else if (argv[i][0] != '-' && dir_arg == nullptr) {
      dir_arg = argv[i];
    } else {
      return Usage();
    }
  }
  if (records == 0 || seconds <= 0) return Usage();
  const std::string dir = example::WorkDir(dir_arg, "daemon");

  // Block the signals before brook starts its threads: threads inherit the
  // mask, so SIGTERM then reaches the signalfd instead of killing the daemon
  // on one of brook's threads.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

  brook::ProducerOptions po;
  po.journal.path = dir + "/journal";
  po.pub_endpoint = "tcp://127.0.0.1:0";
  po.replay_endpoint = "tcp://127.0.0.1:0";
  std::unique_ptr<brook::Producer> producer;
  brook::Status s = brook::Producer::Open(po, &producer);
  if (!s.ok()) Fail(s, "daemon_event_loop: open the producer");
  brook::TopicConfig ticks;
  ticks.partitions = 2;
  if (!(s = producer->CreateTopic("ticks", ticks)).ok()) Fail(s, "daemon_event_loop: create topic");

  // The consumer follows the daemon's own producer here to keep the example
  // in one process; in real life it follows another daemon's.
  brook::ConsumerOptions co;
  co.producers.push_back({producer->pub_endpoint(), producer->replay_endpoint()});
  co.topics = {"ticks"};
  std::unique_ptr<brook::Consumer> consumer;
  if (!(s = brook::Consumer::Open(co, &consumer)).ok()) Fail(s, "daemon_event_loop: open consumer");

  // The daemon's descriptors: a 5 ms timer, the stop signals, the consumer.
  const int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  const itimerspec every_5ms{{0, 5'000'000}, {0, 5'000'000}};
  const int signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (timer_fd < 0 || signal_fd < 0 || epoll_fd < 0 ||
      timerfd_settime(timer_fd, 0, &every_5ms, nullptr) != 0) {
    std::perror("daemon_event_loop: timerfd/signalfd/epoll");
    return 1;
  }
  Watch(epoll_fd, timer_fd);
  Watch(epoll_fd, signal_fd);
  Watch(epoll_fd, consumer->fd());

  example::DeliveryCheck check;
  brook::PollHandler handler;
  handler.on_record = [&check](const brook::StreamId& st, const brook::RecordView& r) {
    check.Delivered(st, r);
  };
  handler.on_event = [](const brook::ConsumerEvent& e) {
    std::printf("event: %s\n", e.message.c_str());
  };

  uint64_t published = 0, timer_wakeups = 0, consumer_wakeups = 0;
  bool stop_requested = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  // After a stop signal the loop publishes no more, but still drains what it
  // published, as a daemon should before it exits.
  while (check.delivered() < (stop_requested ? published : records) &&
         std::chrono::steady_clock::now() < deadline) {
    epoll_event events[8];
    const int n = epoll_wait(epoll_fd, events, 8, 100);
    if (n < 0 && errno != EINTR) {
      std::perror("daemon_event_loop: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == timer_fd) {
        uint64_t expirations = 0;
        if (read(timer_fd, &expirations, sizeof expirations) != sizeof expirations) continue;
        ++timer_wakeups;
        if (published == records || stop_requested) continue;
        // Publish waits for its commit (about one fsync). A loop that must
        // never wait that long uses PublishAsync and learns the outcome from
        // the returned future or a callback.
        const std::string payload = "tick " + std::to_string(published);
        check.Expect(payload);
        brook::RecordInput tick;
        tick.payload = payload;
        if (!(s = producer->Publish("ticks", tick)).ok()) Fail(s, "daemon_event_loop: publish");
        ++published;
      } else if (fd == signal_fd) {
        signalfd_siginfo info{};
        if (read(signal_fd, &info, sizeof info) == sizeof info) {
          std::printf("signal %u: stopping\n", info.ssi_signo);
          stop_requested = true;
        }
      } else if (fd == consumer->fd()) {
        // Drain what is waiting, without blocking: the loop has other work.
        ++consumer_wakeups;
        size_t delivered = 0;
        do {
          if (!(s = consumer->Poll(handler, 1000, 0ms, &delivered)).ok()) {
            Fail(s, "daemon_event_loop: poll");
          }
        } while (delivered > 0);
      }
    }
  }

  uint64_t lag_records = 0;
  for (const brook::StreamLag& l : consumer->lag()) lag_records += l.records;
  const brook::ConsumerStats stats = consumer->stats();
  (void)consumer->Close();
  (void)producer->Close();
  close(epoll_fd);
  close(signal_fd);
  close(timer_fd);

  std::printf("summary\n");
  std::printf("  published: %llu ticks\n", static_cast<unsigned long long>(published));
  check.PrintSummary("  ");
  std::printf("  live: %llu, replayed: %llu\n", static_cast<unsigned long long>(stats.live_records),
              static_cast<unsigned long long>(stats.replayed_records));
  std::printf("  lag at the end: %llu records\n", static_cast<unsigned long long>(lag_records));
  std::printf("  loop wake-ups: %llu by the timer, %llu by the consumer\n",
              static_cast<unsigned long long>(timer_wakeups),
              static_cast<unsigned long long>(consumer_wakeups));
  const bool ok = (stop_requested || published == records) && check.passed();
  std::printf("result: %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
