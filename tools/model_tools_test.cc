#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "kernels/cpu/quant.h"
#include "model/gguf.h"
#include "model/gguf_test_util.h"
#include "model/hf_config.h"
#include "model/llama_config.h"
#include "model/safetensors.h"
#include "tools/hf_export.h"
#include "tools/random_model.h"

namespace hearth::tools {
namespace {

using kernels::GgmlType;

class ModelToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("hearth_tools_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// llama.cpp's converter permutation, written the forward way: HF row h*d + j*d/2 + i
// goes to GGUF row h*d + 2*i + j.
std::vector<float> PermuteLikeConverter(const std::vector<float>& hf, uint64_t heads, uint64_t d, uint64_t row) {
  std::vector<float> out(hf.size());
  for (uint64_t h = 0; h < heads; ++h)
    for (uint64_t j = 0; j < 2; ++j)
      for (uint64_t i = 0; i < d / 2; ++i)
        for (uint64_t c = 0; c < row; ++c)
          out[(h * d + 2 * i + j) * row + c] = hf[(h * d + j * d / 2 + i) * row + c];
  return out;
}

TEST(HfExportTest, UnpermuteInvertsTheConverterPermutation) {
  const uint64_t heads = 3, d = 8, row = 5;
  std::vector<float> hf(heads * d * row);
  for (size_t i = 0; i < hf.size(); ++i) hf[i] = static_cast<float>(i);
  const auto gguf = PermuteLikeConverter(hf, heads, d, row);
  EXPECT_NE(gguf, hf);
  EXPECT_EQ(UnpermuteRopeRows(gguf, heads, d, row), hf);
  // Row 1 of GGUF head 0 is HF row d/2 (the partner of row 0 in rotate-half).
  EXPECT_EQ(gguf[1 * row], hf[(d / 2) * row]);
}

TEST(HfExportTest, TensorNames) {
  EXPECT_EQ(HfTensorName("blk.12.attn_q.weight"), "model.layers.12.self_attn.q_proj.weight");
  EXPECT_EQ(HfTensorName("blk.0.attn_k.bias"), "model.layers.0.self_attn.k_proj.bias");
  EXPECT_EQ(HfTensorName("blk.1.ffn_down.weight"), "model.layers.1.mlp.down_proj.weight");
  EXPECT_EQ(HfTensorName("blk.1.ffn_norm.weight"), "model.layers.1.post_attention_layernorm.weight");
  EXPECT_EQ(HfTensorName("output.weight"), "lm_head.weight");
  EXPECT_EQ(HfTensorName("rope_freqs.weight"), "");
}

TEST_F(ModelToolsTest, RandomGgufLoadsAndExportsToHf) {
  RandomModelOptions o;
  o.layers = 2;
  o.hidden = 64;
  o.heads = 4;
  o.kv_heads = 2;
  o.ffn = 96;
  o.type = GgmlType::kQ8_0;
  o.out = (dir_ / "m.gguf").string();
  ASSERT_TRUE(WriteRandomModel(o).ok());
  auto f = model::GgufFile::Open(o.out);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto c = model::LlamaConfigFromGguf(**f);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->vocab_size, 259u);
  EXPECT_EQ(c->num_kv_heads, 2u);
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_EQ((*f)->GetStringArray("tokenizer.ggml.tokens")->at(3 + 0x41), "<0x41>");
  EXPECT_EQ((*f)->FindTensor("blk.1.attn_k.weight")->type, GgmlType::kQ8_0);
  EXPECT_EQ((*f)->FindTensor("blk.1.attn_norm.weight")->type, GgmlType::kF32);

  ExportOptions e;
  e.gguf_path = o.out;
  e.out_dir = (dir_ / "hf").string();
  e.dtype = model::SafetensorsDtype::kF32;
  ASSERT_TRUE(ExportGgufToHf(e).ok());
  auto hf = model::SafetensorsModel::Open(e.out_dir);
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  auto hc = model::LlamaConfigFromHfDir(e.out_dir);
  ASSERT_TRUE(hc.ok()) << hc.status().ToString();
  EXPECT_EQ(hc->hidden, 64u);
  EXPECT_EQ(hc->num_kv_heads, 2u);
  EXPECT_FALSE(hc->tied_embeddings);
  // k_proj is the GGUF tensor un-permuted; v_proj is copied as is.
  const model::GgufTensorInfo* gk = (*f)->FindTensor("blk.1.attn_k.weight");
  auto gk_vals = *kernels::DequantizeTensor(gk->type, gk->data, gk->num_bytes, gk->num_elements);
  const model::SafetensorsTensorInfo* hk = (*hf)->FindTensor("model.layers.1.self_attn.k_proj.weight");
  ASSERT_NE(hk, nullptr);
  EXPECT_EQ(hk->shape, (std::vector<uint64_t>{32, 64}));
  auto hk_vals = *kernels::DequantizeTensor(GgmlType::kF32, hk->data, hk->num_bytes, hk->num_elements);
  EXPECT_EQ(PermuteLikeConverter(hk_vals, 2, 16, 64), gk_vals);
  EXPECT_NE(hk_vals, gk_vals);
  const model::GgufTensorInfo* gv = (*f)->FindTensor("blk.0.attn_v.weight");
  const model::SafetensorsTensorInfo* hv = (*hf)->FindTensor("model.layers.0.self_attn.v_proj.weight");
  EXPECT_EQ(*kernels::DequantizeTensor(gv->type, gv->data, gv->num_bytes, gv->num_elements),
            *kernels::DequantizeTensor(GgmlType::kF32, hv->data, hv->num_bytes, hv->num_elements));
  EXPECT_NE((*hf)->FindTensor("lm_head.weight"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "hf" / "generation_config.json"));
}

TEST_F(ModelToolsTest, RandomSafetensorsDirectory) {
  RandomModelOptions o;
  o.format = "safetensors";
  o.type = GgmlType::kBF16;
  o.tied = true;
  o.hidden = 48;
  o.heads = 3;
  o.kv_heads = 1;
  o.ffn = 80;
  o.vocab = 300;
  o.out = (dir_ / "st").string();
  ASSERT_TRUE(WriteRandomModel(o).ok());
  auto m = model::SafetensorsModel::Open(o.out);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->FindTensor("model.embed_tokens.weight")->shape, (std::vector<uint64_t>{300, 48}));
  EXPECT_EQ((*m)->FindTensor("model.layers.1.mlp.down_proj.weight")->shape, (std::vector<uint64_t>{48, 80}));
  EXPECT_EQ((*m)->FindTensor("lm_head.weight"), nullptr);
  auto c = model::LlamaConfigFromHfDir(o.out);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tied_embeddings);
  EXPECT_EQ(c->head_dim, 16u);
}

