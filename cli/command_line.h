// hearthctl's command line: every command and option, parsed into plain values. The global
// options (--url, --config, --json) go before or after the command, as with kubectl.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace hearth::cli {

// hearthctl's exit codes.
constexpr int kExitOk = 0;
constexpr int kExitError = 1;  // the daemon answered with an error
constexpr int kExitUsage = 2;  // a bad command line
constexpr int kExitDown = 3;   // the daemon cannot be reached

struct CommandLine {
  // Global options.
  std::string url;     // the admin API
  std::string config;  // hearth.toml to read admin_listen and admin_token from
  bool json = false;

  // The command's words joined by a space: "status", "models remove", "requests show". A group
  // given alone is its list: "models" is "models list", "requests" is "requests list".
  std::string command;

  // models ...
  std::string model_name;
  std::string model_path;
  bool pin = false;
  bool force = false;
  // requests ...
  std::string state;
  int limit = 0;
  std::string request_id;  // the daemon's number, whichever form was typed
  int after = -1;          // follow: start after this event id
  // drain, preempt
  bool resume = false;
  double grace = -1;
  // run
  std::string run_model;
  std::string run_prompt;
  std::string api_url;
  std::string api_key;
  int max_tokens = 256;
  double temperature = -1;
};

// Parses argv (argv[0] is the program's name) into `cl`. Returns the exit code when hearthctl
// should stop here: help or the version (written to `out`, 0) or a usage error (`err`, 2).
std::optional<int> ParseCommandLine(int argc, const char* const argv[], CommandLine* cl, std::ostream& out,
                                    std::ostream& err);

// A request id as the admin API takes it (the number) from any form a client sees: "17", or
// the response id "cmpl-17" / "chatcmpl-17". nullopt when it is none of these.
std::optional<std::string> AdminRequestId(const std::string& text);

// What hearthctl knows, for its help, completion scripts and man page to be checked against.
struct CommandInfo {
  std::string name;                  // "models remove"
  std::vector<std::string> options;  // its own long options ("--force"), the global ones left out
};
std::vector<CommandInfo> Commands();
std::vector<std::string> GlobalOptions();  // "--url", "--config", "--json", "--version", "--help"

}  // namespace hearth::cli
