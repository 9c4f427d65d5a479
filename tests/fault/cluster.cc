#include "tests/fault/cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace brook::fault {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> Split(const std::string& line, size_t max_fields) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= line.size() && out.size() + 1 < max_fields) {
    const size_t sp = line.find(' ', start);
    if (sp == std::string::npos) break;
    out.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
  out.push_back(line.substr(std::min(start, line.size())));
  return out;
}

bool ToU64(const std::string& s, uint64_t* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *v = std::strtoull(s.c_str(), &end, 10);
  return errno == 0 && *end == '\0';
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

Cluster::Cluster(std::string bin_dir, std::string log_dir, History* history, uint64_t seed)
    : bin_dir_(std::move(bin_dir)),
      log_dir_(std::move(log_dir)),
      history_(history),
      seed_(seed),
      transcripts_(std::getenv("BROOK_FAULT_TRANSCRIPTS") != nullptr) {}

Cluster::~Cluster() {
  for (size_t i = 0; i < consumers_.size(); ++i) KillConsumer(static_cast<int>(i));
  for (size_t i = 0; i < producers_.size(); ++i) KillProducer(static_cast<int>(i));
  for (auto& [who, f] : transcript_files_)
    if (f != nullptr) std::fclose(f);
}

int Cluster::AddProducer(const ProducerSpec& spec) {
  producers_.push_back(ProducerProc{spec, {}, false, false, 0, {}, 0});
  return static_cast<int>(producers_.size() - 1);
}

int Cluster::AddConsumer(const ConsumerSpec& spec) {
  consumers_.push_back(ConsumerProc{spec, {}, false, 0});
  return static_cast<int>(consumers_.size() - 1);
}

bool Cluster::Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::string& log, Child* child, std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    const int logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (logfd >= 0) dup2(logfd, 2);
    // Nothing of the harness's (a proxy's listener, another child's pipe)
    // may live on in the child: it would hold ports and pipes open.
    close_range(3, ~0U, 0);
    unsetenv("BROOK_CRASH_POINT");
    for (const std::string& kv : env) putenv(const_cast<char*>(kv.c_str()));
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  spawned_.push_back(pid);
  child->pid = pid;
  child->fd = fds[0];
  child->buf.clear();
  child->last_status = 0;
  return true;
}

void Cluster::Reap(Child* child, bool wait) {
  if (child->pid <= 0) return;
  int status = 0;
  if (waitpid(child->pid, &status, wait ? 0 : WNOHANG) == child->pid) {
    child->last_status = status;
    child->pid = -1;
  }
}

bool Cluster::ReadChild(Child* child, const std::function<void(const std::string&)>& line) {
  if (child->fd < 0) return false;
  char buf[1 << 16];
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = read(child->fd, buf, sizeof buf);
    if (n > 0) {
      child->buf.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = child->buf.find('\n', start)) != std::string::npos; start = nl + 1)
        line(child->buf.substr(start, nl - start));
      child->buf.erase(0, start);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    // EOF: the child closed its stdout, which means it is gone (a torn last
    // line is dropped: the child died in the middle of writing it).
    close(child->fd);
    child->fd = -1;
    child->buf.clear();
    Reap(child, true);
    return false;
  }
  return true;
}

bool Cluster::StartProducer(int i, std::string* error) {
  ProducerProc& p = producers_[i];
  if (p.child.pid > 0) KillProducer(i);
  const ProducerSpec& s = p.spec;
  uint64_t seq_base = 0;
  for (const std::string& t : s.topics)
    for (uint32_t part = 0; part < s.partitions; ++part)
      seq_base = std::max(seq_base, history_->NextSeq(s.tag, t, part));
  std::string topics;
  for (const std::string& t : s.topics) topics += (topics.empty() ? "" : ",") + t;
  std::vector<std::string> argv = s.wrapper;
  argv.insert(argv.end(), {bin_dir_ + "/fault_producer",
                           "--journal",
                           s.journal,
                           "--pub",
                           s.pub,
                           "--replay",
                           s.replay,
                           "--tag",
                           s.tag,
                           "--topics",
                           topics,
                           "--partitions",
                           std::to_string(s.partitions),
                           "--durability",
                           s.durability,
                           "--seq-base",
                           std::to_string(seq_base),
                           "--count",
                           std::to_string(s.count),
                           "--rate",
                           std::to_string(s.rate),
                           "--max-batch",
                           std::to_string(s.max_batch),
                           "--seed",
                           std::to_string(seed_ + p.starts * 7919)});
  if (s.initial_map) argv.insert(argv.end(), {"--initial-map", std::to_string(s.initial_map)});
  if (s.max_map) argv.insert(argv.end(), {"--max-map", std::to_string(s.max_map)});
  if (s.keep_going) argv.push_back("--keep-going");
  argv.insert(argv.end(), s.extra_args.begin(), s.extra_args.end());
  std::vector<std::string> env = s.env;
  if (!s.crash_point.empty()) env.push_back("BROOK_CRASH_POINT=" + s.crash_point);
  p.spec.crash_point.clear();  // this start only
  p.ready = p.done = false;
  ++p.starts;
  if (!Spawn(argv, env, log_dir_ + "/producer-" + s.tag + ".log", &p.child, error)) return false;
  const bool ok = PumpUntil([&] { return p.ready || p.child.pid <= 0; }, std::chrono::seconds(15));
  if (!p.ready) {
    *error = "producer " + s.tag +
             (ok ? " " + Describe(p.child.last_status) : " not ready in 15 s") +
             " (log: " + log_dir_ + "/producer-" + s.tag + ".log)";
    return false;
  }
  return true;
}

