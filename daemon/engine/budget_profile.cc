#include "daemon/engine/budget_profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "common/log.h"

namespace hearth::daemon {
namespace {

constexpr uint64_t kProfileRequestId = ~uint64_t{0};

wire::StepRequest DummyPrefill(const wire::ModelInfo& info, int32_t tokens) {
  wire::StepSequence s;
  s.request_id = kProfileRequestId;
  s.start_pos = 0;
  s.tokens.resize(static_cast<size_t>(tokens));
  // Any ids inside the vocabulary; a spread of them, not one repeated.
  for (int32_t i = 0; i < tokens; ++i) s.tokens[static_cast<size_t>(i)] = (7 + i * 131) % info.vocab_size;
  const int32_t blocks = (tokens + info.block_size - 1) / info.block_size;
  for (int32_t b = 0; b < blocks; ++b) s.block_table.push_back(b);
  s.want_logits = true;
  s.sampling.temperature = 0;
  s.sample_position = tokens;
  wire::StepRequest req;
  req.model = info.name;
  req.seqs.push_back(std::move(s));
  return req;
}

}  // namespace

int32_t ChooseTokenBudget(const std::vector<BudgetSample>& samples, const BudgetProfileOptions& o) {
  int64_t best = 0;
  const BudgetSample* largest = nullptr;
  bool any_over = false;
  for (const BudgetSample& s : samples) {
    if (s.tokens < 1) continue;
    if (s.step_ms <= o.target_step_ms) {
      best = std::max<int64_t>(best, s.tokens);
    } else {
      any_over = true;
    }
    if (largest == nullptr || s.tokens > largest->tokens) largest = &s;
  }
  if (!any_over && largest != nullptr && largest->step_ms > 0) {
    // Everything was fast: extrapolate (step time is close to linear in tokens for prefill).
    best = std::max<int64_t>(best, static_cast<int64_t>(largest->tokens * (o.target_step_ms / largest->step_ms)));
  }
  best = std::min<int64_t>(best, o.ceiling);
  best = std::max<int64_t>(best, o.floor);
  return static_cast<int32_t>(best);
}

StatusOr<std::vector<BudgetSample>> ProfileSteps(WorkerConnection* worker, const wire::ModelInfo& info,
                                                 const BudgetProfileOptions& options) {
  if (info.block_size < 1 || info.num_kv_blocks < 1 || info.vocab_size < 1) {
    return Status::InvalidArgument("model '" + info.name + "': no KV cache to profile");
  }
  const int64_t limit = std::min<int64_t>(int64_t{info.num_kv_blocks} * info.block_size, info.context_length);
  std::vector<BudgetSample> samples;
  if (options.sizes.empty() || options.sizes.front() > limit) return samples;
  // Warm-up: the first step pays for page faults and thread start-up.
  HEARTH_RETURN_IF_ERROR(worker->Step(DummyPrefill(info, options.sizes.front())).status());
  for (int32_t n : options.sizes) {
    if (n < 1 || n > limit) continue;
    wire::StepRequest req = DummyPrefill(info, n);
    double ms = 0;
    for (int32_t r = 0; r < std::max(options.repeats, 1); ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      HEARTH_RETURN_IF_ERROR(worker->Step(req).status());
      const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ms = r == 0 ? t : std::min(ms, t);
    }
    samples.push_back({n, ms});
    if (ms > options.target_step_ms) break;  // larger sizes only take longer
  }
  return samples;
}

StatusOr<int32_t> MeasureTokenBudget(WorkerConnection* worker, const wire::ModelInfo& info,
                                     const BudgetProfileOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  HEARTH_ASSIGN_OR_RETURN(std::vector<BudgetSample> samples, ProfileSteps(worker, info, options));
  const int32_t budget = ChooseTokenBudget(samples, options);
  std::string text;
  for (const BudgetSample& s : samples) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s%d:%.1f", text.empty() ? "" : ",", s.tokens, s.step_ms);
    text += buf;
  }
  LogInfo("token budget profile")
      .Kv("model", info.name)
      .Kv("samples_tokens_ms", text)
      .Kv("target_step_ms", options.target_step_ms)
      .Kv("floor", options.floor)
      .Kv("ceiling", options.ceiling)
      .Kv("token_budget", budget)
      .Kv("seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return budget;
}

}  // namespace hearth::daemon
