// Two network namespaces joined by a veth pair, for tests that need a real
// link they can cut (or addresses other than loopback) without touching the
// host's network: "a" at <subnet>.1/24 and "b" at <subnet>.2/24, no default
// route. Needs root and iproute2; deleted, with the veth pair, on
// destruction. No Catch assertions: any test program may use it.
#ifndef BROOK_TESTS_NETNS_H_
#define BROOK_TESTS_NETNS_H_

#include <string>
#include <vector>

namespace brook::test {

// Runs a shell command; returns its exit status and puts its output (stdout
// and stderr) in *output.
int RunShell(const std::string& command, std::string* output = nullptr);

class NamespacePair {
 public:
  // prefix: a few letters naming the test (namespaces are <prefix>-a-<pid>,
  // interfaces <prefix[0..2]>a<pid>); subnet: "10.77.0".
  NamespacePair(std::string prefix, std::string subnet);
  ~NamespacePair();
  NamespacePair(const NamespacePair&) = delete;
  NamespacePair& operator=(const NamespacePair&) = delete;

  // Empty when it could be built; otherwise why not.
  std::string Build();
  // argv that runs `argv` inside namespace `ns`.
  std::vector<std::string> In(const std::string& ns, std::vector<std::string> argv) const;
  // Takes the link down (a silent partition: packets vanish, no reset) or up
  // again. Returns "" or what failed.
  std::string SetLink(bool up);

  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }
  std::string address_a() const { return subnet_ + ".1"; }
  std::string address_b() const { return subnet_ + ".2"; }
  static std::string IpPath();

 private:
  std::string prefix_, subnet_;
  std::string a_, b_, va_, vb_;
  bool made_a_ = false, made_b_ = false;
};

}  // namespace brook::test

#endif  // BROOK_TESTS_NETNS_H_
