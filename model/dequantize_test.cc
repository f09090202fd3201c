#include "model/dequantize.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/gguf.h"
#include "model/gguf_test_util.h"

namespace hearth::model {
namespace {

TEST(DequantizeTest, HalfConversions) {
  EXPECT_EQ(Fp16ToFloat(0x3C00), 1.0f);
  EXPECT_EQ(Fp16ToFloat(0xC000), -2.0f);
  EXPECT_EQ(Fp16ToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(Fp16ToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(Fp16ToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(Fp16ToFloat(0x7C00)));
  EXPECT_TRUE(std::isnan(Fp16ToFloat(0x7E00)));
  EXPECT_EQ(Bf16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(Bf16ToFloat(0xC040), -3.0f);
}

TEST(DequantizeTest, RejectsBadSizesAndTypes) {
  std::vector<uint8_t> bytes(20);
  EXPECT_FALSE(Dequantize(GgmlType::Q4_1, bytes.data(), 20, 64).ok());  // needs 40 bytes
  EXPECT_FALSE(Dequantize(GgmlType::Q4_1, bytes.data(), 20, 16).ok());  // not a block multiple
  auto st = Dequantize(GgmlType::Q5_K, bytes.data(), 176, 256);
  EXPECT_EQ(st.status().code(), Status::Code::kUnimplemented);
}

// The fixture holds quantized blocks and what the `gguf` Python package decodes them to
// (model/testdata/make_dequant_fixture.py).
TEST(DequantizeTest, MatchesGgufPythonOnFixture) {
  auto f = GgufFile::Open(testing::TestdataDir() + "/dequant_fixture.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  int checked = 0;
  for (const char* name : {"q4_k", "q6_k", "q4_0", "q8_0", "q4_1_real"}) {
    SCOPED_TRACE(name);
    const GgufTensorInfo* raw = (*f)->FindTensor(std::string(name) + ".raw");
    const GgufTensorInfo* expected = (*f)->FindTensor(std::string(name) + ".expected");
    ASSERT_NE(raw, nullptr);
    ASSERT_NE(expected, nullptr);
    ASSERT_EQ(raw->num_elements, expected->num_elements);
    auto got = Dequantize(raw->type, raw->data, raw->num_bytes, raw->num_elements);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    auto want = Dequantize(GgmlType::F32, expected->data, expected->num_bytes, expected->num_elements);
    ASSERT_TRUE(want.ok());
    for (uint64_t i = 0; i < raw->num_elements; ++i) {
      ASSERT_NEAR((*got)[i], (*want)[i], 1e-6f + 1e-5f * std::fabs((*want)[i])) << "element " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

}  // namespace
}  // namespace hearth::model
