// The `brook` subcommands. Each takes the arguments from its own name on
// (argv[0] is "produce", "journal", ...) and returns the process exit code
// (tools/cli.h).
#ifndef BROOK_TOOLS_COMMANDS_H_
#define BROOK_TOOLS_COMMANDS_H_

namespace brook::cli {

int RunProduce(int argc, char** argv);   // cmd_produce.cc
int RunConsume(int argc, char** argv);   // cmd_consume.cc
int RunDescribe(int argc, char** argv);  // cmd_describe.cc
int RunJournal(int argc, char** argv);   // cmd_journal.cc
int RunKeygen(int argc, char** argv);    // cmd_keygen.cc
int RunNode(int argc, char** argv);      // cmd_node.cc

}  // namespace brook::cli

#endif  // BROOK_TOOLS_COMMANDS_H_
