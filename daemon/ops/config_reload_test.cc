// The auth and retention options: from TOML, from the environment, and how a reload sorts
// changed options into applied and restart-required.
#include "daemon/ops/config_reload.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace hearth::daemon {
namespace {

std::string WriteToml(const std::string& text) {
  std::string path = std::filesystem::temp_directory_path() / ("hearth_reload_test_" + std::to_string(::getpid()));
  std::ofstream(path) << text;
  return path;
}

TEST(AuthConfigTest, ReadsKeysTokenAndRetention) {
  const std::string path = WriteToml(
      "api_keys = [\"a\", \"b\"]\nadmin_token = \"adm\"\nrequest_retention_seconds = 30\n"
      "request_retention_count = 7\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.api_keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.admin_token, "adm");
  EXPECT_EQ(c.request_retention_seconds, 30);
  EXPECT_EQ(c.request_retention_count, 7);
  std::filesystem::remove(path);
}

TEST(AuthConfigTest, RejectsBadTypes) {
  for (const char* text : {"api_keys = \"one\"\n", "api_keys = [1]\n", "api_keys = [\"\"]\n", "admin_token = 5\n",
                           "request_retention_seconds = -1\n", "request_retention_count = \"x\"\n"}) {
    const std::string path = WriteToml(text);
    Config c;
    EXPECT_FALSE(LoadConfigFile(path, &c).ok()) << text;
    std::filesystem::remove(path);
  }
}

TEST(AuthConfigTest, EnvironmentReplacesTheFile) {
  std::map<std::string, std::string> env = {{"HEARTH_API_KEYS", " k1, k2 ,,k3"}, {"HEARTH_ADMIN_TOKEN", "t"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  Config c;
  c.api_keys = {"from-file"};
  ApplyEnvironment(&c, getenv);
  EXPECT_EQ(c.api_keys, (std::vector<std::string>{"k1", "k2", "k3"}));
  EXPECT_EQ(c.admin_token, "t");

  env = {{"HEARTH_API_KEYS", ""}};
  Config kept;
  kept.api_keys = {"from-file"};
  ApplyEnvironment(&kept, getenv);
  EXPECT_EQ(kept.api_keys, (std::vector<std::string>{"from-file"})) << "an empty variable changes nothing";
}

TEST(ConfigReloadTest, SortsChangesIntoAppliedAndRestartRequired) {
  Config running;
  running.models = {{"m", "/a.gguf"}};
  Config fresh = running;
  EXPECT_TRUE(DiffConfig(running, fresh).applied.empty());
  EXPECT_TRUE(DiffConfig(running, fresh).restart_required.empty());

  fresh.api_keys = {"k"};
  fresh.log_level = "debug";
  fresh.request_retention_count = 3;
  fresh.max_queued_tokens = 5;
  fresh.listen.port = 9999;
  fresh.models["n"] = "/b.gguf";
  fresh.max_num_seqs = 3;
  fresh.placement_policy = "lru";
  ReloadReport r = DiffConfig(running, fresh);
  EXPECT_EQ(r.applied,
            (std::vector<std::string>{"log_level", "api_keys", "request_retention_count", "max_queued_tokens"}));
  EXPECT_EQ(r.restart_required, (std::vector<std::string>{"listen", "models", "max_num_seqs", "placement.policy"}));

  Config merged = MergeReloadable(running, fresh);
  EXPECT_EQ(merged.api_keys, fresh.api_keys);
  EXPECT_EQ(merged.log_level, "debug");
  EXPECT_EQ(merged.max_queued_tokens, 5);
  EXPECT_EQ(merged.listen.port, running.listen.port) << "restart-only options keep their running value";
  EXPECT_EQ(merged.models, running.models);
  // Reloading the same file again reports the restart-only change again, and nothing applied.
  ReloadReport again = DiffConfig(merged, fresh);
  EXPECT_TRUE(again.applied.empty());
  EXPECT_EQ(again.restart_required.size(), 4u);
}

TEST(ConfigReloadTest, ReportJsonNamesButNeverShowsSecrets) {
  Config running;
  Config fresh;
  fresh.admin_token = "super-secret";
  std::string json = ReloadReportJson(DiffConfig(running, fresh));
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  ASSERT_EQ(d["applied"].Size(), 1u);
  EXPECT_STREQ(d["applied"][0].GetString(), "admin_token");
  EXPECT_EQ(d["restart_required"].Size(), 0u);
  EXPECT_EQ(json.find("super-secret"), std::string::npos);
}

}  // namespace
}  // namespace hearth::daemon
