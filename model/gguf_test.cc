#include "model/gguf.h"

#include <gtest/gtest.h>

#include <cstring>

#include "model/gguf_test_util.h"
#include "model/gguf_writer.h"

namespace hearth::model {
namespace {

using kernels::GgmlType;

// A small valid file with metadata of several types and two tensors.
std::vector<uint8_t> SmallFile() {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddUint32("llama.block_count", 2);
  w.AddFloat32("llama.rope.freq_base", 10000.0f);
  w.AddStringArray("tokenizer.ggml.tokens", {"a", "b", "c"});
  w.AddTensor("a", GgmlType::kF32, {4, 2}, std::vector<uint8_t>(32, 1));
  w.AddTensor("b", GgmlType::kQ8_0, {32}, std::vector<uint8_t>(34, 2));
  auto bytes = w.Serialize();
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return *bytes;
}

// Builds a file by hand so tests can put anything in any field.
std::vector<uint8_t> RawFile(uint64_t num_tensors, uint64_t num_kvs, const std::vector<uint8_t>& kvs,
                             const std::vector<uint8_t>& infos, size_t data_bytes,
                             uint32_t version = 3) {
  std::vector<uint8_t> out;
  AppendU32(&out, 0x46554747);
  AppendU32(&out, version);
  AppendU64(&out, num_tensors);
  AppendU64(&out, num_kvs);
  out.insert(out.end(), kvs.begin(), kvs.end());
  out.insert(out.end(), infos.begin(), infos.end());
  out.resize(out.size() + (32 - out.size() % 32) % 32, 0);
  out.resize(out.size() + data_bytes, 0);
  return out;
}

std::vector<uint8_t> TensorInfo(std::string_view name, std::vector<uint64_t> dims, GgmlType type,
                                uint64_t offset) {
  std::vector<uint8_t> out;
  AppendGgufString(&out, name);
  AppendU32(&out, static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) AppendU64(&out, d);
  AppendU32(&out, static_cast<uint32_t>(type));
  AppendU64(&out, offset);
  return out;
}

Status ParseStatus(const std::vector<uint8_t>& bytes) {
  auto f = GgufFile::Parse(bytes.data(), bytes.size());
  return f.ok() ? Status::Ok() : f.status();
}

// Asserts parsing fails and the message mentions `needle`.
void ExpectError(const std::vector<uint8_t>& bytes, std::string_view needle) {
  Status st = ParseStatus(bytes);
  ASSERT_FALSE(st.ok()) << "expected an error mentioning " << needle;
  EXPECT_NE(st.message().find(needle), std::string::npos) << st.ToString();
}

TEST(GgufTest, RoundTripsEveryValueType) {
  GgufWriter w(2);
  w.AddUint8("u8", 200);
  w.AddInt8("i8", -100);
  w.AddUint16("u16", 60000);
  w.AddInt16("i16", -30000);
  w.AddUint32("u32", 4000000000u);
  w.AddInt32("i32", -2000000000);
  w.AddUint64("u64", 1ull << 63);
  w.AddInt64("i64", -(1ll << 62));
  w.AddFloat32("f32", 1.5f);
  w.AddFloat64("f64", 0.125);
  w.AddBool("yes", true);
  w.AddString("s", "h\xC3\xA9llo");
  w.AddStringArray("sa", {"x", "", "yz"});
  w.AddFloat32Array("fa", {1.0f, -2.5f});
  w.AddInt32Array("ia", {-1, 7});
  w.AddUint32Array("ua", {3, 4000000000u});
  // Nested: array of 2 arrays of u8.
  std::vector<uint8_t> nested;
  AppendU32(&nested, static_cast<uint32_t>(GgufValueType::kArray));
  AppendU64(&nested, 2);
  for (int i = 0; i < 2; ++i) {
    AppendU32(&nested, static_cast<uint32_t>(GgufValueType::kUint8));
    AppendU64(&nested, 3);
    nested.insert(nested.end(), {uint8_t(i), uint8_t(i + 1), uint8_t(i + 2)});
  }
  w.AddRaw("nested", static_cast<uint32_t>(GgufValueType::kArray), nested);
  auto bytes = w.Serialize();
  ASSERT_TRUE(bytes.ok());
  auto f = GgufFile::Parse(bytes->data(), bytes->size());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 2u);
  EXPECT_EQ(*g.GetUint("u8"), 200u);
  EXPECT_EQ(*g.GetInt("i8"), -100);
  EXPECT_EQ(*g.GetUint("u16"), 60000u);
  EXPECT_EQ(*g.GetInt("i16"), -30000);
  EXPECT_EQ(*g.GetUint("u32"), 4000000000u);
  EXPECT_EQ(*g.GetInt("u32"), 4000000000ll);
  EXPECT_EQ(*g.GetInt("i32"), -2000000000);
  EXPECT_EQ(*g.GetUint("u64"), 1ull << 63);
  EXPECT_FALSE(g.GetInt("u64").ok());  // does not fit int64
  EXPECT_EQ(*g.GetInt("i64"), -(1ll << 62));
  EXPECT_FALSE(g.GetUint("i64").ok());  // negative
  EXPECT_EQ(*g.GetFloat("f32"), 1.5);
  EXPECT_EQ(*g.GetFloat("f64"), 0.125);
  EXPECT_TRUE(*g.GetBool("yes"));
  EXPECT_EQ(*g.GetString("s"), "h\xC3\xA9llo");
  EXPECT_EQ(*g.GetStringArray("sa"), (std::vector<std::string>{"x", "", "yz"}));
  EXPECT_EQ(*g.GetFloatArray("fa"), (std::vector<float>{1.0f, -2.5f}));
  EXPECT_EQ(*g.GetIntArray("ia"), (std::vector<int64_t>{-1, 7}));
  EXPECT_EQ(*g.GetIntArray("ua"), (std::vector<int64_t>{3, 4000000000ll}));
  const GgufValue* n = g.Find("nested");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->items.size(), 2u);
  EXPECT_EQ(n->items[1].UintAt(2), 3u);
  EXPECT_EQ(n->DebugString(), "[array x 2] [uint8 x 3] 0, 1, 2, [uint8 x 3] 1, 2, 3");
  EXPECT_EQ(g.metadata().size(), 17u);
  EXPECT_EQ(g.metadata().front().key, "u8");
  EXPECT_TRUE(g.Has("fa"));
  EXPECT_FALSE(g.Has("nope"));
}