bool Cluster::StartConsumer(int i, std::string* error) {
  ConsumerProc& c = consumers_[i];
  if (c.child.pid > 0) KillConsumer(i);
  const ConsumerSpec& s = c.spec;
  std::string topics;
  for (const std::string& t : s.topics) topics += (topics.empty() ? "" : ",") + t;
  std::vector<std::string> argv = s.wrapper;
  argv.insert(argv.end(), {bin_dir_ + "/fault_consumer", "--topics", topics, "--name", s.name,
                           "--state", s.state_dir, "--commit-every", std::to_string(s.commit_every),
                           "--crash-before-commit", std::to_string(s.crash_before_commit), "--seed",
                           std::to_string(seed_ * 31 + c.starts)});
  for (const auto& [pub, replay] : s.producers)
    argv.insert(argv.end(), {"--producer", pub + "," + replay});
  argv.insert(argv.end(), s.extra_args.begin(), s.extra_args.end());
  c.ready = false;
  ++c.starts;
  history_->ConsumerStarted(s.name);
  if (!Spawn(argv, s.env, log_dir_ + "/consumer-" + s.name + ".log", &c.child, error)) return false;
  const bool ok = PumpUntil([&] { return c.ready || c.child.pid <= 0; }, std::chrono::seconds(15));
  if (!c.ready) {
    *error =
        "consumer " + s.name + (ok ? " " + Describe(c.child.last_status) : " not ready in 15 s");
    return false;
  }
  return true;
}

bool Cluster::DrainChild(Child* ch, const std::function<void(const std::string&)>& line) {
  const auto end = Clock::now() + std::chrono::seconds(10);
  while (ch->fd >= 0 && Clock::now() < end) {
    pollfd pfd{ch->fd, POLLIN, 0};
    poll(&pfd, 1, 100);
    ReadChild(ch, line);
  }
  return ch->fd < 0;
}

void Cluster::KillChild(Child* ch, const std::function<void(const std::string&)>& line) {
  if (ch->pid <= 0) return;
  kill(ch->pid, SIGKILL);
  if (!DrainChild(ch, line)) {
    close(ch->fd);
    ch->fd = -1;
  }
  Reap(ch, true);
}

void Cluster::KillProducer(int i) {
  KillChild(&producers_[i].child, [&](const std::string& l) { OnProducerLine(i, l); });
}

void Cluster::KillConsumer(int i) {
  KillChild(&consumers_[i].child, [&](const std::string& l) { OnConsumerLine(i, l); });
}

bool Cluster::StopConsumer(int i) {
  Child& ch = consumers_[i].child;
  if (ch.pid <= 0) return false;
  kill(ch.pid, SIGCONT);
  kill(ch.pid, SIGTERM);
  DrainChild(&ch, [&](const std::string& l) { OnConsumerLine(i, l); });
  if (ch.pid > 0) {
    KillConsumer(i);
    return false;
  }
  return WIFEXITED(ch.last_status) && WEXITSTATUS(ch.last_status) == 0;
}

void Cluster::PauseConsumer(int i) {
  if (consumers_[i].child.pid > 0) kill(consumers_[i].child.pid, SIGSTOP);
}

void Cluster::ResumeConsumer(int i) {
  if (consumers_[i].child.pid > 0) kill(consumers_[i].child.pid, SIGCONT);
}

