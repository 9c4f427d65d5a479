#include "node/curve.h"

#include <zmq.h>

#include <string>

#include "node/zap_handler.h"

#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
static_assert(ZMQ_ZAP_ENFORCE_DOMAIN == brook::node::kZmqZapEnforceDomain,
              "libzmq renumbered ZMQ_ZAP_ENFORCE_DOMAIN");
#endif

namespace brook::node {
namespace {

constexpr size_t kMaxDomainBytes = 255;

std::string Name(std::string_view what, const char* field) {
  return std::string(what) + "." + field;
}

// Checks that `pair` is a valid, matching key pair.
Status CheckPair(const KeyPair& pair, std::string_view what, const char* field) {
  const std::string name = Name(what, field);
  if (!IsValidKey(pair.secret_key))
    return Status::InvalidArgument(name +
                                   ".secret_key is not a 40-character Z85 key; load it with "
                                   "LoadKeyPair or make one with GenerateKeyPair");
  if (!IsValidKey(pair.public_key))
    return Status::InvalidArgument(name +
                                   ".public_key is not a 40-character Z85 key; load it with "
                                   "LoadKeyPair or make one with GenerateKeyPair");
  char derived[41] = {};
  if (zmq_curve_public(derived, pair.secret_key.c_str()) != 0)
    return Status::FailedPrecondition(
        "this libzmq was built without CURVE (libsodium); install one with CURVE, e.g. "
        "Debian's libzmq5, or set " +
        std::string(what) + ".enabled = false for plain TCP");
  if (pair.public_key != std::string(derived, 40))
    return Status::InvalidArgument(name +
                                   ".public_key does not belong to its secret_key; use the two "
                                   "keys of one pair");
  return Status::OK();
}

Status CheckNotStarted(zmq::socket_t& socket, const char* role) {
  std::string last;
  try {
    last = socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::FailedPrecondition(std::string(role) +
                                      ": the socket is not usable: " + e.what());
  }
  if (!last.empty())
    return Status::FailedPrecondition(std::string(role) +
                                      ": the socket is already bound or "
                                      "connected (" +
                                      last + "); apply security before bind / connect");
  return Status::OK();
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") != 0; }

Status ValidateServerSecurity(const ServerSecurity& s, std::string_view what) {
  if (!s.enabled) {
    if (!s.server.public_key.empty() || !s.server.secret_key.empty() ||
        !s.allowed_client_keys.empty())
      return Status::InvalidArgument(
          std::string(what) +
          " holds keys but enabled is false, which would run plain TCP without "
          "encryption or authentication; set enabled = true, or clear the keys to run plain "
          "TCP deliberately");
    return Status::OK();
  }
  if (!CurveAvailable())
    return Status::FailedPrecondition(
        std::string(what) +
        ".enabled is true but this libzmq was built without CURVE (libsodium); install one "
        "with CURVE, e.g. Debian's libzmq5");
  Status st = CheckPair(s.server, what, "server");
  if (!st.ok()) return st;
  if (s.allowed_client_keys.empty())
    return Status::InvalidArgument(
        Name(what, "allowed_client_keys") +
        " is empty, so no consumer could connect; add the consumers' public keys (see "
        "LoadAllowedKeys)");
  for (size_t i = 0; i < s.allowed_client_keys.size(); ++i) {
    if (!IsValidKey(s.allowed_client_keys[i]))
      return Status::InvalidArgument(Name(what, "allowed_client_keys") + "[" + std::to_string(i) +
                                     "] is not a 40-character Z85 public key");
  }
  if (s.zap_domain.empty() || s.zap_domain.size() > kMaxDomainBytes)
    return Status::InvalidArgument(
        Name(what, "zap_domain") +
        " must be 1 to 255 bytes: with an empty domain libzmq skips the ZAP check and "
        "admits every client");
  return Status::OK();
}

Status ValidateClientSecurity(const ClientSecurity& s, std::string_view what) {
  if (!s.enabled) {
    if (!s.server_public_key.empty() || !s.client.public_key.empty() ||
        !s.client.secret_key.empty())
      return Status::InvalidArgument(
          std::string(what) +
          " holds keys but enabled is false, which would connect over plain TCP; set "
          "enabled = true, or clear the keys to run plain TCP deliberately");
    return Status::OK();
  }
  if (!CurveAvailable())
    return Status::FailedPrecondition(
        std::string(what) +
        ".enabled is true but this libzmq was built without CURVE (libsodium); install one "
        "with CURVE, e.g. Debian's libzmq5");
  if (!IsValidKey(s.server_public_key))
    return Status::InvalidArgument(
        Name(what, "server_public_key") +
        " is not a 40-character Z85 key; give the producer's public key (its public key file)");
  Status st = CheckPair(s.client, what, "client");
  if (!st.ok()) return st;
  if (s.server_public_key == s.client.public_key)
    return Status::InvalidArgument(Name(what, "server_public_key") +
                                   " is this client's own public key; give the producer's");
  return Status::OK();
}

Status ApplyServer(zmq::socket_t& socket, const ServerSecurity& security, const ZapHandler* zap) {
  Status s = ValidateServerSecurity(security, "ServerSecurity");
  if (!s.ok() || !security.enabled) return s;
  if (zap == nullptr || !zap->running())
    return Status::FailedPrecondition(
        "ApplyServer: no running ZAP handler; start one (ZapHandler::Start) in this socket's "
        "context before configuring it, so that client keys are checked");
  if (zap->domain() != security.zap_domain)
    return Status::FailedPrecondition("ApplyServer: the ZAP handler serves domain '" +
                                      zap->domain() + "' but the security options say '" +
                                      security.zap_domain + "'");
  s = CheckNotStarted(socket, "ApplyServer");
  if (!s.ok()) return s;
  try {
    // Fail closed first: from here on, no handler means no admission.
    int one = 1;
    if (zmq_setsockopt(socket.handle(), kZmqZapEnforceDomain, &one, sizeof one) != 0)
      return Status::FailedPrecondition(
          std::string("ApplyServer: this libzmq does not support ZMQ_ZAP_ENFORCE_DOMAIN (") +
          zmq_strerror(zmq_errno()) +
          "); without it a CURVE socket admits every client whenever the ZAP handler is "
          "absent, so brook will not run secured on it; use libzmq 4.3 or later");
    int check = 0;
    size_t len = sizeof check;
    if (zmq_getsockopt(socket.handle(), kZmqZapEnforceDomain, &check, &len) != 0 || check != 1)
      return Status::FailedPrecondition(
          "ApplyServer: ZMQ_ZAP_ENFORCE_DOMAIN did not stick on the socket; brook will not run "
          "secured without it");
    socket.set(zmq::sockopt::zap_domain, security.zap_domain);
    socket.set(zmq::sockopt::curve_secretkey, security.server.secret_key);
    socket.set(zmq::sockopt::curve_server, true);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("ApplyServer: setting CURVE options: ") + e.what());
  }
  return Status::OK();
}

Status ApplyClient(zmq::socket_t& socket, const ClientSecurity& security) {
  Status s = ValidateClientSecurity(security, "ClientSecurity");
  if (!s.ok() || !security.enabled) return s;
  s = CheckNotStarted(socket, "ApplyClient");
  if (!s.ok()) return s;
  try {
    socket.set(zmq::sockopt::curve_serverkey, security.server_public_key);
    socket.set(zmq::sockopt::curve_publickey, security.client.public_key);
    socket.set(zmq::sockopt::curve_secretkey, security.client.secret_key);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("ApplyClient: setting CURVE options: ") + e.what());
  }
  return Status::OK();
}

}  // namespace brook::node