TEST_F(ModelToolsTest, RejectsBadShapes) {
  RandomModelOptions o;
  o.out = (dir_ / "x.gguf").string();
  o.type = GgmlType::kQ4_0;
  o.hidden = 48;  // not a multiple of 32
  o.heads = 4;
  EXPECT_FALSE(WriteRandomModel(o).ok());
  o.type = GgmlType::kF32;
  o.kv_heads = 3;
  EXPECT_FALSE(WriteRandomModel(o).ok());
  o.kv_heads = 2;
  o.vocab = 100;  // smaller than the byte vocab
  EXPECT_FALSE(WriteRandomModel(o).ok());
}

TEST_F(ModelToolsTest, TokenizerFromSmolLM2AndExport) {
  const std::string path = model::testing::FindSmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found; set HEARTH_MODEL_PATH";
  RandomModelOptions o;
  o.layers = 1;
  o.hidden = 64;
  o.heads = 2;
  o.kv_heads = 1;
  o.ffn = 64;
  o.type = GgmlType::kQ4_1;
  o.tokenizer_from = path;
  o.out = (dir_ / "tok.gguf").string();
  o.vocab = 1000;
  EXPECT_FALSE(WriteRandomModel(o).ok());  // vocab must match the tokenizer
  o.vocab = 0;
  ASSERT_TRUE(WriteRandomModel(o).ok());
  auto f = model::GgufFile::Open(o.out);
  ASSERT_TRUE(f.ok());
  auto src = model::GgufFile::Open(path);
  EXPECT_EQ(*(*f)->GetStringArray("tokenizer.ggml.merges"), *(*src)->GetStringArray("tokenizer.ggml.merges"));
  EXPECT_EQ(model::LlamaConfigFromGguf(**f)->vocab_size, 49152u);
}

}  // namespace
}  // namespace hearth::tools
