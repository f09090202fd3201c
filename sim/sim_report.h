// The simulator's output: latency percentiles per model and overall, SLO attainment, cold
// starts, preemptions, migrations, lost requests, GPU-hours and cost, and the series the plots
// draw, as one JSON document. Deterministic: the same result gives the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/cluster_sim.h"
#include "sim/scenario.h"

namespace hearth::sim {

// The value at nearest rank ceil(p/100 x n) of `sorted` (ascending); 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);

std::string ReportJson(const Scenario& scenario, const SimResult& result);

}  // namespace hearth::sim
