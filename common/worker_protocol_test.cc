#include "common/worker_protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hearth::wire {
namespace {

class SocketPair : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    if (fds_[0] >= 0) ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  int fds_[2] = {-1, -1};
};

TEST_F(SocketPair, HelloRoundTrip) {
  WorkerHello hello{1, 4242, "cpu", "cpu: 2 threads"};
  ASSERT_TRUE(WriteFrame(fds_[0], MessageType::kHello, EncodeHello(hello)).ok());
  StatusOr<Frame> frame = ReadFrame(fds_[1]);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(frame->type, MessageType::kHello);
  StatusOr<WorkerHello> back = DecodeHello(frame->payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->backend, "cpu");
  EXPECT_EQ(back->device, "cpu: 2 threads");
}

TEST_F(SocketPair, PeerCloseIsUnavailable) {
  ::close(fds_[0]);
  fds_[0] = -1;
  StatusOr<Frame> frame = ReadFrame(fds_[1]);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), Status::Code::kUnavailable);
}

TEST_F(SocketPair, OversizeLengthIsCorruption) {
  uint8_t header[5] = {0xff, 0xff, 0xff, 0xff, 1};
  ASSERT_EQ(::write(fds_[0], header, 5), 5);
  StatusOr<Frame> frame = ReadFrame(fds_[1]);
  ASSERT_FALSE(frame.ok());
  EXPECT_TRUE(frame.status().IsCorruption());
}

TEST(PayloadReaderTest, TruncatedStringIsCorruption) {
  PayloadWriter w;
  w.U32(100);  // claims 100 bytes of string, has none
  std::vector<uint8_t> bytes = w.Take();
  PayloadReader r(bytes);
  EXPECT_TRUE(r.Str().status().IsCorruption());
  std::vector<uint8_t> hello_bytes = EncodeHello({1, 1, "cpu", "x"});
  hello_bytes.push_back(0);
  EXPECT_TRUE(DecodeHello(hello_bytes).status().IsCorruption());
}

}  // namespace
}  // namespace hearth::wire
