#include <gtest/gtest.h>

#include <cstdlib>

#include "cli/admin_client.h"
#include "cli/table.h"
#include "cli/views.h"

namespace hearth::cli {
namespace {

TEST(TableTest, AlignsColumns) {
  Table t({"A", "LONGER"});
  t.AddRow({"xyz", "1"});
  EXPECT_EQ(t.Render(), "A    LONGER\nxyz  1\n");
}

TEST(AdminClientTest, ParsesUrls) {
  auto t = ParseUrl("http://127.0.0.1:9001/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 9001);
  EXPECT_FALSE(ParseUrl("https://x:1").ok());
  EXPECT_FALSE(ParseUrl("http://x:99999").ok());
  EXPECT_FALSE(ParseUrl("http://:80").ok());
}

TEST(AdminClientTest, FlagBeatsEnvironment) {
  setenv("HEARTH_URL", "http://10.0.0.1:1", 1);
  EXPECT_EQ(ResolveTarget("http://127.0.0.1:2", "")->port, 2);
  EXPECT_EQ(ResolveTarget("", "")->port, 1);
  unsetenv("HEARTH_URL");
}

TEST(AdminClientTest, DownDaemonIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto reply = Get(*ParseUrl("http://127.0.0.1:1"), "/admin/v1/status");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(reply.status().message().find("Is it running?"), std::string::npos);
}

TEST(StatusViewTest, RendersWorkersAndRejectsGarbage) {
  auto text = RenderStatus(R"({"version":"0.1.0","pid":7,"uptime_s":3,"listen":"127.0.0.1:8080",
      "workers":[{"id":0,"pid":8,"backend":"cpu","device":"cpu: 2 threads","alive":true}],
      "models":[{"name":"smol","path":"/m.gguf"}]})");
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("cpu: 2 threads"), std::string::npos);
  EXPECT_NE(text->find("smol"), std::string::npos);
  EXPECT_FALSE(RenderStatus("[1,2]").ok());
  EXPECT_FALSE(RenderStatus("{").ok());
}

}  // namespace
}  // namespace hearth::cli
