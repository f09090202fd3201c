// The simulator's inputs from real traces: Azure LLM request rows mapped onto models as
// bench/warm does (WarmServe's mapping), and SpotServe's spot availability trace turned into
// node removals and additions for a fleet of any size. Pure apart from reading the files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::sim {

struct TraceRow {
  double at_s = 0;  // seconds after the trace's first row
  int32_t context_tokens = 0;
  int32_t generated_tokens = 0;
};

// Reads an Azure LLM inference trace (TIMESTAMP,ContextTokens,GeneratedTokens; CRLF or LF).
// InvalidArgument (with the line number) for a malformed row or a count outside [1, 1<<20].
StatusOr<std::vector<TraceRow>> ParseAzureTrace(const std::string& text);
StatusOr<std::vector<TraceRow>> LoadAzureTrace(const std::string& path);

struct SimArrival {
  int64_t at_ns = 0;
  int32_t model = 0;  // popularity rank
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 0;
};

struct MappingOptions {
  double duration_s = 60;     // simulated seconds of arrivals
  double total_rate = 1;      // requests per second over all models
  double alpha = 1;           // popularity (i+1)^-alpha
  double compression = 0;     // trace seconds per simulated second; 0: one trace span per run
  int32_t max_prompt_tokens = 0;  // 0: uncapped
  int32_t max_output_tokens = 0;  // 0: uncapped
  uint64_t seed = 0;
};

// bench/warm/schedule.py's mapping: model i replays trace i % traces from i/n of the way
// through it, compressed, with exactly round(rate x share_i x duration) rows (at least 1) drawn
// uniformly from its segment. Where the segment holds fewer rows than that, copies of the
// trace from evenly spaced other offsets are laid over it first (rates above the trace's own).
// Sorted by time, then model. InvalidArgument on an empty trace or non-positive duration/rate.
StatusOr<std::vector<SimArrival>> MapArrivals(const std::vector<std::vector<TraceRow>>& traces, int32_t num_models,
                                              const MappingOptions& options);

// One line of SpotServe's trace: TIME_MS,add|remove,NODE.
struct SpotTraceEvent {
  int64_t at_ms = 0;
  bool add = false;
  std::string node;
};
StatusOr<std::vector<SpotTraceEvent>> ParseSpotTrace(const std::string& text);
StatusOr<std::vector<SpotTraceEvent>> LoadSpotTrace(const std::string& path);

// A change to the fleet's spot nodes: `delta` nodes join (> 0) or are taken back (< 0).
struct SpotChange {
  int64_t at_ns = 0;
  int32_t delta = 0;
};

// The trace's count of live instances, from trace second `start_s` on, compressed by
// `compression`, scaled so that the trace's largest count in that slice is `fleet_spot_nodes`:
// the changes to a fleet that starts with the scaled count at start_s. Only changes before
// `duration_s` (simulated) are kept.
// bench/spot's reading instead: every fall of the live count takes one node away and every
// rise brings one back, never below 1 nor above `fleet_spot_nodes` (the fleet starts full).
std::vector<SpotChange> StepSpotTrace(const std::vector<SpotTraceEvent>& events, double start_s, double compression,
                                      double duration_s, int32_t fleet_spot_nodes);

std::vector<SpotChange> ScaleSpotTrace(const std::vector<SpotTraceEvent>& events, double start_s, double compression,
                                       double duration_s, int32_t fleet_spot_nodes, int32_t* initial_nodes);

}  // namespace hearth::sim
