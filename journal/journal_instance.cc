#include "journal/journal_instance.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>

namespace brook::journal {
namespace {

constexpr const char* kHeader = "brook journal instance ";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

uint64_t NewInstanceMark() {
  uint64_t mark = 0;
  while (mark == 0) {
    if (getrandom(&mark, sizeof mark, 0) != static_cast<ssize_t>(sizeof mark)) {
      std::random_device rd;
      mark = (uint64_t{rd()} << 32) ^ rd();
    }
  }
  return mark;
}

uint64_t ReadInstanceFile(const std::string& dir) {
  FILE* f = std::fopen((dir + "/" + kInstanceFileName).c_str(), "re");
  if (f == nullptr) return 0;
  char line[128] = {};
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  const size_t header = std::strlen(kHeader);
  if (!got || std::strncmp(line, kHeader, header) != 0) return 0;
  uint64_t mark = 0;
  if (std::sscanf(line + header, "%16" SCNx64, &mark) != 1) return 0;
  return mark;
}

std::string WriteInstanceFile(const std::string& dir, uint64_t mark) {
  const std::string path = dir + "/" + kInstanceFileName;
  const std::string tmp = path + ".tmp";
  char text[64];
  const int n = std::snprintf(text, sizeof text, "%s%016" PRIx64 "\n", kHeader, mark);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating " + tmp);
  const bool written = write(fd, text, static_cast<size_t>(n)) == n && fsync(fd) == 0;
  const std::string write_error = written ? "" : Errno("writing " + tmp);
  close(fd);
  if (!written) {
    unlink(tmp.c_str());
    return write_error;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = Errno("renaming " + tmp);
    unlink(tmp.c_str());
    return e;
  }
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return "";
}

}  // namespace brook::journal
