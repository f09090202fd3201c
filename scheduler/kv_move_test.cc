#include "scheduler/kv_move.h"

#include <gtest/gtest.h>

namespace hearth::scheduler {
namespace {

TEST(KvMoveTest, TheFasterEstimateWins) {
  // 10 MB over 1 GB/s (10 ms) against 400 tokens at 500 tokens/s (800 ms).
  KvMoveEstimate e = ChooseKvMove(KvMovePolicy::kAuto, 10'000'000, 400, 1e9, 500);
  EXPECT_EQ(e.move, KvMove::kTransfer);
  EXPECT_DOUBLE_EQ(e.transfer_seconds, 0.01);
  EXPECT_DOUBLE_EQ(e.recompute_seconds, 0.8);
  // The same over a 10 MB/s link (1 s): recomputing is faster.
  e = ChooseKvMove(KvMovePolicy::kAuto, 10'000'000, 400, 1e7, 500);
  EXPECT_EQ(e.move, KvMove::kRecompute);
  EXPECT_DOUBLE_EQ(e.transfer_seconds, 1.0);
}

TEST(KvMoveTest, UnmeasuredSpeedsTryTheTransferAndPoliciesForce) {
  EXPECT_EQ(ChooseKvMove(KvMovePolicy::kAuto, 1000, 16, 0, 500).move, KvMove::kTransfer) << "the link is measured by trying it";
  EXPECT_EQ(ChooseKvMove(KvMovePolicy::kAuto, 1000, 16, 1e3, 0).move, KvMove::kTransfer);
  EXPECT_EQ(ChooseKvMove(KvMovePolicy::kAuto, 0, 0, 1e9, 500).move, KvMove::kRecompute) << "nothing to carry";
  EXPECT_EQ(ChooseKvMove(KvMovePolicy::kRecompute, 10'000'000, 400, 1e12, 1).move, KvMove::kRecompute);
  EXPECT_EQ(ChooseKvMove(KvMovePolicy::kTransfer, 10'000'000, 400, 1, 1e12).move, KvMove::kTransfer);
  EXPECT_EQ(ChooseKvMove(KvMovePolicy::kTransfer, 0, 0, 1, 1).move, KvMove::kRecompute);
}

TEST(KvMoveTest, ParsesThePolicyNames) {
  KvMovePolicy p = KvMovePolicy::kAuto;
  EXPECT_TRUE(ParseKvMovePolicy("recompute", &p));
  EXPECT_EQ(p, KvMovePolicy::kRecompute);
  EXPECT_TRUE(ParseKvMovePolicy("transfer", &p));
  EXPECT_EQ(p, KvMovePolicy::kTransfer);
  EXPECT_TRUE(ParseKvMovePolicy("auto", &p));
  EXPECT_EQ(p, KvMovePolicy::kAuto);
  EXPECT_FALSE(ParseKvMovePolicy("Auto", &p));
  EXPECT_FALSE(ParseKvMovePolicy("", &p));
}

}  // namespace
}  // namespace hearth::scheduler
