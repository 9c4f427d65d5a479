// Shared by the peers' benchmarks (redis_bench, nats_bench, mosquitto_bench):
// the command line, a temporary directory, a free loopback port, and a server
// process started from the Debian package's binary and always stopped again
// (SIGTERM, then SIGKILL) with its directory removed, also on error, on exit()
// and on SIGINT/SIGTERM.
#ifndef BROOK_BENCH_PEERS_PEER_UTIL_H_
#define BROOK_BENCH_PEERS_PEER_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"

namespace brook::bench::peers {

struct Options {
  int runs = 3;
  bool quick = false;
  int64_t records = 0;  // 0: the program's default per workload
};

inline void Usage(const char* prog) {
  std::fprintf(stderr, "usage: %s [--runs N] [--quick] [--records N]\n", prog);
}

inline Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage(argv[0]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--runs") {
      o.runs = std::atoi(next().c_str());
    } else if (a == "--records") {
      o.records = std::atoll(next().c_str());
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "-h" || a == "--help") {
      Usage(argv[0]);
      std::exit(0);
    } else {
      Usage(argv[0]);
      std::exit(2);
    }
  }
  if (o.quick) o.runs = 1;
  if (o.runs < 1 || o.records < 0) {
    Usage(argv[0]);
    std::exit(2);
  }
  return o;
}

// Records per measurement: --records if given, else `quick` under --quick, else `full`.
inline int64_t RecordsFor(const Options& o, int64_t full, int64_t quick) {
  if (o.records > 0) return o.records;
  return o.quick ? quick : full;
}

// CLOCK_MONOTONIC in nanoseconds: comparable across processes of one machine.
inline int64_t MonoNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The payload of record `seq`: 8 bytes of sequence number, 8 bytes of
// CLOCK_MONOTONIC send time, then filler derived from seq, `size` bytes in all.
inline void FillPayload(std::string* buf, size_t size, uint64_t seq, int64_t stamp) {
  buf->resize(std::max<size_t>(size, 16));
  std::memcpy(&(*buf)[0], &seq, 8);
  std::memcpy(&(*buf)[8], &stamp, 8);
  for (size_t i = 16; i < buf->size(); ++i) (*buf)[i] = static_cast<char>('a' + (seq + i) % 26);
}

// Checks a payload against `want_seq` and `size`; returns its send time.
inline bool CheckPayload(const void* data, size_t len, size_t size, uint64_t want_seq,
                         int64_t* stamp) {
  if (len != std::max<size_t>(size, 16)) return false;
  uint64_t seq;
  std::memcpy(&seq, data, 8);
  if (seq != want_seq) return false;
  if (stamp) std::memcpy(stamp, static_cast<const char*>(data) + 8, 8);
  const char* p = static_cast<const char*>(data);
  return len <= 16 || p[len - 1] == static_cast<char>('a' + (seq + len - 1) % 26);
}

inline double Micros(int64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

// The path of `name` in PATH or in /usr/sbin, /usr/bin; empty if absent.
inline std::string FindBinary(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      std::string full = dir + "/" + name;
      if (access(full.c_str(), X_OK) == 0) return full;
    }
    start = end + 1;
  }
  return "";
}

// A free TCP port on 127.0.0.1: bound with port 0, read back, released.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error("bind 127.0.0.1:0: " + std::string(std::strerror(e)));
  }
  close(fd);
  return ntohs(a.sin_port);
}

inline bool PortAnswers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// What the emergency cleanup (exit, signal) must undo: one server at a time.
struct Leftovers {
  pid_t owner = 0;  // the benchmark's own process: forked children undo nothing
  pid_t server = 0;
  char dir[4096] = {0};
};
inline Leftovers& LeftoversOf() {
  static Leftovers l;
  return l;
}

inline void StopPid(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 500; ++i) {  // up to 5 s
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

inline void EmergencyCleanup() {
  Leftovers& l = LeftoversOf();
  if (l.owner != getpid()) return;
  if (l.server > 0) {
    StopPid(l.server);
    l.server = 0;
  }
  if (l.dir[0]) {
    std::error_code ec;
    std::filesystem::remove_all(l.dir, ec);
    l.dir[0] = 0;
  }
}

inline void OnSignal(int sig) {
  EmergencyCleanup();
  signal(sig, SIG_DFL);
  raise(sig);
}

// Call first in main(): installs the cleanup at exit() and on SIGINT/SIGTERM/SIGHUP.
inline void InstallCleanup() {
  LeftoversOf().owner = getpid();
  std::atexit(EmergencyCleanup);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGHUP, OnSignal);
  signal(SIGPIPE, SIG_IGN);
}

