// The reference dequantizers (kernels/cpu/quant.h) on blocks read from a GGUF file, against what
// the `gguf` Python package decodes them to.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cpu/quant.h"
#include "model/gguf.h"
#include "model/gguf_test_util.h"

namespace hearth::model {
namespace {

// The fixture holds quantized blocks and what the `gguf` Python package decodes them to
// (model/testdata/make_dequant_fixture.py).
TEST(DequantFixtureTest, MatchesGgufPython) {
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
    auto got = kernels::DequantizeTensor(raw->type, raw->data, raw->num_bytes, raw->num_elements);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    auto want =
        kernels::DequantizeTensor(kernels::GgmlType::kF32, expected->data, expected->num_bytes, expected->num_elements);
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
