#include "daemon/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace hearth::daemon {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/hearth-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, ParsesHostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:8080")->port, 8080);
  EXPECT_EQ(ParseHostPort("[::1]:9")->host, "::1");
  EXPECT_FALSE(ParseHostPort("nohost").ok());
  EXPECT_FALSE(ParseHostPort("h:99999").ok());
  EXPECT_FALSE(ParseHostPort("h:-1").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
}

TEST(ConfigTest, FileOverridesDefaults) {
  std::string path = WriteTemp(
      "listen = \"0.0.0.0:9000\"\n"
      "data_dir = \"/tmp/x\"\n"
      "[models]\n"
      "smol = \"/models/smol.gguf\"\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 9000);
  EXPECT_EQ(c.admin_listen.port, 8081);  // untouched default
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.models.at("smol"), "/models/smol.gguf");
  std::remove(path.c_str());
}

TEST(ConfigTest, BadFileNamesTheProblem) {
  std::string path = WriteTemp("listen = 8080\n");
  Config c;
  Status st = LoadConfigFile(path, &c);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("listen"), std::string::npos);
  std::remove(path.c_str());

  path = WriteTemp("listen = \n");
  st = LoadConfigFile(path, &c);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find(":1"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ConfigTest, ModelFlag) {
  Config c;
  EXPECT_TRUE(AddModelFlag("smol=/a/b.gguf", &c).ok());
  EXPECT_EQ(c.models.at("smol"), "/a/b.gguf");
  EXPECT_FALSE(AddModelFlag("smol", &c).ok());
  EXPECT_FALSE(AddModelFlag("=x", &c).ok());
}

}  // namespace
}  // namespace hearth::daemon
