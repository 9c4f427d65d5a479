#include "tests/netns.h"

#include <unistd.h>

#include <cstdio>

namespace brook::test {

int RunShell(const std::string& command, std::string* output) {
  FILE* f = popen((command + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  std::string out;
  char buf[512];
  for (int i = 0; i < 10000; ++i) {
    const size_t n = fread(buf, 1, sizeof buf, f);
    if (n == 0) break;
    out.append(buf, n);
  }
  const int status = pclose(f);
  if (output) *output = out;
  return status;
}

NamespacePair::NamespacePair(std::string prefix, std::string subnet)
    : prefix_(std::move(prefix)), subnet_(std::move(subnet)) {}

NamespacePair::~NamespacePair() {
  if (made_a_) (void)RunShell("ip netns del " + a_);
  if (made_b_) (void)RunShell("ip netns del " + b_);
}

std::string NamespacePair::IpPath() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (access(p, X_OK) == 0) return p;
  return "ip";
}

std::string NamespacePair::Build() {
  const std::string tag = std::to_string(getpid());
  a_ = prefix_ + "-a-" + tag;
  b_ = prefix_ + "-b-" + tag;
  const std::string short_prefix = prefix_.substr(0, 3);
  va_ = short_prefix + "a" + tag;  // interface names: 15 bytes at most
  vb_ = short_prefix + "b" + tag;
  std::string out;
  if (geteuid() != 0) return "not running as root";
  if (RunShell("ip -V", &out) != 0) return "the ip command (iproute2) is missing: " + out;
  if (RunShell("ip netns add " + a_, &out) != 0) return "`ip netns add` is not permitted: " + out;
  made_a_ = true;
  if (RunShell("ip netns add " + b_, &out) != 0) return "`ip netns add` failed: " + out;
  made_b_ = true;
  const std::vector<std::string> steps = {
      "ip link add " + va_ + " netns " + a_ + " type veth peer name " + vb_ + " netns " + b_,
      "ip -n " + a_ + " addr add " + subnet_ + ".1/24 dev " + va_,
      "ip -n " + b_ + " addr add " + subnet_ + ".2/24 dev " + vb_,
      "ip -n " + a_ + " link set " + va_ + " up",
      "ip -n " + b_ + " link set " + vb_ + " up",
      "ip -n " + a_ + " link set lo up",
      "ip -n " + b_ + " link set lo up",
  };
  for (const std::string& step : steps)
    if (RunShell(step, &out) != 0) return "`" + step + "` failed: " + out;
  return "";
}

std::vector<std::string> NamespacePair::In(const std::string& ns,
                                           std::vector<std::string> argv) const {
  std::vector<std::string> out = {IpPath(), "netns", "exec", ns};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string NamespacePair::SetLink(bool up) {
  std::string out;
  const std::string state = up ? " up" : " down";
  for (const auto& [ns, dev] : {std::pair{a_, va_}, std::pair{b_, vb_}}) {
    const std::string cmd = "ip -n " + ns + " link set " + dev + state;
    if (RunShell(cmd, &out) != 0) return "`" + cmd + "` failed: " + out;
  }
  return "";
}

}  // namespace brook::test
