// Range checks for SamplingParams; messages name the field as the API spells it.
#include "sampling/sampling_params.h"

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
  return Status::Ok();
}

}  // namespace hearth
