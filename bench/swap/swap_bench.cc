// hearth-bench-swap: how fast a staged model becomes warm. Stages a model file in host memory,
// then repeatedly swaps it into a page pool sized for it and out again, swaps it into a
// fragmented pool (no two free pages side by side: its pages are mapped into a new range), and
// copies the same bytes between two plain buffers (the machine's raw copy bandwidth, memcpy on
// the CPU). Prints JSON on stdout: seconds and effective GB/s of each phase, swap-in over raw
// copy, and the time the swap-in spends moving the staged weight views onto the copy (rebase).
#include <CLI/CLI.hpp>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_worker/llama_weights.h"
#include "gpu_worker/loaded_model.h"
#include "gpu_worker/page_pool.h"
#include "gpu_worker/staged_model.h"

namespace hearth::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from) { return std::chrono::duration<double>(Clock::now() - from).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Figures {
  std::vector<double> seconds;
  std::string Json(const char* name, size_t bytes) const {
    const double med = Median(seconds), best = *std::min_element(seconds.begin(), seconds.end());
    char buf[256];
    std::snprintf(buf, sizeof(buf), "\"%s\": {\"median_s\": %.6f, \"best_s\": %.6f, \"median_gb_s\": %.3f, \"best_gb_s\": %.3f}",
                  name, med, best, static_cast<double>(bytes) / med / 1e9, static_cast<double>(bytes) / best / 1e9);
    return buf;
  }
};

int Run(const std::string& path, int repeats, size_t page_mib) {
  auto t0 = Clock::now();
  auto staged = worker::StagedModel::Stage(path);
  if (!staged.ok()) {
    std::fprintf(stderr, "%s\n", staged.status().ToString().c_str());
    return 1;
  }
  const double stage_s = Seconds(t0);
  const size_t bytes = (*staged)->size();
  const size_t page = page_mib << 20;
  t0 = Clock::now();
  auto pool = worker::PagePool::Create(static_cast<int32_t>((bytes + page - 1) / page), page);
  if (!pool.ok()) {
    std::fprintf(stderr, "%s\n", pool.status().ToString().c_str());
    return 1;
  }
  const double pool_s = Seconds(t0);
  // A fragmented pool: twice the pages, every other one held, so that no two free pages are
  // side by side and a swap-in must map its pages into a new range.
  const int32_t n = (*pool)->num_pages();
  auto scattered = worker::PagePool::Create(2 * n, page);
  if (!scattered.ok()) return 1;
  std::vector<std::unique_ptr<worker::PagedRegion>> holes, held;
  for (int32_t p = 0; p < 2 * n; ++p) {
    auto one = (*scattered)->Map(page);
    if (!one.ok()) return 1;
    (p % 2 == 0 ? holes : held).push_back(std::move(one).value());
  }
  holes.clear();

  // Raw bandwidth: the same bytes into a buffer that is already faulted in.
  void* dst = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (dst == MAP_FAILED) return 1;
  std::memset(dst, 1, bytes);
  Figures raw, map_copy, swap_in, rebase, swap_out, swap_in_remapped;
  for (int r = 0; r < repeats; ++r) {
    t0 = Clock::now();
    std::memcpy(dst, (*staged)->data(), bytes);
    raw.seconds.push_back(Seconds(t0));

    // The copy alone: map the pages, copy the file in.
    t0 = Clock::now();
    {
      auto region = (*pool)->Map(bytes);
      if (!region.ok()) return 1;
      std::memcpy((*region)->data(), (*staged)->data(), bytes);
      map_copy.seconds.push_back(Seconds(t0));
    }
    // The whole swap-in: map, copy, move the staged weight views onto the copy.
    t0 = Clock::now();
    auto warm = worker::LoadedModel::SwapIn(**staged, **pool);
    if (!warm.ok()) {
      std::fprintf(stderr, "%s\n", warm.status().ToString().c_str());
      return 1;
    }
    swap_in.seconds.push_back(Seconds(t0));
    // The views alone, once more onto the same pages.
    t0 = Clock::now();
    auto moved = worker::RebaseLlamaWeights((*staged)->weights(), (*staged)->data(), bytes, (*warm)->region->data());
    rebase.seconds.push_back(Seconds(t0));
    if (!moved.ok()) return 1;
    t0 = Clock::now();
    warm->reset();
    swap_out.seconds.push_back(Seconds(t0));
    // The same into the fragmented pool.
    t0 = Clock::now();
    auto remapped = worker::LoadedModel::SwapIn(**staged, **scattered);
    if (!remapped.ok() || !(*remapped)->region->remapped()) return 1;
    swap_in_remapped.seconds.push_back(Seconds(t0));
  }
  ::munmap(dst, bytes);
  const double ratio_copy = Median(raw.seconds) / Median(map_copy.seconds);
  const double ratio_swap = Median(raw.seconds) / Median(swap_in.seconds);
  const double ratio_remapped = Median(raw.seconds) / Median(swap_in_remapped.seconds);
  std::printf("{\"model\": \"%s\", \"bytes\": %zu, \"page_bytes\": %zu, \"repeats\": %d, \"stage_s\": %.6f, "
              "\"pool_create_s\": %.6f,\n %s,\n %s,\n %s,\n %s,\n %s,\n \"rebase_median_us\": %.1f, "
              "\"map_copy_over_raw\": %.3f, \"swap_in_over_raw\": %.3f, \"swap_in_fragmented_over_raw\": %.3f}\n",
              path.c_str(), bytes, page, repeats, stage_s, pool_s, raw.Json("raw_copy", bytes).c_str(),
              map_copy.Json("map_and_copy", bytes).c_str(), swap_in.Json("swap_in", bytes).c_str(),
              swap_out.Json("swap_out", bytes).c_str(), swap_in_remapped.Json("swap_in_fragmented", bytes).c_str(),
              Median(rebase.seconds) * 1e6, ratio_copy, ratio_swap, ratio_remapped);
  return 0;
}

}  // namespace
}  // namespace hearth::bench

int main(int argc, char** argv) {
  CLI::App app{"hearth-bench-swap: swap-in of a staged model against the raw copy bandwidth"};
  const char* env = std::getenv("HEARTH_MODEL_PATH");
  std::string model = env ? env : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") +
                                      "/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf";
  int repeats = 10;
  size_t page_mib = 2;
  app.add_option("--model", model, "GGUF model file (default $HEARTH_MODEL_PATH or the default model)");
  app.add_option("--repeats", repeats, "swap-ins to time")->check(CLI::PositiveNumber);
  app.add_option("--page-mib", page_mib, "pool page size in MiB")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  return hearth::bench::Run(model, repeats, page_mib);
}
