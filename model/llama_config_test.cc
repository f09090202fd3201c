#include "model/llama_config.h"

#include <gtest/gtest.h>

#include "model/gguf_test_util.h"
#include "model/gguf_writer.h"
#include "model/hf_config.h"

namespace hearth::model {
namespace {

using kernels::GgmlType;

// A tensor-light GGUF with the metadata LlamaConfigFromGguf reads.
std::vector<uint8_t> ConfigFile(const std::string& arch, uint32_t heads, uint32_t kv_heads,
                                bool with_output, bool with_bias) {
  GgufWriter w;
  w.AddString("general.architecture", arch);
  w.AddUint32(arch + ".vocab_size", 100);
  w.AddUint32(arch + ".embedding_length", 64);
  w.AddUint32(arch + ".block_count", 2);
  w.AddUint32(arch + ".attention.head_count", heads);
  w.AddUint32(arch + ".attention.head_count_kv", kv_heads);
  w.AddUint32(arch + ".feed_forward_length", 128);
  w.AddUint32(arch + ".context_length", 256);
  w.AddFloat32(arch + ".attention.layer_norm_rms_epsilon", 1e-6f);
  w.AddFloat32(arch + ".rope.freq_base", 1e6f);
  if (with_output) w.AddTensor("output.weight", GgmlType::kF32, {64, 100}, std::vector<uint8_t>(64 * 100 * 4));
  if (with_bias) w.AddTensor("blk.0.attn_q.bias", GgmlType::kF32, {64}, std::vector<uint8_t>(256));
  return *w.Serialize();
}

StatusOr<LlamaConfig> FromBytes(const std::vector<uint8_t>& bytes) {
  HEARTH_ASSIGN_OR_RETURN(auto f, GgufFile::Parse(bytes.data(), bytes.size()));
  return LlamaConfigFromGguf(*f);
}

TEST(LlamaConfigTest, SmolLM2FromGguf) {
  const std::string path = testing::FindSmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found; set HEARTH_MODEL_PATH";
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto c = LlamaConfigFromGguf(**f);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, "llama");
  EXPECT_EQ(c->vocab_size, 49152u);
  EXPECT_EQ(c->hidden, 576u);
  EXPECT_EQ(c->num_layers, 30u);
  EXPECT_EQ(c->num_heads, 9u);
  EXPECT_EQ(c->num_kv_heads, 3u);
  EXPECT_EQ(c->head_dim, 64u);
  EXPECT_EQ(c->ffn_hidden, 1536u);
  EXPECT_EQ(c->context_length, 8192u);
  EXPECT_FLOAT_EQ(c->rope_theta, 100000.0f);
  EXPECT_FLOAT_EQ(c->rms_norm_eps, 1e-5f);
  EXPECT_TRUE(c->tied_embeddings);
  EXPECT_FALSE(c->qkv_bias);
  EXPECT_FALSE(c->has_rope_freqs_tensor);
  EXPECT_EQ(c->rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kNone);
}

TEST(LlamaConfigTest, Qwen2FromGgufUsesNeoxAndBias) {
  auto c = FromBytes(ConfigFile("qwen2", 4, 2, true, true));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rope_style, RopeStyle::kNeox);
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_EQ(c->head_dim, 16u);
  EXPECT_FLOAT_EQ(c->rope_theta, 1e6f);
}

TEST(LlamaConfigTest, RejectsBadGgufConfigs) {
  auto phi = FromBytes(ConfigFile("phi3", 4, 2, false, false));
  ASSERT_FALSE(phi.ok());
  EXPECT_EQ(phi.status().code(), Status::Code::kUnimplemented);
  EXPECT_NE(phi.status().message().find("phi3"), std::string::npos);
  auto kv = FromBytes(ConfigFile("llama", 4, 3, false, false));
  ASSERT_FALSE(kv.ok());
  EXPECT_NE(kv.status().message().find("num_kv_heads"), std::string::npos) << kv.status().ToString();
  EXPECT_FALSE(FromBytes(ConfigFile("llama", 0, 0, false, false)).ok());
  EXPECT_FALSE(FromBytes(ConfigFile("llama", 5, 5, false, false)).ok());  // 64 % 5 != 0
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  auto bytes = *w.Serialize();
  auto missing = FromBytes(bytes);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("llama."), std::string::npos) << missing.status().ToString();
}

