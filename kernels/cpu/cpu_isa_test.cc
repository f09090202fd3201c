#include "kernels/cpu/cpu_isa.h"

#include "gtest/gtest.h"

namespace hearth::kernels {
namespace {

TEST(CpuIsa, ParseAndSet) {
  EXPECT_EQ(ParseIsa("scalar").value(), Isa::kScalar);
  EXPECT_EQ(ParseIsa("avx2").value(), Isa::kAvx2);
  EXPECT_EQ(ParseIsa("avx512").value(), Isa::kAvx512);
  EXPECT_TRUE(ParseIsa("sse9").status().IsInvalidArgument());
  const Isa saved = ActiveIsa();
  EXPECT_LE(saved, DetectedIsa());
  ASSERT_TRUE(SetActiveIsa(Isa::kScalar).ok());
  EXPECT_EQ(ActiveIsa(), Isa::kScalar);
  if (DetectedIsa() < Isa::kAvx512) {
    EXPECT_FALSE(SetActiveIsa(Isa::kAvx512).ok());
  }
  ASSERT_TRUE(SetActiveIsa(saved).ok());
}

}  // namespace
}  // namespace hearth::kernels
