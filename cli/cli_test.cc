#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/admin_client.h"
#include "cli/command_line.h"
#include "cli/reply_hint.h"
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

// Parses `args` after the program name; `exit_code` is set when hearthctl would stop there.
struct Parsed {
  CommandLine cl;
  std::optional<int> exit_code;
  std::string out, err;
};
Parsed ParseArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "hearthctl");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  Parsed p;
  std::ostringstream out, err;
  p.exit_code = ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &p.cl, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

TEST(CommandLineTest, GlobalOptionsBeforeOrAfterTheCommand) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--json", "--url", "http://h:1", "status"},
                                                                {"status", "--json", "--url", "http://h:1"},
                                                                {"--url", "http://h:1", "status", "--json"}}) {
    Parsed p = ParseArgs(args);
    EXPECT_FALSE(p.exit_code.has_value()) << p.err;
    EXPECT_EQ(p.cl.command, "status");
    EXPECT_TRUE(p.cl.json);
    EXPECT_EQ(p.cl.url, "http://h:1");
  }
  Parsed list = ParseArgs({"models", "list", "--json", "--config", "/etc/h.toml"});
  EXPECT_FALSE(list.exit_code.has_value()) << list.err;
  EXPECT_EQ(list.cl.command, "models list");
  EXPECT_TRUE(list.cl.json);
  EXPECT_EQ(list.cl.config, "/etc/h.toml");
  // Global options mixed with the command's own, in any order.
  Parsed remove = ParseArgs({"models", "remove", "--json", "smol", "--force"});
  EXPECT_FALSE(remove.exit_code.has_value()) << remove.err;
  EXPECT_EQ(remove.cl.command, "models remove");
  EXPECT_EQ(remove.cl.model_name, "smol");
  EXPECT_TRUE(remove.cl.force && remove.cl.json);
  Parsed run = ParseArgs({"run", "smol", "Hi", "--max-tokens", "3", "--url", "http://h:2", "--api-key", "k"});
  EXPECT_FALSE(run.exit_code.has_value()) << run.err;
  EXPECT_EQ(run.cl.run_prompt, "Hi");
  EXPECT_EQ(run.cl.max_tokens, 3);
  EXPECT_EQ(run.cl.url, "http://h:2");
  EXPECT_EQ(run.cl.api_key, "k");
}

TEST(CommandLineTest, GroupsAloneListAndUsageErrorsExitTwo) {
  EXPECT_EQ(ParseArgs({"models"}).cl.command, "models list");
  Parsed requests = ParseArgs({"requests", "--state", "running", "--json"});
  EXPECT_EQ(requests.cl.command, "requests list");
  EXPECT_EQ(requests.cl.state, "running");
  EXPECT_TRUE(requests.cl.json);
  EXPECT_EQ(ParseArgs({}).exit_code, kExitUsage);
  EXPECT_EQ(ParseArgs({"nosuchcommand"}).exit_code, kExitUsage);
  EXPECT_EQ(ParseArgs({"status", "--nosuchoption"}).exit_code, kExitUsage);
  EXPECT_EQ(ParseArgs({"models", "remove"}).exit_code, kExitUsage) << "the name is required";
  Parsed help = ParseArgs({"status", "--help"});
  EXPECT_EQ(help.exit_code, kExitOk);
  EXPECT_NE(help.out.find("--json"), std::string::npos) << "a command's help names the global options\n" << help.out;
}

TEST(CommandLineTest, VersionNeedsNoCommand) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--version"}, {"status", "--version"}}) {
    Parsed p = ParseArgs(args);
    EXPECT_EQ(p.exit_code, kExitOk) << p.err;
    EXPECT_EQ(p.out, "hearthctl " HEARTH_TEST_VERSION "\n");
  }
}

