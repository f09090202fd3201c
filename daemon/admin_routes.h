// The admin API's management routes (admin listener, JSON): models list/load/unload, requests
// list/show/cancel, drain and resume, configuration reload. GET /admin/v1/status stays with
// the daemon. Errors use the OpenAI error body, as on the API.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/config_reload.h"

namespace httplib {
class Server;
}

namespace hearth::daemon {

class Engine;
class RequestRegistry;

struct ModelStatus {
  std::string name;
  std::string path;
  int32_t context_length = 0;
  std::string state;  // "loaded"
};

struct AdminRoutesOptions {
  RequestRegistry* registry = nullptr;  // must outlive the server's handlers
  std::function<Engine*()> engine;
  std::function<std::vector<ModelStatus>()> models;
  std::function<bool()> draining;
  std::function<void(bool)> set_draining;
  std::function<StatusOr<ReloadReport>()> reload;
};

void RegisterAdminApi(httplib::Server& server, AdminRoutesOptions options);

}  // namespace hearth::daemon