TEST(GgufTest, GettersReportMissingAndWrongType) {
  auto bytes = SmallFile();
  auto f = GgufFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto missing = (*f)->GetUint("llama.nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_NE(missing.status().message().find("llama.nope"), std::string::npos);
  auto wrong = (*f)->GetString("llama.block_count");
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(wrong.status().IsInvalidArgument());
  EXPECT_NE(wrong.status().message().find("uint32"), std::string::npos) << wrong.status().ToString();
  EXPECT_FALSE((*f)->GetFloat("llama.block_count").ok());
  EXPECT_FALSE((*f)->GetFloatArray("tokenizer.ggml.tokens").ok());
  EXPECT_FALSE((*f)->GetBool("general.architecture").ok());
}

TEST(GgufTest, TensorInfosPointIntoTheBuffer) {
  auto bytes = SmallFile();
  auto f = GgufFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok());
  ASSERT_EQ((*f)->tensors().size(), 2u);
  const GgufTensorInfo* b = (*f)->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, GgmlType::kQ8_0);
  EXPECT_EQ(b->num_elements, 32u);
  EXPECT_EQ(b->num_bytes, 34u);
  EXPECT_EQ(b->offset % 32, 0u);
  EXPECT_EQ(b->data[0], 2);
  EXPECT_EQ(b->data + b->num_bytes, bytes.data() + bytes.size());
  const GgufTensorInfo* a = (*f)->FindTensor("a");
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(a->num_bytes, 32u);
  EXPECT_EQ((*f)->FindTensor("c"), nullptr);
}

TEST(GgufTest, EveryPrefixFailsCleanly) {
  auto bytes = SmallFile();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);  // own buffer: ASan sees overreads
    EXPECT_FALSE(ParseStatus(prefix).ok()) << "prefix of " << n << " bytes parsed";
  }
  EXPECT_TRUE(ParseStatus(bytes).ok());
}