void Cluster::Pump(std::chrono::milliseconds d) {
  const auto end = Clock::now() + d;
  do {
    std::vector<pollfd> fds;
    std::vector<std::pair<char, int>> who;
    for (size_t i = 0; i < producers_.size(); ++i)
      if (producers_[i].child.fd >= 0) {
        fds.push_back(pollfd{producers_[i].child.fd, POLLIN, 0});
        who.emplace_back('p', static_cast<int>(i));
      }
    for (size_t i = 0; i < consumers_.size(); ++i)
      if (consumers_[i].child.fd >= 0) {
        fds.push_back(pollfd{consumers_[i].child.fd, POLLIN, 0});
        who.emplace_back('c', static_cast<int>(i));
      }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    const int wait = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, 50)));
    if (fds.empty()) {
      usleep(static_cast<useconds_t>(wait) * 1000);
      continue;
    }
    if (poll(fds.data(), fds.size(), wait) <= 0) continue;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      const auto [kind, i] = who[k];
      if (kind == 'p') {
        if (!ReadChild(&producers_[i].child, [&](const std::string& l) { OnProducerLine(i, l); }))
          exited_.emplace_back('p', i);
      } else {
        if (!ReadChild(&consumers_[i].child, [&](const std::string& l) { OnConsumerLine(i, l); }))
          exited_.emplace_back('c', i);
      }
    }
  } while (Clock::now() < end);
}

bool Cluster::PumpUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= end) return false;
    Pump(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<std::pair<char, int>> Cluster::TakeExited() {
  std::vector<std::pair<char, int>> out;
  out.swap(exited_);
  return out;
}

void Cluster::Transcribe(const std::string& who, const std::string& line) {
  if (!transcripts_) return;
  FILE*& f = transcript_files_[who];
  if (f == nullptr) f = std::fopen((log_dir_ + "/" + who + ".lines").c_str(), "a");
  if (f != nullptr) std::fprintf(f, "%s\n", line.c_str());
}

void Cluster::OnProducerLine(int i, const std::string& line) {
  ProducerProc& p = producers_[i];
  Transcribe("producer-" + p.spec.tag, line);
  const std::string& tag = p.spec.tag;
  const std::vector<std::string> f = Split(line, 7);
  if (f[0] == "ready") {
    p.ready = true;
  } else if (f[0] == "done") {
    p.done = true;
  } else if (f[0] == "id" && f.size() >= 2) {
    history_->ProducerIdentity(tag, f[1]);
  } else if ((f[0] == "t" || f[0] == "k" || f[0] == "f") && f.size() >= 5) {
    uint64_t part = 0, seq0 = 0, n = 0, off0 = 0;
    if (!ToU64(f[2], &part) || !ToU64(f[3], &seq0) || !ToU64(f[4], &n) ||
        (f[0] == "k" && (f.size() < 6 || !ToU64(f[5], &off0)))) {
      errors_.push_back("producer " + tag + ": unreadable line '" + line + "'");
      return;
    }
    for (uint64_t k = 0; k < n; ++k) {
      if (f[0] == "t") history_->Attempted(tag, f[1], static_cast<uint32_t>(part), seq0 + k);
      if (f[0] == "k")
        history_->Acknowledged(tag, f[1], static_cast<uint32_t>(part), seq0 + k, off0 + k);
      if (f[0] == "f") history_->Failed(tag, f[1], static_cast<uint32_t>(part), seq0 + k);
    }
    if (f[0] == "f") {
      ++p.failure_count;
      // The message: everything after the fifth space.
      size_t at = 0;
      for (int k = 0; k < 5 && at != std::string::npos; ++k) at = line.find(' ', at + 1);
      if (p.failures.size() < 1000)
        p.failures.push_back(at == std::string::npos ? "" : line.substr(at + 1));
    }
  } else if (f[0] == "error") {
    errors_.push_back("producer " + tag + ": " + line);
  } else {
    errors_.push_back("producer " + tag + ": unreadable line '" + line + "'");
  }
}

void Cluster::OnConsumerLine(int i, const std::string& line) {
  ConsumerProc& c = consumers_[i];
  Transcribe("consumer-" + c.spec.name, line);
  const std::string& name = c.spec.name;
  if (line.rfind("d ", 0) == 0) {
    const std::vector<std::string> f = Split(line, 6);
    uint64_t part = 0, offset = 0;
    if (f.size() != 6 || !ToU64(f[3], &part) || !ToU64(f[4], &offset)) {
      errors_.push_back("consumer " + name + ": unreadable line '" + line + "'");
      return;
    }
    history_->Delivered(name, f[1], f[2], static_cast<uint32_t>(part), offset, Unescape(f[5]));
  } else if (line == "c") {
    history_->Committed(name);
  } else if (line == "ready") {
    c.ready = true;
  } else if (line.rfind("e ", 0) == 0) {
    const std::vector<std::string> f = Split(line, 3);
    history_->Event(name, f[1], f.size() > 2 ? f[2] : "");
  } else {
    errors_.push_back("consumer " + name + ": " + line);
  }
}

}  // namespace brook::fault
