// A scenario end to end: read its traces, map the arrivals and the spot events onto its fleet,
// and run the simulation.
#pragma once

#include "common/status.h"
#include "sim/cluster_sim.h"
#include "sim/scenario.h"

namespace hearth::sim {

StatusOr<SimResult> RunScenario(const Scenario& scenario, const ProgressFn& progress = nullptr,
                                const RunOptions& options = {});

}  // namespace hearth::sim
