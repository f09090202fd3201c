// CPU kernel micro-benchmarks at SmolLM2-135M shapes: matmul GFLOP/s and
// weight GB/s for Q4_1/Q8_0/F16 at batch 1 (decode) and 512 (prefill), and
// paged attention over a 512-token prompt, on 1 and 2 threads.
// HEARTH_CPU_ISA=scalar|avx2|avx512 picks the kernel level.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/quant.h"

namespace hearth::kernels {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> Weights(GgmlType type, int64_t m, int64_t k) {
  const size_t rb = RowBytes(type, k).value();
  std::vector<uint8_t> w(rb * m);
  std::vector<float> row = Random(k, 1);
  for (int64_t j = 0; j < m; ++j) {
    row[j % k] += 0.5f;  // rows differ a little; values do not matter for speed
    CHECK(QuantizeWeightRow(type, row.data(), w.data() + j * rb, k).ok());
  }
  return w;
}

void BM_MatMul(benchmark::State& state, GgmlType type, int64_t m, int64_t k, int64_t n, int threads) {
  const std::vector<uint8_t> w = Weights(type, m, k);
  const WeightView view{type, m, k, w.data(), RowBytes(type, k).value()};
  const std::vector<float> x = Random(n * k, 2);
  std::vector<float> y(n * m);
  ThreadPool pool(threads);
  for (auto _ : state) {
    CHECK(MatMul(view, x.data(), n, y.data(), pool).ok());
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * m * k * iters * 1e-9, benchmark::Counter::kIsRate);
  state.counters["wGB/s"] = benchmark::Counter(static_cast<double>(w.size()) * iters * 1e-9,
                                               benchmark::Counter::kIsRate);
}

// SmolLM2-135M: 9 heads, 3 KV heads, head_dim 64, F16 cache of 16-token blocks.
void BM_Attention(benchmark::State& state, int32_t len, bool decode, int threads) {
  const int32_t heads = 9, kv_heads = 3, hd = 64, bs = 16;
  const int32_t blocks = (len + bs - 1) / bs;
  KvCacheLayer cache{KvDtype::kF16, bs, kv_heads, hd, blocks, nullptr, nullptr};
  std::vector<uint8_t> kpool(KvPoolBytes(cache)), vpool(KvPoolBytes(cache));
  cache.k = kpool.data();
  cache.v = vpool.data();
  std::vector<int32_t> table(blocks);
  for (int32_t b = 0; b < blocks; ++b) table[b] = blocks - 1 - b;
  const std::vector<float> q = Random(static_cast<size_t>(len) * heads * hd, 3);
  const std::vector<float> k = Random(static_cast<size_t>(len) * kv_heads * hd, 4);
  const std::vector<float> v = Random(static_cast<size_t>(len) * kv_heads * hd, 5);
  std::vector<float> out(static_cast<size_t>(len) * heads * hd);
  AttnSeq whole{0, len, 0, table.data(), blocks};
  CHECK(WriteKv(cache, &whole, 1, k.data(), v.data()).ok());
  AttnSeq seq = decode ? AttnSeq{len - 1, 1, 0, table.data(), blocks} : whole;
  ThreadPool pool(threads);
  for (auto _ : state) {
    if (!decode) CHECK(WriteKv(cache, &seq, 1, k.data(), v.data()).ok());
    CHECK(Attention(cache, &seq, 1, q.data(), heads, out.data(), pool).ok());
    benchmark::DoNotOptimize(out.data());
  }
}

void RegisterAll() {
  struct Shape {
    int64_t m, k;
    const char* name;
  };
  const Shape shapes[] = {{576, 576, "q/o"},   {1536, 576, "gate/up"}, {192, 576, "k/v"},
                          {49152, 576, "lm_head"}, {576, 1536, "down"}};
  for (GgmlType type : {GgmlType::kQ4_1, GgmlType::kQ8_0, GgmlType::kF16}) {
    for (int64_t n : {1, 512}) {
      for (const Shape& s : shapes) {
        if (n == 512 && s.m == 49152) continue;  // prefill computes logits for the last token only
        for (int threads : {1, 2}) {
          const std::string name = std::string("MatMul/") + GgmlTypeName(type) + "/" + s.name + "/m" +
                                   std::to_string(s.m) + "_k" + std::to_string(s.k) + "_n" + std::to_string(n) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), BM_MatMul, type, s.m, s.k, n, threads)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
  }
  for (bool decode : {false, true}) {
    for (int threads : {1, 2}) {
      const std::string name = std::string("Attention/") + (decode ? "decode_at_511" : "prefill_512") +
                               "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), BM_Attention, 512, decode, threads)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace hearth::kernels

int main(int argc, char** argv) {
  hearth::kernels::RegisterAll();
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("hearth_cpu_isa", hearth::kernels::IsaName(hearth::kernels::ActiveIsa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
