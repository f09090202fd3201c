#include "daemon/ops/queue_limits.h"

#include <gtest/gtest.h>

namespace hearth::daemon {
namespace {

TEST(QueueLimitsTest, NoLimitsAdmitEverything) {
  EXPECT_EQ(CheckQueueLimits({}, {1000000, 1000000000}, 100000), QueueRejection::kNone);
}

TEST(QueueLimitsTest, RequestLimitCountsTheNewRequest) {
  QueueLimits limits{2, 0};
  EXPECT_EQ(CheckQueueLimits(limits, {0, 0}, 10), QueueRejection::kNone);
  EXPECT_EQ(CheckQueueLimits(limits, {1, 10}, 10), QueueRejection::kNone);
  EXPECT_EQ(CheckQueueLimits(limits, {2, 20}, 10), QueueRejection::kTooManyRequests);
}

TEST(QueueLimitsTest, TokenLimitCountsTheNewPrompt) {
  QueueLimits limits{0, 100};
  EXPECT_EQ(CheckQueueLimits(limits, {1, 60}, 40), QueueRejection::kNone);  // exactly full is fine
  EXPECT_EQ(CheckQueueLimits(limits, {1, 60}, 41), QueueRejection::kTooManyTokens);
}

TEST(QueueLimitsTest, AnOversizedPromptStillEntersAnEmptyQueue) {
  QueueLimits limits{0, 100};
  EXPECT_EQ(CheckQueueLimits(limits, {0, 0}, 5000), QueueRejection::kNone);
  EXPECT_EQ(CheckQueueLimits(limits, {1, 1}, 5000), QueueRejection::kTooManyTokens);
}

TEST(QueueLimitsTest, RequestLimitIsCheckedFirst) {
  EXPECT_EQ(CheckQueueLimits({1, 10}, {1, 10}, 10), QueueRejection::kTooManyRequests);
}

TEST(QueueLimitsTest, StatusNamesTheLimit) {
  Status s = QueueFullStatus(QueueRejection::kTooManyTokens, {4, 4096});
  EXPECT_EQ(s.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(s.message().find("max_queued_tokens = 4096"), std::string::npos) << s.message();
  s = QueueFullStatus(QueueRejection::kTooManyRequests, {4, 4096});
  EXPECT_NE(s.message().find("max_queued_requests = 4"), std::string::npos) << s.message();
  EXPECT_STREQ(RejectionName(QueueRejection::kTooManyRequests), "queued_requests");
  EXPECT_STREQ(RejectionName(QueueRejection::kTooManyTokens), "queued_tokens");
}

TEST(QueueGateTest, EntersUntilFullAndLeavingMakesRoom) {
  QueueGate gate({2, 0});
  EXPECT_EQ(gate.TryEnter(5), QueueRejection::kNone);
  EXPECT_EQ(gate.TryEnter(7), QueueRejection::kNone);
  EXPECT_EQ(gate.TryEnter(1), QueueRejection::kTooManyRequests);
  EXPECT_EQ(gate.load().requests, 2);
  EXPECT_EQ(gate.load().tokens, 12);  // the rejected one left no trace
  gate.Leave(5);
  EXPECT_EQ(gate.load().requests, 1);
  EXPECT_EQ(gate.load().tokens, 7);
  EXPECT_EQ(gate.TryEnter(1), QueueRejection::kNone);
}

TEST(QueueGateTest, NewLimitsApplyToTheNextRequest) {
  QueueGate gate({0, 0});
  EXPECT_EQ(gate.TryEnter(50), QueueRejection::kNone);
  gate.SetLimits({0, 60});
  EXPECT_EQ(gate.TryEnter(20), QueueRejection::kTooManyTokens);
  EXPECT_EQ(gate.TryEnter(10), QueueRejection::kNone);
  EXPECT_EQ(gate.limits().max_queued_tokens, 60);
}

TEST(QueueGateDeathTest, LeavingMoreThanEnteredAborts) {
  QueueGate gate({});
  EXPECT_DEATH(gate.Leave(1), "without TryEnter");
}

}  // namespace
}  // namespace hearth::daemon
