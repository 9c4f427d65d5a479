// Command-line options of the fault suite's child processes: "--key value"
// pairs and bare "--flag"s; a key may repeat (All). No Catch, no exceptions.
#ifndef BROOK_TESTS_FAULT_CHILD_ARGS_H_
#define BROOK_TESTS_FAULT_CHILD_ARGS_H_

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace brook::fault {

class ChildArgs {
 public:
  // Flags that take no value.
  bool Parse(int argc, char** argv, std::string* error) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) {
        *error = "unexpected argument '" + a + "'";
        return false;
      }
      a = a.substr(2);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        values_.emplace(a, argv[++i]);
      } else {
        values_.emplace(a, "");
      }
    }
    return true;
  }
  bool Has(const std::string& key) const { return values_.count(key) != 0; }
  std::string Str(const std::string& key, const std::string& dflt = "") const {
    auto it = values_.find(key);
    return it == values_.end() ? dflt : it->second;
  }
  uint64_t U64(const std::string& key, uint64_t dflt) const {
    auto it = values_.find(key);
    if (it == values_.end()) return dflt;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (errno != 0 || end == it->second.c_str() || *end != '\0') return dflt;
    return v;
  }
  std::vector<std::string> All(const std::string& key) const {
    std::vector<std::string> out;
    auto [b, e] = values_.equal_range(key);
    for (auto it = b; it != e; ++it) out.push_back(it->second);
    return out;
  }
  // A comma-separated value split.
  std::vector<std::string> List(const std::string& key) const {
    std::vector<std::string> out;
    std::string v = Str(key), cur;
    for (char c : v) {
      if (c == ',') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  }

 private:
  std::multimap<std::string, std::string> values_;
};

}  // namespace brook::fault

#endif  // BROOK_TESTS_FAULT_CHILD_ARGS_H_
