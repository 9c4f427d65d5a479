#include "tools/node_config.h"

#include <arpa/inet.h>

#include <fstream>
#include <set>
#include <sstream>

#include "node/beacon.h"
#include "node/discovery.h"
#include "tools/cli.h"

namespace brook::cli {

namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

// Relative paths in the file are relative to the file's directory, so a
// config works from wherever the node is started.
std::string Resolve(const std::string& base, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return base + "/" + p;
}

std::string ResolveEndpoint(const std::string& base, const std::string& e) {
  const std::string ipc = "ipc://";
  if (e.compare(0, ipc.size(), ipc) == 0) return ipc + Resolve(base, e.substr(ipc.size()));
  return e;
}

class Parser {
 public:
  Parser(const std::string& path, bool load_secrets, NodeConfig* out)
      : path_(path), base_(DirOf(path)), load_secrets_(load_secrets), out_(out) {}

  Status Run() {
    std::ifstream in(path_);
    if (!in) return Status::NotFound("cannot read the node config " + path_);
    out_->path = path_;
    std::string raw;
    while (std::getline(in, raw)) {
      ++line_;
      const size_t hash = raw.find('#');
      const std::string text = Trim(hash == std::string::npos ? raw : raw.substr(0, hash));
      if (text.empty()) continue;
      Status s = text[0] == '[' ? Section(text) : Setting(text);
      if (!s.ok()) return s;
    }
    return Finish();
  }

 private:
  Status Error(const std::string& what) const {
    return Status::InvalidArgument(path_ + ":" + std::to_string(line_) + ": " + what);
  }

  Status Section(const std::string& text) {
    if (text.back() != ']') return Error("a section header ends with ']'");
    const std::string inner = Trim(text.substr(1, text.size() - 2));
    if (inner == "security") {
      section_ = kSecurity;
      return Status::OK();
    }
    if (inner == "discovery") {
      if (discovery_line_ != 0) {
        return Error("[discovery] appears twice (first on line " + std::to_string(discovery_line_) +
                     ")");
      }
      section_ = kDiscovery;
      discovery_line_ = line_;
      return Status::OK();
    }
    if (inner.compare(0, 6, "topic ") == 0) {
      const std::string name = Trim(inner.substr(6));
      if (name.empty()) return Error("[topic NAME] needs a name");
      if (!topic_names_.insert(name).second) return Error("topic " + name + " is configured twice");
      section_ = kTopic;
      out_->topics.push_back(TopicSpec{name, TopicConfig{}});
      return Status::OK();
    }
    return Error("unknown section [" + inner +
                 "] (sections: [security], [discovery], [topic NAME])");
  }

