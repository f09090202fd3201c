#include "bench/engine/read_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/check.h"

namespace hearth::bench {
namespace {

// Four independent sums so the loop is bound by loads, not by one add chain; the compiler
// vectorizes it. The result is kept so the reads cannot be dropped.
uint64_t SumWords(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  return a + b + c + d;
}

}  // namespace

double MeasureReadBandwidth(kernels::ThreadPool& pool, size_t bytes, int repeats) {
  const size_t words = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t, decltype(&std::free)> buf(
      static_cast<uint64_t*>(std::aligned_alloc(4096, words * sizeof(uint64_t))), &std::free);
  CHECK(buf != nullptr) << "out of memory for the bandwidth buffer";
  std::memset(buf.get(), 1, words * sizeof(uint64_t));
  const int threads = pool.num_threads();
  const size_t per_task = (words / threads + 7) / 8 * 8;
  double best = 0;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repeats; ++r) {
    std::vector<uint64_t> sums(threads, 0);
    const auto t0 = std::chrono::steady_clock::now();
    pool.Run(threads, [&](int64_t t, int) {
      const size_t begin = std::min(words, static_cast<size_t>(t) * per_task);
      const size_t end = std::min(words, begin + per_task);
      sums[t] = SumWords(buf.get() + begin, end - begin);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (uint64_t v : sums) sink = sink + v;
    best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / s);
  }
  return best;
}

}  // namespace hearth::bench