TEST(GgufTest, RejectsBadMagicAndVersions) {
  auto bytes = SmallFile();
  bytes[0] = 'X';
  ExpectError(bytes, "magic");
  auto v1 = RawFile(0, 0, {}, {}, 0, 1);
  Status st = ParseStatus(v1);
  EXPECT_EQ(st.code(), Status::Code::kUnimplemented);
  ExpectError(RawFile(0, 0, {}, {}, 0, 4), "version 4");
  EXPECT_TRUE(ParseStatus(RawFile(0, 0, {}, {}, 0, 2)).ok());
}

TEST(GgufTest, HugeCountsFailFast) {
  ExpectError(RawFile(0, uint64_t{1} << 60, {}, {}, 0), "kv count");
  ExpectError(RawFile(uint64_t{1} << 60, 0, {}, {}, 0), "tensor count");
  ExpectError(RawFile(0, UINT64_MAX, {}, {}, 64), "kv count");
  // A string array claiming 2^62 elements.
  for (uint32_t elem : {0u, 4u, 8u, 9u, 10u, 12u}) {
    std::vector<uint8_t> kv;
    AppendGgufString(&kv, "k");
    AppendU32(&kv, static_cast<uint32_t>(GgufValueType::kArray));
    AppendU32(&kv, elem);
    AppendU64(&kv, uint64_t{1} << 62);
    ExpectError(RawFile(0, 1, kv, {}, 64), "cannot fit");
  }
  // A string whose length runs past the end.
  std::vector<uint8_t> kv;
  AppendU64(&kv, UINT64_MAX);
  ExpectError(RawFile(0, 1, kv, {}, 32), "string length");
}

TEST(GgufTest, RejectsBadMetadata) {
  auto kv_with = [](std::string_view key, uint32_t type, std::vector<uint8_t> body) {
    std::vector<uint8_t> kv;
    AppendGgufString(&kv, key);
    AppendU32(&kv, type);
    kv.insert(kv.end(), body.begin(), body.end());
    return kv;
  };
  ExpectError(RawFile(0, 1, kv_with("k", 13, {0, 0, 0, 0}), {}, 0), "unknown value type 13");
  ExpectError(RawFile(0, 1, kv_with("k", 7, {2}), {}, 0), "bool");
  ExpectError(RawFile(0, 1, kv_with("bad\xFF", 0, {1}), {}, 0), "UTF-8");
  ExpectError(RawFile(0, 1, kv_with("\xC0\x80", 0, {1}), {}, 0), "UTF-8");  // overlong NUL
  ExpectError(RawFile(0, 1, kv_with("", 0, {1}), {}, 0), "empty");
  auto two = kv_with("dup", 0, {1});
  auto again = kv_with("dup", 4, {1, 0, 0, 0});
  two.insert(two.end(), again.begin(), again.end());
  ExpectError(RawFile(0, 2, two, {}, 0), "duplicate metadata key 'dup'");
  // Arrays nested 100 deep.
  std::vector<uint8_t> deep;
  for (int i = 0; i < 100; ++i) {
    AppendU32(&deep, 9);
    AppendU64(&deep, 1);
  }
  ExpectError(RawFile(0, 1, kv_with("deep", 9, deep), {}, 0),
              "nested too deeply");
  std::vector<uint8_t> align;
  AppendU32(&align, 48);
  ExpectError(RawFile(0, 1, kv_with("general.alignment", 4, align), {}, 0), "power of two");
  ExpectError(RawFile(0, 1, kv_with("general.alignment", 8, {0, 0, 0, 0, 0, 0, 0, 0}), {}, 0),
              "general.alignment");
}

