#include "daemon/config.h"

#include <toml++/toml.h>

namespace hearth::daemon {

StatusOr<HostPort> ParseHostPort(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("expected HOST:PORT, got '" + text + "'");
  }
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("bad port in '" + text + "'");
  }
  hp.port = std::stoi(port);
  if (hp.port > 65535) return Status::InvalidArgument("port out of range in '" + text + "'");
  return hp;
}

Status AddModelFlag(const std::string& flag, Config* config) {
  size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size()) {
    return Status::InvalidArgument("--model expects NAME=PATH, got '" + flag + "'");
  }
  config->models[flag.substr(0, eq)] = flag.substr(eq + 1);
  return Status::Ok();
}

namespace {

Status ReadHostPort(const toml::table& t, const char* key, HostPort* out) {
  if (auto v = t[key].value<std::string>()) {
    HEARTH_ASSIGN_OR_RETURN(*out, ParseHostPort(*v));
  } else if (t.contains(key)) {
    return Status::InvalidArgument(std::string(key) + " must be a string \"HOST:PORT\"");
  }
  return Status::Ok();
}

Status ReadString(const toml::table& t, const char* key, std::string* out) {
  if (auto v = t[key].value<std::string>()) {
    *out = *v;
  } else if (t.contains(key)) {
    return Status::InvalidArgument(std::string(key) + " must be a string");
  }
  return Status::Ok();
}

}  // namespace

Status LoadConfigFile(const std::string& path, Config* config) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path << ":" << e.source().begin.line << ": " << e.description();
    return Status::InvalidArgument(msg.str());
  }
  HEARTH_RETURN_IF_ERROR(ReadHostPort(t, "listen", &config->listen));
  HEARTH_RETURN_IF_ERROR(ReadHostPort(t, "admin_listen", &config->admin_listen));
  HEARTH_RETURN_IF_ERROR(ReadString(t, "data_dir", &config->data_dir));
  HEARTH_RETURN_IF_ERROR(ReadString(t, "worker_binary", &config->worker_binary));
  HEARTH_RETURN_IF_ERROR(ReadString(t, "log_level", &config->log_level));
  if (auto v = t["worker_threads"].value<int64_t>()) {
    if (*v < 0 || *v > 1024) return Status::InvalidArgument("worker_threads must be in [0, 1024]");
    config->worker_threads = static_cast<int>(*v);
  }
  if (const toml::table* models = t["models"].as_table()) {
    for (const auto& [name, value] : *models) {
      auto p = value.value<std::string>();
      if (!p) return Status::InvalidArgument("models." + std::string(name.str()) + " must be a path string");
      config->models[std::string(name.str())] = *p;
    }
  }
  return Status::Ok();
}

}  // namespace hearth::daemon
