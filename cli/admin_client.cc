#include "cli/admin_client.h"

#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <toml++/toml.h>

namespace hearth::cli {

StatusOr<AdminTarget> ParseUrl(const std::string& url) {
  std::string rest = url;
  const std::string scheme = "http://";
  if (rest.rfind(scheme, 0) == 0) rest = rest.substr(scheme.size());
  else if (rest.find("://") != std::string::npos) return Status::InvalidArgument("only http:// URLs are supported: " + url);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  AdminTarget t;
  if (colon == std::string::npos) {
    t.host = rest;
    t.port = 80;
  } else {
    t.host = rest.substr(0, colon);
    const std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) > 65535) {
      return Status::InvalidArgument("bad port in URL: " + url);
    }
    t.port = std::stoi(port);
  }
  if (t.host.empty()) return Status::InvalidArgument("no host in URL: " + url);
  return t;
}

StatusOr<AdminTarget> ResolveTarget(const std::string& url_flag, const std::string& config_flag) {
  AdminTarget target;
  if (const char* token = std::getenv("HEARTH_ADMIN_TOKEN")) target.token = token;
  if (!url_flag.empty()) {
    HEARTH_ASSIGN_OR_RETURN(AdminTarget t, ParseUrl(url_flag));
    t.token = target.token;
    return t;
  }
  if (const char* env = std::getenv("HEARTH_URL"); env && *env) {
    HEARTH_ASSIGN_OR_RETURN(AdminTarget t, ParseUrl(env));
    t.token = target.token;
    return t;
  }
  std::string config = config_flag;
  if (config.empty()) {
    if (const char* env = std::getenv("HEARTH_CONFIG")) config = env;
    else if (std::filesystem::exists("/etc/hearth/hearth.toml")) config = "/etc/hearth/hearth.toml";
  }
  if (!config.empty()) {
    try {
      toml::table t = toml::parse_file(config);
      if (auto admin = t["admin_listen"].value<std::string>()) {
        HEARTH_ASSIGN_OR_RETURN(AdminTarget from_file, ParseUrl(*admin));
        from_file.token = target.token;
        return from_file;
      }
    } catch (const toml::parse_error& e) {
      return Status::InvalidArgument("config " + config + ": " + std::string(e.description()));
    }
  }
  return target;
}

StatusOr<HttpReply> Get(const AdminTarget& target, const std::string& path) {
  httplib::Client client(target.host, target.port);
  client.set_connection_timeout(3, 0);
  client.set_read_timeout(30, 0);
  httplib::Headers headers;
  if (!target.token.empty()) headers.emplace("Authorization", "Bearer " + target.token);
  auto res = client.Get(path.c_str(), headers);
  if (!res) {
    return Status::Unavailable("cannot reach hearthd at " + target.ToString() + " (" +
                               httplib::to_string(res.error()) + "). Is it running? Start it with `hearthd`, " +
                               "or point hearthctl at it with --url or $HEARTH_URL.");
  }
  return HttpReply{res->status, res->body};
}

}  // namespace hearth::cli
