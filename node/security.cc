// Key pairs and key files (include/brook/security.h).
//
// Error messages never quote a key file's contents: a malformed line of a
// secret key file is still most of a secret.
#include "brook/security.h"

#include <zmq.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string_view>
#include <utility>

namespace brook {
namespace {

constexpr size_t kZ85KeyChars = 40;
constexpr size_t kKeyBytes = 32;
// Key files are a few lines; an allow-list holds at most tens of thousands of keys.
constexpr off_t kMaxKeyFileBytes = 64 * 1024;
constexpr off_t kMaxAllowListBytes = 16 * 1024 * 1024;

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string Errno(int e) { return std::strerror(e); }

std::string ModeString(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Why `token` is not a key, without quoting it.
std::string WhyNotKey(std::string_view token) {
  if (token.size() != kZ85KeyChars)
    return "holds " + std::to_string(token.size()) + " characters where a key has 40";
  for (size_t i = 0; i < token.size(); ++i) {
    if (kZ85Alphabet.find(token[i]) == std::string_view::npos)
      return "has a character outside the Z85 alphabet at column " + std::to_string(i + 1);
  }
  return "is not a valid Z85 encoding (a group of 5 characters exceeds 32 bits)";
}

// One key per non-comment line; a comment line starts (after blanks) with
// "#". "#" is a Z85 character, but never the first of a valid key: a group of
// five characters starting with "#" (value 84 * 85^4) exceeds 32 bits.
Status ParseKeyLines(const std::string& path, const std::string& text,
                     std::vector<std::pair<int, std::string>>* keys) {
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line[0] == '#') continue;
    size_t token_end = 0;
    while (token_end < line.size() && !IsSpace(line[token_end])) ++token_end;
    std::string_view token = line.substr(0, token_end);
    std::string_view rest = line.substr(token_end);
    while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
    std::string key(token);
    if (!IsValidKey(key)) {
      return Status::InvalidArgument(
          path + " line " + std::to_string(line_no) + ": the first word " + WhyNotKey(token) +
          "; each key line holds one 40-character Z85 key, and comment lines start with \"#\"");
    }
    if (!rest.empty() && rest[0] != '#') {
      return Status::InvalidArgument(path + " line " + std::to_string(line_no) +
                                     ": text after the key; write one key per line, and put "
                                     "remarks after a \"#\"");
    }
    keys->emplace_back(line_no, std::move(key));
  }
  return Status::OK();
}

// Reads a small regular file. With `secret`, refuses a file that group or
// others may access, checked on the open descriptor (no race with a rename).
Status ReadKeyFile(const std::string& path, const char* what, off_t max_bytes, bool secret,
                   std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      return Status::NotFound(std::string(what) + " " + path +
                              " does not exist; check the path, or generate a key pair first");
    return Status::FailedPrecondition("cannot open " + std::string(what) + " " + path + ": " +
                                      Errno(e));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return Status::FailedPrecondition("cannot stat " + path + ": " + Errno(errno));
  if (!S_ISREG(st.st_mode))
    return Status::FailedPrecondition(std::string(what) + " " + path +
                                      " is not a regular file; give the path of the key file");
  if (secret && (st.st_mode & 077) != 0) {
    return Status::FailedPrecondition(
        "secret key file " + path + " has mode " + ModeString(st.st_mode) +
        ": group or other users may access it, and brook will not use a secret others may "
        "have read; run `chmod 600 " +
        path + "` (and if others did read it, generate a new key pair)");
  }
  if (st.st_size > max_bytes)
    return Status::InvalidArgument(std::string(what) + " " + path + " is " +
                                   std::to_string(st.st_size) + " bytes, too large for a " + what +
                                   "; is this the right file?");
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FailedPrecondition("cannot read " + path + ": " + Errno(errno));
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (static_cast<off_t>(out->size()) > max_bytes)
      return Status::InvalidArgument(std::string(what) + " " + path + " is too large");
  }
  return Status::OK();
}

