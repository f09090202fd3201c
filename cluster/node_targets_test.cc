// Targets round-trip, and targets that a stale writer or garbage in etcd could hold are refused.
#include "cluster/node_targets.h"

#include <gtest/gtest.h>

namespace hearth::cluster {
namespace {

TEST(NodeTargetsTest, RoundTrips) {
  NodeTargets t;
  t.epoch = 42;
  t.leader = "node-a";
  t.warm = {"a", "b"};
  t.staged = {"c"};
  StatusOr<NodeTargets> back = DecodeNodeTargets(EncodeNodeTargets(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, t);
  EXPECT_EQ(EncodeNodeTargets(t), R"({"epoch":42,"leader":"node-a","warm":["a","b"],"staged":["c"]})");
}

TEST(NodeTargetsTest, RefusesWhatIsNotTargets) {
  for (const char* bad : {
           "", "[]", "{}", "not json",
           R"({"epoch":0,"leader":"a","warm":[],"staged":[]})",
           R"({"epoch":-3,"leader":"a","warm":[],"staged":[]})",
           R"({"epoch":"7","leader":"a","warm":[],"staged":[]})",
           R"({"epoch":1.5,"leader":"a","warm":[],"staged":[]})",
           R"({"epoch":7,"leader":"a b","warm":[],"staged":[]})",
           R"({"epoch":7,"leader":"a","warm":[1],"staged":[]})",
           R"({"epoch":7,"leader":"a","warm":[""],"staged":[]})",
           R"({"epoch":7,"leader":"a","warm":["m","m"],"staged":[]})",
           R"({"epoch":7,"leader":"a","warm":["m"],"staged":["m"]})",
           R"({"epoch":7,"leader":"a","warm":{},"staged":[]})",
           R"({"epoch":7,"leader":"a","warm":[]})",
       }) {
    EXPECT_FALSE(DecodeNodeTargets(bad).ok()) << bad;
  }
  std::string many = R"({"epoch":7,"leader":"a","staged":[],"warm":[)";
  for (int i = 0; i < 5000; ++i) many += (i ? ",\"m" : "\"m") + std::to_string(i) + "\"";
  many += "]}";
  EXPECT_FALSE(DecodeNodeTargets(many).ok()) << "too many models";
}

TEST(NodeTargetsTest, SortsNamesSoEqualTargetsEncodeEqually) {
  StatusOr<NodeTargets> t = DecodeNodeTargets(R"({"epoch":3,"leader":"x","warm":["b","a"],"staged":[]})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->warm, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace hearth::cluster
