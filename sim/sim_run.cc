#include "sim/sim_run.h"

#include "sim/trace.h"

namespace hearth::sim {

StatusOr<SimResult> RunScenario(const Scenario& s, const ProgressFn& progress, const RunOptions& options) {
  std::vector<std::vector<TraceRow>> traces;
  for (const std::string& path : s.arrivals.traces) {
    HEARTH_ASSIGN_OR_RETURN(auto rows, LoadAzureTrace(path));
    traces.push_back(std::move(rows));
  }
  MappingOptions mo;
  mo.duration_s = s.arrivals.duration_s;
  mo.total_rate = s.arrivals.rate;
  mo.alpha = s.arrivals.alpha;
  mo.compression = s.arrivals.compression;
  mo.max_prompt_tokens = s.arrivals.max_prompt_tokens;
  mo.max_output_tokens = s.arrivals.max_output_tokens;
  mo.seed = s.seed;
  HEARTH_ASSIGN_OR_RETURN(auto arrivals, MapArrivals(traces, static_cast<int32_t>(s.models.size()), mo));
  std::vector<SpotChange> changes;
  int32_t spot_nodes = 0;
  for (const NodeGroup& g : s.nodes) spot_nodes += g.spot ? g.count : 0;
  int32_t initial_spot = spot_nodes;
  if (!s.spot.trace.empty() && spot_nodes > 0) {
    HEARTH_ASSIGN_OR_RETURN(auto events, LoadSpotTrace(s.spot.trace));
    if (s.spot.steps) {
      changes = StepSpotTrace(events, s.spot.start_s, s.spot.compression, s.arrivals.duration_s, spot_nodes);
    } else {
      changes = ScaleSpotTrace(events, s.spot.start_s, s.spot.compression, s.arrivals.duration_s, spot_nodes,
                               &initial_spot);
    }
  }
  return RunSimulation(s, arrivals, changes, initial_spot, progress, options);
}

}  // namespace hearth::sim
