// brook keygen: a CURVE key pair for a node or a client (docs/SECURITY.md).
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "brook/security.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace brook::cli {

namespace {

CommandSpec KeygenSpec() {
  CommandSpec spec("keygen");
  spec.positional = "PUBLIC_FILE";
  spec.summary = "Make a CURVE key pair: PUBLIC_FILE (0644) and PUBLIC_FILE.secret (0600).";
  spec.description =
      "The public key is shared: clients pin a node's public key (--server-key), nodes\n"
      "allow-list clients' public keys. The secret key stays on its host, readable by its\n"
      "owner alone (brook refuses a secret key file that group or others may read).\n"
      "Existing files are never replaced without --force: a new pair is a new identity\n"
      "that every peer must learn again.\n\n"
      "examples:\n"
      "  brook keygen /etc/brook/node.key      # node.key and node.key.secret\n"
      "  brook keygen --print                  # both keys on stdout, no files";
  spec.min_positional = 0;
  spec.max_positional = 1;
  spec.options = {
      {"force", "", "replace existing key files"},
      {"print", "", "print both keys on stdout instead of writing files (shows the secret)"},
      {"json", "", "print a JSON object instead of text"},
  };
  return spec;
}

// Writes the keys without files, for pasting into a secret store.
int PrintKeys(const KeyPair& pair, bool json) {
  std::fprintf(stderr,
               "brook keygen: warning: the secret key is printed on stdout; whoever sees it can "
               "act as this key's owner (write files instead: brook keygen PUBLIC_FILE)\n");
  if (json) {
    std::printf("%s\n", JsonObject()
                            .Str("public_key", pair.public_key)
                            .Str("secret_key", pair.secret_key)
                            .Done()
                            .c_str());
  } else {
    std::printf("public: %s\nsecret: %s\n", pair.public_key.c_str(), pair.secret_key.c_str());
  }
  return kExitOk;
}

}  // namespace

int RunKeygen(int argc, char** argv) {
  const CommandSpec spec = KeygenSpec();
  Args args;
  int code = kExitOk;
  if (!ParseArgs(spec, argc, argv, 1, &args, &code)) return code;
  const bool print = args.Has("print");
  const bool json = args.Has("json");
  if (print && !args.positional().empty()) {
    return UsageError(spec, "--print writes no files; give either PUBLIC_FILE or --print");
  }
  if (print && args.Has("force")) return UsageError(spec, "--force is for files, not --print");
  if (!print && args.positional().empty()) {
    return UsageError(spec, "missing PUBLIC_FILE (or --print to print the keys)");
  }

  KeyPair pair;
  Status s = GenerateKeyPair(&pair);
  if (!s.ok()) return Fail(spec, s);
  if (print) return PrintKeys(pair, json);

  const std::string public_path = args.positional()[0];
  const std::string secret_path = public_path + ".secret";
  s = WriteKeyFiles(pair, public_path, secret_path, /*overwrite=*/args.Has("force"));
  if (s.IsAlreadyExists()) {
    // The library's message speaks of its API; say it in this command's terms.
    struct stat st;
    const std::string& existing =
        ::lstat(public_path.c_str(), &st) == 0 ? public_path : secret_path;
    return Fail(spec, existing +
                          " already exists; nothing was written. A new key pair is a new "
                          "identity every peer must learn again: pass --force to replace it, "
                          "or choose another file name");
  }
  if (!s.ok()) return Fail(spec, s);
  if (json) {
    std::printf("%s\n", JsonObject()
                            .Str("public_key", pair.public_key)
                            .Str("public_file", public_path)
                            .Str("secret_file", secret_path)
                            .Done()
                            .c_str());
  } else {
    std::printf(
        "public key: %s\npublic key file: %s (mode 0644)\nsecret key file: %s (mode 0600)\n",
        pair.public_key.c_str(), public_path.c_str(), secret_path.c_str());
  }
  return kExitOk;
}

}  // namespace brook::cli