constexpr const char* kLlama3Json = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256,
  "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
  "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
  "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": true,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";

TEST(HfConfigTest, ParsesLlama3WithRopeScaling) {
  auto c = LlamaConfigFromHfJson(kLlama3Json);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, "llama");
  EXPECT_EQ(c->head_dim, 64u);
  EXPECT_EQ(c->num_kv_heads, 8u);
  EXPECT_TRUE(c->tied_embeddings);
  EXPECT_EQ(c->rope_style, RopeStyle::kNeox);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(c->rope_scaling.factor, 32.0f);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192u);
}

TEST(HfConfigTest, MistralAndQwen2) {
  auto m = LlamaConfigFromHfJson(R"({"model_type":"mistral","vocab_size":32000,"hidden_size":4096,
    "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,
    "max_position_embeddings":32768,"head_dim":null,"sliding_window":null})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->arch, "llama");
  EXPECT_EQ(m->head_dim, 128u);
  auto q = LlamaConfigFromHfJson(R"({"model_type":"qwen2","vocab_size":151936,"hidden_size":896,
    "intermediate_size":4864,"num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,
    "max_position_embeddings":32768,"rope_theta":1000000.0,"tie_word_embeddings":true})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->arch, "qwen2");
  EXPECT_TRUE(q->qkv_bias);
}

TEST(HfConfigTest, RejectsBadJson) {
  auto gpt2 = LlamaConfigFromHfJson(R"({"model_type":"gpt2"})");
  ASSERT_FALSE(gpt2.ok());
  EXPECT_NE(gpt2.status().message().find("gpt2"), std::string::npos);
  EXPECT_FALSE(LlamaConfigFromHfJson("{not json").ok());
  EXPECT_FALSE(LlamaConfigFromHfJson("[]").ok());
  EXPECT_FALSE(LlamaConfigFromHfJson(std::string(100000, '[')).ok());  // deep nesting, no crash
  auto neg = LlamaConfigFromHfJson(R"({"model_type":"llama","vocab_size":-5})");
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("vocab_size"), std::string::npos);
  auto missing = LlamaConfigFromHfJson(R"({"model_type":"llama","vocab_size":5})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("hidden_size"), std::string::npos);
  auto str = LlamaConfigFromHfJson(R"({"model_type":"llama","vocab_size":"5"})");
  EXPECT_FALSE(str.ok());
  auto huge = LlamaConfigFromHfJson(R"({"model_type":"llama","vocab_size":32000,"hidden_size":4096,
    "intermediate_size":14336,"num_hidden_layers":100000,"num_attention_heads":32,
    "max_position_embeddings":4096})");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("num_layers"), std::string::npos);
}

TEST(HfConfigTest, ToJsonRoundTrips) {
  auto c = LlamaConfigFromHfJson(kLlama3Json);
  ASSERT_TRUE(c.ok());
  HfConfigExtras extras;
  extras.torch_dtype = "bfloat16";
  extras.bos_token_id = 1;
  const std::string json = LlamaConfigToHfJson(*c, extras);
  EXPECT_NE(json.find("\"rms_norm_eps\":0.00001"), std::string::npos) << json;
  EXPECT_NE(json.find("\"bos_token_id\":1"), std::string::npos) << json;
  auto back = LlamaConfigFromHfJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->hidden, c->hidden);
  EXPECT_EQ(back->num_kv_heads, c->num_kv_heads);
  EXPECT_EQ(back->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(back->rope_scaling.factor, 32.0f);
  EXPECT_EQ(back->tied_embeddings, c->tied_embeddings);
}

}  // namespace
}  // namespace hearth::model
