// hearth-sim: runs a scenario file through the cluster simulator and writes its JSON report
// (docs/simulator.md).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "sim/scenario.h"
#include "sim/sim_report.h"
#include "sim/sim_run.h"

int main(int argc, char** argv) {
  CLI::App app{"hearth-sim: a discrete-event simulator that runs Hearth's own scheduler and planner"};
  std::string scenario_path, out_path, placement, preemption;
  int64_t seed = -1;
  bool quiet = false;
  hearth::sim::RunOptions run_options;
  app.add_option("scenario", scenario_path, "scenario JSON file")->required();
  app.add_option("-o,--out", out_path, "write the JSON report here (default: stdout)");
  app.add_option("--seed", seed, "override the scenario's seed");
  app.add_option("--placement", placement, "override policy.placement")->check(CLI::IsMember({"lru", "forecast"}));
  app.add_option("--preemption", preemption, "override policy.preemption")
      ->check(CLI::IsMember({"restart", "migrate"}));
  app.add_flag("-q,--quiet", quiet, "no progress bar");
  app.add_flag("--step-by-step", run_options.step_by_step,
               "one event per GPU step (no decode runs): slower, the same report");
  CLI11_PARSE(app, argc, argv);

  auto scenario = hearth::sim::LoadScenario(scenario_path);
  if (!scenario.ok()) {
    std::cerr << "hearth-sim: " << scenario.status().ToString() << "\n";
    return 2;
  }
  if (seed >= 0) scenario->seed = static_cast<uint64_t>(seed);
  if (!placement.empty()) {
    scenario->policy.placement =
        placement == "lru" ? hearth::sim::PlacementPolicy::kLru : hearth::sim::PlacementPolicy::kForecast;
  }
  if (!preemption.empty()) {
    scenario->policy.preemption =
        preemption == "restart" ? hearth::sim::PreemptionPolicy::kRestart : hearth::sim::PreemptionPolicy::kMigrate;
  }
  const auto start = std::chrono::steady_clock::now();
  auto progress = [&](int64_t now_ns, int64_t horizon_ns) {
    if (quiet) return;
    const double frac = horizon_ns > 0 ? std::min(1.0, static_cast<double>(now_ns) / static_cast<double>(horizon_ns)) : 1;
    const int filled = static_cast<int>(frac * 40);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\r[%-40s] %5.1f%%  sim %.0f s  wall %.1f s", std::string(static_cast<size_t>(filled), '#').c_str(),
                 frac * 100, static_cast<double>(now_ns) / 1e9, wall);
  };
  auto result = hearth::sim::RunScenario(*scenario, progress, run_options);
  if (!quiet) std::fprintf(stderr, "\n");
  if (!result.ok()) {
    std::cerr << "hearth-sim: " << result.status().ToString() << "\n";
    return 1;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string json = hearth::sim::ReportJson(*scenario, *result);
  if (out_path.empty()) {
    std::cout << json;
  } else {
    std::ofstream out(out_path, std::ios::binary);
    out << json;
    if (!out) {
      std::cerr << "hearth-sim: cannot write " << out_path << "\n";
      return 1;
    }
  }
  // Wall-clock figures go to stderr only: the report stays byte-identical between runs.
  std::fprintf(stderr,
               "hearth-sim: %lld events (%lld handled, the rest in decode runs), %lld steps, %lld requests in %.2f s "
               "wall (%.0f events/s)\n",
               static_cast<long long>(result->counters.events), static_cast<long long>(result->handled_events),
               static_cast<long long>(result->counters.steps), static_cast<long long>(result->requests.size()), wall,
               static_cast<double>(result->counters.events) / std::max(wall, 1e-9));
  return 0;
}
