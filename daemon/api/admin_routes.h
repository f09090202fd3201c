// The admin API's management routes (admin listener, JSON): models list/add/remove/load/unload/pin
// (docs/models.md), requests
// list/show/cancel, drain and resume, configuration reload. GET /admin/v1/status stays with
// the daemon. Errors use the OpenAI error body, as on the API.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/models/load_recorder.h"
#include "daemon/models/model_control.h"
#include "daemon/ops/config_reload.h"
#include "scheduler/forecast.h"

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class Engine;
class OpenStreams;
class RequestRegistry;

struct AdminRoutesOptions {
  RequestRegistry* registry = nullptr;  // must outlive the server's handlers
  std::function<Engine*()> engine;
  ModelControl* models = nullptr;  // must outlive the server's handlers
  std::function<bool()> draining;
  std::function<void(bool)> set_draining;
  std::function<StatusOr<ReloadReport>()> reload;
  // POST /admin/v1/preempt: takes a notice (grace: the configured one when nullopt) and answers
  // the preemption state as JSON (docs/durability.md, "Preemption notices").
  std::function<std::string(std::optional<double> grace_seconds)> preempt;
  OpenStreams* open_streams = nullptr;  // as ApiRoutesOptions::open_streams
  // GET /admin/v1/models/{name}/history: the model's last `limit` load windows and forecast
  // (docs/models.md, "Forecast"); empty: 404.
  std::function<StatusOr<LoadHistory>(const std::string& model, int64_t limit)> history;
  // The recorder's forecast options (LoadRecorder::options()): the history's "error" object
  // evaluates the forecaster over the returned windows with them.
  scheduler::ForecastOptions forecast_options;
  std::string id_scope{};  // as ApiRoutesOptions::id_scope
};

void RegisterAdminApi(http::Router& server, AdminRoutesOptions options);

}  // namespace hearth::daemon
