// What each hearthctl command prints: a human-readable rendering of the admin API's answer,
// and, where --json prints something other than the answer itself, that JSON. Each fails with
// Corruption when the daemon's answer is not what it expects.
#pragma once

#include <string>

#include "common/status.h"

namespace hearth::cli {

// GET /admin/v1/status: the daemon (accepting or draining), its queue and KV blocks, its
// workers and models.
StatusOr<std::string> RenderStatus(const std::string& status_json);
// GET /admin/v1/models: each model's state on the worker, where the prewarm plan puts it, its
// predicted load (average/peak), score and prewarm hits/waste.
StatusOr<std::string> RenderModels(const std::string& json);
// One model, as POST /admin/v1/models and its actions answer.
StatusOr<std::string> RenderModel(const std::string& json);
// GET /admin/v1/models/{name}/history: a table of windows, the forecast line and the
// forecaster's mean absolute error against next = last over those windows.
StatusOr<std::string> RenderHistory(const std::string& json);
// DELETE /admin/v1/models/{name}'s answer.
StatusOr<std::string> RenderRemoved(const std::string& json);
// One line for a model on the move, from the admin list (GET /admin/v1/models): its state and,
// while its file is read, a bar of `width` cells, the percentage and MiB. "" when the model is
// not in the list or is neither loading, staging nor unloading.
std::string RenderModelProgress(const std::string& list_json, const std::string& name, int width = 30);
// GET /admin/v1/requests.
StatusOr<std::string> RenderRequests(const std::string& json);
// GET /admin/v1/requests/{id}: one field per line, then the text.
StatusOr<std::string> RenderRequest(const std::string& json);
// The workers of GET /admin/v1/status.
StatusOr<std::string> RenderWorkers(const std::string& status_json);
// --json: the workers array alone.
StatusOr<std::string> WorkersJson(const std::string& status_json);
// POST /admin/v1/drain and /admin/v1/reload answers.
StatusOr<std::string> RenderDrain(const std::string& json);
StatusOr<std::string> RenderReload(const std::string& json);
// POST /admin/v1/preempt's answer.
StatusOr<std::string> RenderPreempt(const std::string& json);
// A summary of /metrics (Prometheus text): requests by outcome, tokens,
// queues, KV blocks, prewarm actions/hits/waste, and TTFT/TPOT quantiles estimated from the
// histograms.
StatusOr<std::string> RenderMetrics(const std::string& text);
// --json: the same figures as a JSON object (see MetricsSummaryJson).
StatusOr<std::string> MetricsJson(const std::string& text);

}  // namespace hearth::cli
