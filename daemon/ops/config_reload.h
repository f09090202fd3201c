// Configuration reload (POST /admin/v1/reload, SIGHUP): which options of a freshly read
// configuration differ from the running one, split into those the daemon applies while
// running and those that take a restart.
#pragma once

#include <string>
#include <vector>

#include "daemon/ops/config.h"

namespace hearth::daemon {

struct ReloadReport {
  std::vector<std::string> applied;           // changed, and in effect now
  std::vector<std::string> restart_required;  // changed, ignored until hearthd restarts
};

// Compares option by option. Applied at run time: log_level, api_keys, admin_token,
// request_retention_seconds, request_retention_count, max_queued_requests, max_queued_tokens.
// Every other option needs a restart. A new Config field must be added here (and to
// MergeReloadable when it is reloadable), or a reload silently ignores it.
ReloadReport DiffConfig(const Config& running, const Config& fresh);

// `running` with the run-time options of `fresh`: what the daemon runs with after a reload.
Config MergeReloadable(const Config& running, const Config& fresh);

// {"applied":[...],"restart_required":[...]}; secrets are named, never shown.
std::string ReloadReportJson(const ReloadReport& report);

}  // namespace hearth::daemon
