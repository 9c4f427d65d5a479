// brook's security: CURVE keys, and who may connect to a producer.
//
// With security enabled, a producer's live stream (PUB) and replay server
// (ROUTER) speak CurveZMQ: every connection is encrypted and authenticated.
// The producer has a server key pair; each consumer has its own client key
// pair and pins the producer's public key. The producer admits only the
// client public keys on its allow-list, and refuses every connection when it
// cannot check (fail closed). docs/SECURITY.md describes the model and what
// it does not protect.
//
// Keys are Z85 text (ZeroMQ's encoding, RFC 32): 40 characters for 32 bytes.
// Key files hold one key on a line of its own; lines that start with "#" are
// comments (no valid key starts with "#"), blank lines are ignored. A
// secret key file must be readable by its owner only (mode 0600 or 0400):
// loading refuses anything that group or others may read.
//
// Security off (enabled = false, the default in both option structs) means
// plain TCP: anyone who reaches the endpoints reads the stream and the
// journal. It is for development; turning it off must be deliberate, so a
// struct with keys filled in but enabled = false is refused as a likely
// mistake.
//
// Thread-safety: free functions; the structs are values.
#ifndef BROOK_SECURITY_H_
#define BROOK_SECURITY_H_

#include <string>
#include <vector>

#include "brook/export.h"
#include "brook/status.h"

namespace brook {

// A CURVE key pair, each key as 40 characters of Z85.
struct KeyPair {
  std::string public_key;
  std::string secret_key;
};

// The producer's side.
struct ServerSecurity {
  // false: plain TCP, no encryption, anyone may connect (development only).
  bool enabled = false;
  // The producer's key pair; consumers pin server.public_key.
  KeyPair server;
  // The client public keys (Z85) admitted; at least one when enabled. Load a
  // file of them with LoadAllowedKeys.
  std::vector<std::string> allowed_client_keys;
  // The ZAP domain the producer's sockets authenticate in; any non-empty name.
  std::string zap_domain = "brook";
};

// A consumer's side.
struct ClientSecurity {
  // false: plain TCP (development only). Must match the producer's setting:
  // a plain client cannot talk to a CURVE producer, nor the reverse.
  bool enabled = false;
  // The producer's public key (Z85): the consumer talks to nobody else.
  std::string server_public_key;
  // This consumer's key pair; its public key goes on the producer's allow-list.
  KeyPair client;
};

// A fresh key pair from libzmq (libsodium's random source).
// Errors: FailedPrecondition when libzmq was built without CURVE.
BROOK_EXPORT Status GenerateKeyPair(KeyPair* out);

// True when `key` is 40 characters of valid Z85 (a well-formed CURVE key).
BROOK_EXPORT bool IsValidKey(const std::string& key);

// Writes the public key to public_path (mode 0644) and the secret key to
// secret_path (mode 0600, whatever the umask), each with a comment line, each
// through a temporary file renamed into place and synced. Without
// `overwrite`, an existing file at either path is an error and nothing is
// written: replacing a key pair changes the identity every peer pinned.
// Errors: InvalidArgument (a key is malformed, or the public key is not the
// secret key's), AlreadyExists (a file exists and !overwrite), FailedPrecondition
// (the file system refused: the message says which path and why).
BROOK_EXPORT Status WriteKeyFiles(const KeyPair& pair, const std::string& public_path,
                                  const std::string& secret_path, bool overwrite = false);

// Reads the one key of a public key file.
// Errors: NotFound (no such file), InvalidArgument (not exactly one
// well-formed key; the message names the file and the line),
// FailedPrecondition (unreadable, or not a regular file).
BROOK_EXPORT Status LoadPublicKey(const std::string& path, std::string* key);

// Reads the one key of a secret key file after checking that only its owner
// may read it. Errors: those of LoadPublicKey, and FailedPrecondition when
// group or others have any permission on the file (the message names the file
// and says to run `chmod 600 <file>`).
BROOK_EXPORT Status LoadSecretKey(const std::string& path, std::string* key);

// LoadPublicKey + LoadSecretKey, and a check that the public key belongs to
// the secret key (InvalidArgument naming both files otherwise).
BROOK_EXPORT Status LoadKeyPair(const std::string& public_path, const std::string& secret_path,
                                KeyPair* pair);

// Reads an allow-list: one Z85 public key per line, optionally followed by
// spaces and a "#" comment ("<key>  # billing, host b7"); comment and blank
// lines as in key files. Duplicates are kept once, in first-seen order.
// Errors: NotFound, FailedPrecondition (unreadable), InvalidArgument (a line
// that is not a key, named by number; or no key at all).
BROOK_EXPORT Status LoadAllowedKeys(const std::string& path, std::vector<std::string>* keys);

}  // namespace brook

#endif  // BROOK_SECURITY_H_
