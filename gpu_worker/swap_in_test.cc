// Staging and swapping in: a model copied from its staged host copy into pool pages computes
// the same logits as the same file mapped from disk; swapping out gives every page back, and
// the pages serve the next model. A corrupt file is refused when it is staged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

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
  auto path = tools::WriteSmallTestModel("swap_in_a", 21, model::GgmlType::Q8_0);
  auto other = tools::WriteSmallTestModel("swap_in_b", 22, model::GgmlType::Q4_1);
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
