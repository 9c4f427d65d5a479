// CURVE on ZeroMQ sockets: checks ServerSecurity / ClientSecurity and sets
// the socket options. Call before bind / connect (libzmq reads the security
// options when a connection starts; ApplyServer and ApplyClient refuse a
// socket that is already bound or connected).
//
// A producer (see node/zap_handler.h for the order and why):
//   s = ValidateServerSecurity(options.security, "ProducerOptions::security");
//   if (options.security.enabled)
//     s = ZapHandler::Start(ctx, options.security, options.logger, &zap);
//   s = ApplyServer(pub, options.security, zap.get());      // then bind
//   ...close the sockets, zap->Stop(), close the context.
// A consumer: s = ApplyClient(sub, security); then connect.
#ifndef BROOK_NODE_CURVE_H_
#define BROOK_NODE_CURVE_H_

#include <zmq.hpp>

#include <string_view>

#include "brook/security.h"
#include "brook/status.h"

namespace brook::node {

class ZapHandler;

// libzmq's ZMQ_ZAP_ENFORCE_DOMAIN (a "draft" constant in zmq.h, absent from
// Debian's header, but accepted by libzmq >= 4.2.3 built with or without
// drafts). With it, a CURVE handshake fails when no ZAP handler is bound.
constexpr int kZmqZapEnforceDomain = 93;

// True when this libzmq supports CURVE (zmq_has("curve")).
bool CurveAvailable();

// Checks the options; `what` names them in messages
// (e.g. "ProducerOptions::security" gives "ProducerOptions::security.zap_domain ...").
// Disabled: OK unless keys are filled in (InvalidArgument: a likely mistake;
// plain TCP must be chosen deliberately). Enabled: both keys of the server
// pair valid and matching, at least one allowed client key and each valid, a
// domain of 1..255 bytes, and CURVE available (FailedPrecondition if not).
Status ValidateServerSecurity(const ServerSecurity& security, std::string_view what);
Status ValidateClientSecurity(const ClientSecurity& security, std::string_view what);

// Makes `socket` a CURVE server in `security.zap_domain` with the domain
// enforced. Disabled: validates and leaves the socket plain.
// Errors: InvalidArgument (security); FailedPrecondition (enabled but `zap`
// is null, not running, or in another domain; the socket already bound; this
// libzmq lacks ZMQ_ZAP_ENFORCE_DOMAIN, so it could not fail closed).
Status ApplyServer(zmq::socket_t& socket, const ServerSecurity& security, const ZapHandler* zap);

// Makes `socket` a CURVE client pinning security.server_public_key.
// Disabled: validates and leaves the socket plain.
// Errors: InvalidArgument (security); FailedPrecondition (already connected).
Status ApplyClient(zmq::socket_t& socket, const ClientSecurity& security);

}  // namespace brook::node

#endif  // BROOK_NODE_CURVE_H_