// A server process in a fresh temporary directory, on 127.0.0.1:port.
class Server {
 public:
  // `make_argv` gets the directory and port and returns the command line
  // (argv[0] the binary); `write_config` may write files into the directory first.
  Server(const std::string& name, const std::string& binary) : name_(name), binary_(binary) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base && *base ? base : "/tmp") + "/brook-peer-" + name + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp: " + std::string(strerror(errno)));
    dir_ = buf.data();
    std::snprintf(LeftoversOf().dir, sizeof LeftoversOf().dir, "%s", dir_.c_str());
    port_ = FreePort();
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    LeftoversOf().dir[0] = 0;
  }

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

  void WriteFile(const std::string& rel, const std::string& text) {
    std::ofstream f(dir_ + "/" + rel);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + dir_ + "/" + rel);
  }

  // Starts the binary with `args` (after argv[0]), output to DIR/server.log,
  // and waits until its port accepts connections.
  void Start(const std::vector<std::string>& args) {
    std::vector<std::string> all{binary_};
    all.insert(all.end(), args.begin(), args.end());
    std::string log = dir_ + "/server.log";
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      if (chdir(dir_.c_str()) != 0) _exit(127);
      std::vector<char*> argv;
      for (auto& s : all) argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      execv(binary_.c_str(), argv.data());
      _exit(127);
    }
    pid_ = pid;
    LeftoversOf().server = pid;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!PortAnswers(port_)) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        LeftoversOf().server = 0;
        throw std::runtime_error(name_ + " exited at start; its log:\n" + Log());
      }
      if (Clock::now() > deadline) {
        throw std::runtime_error(name_ + " does not answer on 127.0.0.1:" + std::to_string(port_) +
                                 "; its log:\n" + Log());
      }
      usleep(10000);
    }
  }

  void Stop() {
    StopPid(pid_);
    pid_ = 0;
    LeftoversOf().server = 0;
  }

  std::string Log() const {
    std::ifstream f(dir_ + "/server.log");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (s.size() > 4000) s = "..." + s.substr(s.size() - 4000);
    return s;
  }

 private:
  std::string name_;
  std::string binary_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// A pipe from a forked child back to the parent, for fixed-size messages.
struct Pipe {
  int rd = -1, wr = -1;
  Pipe() {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
    rd = fds[0];
    wr = fds[1];
  }
  ~Pipe() {
    if (rd >= 0) close(rd);
    if (wr >= 0) close(wr);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  template <typename T>
  void Put(const T& v) {
    const char* p = reinterpret_cast<const char*>(&v);
    size_t left = sizeof v;
    while (left) {
      ssize_t n = write(wr, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  // Reads one T; false on EOF or error, or after timeout_ms (when >= 0).
  template <typename T>
  bool Get(T* v, int timeout_ms = -1) {
    char* p = reinterpret_cast<char*>(v);
    size_t left = sizeof *v;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (left) {
      if (timeout_ms >= 0) {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(rd, &set);
        auto rest = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
        if (rest.count() <= 0) return false;
        timeval tv{static_cast<time_t>(rest.count() / 1000000),
                   static_cast<suseconds_t>(rest.count() % 1000000)};
        int r = select(rd + 1, &set, nullptr, nullptr, &tv);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
      }
      ssize_t n = read(rd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      left -= static_cast<size_t>(n);
    }
    return true;
  }
};

// What a forked consumer reports when it is done.
struct ConsumerResult {
  int64_t received = 0;
  int64_t end_ns = 0;  // MonoNanos() when the last record arrived
  int64_t errors = 0;  // missing, duplicate, out of order or damaged records
  char what[200] = {0};
};

inline pid_t ForkChild() {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  return pid;
}

// Waits up to `timeout_s` for a child to exit by itself, then stops it.
inline void ReapChild(pid_t pid, int timeout_s = 10) {
  if (pid <= 0) return;
  for (int i = 0; i < timeout_s * 100; ++i) {
    pid_t r = waitpid(pid, nullptr, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return;
    usleep(10000);
  }
  StopPid(pid);
}

inline Figure MakeFigure(const std::string& group, const std::string& system,
                         const std::string& name, int64_t size, const std::string& mode,
                         const std::string& metric = "rate", const std::string& unit = "rec/s") {
  Figure f;
  f.group = group;
  f.system = system;
  f.name = name;
  f.size = size;
  f.mode = mode;
  f.metric = metric;
  f.unit = unit;
  return f;
}

}  // namespace brook::bench::peers

#endif  // BROOK_BENCH_PEERS_PEER_UTIL_H_