Status LoadOneKey(const std::string& path, const char* what, bool secret, std::string* key) {
  std::string text;
  Status s = ReadKeyFile(path, what, kMaxKeyFileBytes, secret, &text);
  if (!s.ok()) return s;
  std::vector<std::pair<int, std::string>> keys;
  s = ParseKeyLines(path, text, &keys);
  // Scrub what was read: it may be a secret.
  std::fill(text.begin(), text.end(), '\0');
  if (!s.ok()) return s;
  if (keys.empty())
    return Status::InvalidArgument(std::string(what) + " " + path +
                                   " holds no key (only comments or blank lines)");
  if (keys.size() > 1)
    return Status::InvalidArgument(std::string(what) + " " + path + " holds " +
                                   std::to_string(keys.size()) + " keys (lines " +
                                   std::to_string(keys[0].first) + " and " +
                                   std::to_string(keys[1].first) + "...); it must hold one");
  *key = std::move(keys[0].second);
  return Status::OK();
}

// The public key of a secret key, or empty if it cannot be derived.
std::string PublicOf(const std::string& secret_key) {
  char pub[kZ85KeyChars + 1] = {};
  if (!IsValidKey(secret_key) || zmq_curve_public(pub, secret_key.c_str()) != 0) return "";
  return std::string(pub, kZ85KeyChars);
}

Status CheckPair(const KeyPair& pair) {
  if (!IsValidKey(pair.public_key))
    return Status::InvalidArgument("the public key is not a 40-character Z85 key");
  if (!IsValidKey(pair.secret_key))
    return Status::InvalidArgument("the secret key is not a 40-character Z85 key");
  std::string derived = PublicOf(pair.secret_key);
  if (derived.empty())
    return Status::FailedPrecondition(
        "cannot derive a public key: this libzmq was built without CURVE (libsodium)");
  if (derived != pair.public_key)
    return Status::InvalidArgument(
        "the public key does not belong to the secret key; keep the two keys of one pair "
        "together");
  return Status::OK();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes `content` to `path` with `mode` through a temporary file in the same
// directory, synced, then renamed (overwrite) or linked (no overwrite: link
// fails atomically if the path exists) into place, and syncs the directory.
Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode,
                           bool overwrite) {
  std::string tmpl = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmpl.data());  // created 0600
  if (fd < 0)
    return Status::FailedPrecondition("cannot create a file next to " + path + ": " + Errno(errno));
  auto fail = [&](const std::string& doing, int e) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    return Status::FailedPrecondition("cannot write " + path + " (" + doing + "): " + Errno(e));
  };
  if (::fchmod(fd, mode) != 0) return fail("chmod", errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync", errno);
  if (::close(fd) != 0) {
    int e = errno;
    ::unlink(tmpl.c_str());
    return Status::FailedPrecondition("cannot write " + path + " (close): " + Errno(e));
  }
  if (overwrite) {
    if (::rename(tmpl.c_str(), path.c_str()) != 0) {
      int e = errno;
      ::unlink(tmpl.c_str());
      return Status::FailedPrecondition("cannot put " + path + " in place: " + Errno(e));
    }
  } else {
    int rc = ::link(tmpl.c_str(), path.c_str());
    int e = errno;
    ::unlink(tmpl.c_str());
    if (rc != 0) {
      if (e == EEXIST)
        return Status::AlreadyExists(path +
                                     " already exists; move it away, or write with "
                                     "overwrite = true to replace the key pair");
      return Status::FailedPrecondition("cannot put " + path + " in place: " + Errno(e));
    }
  }
  int dfd = ::open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

}  // namespace

bool IsValidKey(const std::string& key) {
  if (key.size() != kZ85KeyChars) return false;
  for (char c : key)
    if (kZ85Alphabet.find(c) == std::string_view::npos) return false;
  // Decode, then encode again: a group of five characters can exceed 32 bits,
  // which some libzmq versions decode without complaint (wrapping around).
  uint8_t bytes[kKeyBytes];
  if (zmq_z85_decode(bytes, key.c_str()) == nullptr) return false;
  char again[kZ85KeyChars + 1];
  if (zmq_z85_encode(again, bytes, kKeyBytes) == nullptr) return false;
  return key.compare(0, kZ85KeyChars, again, kZ85KeyChars) == 0;
}

