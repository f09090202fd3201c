#include "cluster/node_record.h"

#include <gtest/gtest.h>

namespace hearth::cluster {
namespace {

NodeRecord Example() {
  NodeRecord r;
  r.name = "node-1";
  r.advertise = "http://10.0.0.1:8080";
  r.admin = "http://10.0.0.1:8081";
  r.instance = "spot";
  r.price_per_hour = 0.42;
  r.memory_budget_bytes = 1 << 30;
  r.workers = 2;
  r.lease_granted_at = 1700000000;
  r.version = "0.1.0";
  r.draining = true;
  r.handoff = {{"smol", "node-2"}};
  r.models = {{"smol", "warm", 123456, 0.25, 3.5, 7.25, 16}, {"big", "staged", 0, 0, 0, 0, 0}};
  return r;
}

TEST(NodeRecordTest, RoundTrips) {
  StatusOr<NodeRecord> back = DecodeNodeRecord(EncodeNodeRecord(Example()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "node-1");
  EXPECT_EQ(back->advertise, "http://10.0.0.1:8080");
  EXPECT_EQ(back->instance, "spot");
  EXPECT_DOUBLE_EQ(back->price_per_hour, 0.42);
  EXPECT_EQ(back->workers, 2);
  EXPECT_EQ(back->lease_granted_at, 1700000000);
  EXPECT_TRUE(back->draining);
  ASSERT_EQ(back->handoff.size(), 1u);
  EXPECT_EQ(back->handoff[0].model, "smol");
  EXPECT_EQ(back->handoff[0].node, "node-2");
  ASSERT_EQ(back->models.size(), 2u);
  EXPECT_EQ(back->models[0].name, "smol");
  EXPECT_EQ(back->models[0].bytes, 123456u);
  EXPECT_DOUBLE_EQ(back->models[0].swap_in_seconds, 0.25);
  EXPECT_DOUBLE_EQ(back->models[0].predicted_avg, 3.5);
  EXPECT_DOUBLE_EQ(back->models[0].predicted_peak, 7.25);
  EXPECT_EQ(back->models[0].batch_size, 16);
  EXPECT_EQ(back->models[1].state, "staged");
}

TEST(NodeRecordTest, RefusesWhatAPeerOrEtcdCouldSendWrong) {
  const std::string good = EncodeNodeRecord(Example());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::string bad[] = {
      "",
      "[]",
      std::string(100, '['),
      with("\"node-1\"", "\"../etc\""),
      with("\"node-1\"", "7"),
      with("\"http://10.0.0.1:8080\"", "\"ftp://x\""),
      with("\"http://10.0.0.1:8080\"", "\"http://a b\""),
      with("\"spot\"", "\"cheap\""),
      with("0.42", "-1"),
      with("\"workers\":2", "\"workers\":0"),
      with("\"workers\":2", "\"workers\":-3"),
      with("\"bytes\":123456", "\"bytes\":\"many\""),
      with("\"models\":[", "\"models\":{\"x\":["),
      with("\"name\":\"smol\"", "\"name\":\"\""),
      with("\"draining\":true", "\"draining\":\"yes\""),
      with("\"node\":\"node-2\"", "\"node\":\"../x\""),
      with("\"handoff\":[", "\"handoff\":[7,"),
      with("\"predicted_avg\":3.5", "\"predicted_avg\":-1"),
      with("\"predicted_peak\":7.25", "\"predicted_peak\":1e300"),
      with("\"batch_size\":16", "\"batch_size\":-16"),
      with("\"batch_size\":16", "\"batch_size\":99999999"),
  };
  for (const std::string& b : bad) EXPECT_FALSE(DecodeNodeRecord(b).ok()) << b;
  // A record from a node that predates "draining" reads as not draining.
  StatusOr<NodeRecord> older = DecodeNodeRecord(with("\"draining\":true,", ""));
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  EXPECT_FALSE(older->draining);
  // Nor a forecast.
  StatusOr<NodeRecord> no_forecast = DecodeNodeRecord(with(",\"predicted_avg\":3.5,\"predicted_peak\":7.25,\"batch_size\":16", ""));
  ASSERT_TRUE(no_forecast.ok()) << no_forecast.status().ToString();
  EXPECT_EQ(no_forecast->models[0].predicted_avg, 0);
  EXPECT_EQ(no_forecast->models[0].batch_size, 0);
  EXPECT_TRUE(ValidNodeName("a.b_c-1"));
  EXPECT_FALSE(ValidNodeName(std::string(65, 'a')));
  EXPECT_FALSE(ValidNodeName("a/b"));
}

}  // namespace
}  // namespace hearth::cluster
