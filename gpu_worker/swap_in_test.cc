// Staging and swapping in: a model copied from its staged host copy into pool pages computes
// the same logits as the same file mapped from disk; swapping out gives every page back, and
// the pages serve the next model. A corrupt file is refused when it is staged. Rebasing the
// staged weight views onto a copy moves every view into the copy and refuses a view that
// points elsewhere.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "gpu_worker/generator.h"
#include "gpu_worker/loaded_model.h"
#include "gpu_worker/page_pool.h"
#include "gpu_worker/staged_model.h"
#include "tools/random_model.h"

namespace hearth::worker {
namespace {

std::vector<float> PromptLogits(const LoadedModel& m) {
  kernels::ThreadPool threads(2);
  Generator g(m, threads, 64);
  EXPECT_TRUE(g.Init().ok());
  std::vector<float> logits;
  EXPECT_TRUE(g.PromptLogits({1, 7, 42, 99, 3, 250}, &logits).ok());
  return logits;
}

TEST(SwapInTest, SwappedInModelMatchesTheMappedFileAndGivesItsPagesBack) {
  auto path = tools::WriteSmallTestModel("swap_in_a", 21, kernels::GgmlType::kQ8_0);
  auto other = tools::WriteSmallTestModel("swap_in_b", 22, kernels::GgmlType::kQ4_1);
  ASSERT_TRUE(path.ok() && other.ok());
  auto mapped = LoadedModel::Load(*path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  const std::vector<float> want = PromptLogits(**mapped);

  auto staged = StagedModel::Stage(*path);
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  auto staged_other = StagedModel::Stage(*other);
  ASSERT_TRUE(staged_other.ok());
  const size_t page = 16 * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  // Room for the bigger of the two, so never for both.
  const size_t biggest = std::max((*staged)->size(), (*staged_other)->size());
  auto pool = PagePool::Create(static_cast<int32_t>((biggest + page - 1) / page), page);
  ASSERT_TRUE(pool.ok());
  for (int round = 0; round < 2; ++round) {
    auto warm = LoadedModel::SwapIn(**staged, **pool);
    ASSERT_TRUE(warm.ok()) << warm.status().ToString();
    EXPECT_EQ((*pool)->num_free_pages(), (*pool)->num_pages() - (*pool)->PagesFor((*staged)->size()));
    const std::vector<float> got = PromptLogits(**warm);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0) << "round " << round;
    // The pool holds one model: the other cannot come in until this one leaves.
    EXPECT_FALSE(LoadedModel::SwapIn(**staged_other, **pool).ok());
    warm->reset();  // swap out
    EXPECT_EQ((*pool)->num_free_pages(), (*pool)->num_pages());
    auto next = LoadedModel::SwapIn(**staged_other, **pool);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    auto next_mapped = LoadedModel::Load(*other);
    ASSERT_TRUE(next_mapped.ok());
    EXPECT_EQ(PromptLogits(**next), PromptLogits(**next_mapped));
  }
  unlink(path->c_str());
  unlink(other->c_str());
}

// Every pointer in `w` with the bytes it covers (null biases included).
std::vector<std::pair<const void*, size_t>> Pointers(const LlamaWeights& w) {
  const model::LlamaConfig& c = w.config;
  const size_t hidden = c.hidden * sizeof(float);
  const size_t q = size_t{c.num_heads} * c.head_dim * sizeof(float);
  const size_t kv = size_t{c.num_kv_heads} * c.head_dim * sizeof(float);
  auto view = [](const kernels::WeightView& v) {
    return std::pair<const void*, size_t>(v.data, static_cast<size_t>(v.rows) * v.row_bytes);
  };
  std::vector<std::pair<const void*, size_t>> out = {view(w.token_embd), view(w.output), {w.output_norm, hidden}};
  for (const LayerWeights& l : w.layers) {
    out.insert(out.end(), {{l.attn_norm, hidden}, view(l.wq), view(l.wk), view(l.wv), view(l.wo), {l.bq, q},
                           {l.bk, kv}, {l.bv, kv}, {l.ffn_norm, hidden}, view(l.w_gate), view(l.w_up), view(l.w_down)});
  }
  return out;
}

TEST(SwapInTest, RebasingMovesEveryViewIntoTheCopyAndKeepsOwnedVectors) {
  auto path = tools::WriteSmallTestModel("rebase", 23, kernels::GgmlType::kQ8_0);
  ASSERT_TRUE(path.ok());
  auto staged = StagedModel::Stage(*path);
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  const uint8_t* from = (*staged)->data();
  const size_t size = (*staged)->size();
  std::vector<uint8_t> buffer(size + 64);
  uint8_t* to = buffer.data() + (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64);

  // One norm widened into owned memory, as an F16 norm would be.
  auto w = std::make_unique<LlamaWeights>((*staged)->weights());
  const uint32_t hidden = w->config.hidden;
  std::shared_ptr<float[]> norm(new float[hidden]);
  std::copy(w->layers[0].attn_norm, w->layers[0].attn_norm + hidden, norm.get());
  const std::vector<float> norm_values(norm.get(), norm.get() + hidden);
  w->owned.push_back(norm);
  w->layers[0].attn_norm = norm.get();

  auto rebased = RebaseLlamaWeights(*w, from, size, to);
  ASSERT_TRUE(rebased.ok()) << rebased.status().ToString();
  const auto before = Pointers(*w), after = Pointers(**rebased);
  ASSERT_EQ(before.size(), after.size());
  int moved = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    const auto* b = static_cast<const uint8_t*>(before[i].first);
    const auto* a = static_cast<const uint8_t*>(after[i].first);
    if (b == nullptr || b == reinterpret_cast<const uint8_t*>(norm.get())) {
      EXPECT_EQ(a, b) << "pointer " << i;
      continue;
    }
    ASSERT_TRUE(a >= to && a + after[i].second <= to + size) << "pointer " << i << " is outside the copy";
    EXPECT_EQ(a - to, b - from) << "pointer " << i;
    ++moved;
  }
  EXPECT_EQ(moved, 2 + 1 + static_cast<int>(w->layers.size()) * 9 - 1);
  // The owned norm outlives the weights and the staged model it came from.
  w.reset();
  norm.reset();
  staged->reset();
  const float* kept = (*rebased)->layers[0].attn_norm;
  EXPECT_EQ(std::vector<float>(kept, kept + hidden), norm_values);
  unlink(path->c_str());
}

TEST(SwapInTest, RebasingRefusesAViewOutsideTheFileThatIsNotOwned) {
  auto path = tools::WriteSmallTestModel("rebase_bad", 24, kernels::GgmlType::kQ4_1);
  ASSERT_TRUE(path.ok());
  auto staged = StagedModel::Stage(*path);
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  const uint8_t* from = (*staged)->data();
  const size_t size = (*staged)->size();
  std::vector<uint8_t> buffer(size + 128);
  uint8_t* to = buffer.data() + (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64);
  ASSERT_TRUE(RebaseLlamaWeights((*staged)->weights(), from, size, to).ok());

  // A norm in memory the weights do not own.
  LlamaWeights foreign = (*staged)->weights();
  const std::vector<float> elsewhere(foreign.config.hidden, 1.0f);
  foreign.layers[1].ffn_norm = elsewhere.data();
  auto r = RebaseLlamaWeights(foreign, from, size, to);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_NE(r.status().ToString().find("'ffn_norm' of layer 1"), std::string::npos) << r.status().ToString();

  // A matrix that starts inside the file but runs past its end.
  LlamaWeights overrun = (*staged)->weights();
  overrun.layers[0].w_down.data = from + size - overrun.layers[0].w_down.row_bytes;
  EXPECT_FALSE(RebaseLlamaWeights(overrun, from, size, to).ok());
  // A move that would misalign the views.
  EXPECT_FALSE(RebaseLlamaWeights((*staged)->weights(), from, size, to + 4).ok());
  unlink(path->c_str());
}

TEST(SwapInTest, StagingRefusesWhatIsNotAModelFile) {
  EXPECT_FALSE(StagedModel::Stage("/no/such/model.gguf").ok());
  const std::string bad = ::testing::TempDir() + "/not_a_model.gguf";
  { std::ofstream(bad) << "GGUF but not really a model file"; }
  auto staged = StagedModel::Stage(bad);
  ASSERT_FALSE(staged.ok());
  EXPECT_NE(staged.status().ToString().find(bad), std::string::npos) << staged.status().ToString();
  unlink(bad.c_str());
}

}  // namespace
}  // namespace hearth::worker
