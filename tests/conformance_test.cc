// Conformance against llama.cpp on SmolLM2-135M-Instruct Q4_1 and on its F16
// export: the same tokens, the same top-1 token at every prompt position, and
// the same greedy continuations. The fixtures come from
// tests/conformance/make_fixtures.py.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "gpu_worker/generator.h"
#include "kernels/cpu/elementwise.h"
#include "tests/model_path.h"
#include "tools/gguf_convert.h"

namespace hearth::testing {
namespace {

struct Case {
  std::string prompt;
  std::vector<int32_t> tokens;
  std::vector<std::vector<std::pair<int32_t, double>>> top;  // per position: (token, logprob)
  std::vector<int32_t> greedy;
  std::vector<int32_t> forced_top1;  // llama.cpp's top-1 over prompt + greedy as one batch (may be empty)
  // llama.cpp's greedy continuation when each step evaluates prompt + continuation as one
  // batch, so that it never takes its one-token path (may be empty).
  std::vector<int32_t> greedy_batched;
};

std::vector<Case> LoadCases(const std::string& fixture) {
  std::ifstream in(SourcePath("tests/conformance/" + fixture));
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
    if (c.HasMember("forced_top1")) {
      for (const auto& t : c["forced_top1"].GetArray()) k.forced_top1.push_back(t.GetInt());
    }
    if (c.HasMember("greedy_batched")) {
      for (const auto& t : c["greedy_batched"].GetArray()) k.greedy_batched.push_back(t.GetInt());
    }
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

// Greedy continuation of `prompt` for `n` tokens, with no stopping.
std::vector<int32_t> Greedy(const worker::LoadedModel& model, kernels::ThreadPool& pool,
                            const std::vector<int32_t>& prompt, size_t n) {
  const int64_t vocab = model.weights->config.vocab_size;
  worker::Generator gen(model, pool, 1024);
  EXPECT_TRUE(gen.Init().ok());
  std::vector<float> logits(vocab);
  std::vector<int32_t> block_table(gen.cache().num_blocks());
  for (size_t i = 0; i < block_table.size(); ++i) block_table[i] = static_cast<int32_t>(i);
  worker::Batch prefill;
  prefill.seqs.push_back({0, prompt, block_table, true});
  EXPECT_TRUE(gen.runner().Forward(prefill, logits.data()).ok());
  std::vector<int32_t> out;
  int64_t pos = static_cast<int64_t>(prompt.size());
  for (size_t i = 0; i < n; ++i) {
    out.push_back(static_cast<int32_t>(kernels::Argmax(logits.data(), vocab)));
    worker::Batch step;
    step.seqs.push_back({pos++, std::span<const int32_t>(&out.back(), 1), block_table, true});
    EXPECT_TRUE(gen.runner().Forward(step, logits.data()).ok());
  }
  return out;
}

size_t FirstDifference(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

// The F16 export of the default model, made once per run.
std::string F16ModelPath() {
  static std::string path = [] {
    tools::ConvertOptions o;
    o.in_path = DefaultModelPath();
    // Per process: another run may be rewriting its own copy while we map ours.
    o.out_path = "/tmp/hearth-conformance-smollm2-f16-" + std::to_string(::getpid()) + ".gguf";
    o.type = kernels::GgmlType::kF16;
    Status st = tools::ConvertGguf(o);
    return st.ok() ? o.out_path : std::string();
  }();
  return path;
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (!DefaultModelPresent()) return;
    auto m = worker::LoadedModel::Load(DefaultModelPath());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(m).value().release();
    auto f16 = worker::LoadedModel::Load(F16ModelPath());
    ASSERT_TRUE(f16.ok()) << f16.status().ToString();
    f16_model_ = std::move(f16).value().release();
    pool_ = new kernels::ThreadPool(0);
    cases_ = new std::vector<Case>(LoadCases("smollm2_q4_1.json"));
    f16_cases_ = new std::vector<Case>(LoadCases("smollm2_f16.json"));
  }
  static void TearDownTestSuite() {
    delete cases_;
    delete f16_cases_;
    delete pool_;
    delete model_;
    delete f16_model_;
    std::remove(F16ModelPath().c_str());
  }
  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << "default model not found at " << DefaultModelPath();
    ASSERT_EQ(cases_->size(), 20u) << "fixtures missing or unreadable";
    ASSERT_EQ(f16_cases_->size(), 20u) << "fixtures missing or unreadable";
  }
  // The model and fixtures this instance checks: "q4_1" or "f16".
  const worker::LoadedModel& model() const { return GetParam() == "f16" ? *f16_model_ : *model_; }
  const std::vector<Case>& cases() const { return GetParam() == "f16" ? *f16_cases_ : *cases_; }

  static worker::LoadedModel* model_;
  static worker::LoadedModel* f16_model_;
  static kernels::ThreadPool* pool_;
  static std::vector<Case>* cases_;
  static std::vector<Case>* f16_cases_;
};

worker::LoadedModel* ConformanceTest::model_ = nullptr;
worker::LoadedModel* ConformanceTest::f16_model_ = nullptr;
kernels::ThreadPool* ConformanceTest::pool_ = nullptr;
std::vector<Case>* ConformanceTest::cases_ = nullptr;
std::vector<Case>* ConformanceTest::f16_cases_ = nullptr;

TEST_P(ConformanceTest, SameTokensAsLlamaCpp) {
  for (const Case& c : cases()) {
    EXPECT_EQ(model().tokenizer->Encode(c.prompt, true, true), c.tokens) << c.prompt;
  }
}

TEST_P(ConformanceTest, SameTop1AtEveryPromptPosition) {
  const int64_t vocab = model().weights->config.vocab_size;
  double max_diff = 0;
  int positions = 0, mismatches = 0;
  for (const Case& c : cases()) {
    worker::Generator gen(model(), *pool_, 1024);
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
  std::printf("conformance %s: %d prompt positions, %d top-1 mismatches, largest |logprob diff| on llama.cpp's top-5: %.4f\n",
              GetParam().c_str(), positions, mismatches, max_diff);
}

TEST_P(ConformanceTest, GreedyContinuationsMatchLlamaCpp) {
  int identical = 0;
  std::string report;
  for (const Case& c : cases()) {
    std::vector<int32_t> out = Greedy(model(), *pool_, c.tokens, c.greedy.size());
    size_t first_diff = FirstDifference(out, c.greedy);
    if (first_diff == out.size()) {
      ++identical;
    } else {
      report += "  differs at token " + std::to_string(first_diff) + ": '" + c.prompt.substr(0, 40) + "'\n";
    }
  }
  std::printf("conformance %s: %d of %zu greedy 64-token continuations identical to llama.cpp\n%s",
              GetParam().c_str(), identical, cases().size(), report.c_str());
  // llama.cpp sums attention scores in a different order for a one-token
  // batch (a decode step) than for a longer one (a prefill), so its own
  // free-running text is not what its batched evaluation of the same tokens
  // predicts. Hearth computes a position the same way however it is batched
  // (DESIGN.md, Determinism), in llama.cpp's prefill order; on Q4_1 that
  // gives 9 of 20 identical continuations, and TeacherForcedTop1 below checks
  // every generated position exactly. On F16 the orders barely matter.
  EXPECT_GE(identical, GetParam() == "f16" ? 18 : 9);
}

// llama.cpp's greedy text when every one of its steps is a batched evaluation
// of the whole sequence: the way Hearth computes every position, however it
// is batched. The bar (18 of 20) applies here.
TEST_P(ConformanceTest, GreedyContinuationsMatchLlamaCppBatched) {
  int identical = 0, compared = 0;
  std::string report;
  for (const Case& c : cases()) {
    if (c.greedy_batched.empty()) continue;
    ++compared;
    std::vector<int32_t> out = Greedy(model(), *pool_, c.tokens, c.greedy_batched.size());
    size_t first_diff = FirstDifference(out, c.greedy_batched);
    if (first_diff == out.size()) {
      ++identical;
    } else {
      report += "  differs at token " + std::to_string(first_diff) + ": '" + c.prompt.substr(0, 40) + "'\n";
    }
  }
  if (compared == 0) GTEST_SKIP() << "fixture has no batched greedy continuations";
  std::printf("conformance %s: %d of %d greedy 64-token continuations identical to llama.cpp's batched greedy\n%s",
              GetParam().c_str(), identical, compared, report.c_str());
  EXPECT_GE(identical, 18);
}

// Every position of prompt + llama.cpp's greedy continuation, evaluated by
// both engines in the same way (llama.cpp in one batch): the same top-1.
TEST_P(ConformanceTest, TeacherForcedTop1MatchesLlamaCppBatch) {
  const int64_t vocab = model().weights->config.vocab_size;
  int checked = 0, mismatches = 0;
  for (const Case& c : cases()) {
    if (c.forced_top1.empty()) continue;
    std::vector<int32_t> all = c.tokens;
    all.insert(all.end(), c.greedy.begin(), c.greedy.end());
    ASSERT_EQ(all.size(), c.forced_top1.size());
    worker::Generator gen(model(), *pool_, 1024);
    ASSERT_TRUE(gen.Init().ok());
    std::vector<float> logits;
    ASSERT_TRUE(gen.PromptLogits(all, &logits).ok());
    for (size_t i = 0; i < all.size(); ++i) {
      ++checked;
      const int32_t got = static_cast<int32_t>(kernels::Argmax(logits.data() + i * vocab, vocab));
      if (got != c.forced_top1[i]) {
        ++mismatches;
        ADD_FAILURE() << "'" << c.prompt.substr(0, 30) << "' position " << i << ": " << got << " vs llama.cpp "
                      << c.forced_top1[i];
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "fixture has no teacher-forced positions";
  std::printf("conformance %s: %d teacher-forced positions, %d top-1 mismatches\n", GetParam().c_str(), checked,
              mismatches);
}

INSTANTIATE_TEST_SUITE_P(SmolLM2, ConformanceTest, ::testing::Values("q4_1", "f16"));

// How far Q4_1 quantization moves greedy text from the F16 export's, in
// Hearth; llama.cpp's own drift is in the fixtures. Reported, not asserted
// beyond sanity: quantization changes text.
TEST(QuantizationDriftTest, ReportsF16VersusQ4_1) {
  if (!DefaultModelPresent()) GTEST_SKIP() << "default model not present";
  auto q4 = worker::LoadedModel::Load(DefaultModelPath());
  auto f16 = worker::LoadedModel::Load(F16ModelPath());
  ASSERT_TRUE(q4.ok() && f16.ok());
  kernels::ThreadPool pool(0);
  std::string firsts;
  size_t total = 0;
  std::vector<Case> cases = LoadCases("smollm2_q4_1.json");
  for (const Case& c : cases) {
    size_t d = FirstDifference(Greedy(**q4, pool, c.tokens, 64), Greedy(**f16, pool, c.tokens, 64));
    firsts += " " + std::to_string(d);
    total += d;
  }
  std::printf("drift: first differing greedy token, Q4_1 vs F16 export, per prompt:%s (mean %.1f of 64)\n",
              firsts.c_str(), cases.empty() ? 0.0 : double(total) / cases.size());
  EXPECT_GT(total, 0u) << "the F16 export disagrees with Q4_1 from the first token of every prompt: it is broken";
}

}  // namespace
}  // namespace hearth::testing