Status GenerateKeyPair(KeyPair* out) {
  if (!zmq_has("curve"))
    return Status::FailedPrecondition(
        "this libzmq was built without CURVE (libsodium); install a libzmq with CURVE, e.g. "
        "Debian's libzmq5");
  char pub[kZ85KeyChars + 1] = {};
  char sec[kZ85KeyChars + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0)
    return Status::FailedPrecondition(std::string("zmq_curve_keypair failed: ") +
                                      zmq_strerror(zmq_errno()));
  out->public_key.assign(pub, kZ85KeyChars);
  out->secret_key.assign(sec, kZ85KeyChars);
  std::memset(sec, 0, sizeof sec);
  return Status::OK();
}

Status WriteKeyFiles(const KeyPair& pair, const std::string& public_path,
                     const std::string& secret_path, bool overwrite) {
  Status s = CheckPair(pair);
  if (!s.ok()) return Status(s.code(), "WriteKeyFiles: " + std::string(s.message()));
  if (public_path.empty() || secret_path.empty() || public_path == secret_path)
    return Status::InvalidArgument(
        "WriteKeyFiles: give two different, non-empty paths for the public and secret keys");
  if (!overwrite) {
    struct stat st;
    for (const std::string* p : {&secret_path, &public_path}) {
      if (::lstat(p->c_str(), &st) == 0)
        return Status::AlreadyExists(*p +
                                     " already exists; move it away, or write with "
                                     "overwrite = true to replace the key pair");
    }
  }
  s = WriteFileAtomically(secret_path,
                          "# brook CURVE secret key (Z85). Keep it private: mode 0600, never "
                          "copy it off this host.\n" +
                              pair.secret_key + "\n",
                          0600, overwrite);
  if (!s.ok()) return s;
  s = WriteFileAtomically(public_path,
                          "# brook CURVE public key (Z85). Share it: consumers pin a producer's "
                          "public key, producers allow-list consumers' public keys.\n" +
                              pair.public_key + "\n",
                          0644, overwrite);
  if (!s.ok() && !overwrite) ::unlink(secret_path.c_str());  // written by this call
  return s;
}

Status LoadPublicKey(const std::string& path, std::string* key) {
  return LoadOneKey(path, "public key file", /*secret=*/false, key);
}

Status LoadSecretKey(const std::string& path, std::string* key) {
  return LoadOneKey(path, "secret key file", /*secret=*/true, key);
}

Status LoadKeyPair(const std::string& public_path, const std::string& secret_path, KeyPair* pair) {
  KeyPair p;
  Status s = LoadPublicKey(public_path, &p.public_key);
  if (s.ok()) s = LoadSecretKey(secret_path, &p.secret_key);
  if (!s.ok()) return s;
  s = CheckPair(p);
  if (!s.ok())
    return Status(s.code(), std::string(s.message()) + " (public key file " + public_path +
                                ", secret key file " + secret_path + ")");
  *pair = std::move(p);
  return Status::OK();
}

Status LoadAllowedKeys(const std::string& path, std::vector<std::string>* keys) {
  std::string text;
  Status s = ReadKeyFile(path, "allow-list file", kMaxAllowListBytes, /*secret=*/false, &text);
  if (!s.ok()) return s;
  std::vector<std::pair<int, std::string>> lines;
  s = ParseKeyLines(path, text, &lines);
  if (!s.ok()) return s;
  if (lines.empty())
    return Status::InvalidArgument(
        "allow-list file " + path +
        " holds no key, so no client could connect; add the consumers' public keys, one per "
        "line");
  std::set<std::string> seen;
  keys->clear();
  for (auto& [line, key] : lines)
    if (seen.insert(key).second) keys->push_back(std::move(key));
  return Status::OK();
}

}  // namespace brook
