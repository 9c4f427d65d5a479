// brook: the command line. `brook --help` lists the subcommands; each has
// its own --help. docs/CLI.md is the manual.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "tools/cli.h"
#include "tools/commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"produce", "publish records from stdin (lines or JSON lines) to a topic",
     brook::cli::RunProduce},
    {"consume", "print a topic's records from a node: from earliest, latest, an offset or a time",
     brook::cli::RunConsume},
    {"describe",
     "topics, partitions, watermarks and retention of a node or a journal; a "
     "consumer's lag",
     brook::cli::RunDescribe},
    {"journal", "offline tools on a journal directory: stats, dump, verify, copy",
     brook::cli::RunJournal},
    {"keygen", "make a CURVE key pair in files only you can read", brook::cli::RunKeygen},
    {"node", "run a producer node from a config file; others publish through it",
     brook::cli::RunNode},
};

void PrintUsage(FILE* to) {
  std::fprintf(to,
               "usage: brook <command> [options] [arguments]\n\n"
               "brook: brokerless, durable publish/subscribe (LMDB journal + ZeroMQ).\n\n"
               "commands:\n");
  for (const Command& c : kCommands) std::fprintf(to, "  %-9s %s\n", c.name, c.summary);
  std::fprintf(to,
               "\n`brook <command> --help` describes a command and its options.\n"
               "Exit status: 0 done, 1 failed (the reason on stderr), 2 bad arguments.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return brook::cli::kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    PrintUsage(stdout);
    return brook::cli::kExitOk;
  }
  if (name == "--version" || name == "version") {
    std::printf("brook %s\n", BROOK_VERSION);
    return brook::cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (name == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "brook: unknown command '%s'\n\n", argv[1]);
  PrintUsage(stderr);
  return brook::cli::kExitUsage;
}