  Status Setting(const std::string& text) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos) return Error("expected 'name = value'");
    const std::string key = Trim(text.substr(0, eq));
    const std::string value = Trim(text.substr(eq + 1));
    if (value.empty()) return Error(key + " has no value");
    const std::string where = section_ == kTopic       ? "[topic " + out_->topics.back().name + "]"
                              : section_ == kSecurity  ? "[security]"
                              : section_ == kDiscovery ? "[discovery]"
                                                       : "the top of the file";
    if (!seen_.insert(where + key).second) return Error(key + " is set twice in " + where);
    Status s;
    switch (section_) {
      case kNode:
        s = NodeSetting(key, value);
        break;
      case kSecurity:
        s = SecuritySetting(key, value);
        break;
      case kDiscovery:
        s = DiscoverySetting(key, value);
        break;
      case kTopic:
        s = TopicSetting(key, value, &out_->topics.back().config);
        break;
    }
    if (!s.ok() && s.IsInvalidArgument() && s.message().find(path_) == std::string_view::npos) {
      return Error(key + ": " + std::string(s.message()));
    }
    return s;
  }

  Status NodeSetting(const std::string& key, const std::string& value) {
    ProducerOptions& p = out_->producer;
    JournalOptions& j = p.journal;
    uint64_t n = 0;
    if (key == "journal") {
      j.path = Resolve(base_, value);
    } else if (key == "durability") {
      return ParseDurability(value, &j.durability);
    } else if (key == "pub") {
      p.pub_endpoint = ResolveEndpoint(base_, value);
    } else if (key == "replay") {
      p.replay_endpoint = ResolveEndpoint(base_, value);
    } else if (key == "ingest") {
      out_->ingest_endpoint = ResolveEndpoint(base_, value);
    } else if (key == "heartbeat_interval") {
      return ParseDuration(value, &p.heartbeat_interval);
    } else if (key == "sync_interval") {
      return ParseDuration(value, &j.sync_interval);
    } else if (key == "retention_interval") {
      return ParseDuration(value, &j.retention_interval);
    } else if (key == "initial_map_size") {
      return ParseSize(value, &j.initial_map_size);
    } else if (key == "max_map_size") {
      return ParseSize(value, &j.max_map_size);
    } else if (key == "max_pending_bytes") {
      return ParseSize(value, &j.max_pending_bytes);
    } else if (key == "max_record_bytes" || key == "max_partitions" ||
               key == "pub_high_water_mark") {
      Status s = key == "max_record_bytes" ? ParseSize(value, &n) : ParseUint(value, &n);
      if (!s.ok()) return s;
      if (n == 0 || n > INT32_MAX) return Error(key + " must be between 1 and 2^31-1");
      if (key == "max_record_bytes") j.max_record_bytes = static_cast<uint32_t>(n);
      if (key == "max_partitions") j.max_partitions = static_cast<uint32_t>(n);
      if (key == "pub_high_water_mark") p.pub_high_water_mark = static_cast<int>(n);
    } else if (key == "create_if_missing") {
      if (value != "true" && value != "false") return Error("create_if_missing is true or false");
      j.create_if_missing = value == "true";
    } else {
      return Error("unknown setting '" + key +
                   "' (journal, durability, pub, replay, ingest, heartbeat_interval, "
                   "sync_interval, retention_interval, initial_map_size, max_map_size, "
                   "max_pending_bytes, max_record_bytes, max_partitions, pub_high_water_mark, "
                   "create_if_missing)");
    }
    return Status::OK();
  }

  Status SecuritySetting(const std::string& key, const std::string& value) {
    if (key == "server_key") {
      out_->server_key_file = Resolve(base_, value);
    } else if (key == "allowed_client_keys") {
      out_->allowed_client_keys_file = Resolve(base_, value);
    } else {
      return Error("unknown setting '" + key + "' in [security] (server_key, allowed_client_keys)");
    }
    return Status::OK();
  }

  // One setting of [discovery]. Each value is checked on its own here (so the
  // error names its line); how they fit together, in Finish.
  Status DiscoverySetting(const std::string& key, const std::string& value) {
    DiscoveryOptions& d = out_->producer.discovery;
    uint64_t n = 0;
    if (key == "cluster") {
      if (!node::IsValidClusterName(value)) {
        return Error("cluster must be 1..64 bytes of letters, digits, '.', '_' and '-' (got '" +
                     value.substr(0, 80) + "')");
      }
      d.cluster = value;
    } else if (key == "address" || key == "interface_address" || key == "bind_address") {
      in_addr a{};
      if (inet_pton(AF_INET, value.c_str(), &a) != 1) {
        return Error(key + " must be an IPv4 address such as " +
                     (key == "address" ? "255.255.255.255" : "0.0.0.0") + " (got '" +
                     value.substr(0, 80) + "')");
      }
      (key == "address"        ? d.address
       : key == "bind_address" ? d.bind_address
                               : d.interface_address) = value;
    } else if (key == "port" || key == "multicast_ttl") {
      const uint64_t most = key == "port" ? 65535 : 255;
      Status s = ParseUint(value, &n);
      if (!s.ok() || n < 1 || n > most) {
        return Error(key + " must be a number from 1 to " + std::to_string(most) + " (got '" +
                     value.substr(0, 80) + "')");
      }
      if (key == "port") d.port = static_cast<uint16_t>(n);
      if (key == "multicast_ttl") d.multicast_ttl = static_cast<int>(n);
    } else if (key == "interval" || key == "silence_timeout") {
      std::chrono::milliseconds& t = key == "interval" ? d.interval : d.silence_timeout;
      Status s = ParseDuration(value, &t);
      if (!s.ok()) return s;
      if (t.count() <= 0) return Error(key + " must be longer than 0");
    } else {
      return Error("unknown setting '" + key +
                   "' in [discovery] (cluster, address, port, interval, silence_timeout, "
                   "interface_address, bind_address, multicast_ttl)");
    }
    return Status::OK();
  }

  static Status TopicSetting(const std::string& key, const std::string& value, TopicConfig* t) {
    uint64_t n = 0;
    if (key == "partitions") {
      Status s = ParseUint(value, &n);
      if (!s.ok()) return s;
      if (n < 1 || n > 4096) return Status::InvalidArgument("partitions must be 1 .. 4096");
      t->partitions = static_cast<uint32_t>(n);
    } else if (key == "max_age") {
      return ParseDuration(value, &t->retention.max_age);
    } else if (key == "max_bytes") {
      return ParseSize(value, &t->retention.max_bytes);
    } else if (key == "max_records") {
      return ParseUint(value, &t->retention.max_records);
    } else {
      return Status::InvalidArgument("unknown topic setting '" + key +
                                     "' (partitions, max_age, max_bytes, max_records)");
    }
    return Status::OK();
  }

  Status Finish() {
    ProducerOptions& p = out_->producer;
    const std::string file = "node config " + path_ + ": ";
    if (p.journal.path.empty()) return Status::InvalidArgument(file + "'journal = DIR' is missing");
    if (p.pub_endpoint.empty() || p.replay_endpoint.empty()) {
      return Status::InvalidArgument(file +
                                     "'pub = ENDPOINT' and 'replay = ENDPOINT' are required");
    }
    if (discovery_line_ != 0) {
      const std::string at = path_ + ":" + std::to_string(discovery_line_) + ": ";
      if (p.discovery.cluster.empty()) {
        return Status::InvalidArgument(at +
                                       "[discovery] needs 'cluster = NAME' (the name producers "
                                       "and consumers that should find each other share), or "
                                       "remove the section to turn discovery off");
      }
      p.discovery.enabled = true;
      // The values one by one were checked above; here, how they fit
      // together (e.g. silence_timeout over interval, bind_address).
      Status s = node::ValidateDiscoveryOptions(p.discovery, "[discovery]");
      if (!s.ok()) return Status::InvalidArgument(at + std::string(s.message()));
    }
    const bool has_server = !out_->server_key_file.empty();
    const bool has_allowed = !out_->allowed_client_keys_file.empty();
    if (has_server != has_allowed) {
      return Status::InvalidArgument(
          file +
          "[security] needs both server_key and allowed_client_keys (CURVE on), or "
          "neither (off)");
    }
    if (!has_server) return Status::OK();
    p.security.enabled = true;
    Status s = LoadPublicKey(out_->server_key_file, &p.security.server.public_key);
    if (!s.ok() || !load_secrets_) return s;
    s = LoadSecretKey(out_->server_key_file + ".secret", &p.security.server.secret_key);
    if (!s.ok()) return s;
    return LoadAllowedKeys(out_->allowed_client_keys_file, &p.security.allowed_client_keys);
  }

  enum SectionKind { kNode, kSecurity, kDiscovery, kTopic };

  std::string path_;
  std::string base_;
  bool load_secrets_;
  NodeConfig* out_;
  int line_ = 0;
  SectionKind section_ = kNode;
  int discovery_line_ = 0;  // of the [discovery] header; 0: none
  std::set<std::string> topic_names_;
  std::set<std::string> seen_;
};

}  // namespace

