#include "cli/admin_client.h"

#include <httplib.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
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
      if (target.token.empty()) target.token = t["admin_token"].value<std::string>().value_or("");
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

namespace {

httplib::Headers AuthHeaders(const AdminTarget& target) {
  httplib::Headers headers;
  if (!target.token.empty()) headers.emplace("Authorization", "Bearer " + target.token);
  return headers;
}

std::unique_ptr<httplib::Client> Connect(const AdminTarget& target, int read_timeout_s) {
  auto client = std::make_unique<httplib::Client>(target.host, target.port);
  client->set_connection_timeout(3, 0);
  client->set_read_timeout(read_timeout_s, 0);
  return client;
}

StatusOr<HttpReply> Reply(const AdminTarget& target, const httplib::Result& res) {
  if (!res) {
    return Status::Unavailable("cannot reach hearthd at " + target.ToString() + " (" +
                               httplib::to_string(res.error()) + "). Is it running? Start it with `hearthd`, " +
                               "or point hearthctl at it with --url or $HEARTH_URL.");
  }
  return HttpReply{res->status, res->body};
}

}  // namespace

StatusOr<HttpReply> Get(const AdminTarget& target, const std::string& path) {
  return Reply(target, Connect(target, 30)->Get(path.c_str(), AuthHeaders(target)));
}

StatusOr<HttpReply> Post(const AdminTarget& target, const std::string& path, const std::string& json_body) {
  // A POST may load a model (and measure its token budget): minutes for a big one.
  return Reply(target, Connect(target, 600)->Post(path.c_str(), AuthHeaders(target), json_body, "application/json"));
}

StatusOr<HttpReply> Delete(const AdminTarget& target, const std::string& path) {
  return Reply(target, Connect(target, 30)->Delete(path.c_str(), AuthHeaders(target)));
}

StatusOr<HttpReply> GetStream(const AdminTarget& target, const std::string& path,
                              const std::function<bool(const char*, size_t)>& on_data,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Headers h = AuthHeaders(target);
  for (const auto& [k, v] : headers) h.emplace(k, v);
  std::string error_body;
  int status = 0;
  auto res = Connect(target, 3600)->Get(
      path.c_str(), h,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t n) {
        if (status >= 400) {
          error_body.append(data, n);
          return true;
        }
        return on_data(data, n);
      });
  if (!res && res.error() == httplib::Error::Canceled) return HttpReply{status, ""};  // on_data stopped it
  HEARTH_ASSIGN_OR_RETURN(HttpReply reply, Reply(target, res));
  reply.body = error_body;
  return reply;
}

StatusOr<HttpReply> PostStream(const AdminTarget& target, const std::string& path, const std::string& json_body,
                               const std::function<bool(const char*, size_t)>& on_data) {
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = AuthHeaders(target);
  req.set_header("Content-Type", "application/json");
  req.body = json_body;
  std::string error_body;
  int status = 0;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status >= 400) {
      error_body.append(data, n);
      return true;
    }
    return on_data(data, n);
  };
  auto res = Connect(target, 3600)->send(req);
  if (!res && res.error() == httplib::Error::Canceled) return HttpReply{status, ""};
  HEARTH_ASSIGN_OR_RETURN(HttpReply reply, Reply(target, res));
  reply.body = error_body;
  return reply;
}

std::string ErrorMessage(const HttpReply& reply) {
  rapidjson::Document d;
  d.Parse(reply.body.c_str());
  if (!d.HasParseError() && d.IsObject() && d.HasMember("error") && d["error"].IsObject() &&
      d["error"].HasMember("message") && d["error"]["message"].IsString()) {
    return d["error"]["message"].GetString();
  }
  return reply.body;
}

}  // namespace hearth::cli
