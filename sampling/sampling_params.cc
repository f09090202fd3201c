// Range checks for SamplingParams; messages name the field as the API spells it.
#include "sampling/sampling_params.h"

#include <algorithm>
#include <string>

namespace hearth {
namespace {

// Each check is written as !(in range) so that NaN, which fails every comparison, is rejected.
Status RequireClosed(float value, float lo, float hi, const char* message) {
  if (!(value >= lo && value <= hi)) return Status::InvalidArgument(message);
  return Status::Ok();
}

Status RequireOpenClosed(float value, float lo, float hi, const char* message) {
  if (!(value > lo && value <= hi)) return Status::InvalidArgument(message);
  return Status::Ok();
}

Status ValidateLogitBias(const std::vector<LogitBias>& entries) {
  if (entries.size() > kMaxLogitBias) {
    return Status::InvalidArgument("logit_bias may hold at most " + std::to_string(kMaxLogitBias) + " entries");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].token < 0) return Status::InvalidArgument("logit_bias keys must be non-negative token ids");
    if (i > 0 && entries[i].token <= entries[i - 1].token) {
      return Status::InvalidArgument("logit_bias entries must be by ascending token id, each once");
    }
    HEARTH_RETURN_IF_ERROR(RequireClosed(entries[i].bias, -kMaxLogitBiasValue, kMaxLogitBiasValue,
                                         "logit_bias values must be in [-100, 100]"));
  }
  return Status::Ok();
}

}  // namespace

Status SamplingParams::Validate() const {
  HEARTH_RETURN_IF_ERROR(RequireClosed(temperature, 0, 2, "temperature must be in [0, 2]"));
  if (top_k < 0) return Status::InvalidArgument("top_k must be >= 0 (0 disables it)");
  HEARTH_RETURN_IF_ERROR(RequireOpenClosed(top_p, 0, 1, "top_p must be in (0, 1]"));
  HEARTH_RETURN_IF_ERROR(RequireClosed(min_p, 0, 1, "min_p must be in [0, 1]"));
  HEARTH_RETURN_IF_ERROR(RequireOpenClosed(repetition_penalty, 0, 10, "repetition_penalty must be in (0, 10]"));
  HEARTH_RETURN_IF_ERROR(RequireClosed(frequency_penalty, -2, 2, "frequency_penalty must be in [-2, 2]"));
  HEARTH_RETURN_IF_ERROR(RequireClosed(presence_penalty, -2, 2, "presence_penalty must be in [-2, 2]"));
  if (num_logprobs < 0 || num_logprobs > kMaxLogprobs) {
    return Status::InvalidArgument("num_logprobs must be in [0, 20]");
  }
  HEARTH_RETURN_IF_ERROR(ValidateLogitBias(logit_bias));
  if (min_tokens < 0) return Status::InvalidArgument("min_tokens must be >= 0");
  if (stop_token_ids.size() > kMaxStopTokenIds) {
    return Status::InvalidArgument("stop_token_ids may hold at most " + std::to_string(kMaxStopTokenIds) + " ids");
  }
  if (grammar.size() > kMaxGrammarBytes) {
    return Status::InvalidArgument("grammar may hold at most " + std::to_string(kMaxGrammarBytes) + " bytes");
  }
  for (int32_t id : stop_token_ids) {
    if (id < 0) return Status::InvalidArgument("stop_token_ids must be non-negative token ids");
  }
  return Status::Ok();
}

std::vector<int32_t> RequestEndTokens(const SamplingParams& params, const std::vector<int32_t>& model_eos) {
  std::vector<int32_t> ids = params.stop_token_ids;
  if (!params.ignore_eos) ids.insert(ids.end(), model_eos.begin(), model_eos.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace hearth