TEST(GgufTest, RejectsBadTensorInfos) {
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {4}, GgmlType::kF32, 64), 16), "ends past the end");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {4}, GgmlType::kF32, 8), 64), "not a multiple of the alignment");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {1ull << 40, 1ull << 40}, GgmlType::kF32, 0), 16), "overflow");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {1ull << 62}, GgmlType::kF32, 0), 16), "overflow");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {1ull << 40, 1ull << 20}, GgmlType::kF32, 0), 16), "past the end");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {4, 0}, GgmlType::kF32, 0), 16), "dim is 0");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {1, 1, 1, 1, 1}, GgmlType::kF32, 0), 16), "5 dims");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {16}, GgmlType::kQ4_0, 0), 64), "block size");
  ExpectError(RawFile(1, 0, {}, TensorInfo("t", {4}, static_cast<GgmlType>(99), 0), 64), "unknown ggml type 99");
  ExpectError(RawFile(1, 0, {}, TensorInfo("\xE0\x80", {4}, GgmlType::kF32, 0), 64), "UTF-8");
  auto two = TensorInfo("t", {16}, GgmlType::kF32, 0);
  auto other = TensorInfo("u", {16}, GgmlType::kF32, 32);  // overlaps t's [0, 64)
  two.insert(two.end(), other.begin(), other.end());
  ExpectError(RawFile(2, 0, {}, two, 128), "overlap");
  auto dup = TensorInfo("t", {4}, GgmlType::kF32, 0);
  auto dup2 = TensorInfo("t", {4}, GgmlType::kF32, 32);
  dup.insert(dup.end(), dup2.begin(), dup2.end());
  ExpectError(RawFile(2, 0, {}, dup, 64), "duplicate tensor name 't'");
  // The same infos, well formed, parse.
  auto ok = TensorInfo("t", {16}, GgmlType::kF32, 0);
  auto ok2 = TensorInfo("u", {16}, GgmlType::kF32, 64);
  ok.insert(ok.end(), ok2.begin(), ok2.end());
  EXPECT_TRUE(ParseStatus(RawFile(2, 0, {}, ok, 128)).ok());
}

TEST(GgufTest, UnsupportedTypeIsAClearError) {
  Status st = CheckGgmlTypeSupported(GgmlType::kQ5_K, "blk.0.ffn_down.weight");
  EXPECT_EQ(st.code(), Status::Code::kUnimplemented);
  EXPECT_NE(st.message().find("q5_K"), std::string::npos);
  EXPECT_NE(st.message().find("blk.0.ffn_down.weight"), std::string::npos);
  EXPECT_TRUE(CheckGgmlTypeSupported(GgmlType::kQ6_K, "x").ok());
  EXPECT_EQ(*GgmlRowBytes(GgmlType::kQ4_K, 512), 288u);
  EXPECT_EQ(*GgmlRowBytes(GgmlType::kQ6_K, 256), 210u);
  EXPECT_EQ(*GgmlRowBytes(GgmlType::kBF16, 3), 6u);
  EXPECT_FALSE(GgmlRowBytes(GgmlType::kQ4_1, 33).ok());
  EXPECT_FALSE(GgmlRowBytes(static_cast<GgmlType>(4), 32).ok());  // removed from ggml
}

TEST(GgufTest, OpensTheRealSmolLM2File) {
  const std::string path = testing::FindSmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf not found; set HEARTH_MODEL_PATH";
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(*g.GetString("general.architecture"), "llama");
  EXPECT_EQ(*g.GetUint("llama.block_count"), 30u);
  EXPECT_EQ(*g.GetUint("llama.embedding_length"), 576u);
  EXPECT_EQ(*g.GetUint("llama.attention.head_count"), 9u);
  EXPECT_EQ(*g.GetUint("llama.attention.head_count_kv"), 3u);
  EXPECT_EQ(g.GetStringArray("tokenizer.ggml.tokens")->size(), 49152u);
  EXPECT_EQ(g.GetFloatArray("tokenizer.ggml.scores").ok(), g.Has("tokenizer.ggml.scores"));
  // 30 blocks of 9 tensors + token_embd + output_norm; embeddings are tied.
  EXPECT_EQ(g.tensors().size(), 272u);
  EXPECT_EQ(g.FindTensor("output.weight"), nullptr);
  const GgufTensorInfo* emb = g.FindTensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->dims, (std::vector<uint64_t>{576, 49152}));
  const GgufTensorInfo* q = g.FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dims, (std::vector<uint64_t>{576, 576}));
  EXPECT_EQ(q->type, GgmlType::kQ4_1);
  for (const GgufTensorInfo& t : g.tensors()) {
    EXPECT_TRUE(CheckGgmlTypeSupported(t.type, t.name).ok()) << t.name;
  }
}

TEST(GgufTest, OpenReportsMissingFile) {
  auto f = GgufFile::Open("/nonexistent/model.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.status().IsIOError());
}

}  // namespace
}  // namespace hearth::model
