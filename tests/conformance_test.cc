// Conformance against llama.cpp on SmolLM2-135M-Instruct Q4_1: the same
// tokens, the same top-1 token at every prompt position, and the same greedy
// continuations. The fixtures come from tests/conformance/make_fixtures.py.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "gpu_worker/generator.h"
#include "kernels/cpu/elementwise.h"
#include "tests/model_path.h"

namespace hearth::testing {
namespace {

struct Case {
  std::string prompt;
  std::vector<int32_t> tokens;
  std::vector<std::vector<std::pair<int32_t, double>>> top;  // per position: (token, logprob)
  std::vector<int32_t> greedy;
};

std::vector<Case> LoadCases() {
  std::ifstream in(SourcePath("tests/conformance/smollm2_q4_1.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document d;
  d.Parse(ss.str().c_str());
  std::vector<Case> cases;
  if (d.HasParseError()) return cases;
  for (const auto& c : d["cases"].GetArray()) {
    Case k;
    k.prompt = c["prompt"].GetString();
    for (const auto& t : c["tokens"].GetArray()) k.tokens.push_back(t.GetInt());
    for (const auto& p : c["positions"].GetArray()) {
      std::vector<std::pair<int32_t, double>> row;
      for (const auto& t : p["top"].GetArray()) row.push_back({t[0].GetInt(), t[1].GetDouble()});
      k.top.push_back(row);
    }
    for (const auto& t : c["greedy"].GetArray()) k.greedy.push_back(t.GetInt());
    cases.push_back(std::move(k));
  }
  return cases;
}

double LogProb(const float* logits, int64_t vocab, int32_t token) {
  double mx = logits[0];
  for (int64_t i = 1; i < vocab; ++i) mx = std::max<double>(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[i] - mx);
  return logits[token] - mx - std::log(sum);
}

class ConformanceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!DefaultModelPresent()) return;
    auto m = worker::LoadedModel::Load(DefaultModelPath());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(m).value().release();
    pool_ = new kernels::ThreadPool(0);
    cases_ = new std::vector<Case>(LoadCases());
  }
  static void TearDownTestSuite() {
    delete cases_;
    delete pool_;
    delete model_;
  }
  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << "default model not found at " << DefaultModelPath();
    ASSERT_EQ(cases_->size(), 20u) << "fixtures missing or unreadable";
  }

  static worker::LoadedModel* model_;
  static kernels::ThreadPool* pool_;
  static std::vector<Case>* cases_;
};

worker::LoadedModel* ConformanceTest::model_ = nullptr;
kernels::ThreadPool* ConformanceTest::pool_ = nullptr;
std::vector<Case>* ConformanceTest::cases_ = nullptr;

TEST_F(ConformanceTest, SameTokensAsLlamaCpp) {
  for (const Case& c : *cases_) {
    EXPECT_EQ(model_->tokenizer->Encode(c.prompt, true, true), c.tokens) << c.prompt;
  }
}

TEST_F(ConformanceTest, SameTop1AtEveryPromptPosition) {
  const int64_t vocab = model_->weights->config.vocab_size;
  double max_diff = 0;
  int positions = 0, mismatches = 0;
  for (const Case& c : *cases_) {
    worker::Generator gen(*model_, *pool_, 1024);
    ASSERT_TRUE(gen.Init().ok());
    std::vector<float> logits;
    ASSERT_TRUE(gen.PromptLogits(c.tokens, &logits).ok());
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      const float* row = logits.data() + i * vocab;
      const int32_t want = c.top[i][0].first;
      const int32_t got = static_cast<int32_t>(kernels::Argmax(row, vocab));
      ++positions;
      if (got != want) {
        ++mismatches;
        ADD_FAILURE() << "prompt '" << c.prompt << "' position " << i << ": top-1 " << got << ", llama.cpp "
                      << want << " (llama.cpp logprobs " << c.top[i][0].second << " vs " << c.top[i][1].second << ")";
      }
      for (const auto& [tok, lp] : c.top[i]) max_diff = std::max(max_diff, std::fabs(LogProb(row, vocab, tok) - lp));
    }
  }
  std::printf("conformance: %d prompt positions, %d top-1 mismatches, largest |logprob diff| on llama.cpp's top-5: %.4f\n",
              positions, mismatches, max_diff);
}

TEST_F(ConformanceTest, GreedyContinuationsMatchLlamaCpp) {
  const int64_t vocab = model_->weights->config.vocab_size;
  int identical = 0;
  std::string report;
  for (const Case& c : *cases_) {
    worker::Generator gen(*model_, *pool_, 1024);
    ASSERT_TRUE(gen.Init().ok());
    std::vector<float> logits(vocab);
    std::vector<int32_t> block_table(gen.cache().num_blocks());
    for (size_t i = 0; i < block_table.size(); ++i) block_table[i] = static_cast<int32_t>(i);
    worker::Batch prefill;
    prefill.seqs.push_back({0, c.tokens, block_table, true});
    ASSERT_TRUE(gen.runner().Forward(prefill, logits.data()).ok());
    std::vector<int32_t> out;
    int64_t pos = static_cast<int64_t>(c.tokens.size());
    for (size_t i = 0; i < c.greedy.size(); ++i) {
      out.push_back(static_cast<int32_t>(kernels::Argmax(logits.data(), vocab)));
      worker::Batch step;
      step.seqs.push_back({pos++, std::span<const int32_t>(&out.back(), 1), block_table, true});
      ASSERT_TRUE(gen.runner().Forward(step, logits.data()).ok());
    }
    size_t first_diff = 0;
    while (first_diff < out.size() && out[first_diff] == c.greedy[first_diff]) ++first_diff;
    if (first_diff == out.size()) {
      ++identical;
    } else {
      report += "  differs at token " + std::to_string(first_diff) + ": '" + c.prompt.substr(0, 40) + "'\n";
    }
  }
  std::printf("conformance: %d of %zu greedy 64-token continuations identical to llama.cpp\n%s", identical,
              cases_->size(), report.c_str());
  EXPECT_GE(identical, 18) << report;
}

}  // namespace
}  // namespace hearth::testing