Status LoadNodeConfig(const std::string& path, bool load_secrets, NodeConfig* out) {
  *out = NodeConfig{};
  return Parser(path, load_secrets, out).Run();
}

Status ConnectableEndpoint(const std::string& bound, std::string* out) {
  const std::string tcp = "tcp://";
  if (bound.compare(0, tcp.size(), tcp) != 0) {
    *out = bound;
    return Status::OK();
  }
  const size_t colon = bound.rfind(':');
  if (colon == std::string::npos || colon < tcp.size()) {
    return Status::InvalidArgument("endpoint " + bound + " has no port");
  }
  std::string host = bound.substr(tcp.size(), colon - tcp.size());
  const std::string port = bound.substr(colon + 1);
  if (port == "0" || port == "*") {
    return Status::InvalidArgument("endpoint " + bound +
                                   " has no fixed port; give the node fixed ports in its config "
                                   "so clients can find it");
  }
  if (host == "*" || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]" || host == "::") host = "[::1]";
  *out = tcp + host + ":" + port;
  return Status::OK();
}

Status EndpointsFromConfig(const NodeConfig& config, ProducerEndpoints* out) {
  Status s = ConnectableEndpoint(config.producer.pub_endpoint, &out->pub);
  if (s.ok()) s = ConnectableEndpoint(config.producer.replay_endpoint, &out->replay);
  if (!s.ok()) return s;
  out->server_public_key =
      config.producer.security.enabled ? config.producer.security.server.public_key : "";
  return Status::OK();
}

}  // namespace brook::cli
