#include "common/status.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  HEARTH_ASSIGN_OR_RETURN(int h, Half(x));
  HEARTH_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::Corruption("bad header");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.ToString(), "Corruption: bad header");
  EXPECT_EQ(s.WithContext("model.gguf").ToString(), "Corruption: model.gguf: bad header");
}

TEST(StatusTest, AssignOrReturnPropagates) {
  EXPECT_EQ(Quarter(8).value(), 2);
  StatusOr<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
}

TEST(StatusDeathTest, ValueOfErrorAborts) {
  StatusOr<int> r = Status::NotFound("x");
  EXPECT_DEATH((void)r.value(), "CHECK failed");
}

}  // namespace
}  // namespace hearth