TEST(CommandLineTest, RequestIdsInEveryForm) {
  EXPECT_EQ(AdminRequestId("17"), "17");
  EXPECT_EQ(AdminRequestId("cmpl-17"), "17");
  EXPECT_EQ(AdminRequestId("chatcmpl-17"), "17");
  for (const char* bad : {"", "cmpl-", "chatcmpl-x", "x-17", "-17", "17a", "../status", "cmpl-chatcmpl-1"}) {
    EXPECT_EQ(AdminRequestId(bad), std::nullopt) << bad;
  }
  for (const char* cmd : {"show", "cancel", "follow"}) {
    Parsed p = ParseArgs({"requests", cmd, "chatcmpl-42"});
    EXPECT_FALSE(p.exit_code.has_value()) << p.err;
    EXPECT_EQ(p.cl.command, std::string("requests ") + cmd);
    EXPECT_EQ(p.cl.request_id, "42");
    EXPECT_EQ(ParseArgs({"requests", cmd, "cmpl-7"}).cl.request_id, "7");
    Parsed bad = ParseArgs({"requests", cmd, "nonsense"});
    EXPECT_EQ(bad.exit_code, kExitUsage);
    EXPECT_NE(bad.err.find("chatcmpl-17"), std::string::npos) << bad.err;
  }
}

TEST(ReplyHintTest, UnauthorizedNamesTheSetting) {
  const HttpReply unauthorized{401, R"({"error":{"message":"incorrect API key provided"}})"};
  for (bool sent : {false, true}) {
    const std::string admin = ReplyHint(unauthorized, Listener::kAdmin, "/admin/v1/status", sent);
    EXPECT_NE(admin.find("HEARTH_ADMIN_TOKEN"), std::string::npos) << admin;
    EXPECT_NE(admin.find("admin_token"), std::string::npos) << admin;
    const std::string api = ReplyHint(unauthorized, Listener::kApi, "/v1/chat/completions", sent);
    EXPECT_NE(api.find("HEARTH_API_KEY"), std::string::npos) << api;
    EXPECT_NE(api.find("HEARTH_API_KEYS"), std::string::npos) << api;
    EXPECT_NE(api.find("--api-key"), std::string::npos) << api;
  }
}

TEST(ReplyHintTest, MissingRouteNamesTheOtherListener) {
  const HttpReply api_404{404, R"({"error":{"message":"no route for GET /admin/v1/status","code":"not_found"}})"};
  EXPECT_NE(ReplyHint(api_404, Listener::kAdmin, "/admin/v1/status", false).find("API listener, not the admin one"),
            std::string::npos);
  const HttpReply admin_404{404, R"({"error":{"message":"no route for POST /v1/chat/completions"}})"};
  EXPECT_NE(ReplyHint(admin_404, Listener::kApi, "/v1/chat/completions", false).find("admin listener"),
            std::string::npos);
  // A 404 the admin API meant (no such request, no such model) has nothing to add.
  EXPECT_EQ(ReplyHint({404, R"({"error":{"message":"no request 9"}})"}, Listener::kAdmin, "/admin/v1/requests/9", true),
            "");
  EXPECT_EQ(ReplyHint({500, "boom"}, Listener::kAdmin, "/admin/v1/status", true), "");
}

std::string SourceFile(const std::string& relative) {
  const char* dir = std::getenv("HEARTH_SOURCE_DIR");
  const std::filesystem::path root =
      dir && *dir ? std::filesystem::path(dir) : std::filesystem::path(__FILE__).parent_path().parent_path();
  std::ifstream in(root / relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The completion scripts and the man page are written by hand: each must know every command
// and option hearthctl has.
TEST(CommandLineTest, CompletionAndManPageKnowEveryCommandAndOption) {
  for (const char* file : {"cli/completion/hearthctl.bash", "cli/completion/_hearthctl", "cli/hearthctl.1"}) {
    const std::string text = SourceFile(file);
    ASSERT_FALSE(text.empty()) << file;
    // roff escapes a minus as \-.
    auto has = [&](std::string word) {
      if (std::string(file).ends_with(".1")) {
        for (size_t i = word.find('-'); i != std::string::npos; i = word.find('-', i + 2)) word.replace(i, 1, "\\-");
      }
      return text.find(word) != std::string::npos;
    };
    for (const std::string& option : GlobalOptions()) EXPECT_TRUE(has(option)) << file << ": " << option;
    for (const CommandInfo& command : Commands()) {
      const std::string last_word = command.name.substr(command.name.rfind(' ') + 1);
      EXPECT_TRUE(has(last_word)) << file << ": " << command.name;
      for (const std::string& option : command.options) EXPECT_TRUE(has(option)) << file << ": " << option;
    }
  }
  EXPECT_GT(Commands().size(), 20u);
}

}  // namespace
}  // namespace hearth::cli
