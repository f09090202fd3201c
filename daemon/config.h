// hearthd's configuration: defaults, the TOML file, then command-line flags.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace hearth::daemon {

struct HostPort {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

StatusOr<HostPort> ParseHostPort(const std::string& text);

struct Config {
  HostPort listen{"127.0.0.1", 8080};        // OpenAI-compatible API
  HostPort admin_listen{"127.0.0.1", 8081};  // admin API (hearthctl)
  std::string data_dir;  // empty: $STATE_DIRECTORY (systemd), else ~/.local/share/hearth
  std::map<std::string, std::string> models;  // name -> path of a GGUF file
  std::string worker_binary;                  // empty: next to hearthd
  std::string log_level = "info";
  int worker_threads = 0;  // CPU threads per worker; 0: all cores
};

// Reads a TOML file into `config`, leaving fields it does not set alone.
Status LoadConfigFile(const std::string& path, Config* config);

// Parses "NAME=PATH".
Status AddModelFlag(const std::string& flag, Config* config);

}  // namespace hearth::daemon
