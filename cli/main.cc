// hearthctl: the admin CLI for hearthd.
//
// Exit codes: 0 success, 1 the daemon answered with an error, 2 usage error,
// 3 the daemon cannot be reached.
#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/admin_client.h"
#include "cli/status_view.h"

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDown = 3;

int Fail(const hearth::Status& st) {
  std::cerr << "hearthctl: " << st.message() << "\n";
  if (st.code() == hearth::Status::Code::kUnavailable) return kExitDown;
  if (st.IsInvalidArgument()) return kExitUsage;
  return kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hearth;
  CLI::App app{"hearthctl: operate a Hearth daemon"};
  std::string url, config;
  bool json = false;
  app.add_option("--url", url, "admin API URL (default: $HEARTH_URL, the config file, or http://127.0.0.1:8081)");
  app.add_option("--config", config, "hearth.toml to read admin_listen from");
  app.add_flag("--json", json, "print machine-readable JSON");
  app.require_subcommand(1);
  CLI::App* status = app.add_subcommand("status", "show the daemon's workers and models");
  CLI11_PARSE(app, argc, argv);

  StatusOr<cli::AdminTarget> target = cli::ResolveTarget(url, config);
  if (!target.ok()) return Fail(target.status());

  if (status->parsed()) {
    StatusOr<cli::HttpReply> reply = cli::Get(*target, "/admin/v1/status");
    if (!reply.ok()) return Fail(reply.status());
    if (reply->status != 200) {
      std::cerr << "hearthctl: daemon answered HTTP " << reply->status << ": " << reply->body << "\n";
      return kExitError;
    }
    if (json) {
      std::cout << reply->body << "\n";
      return 0;
    }
    StatusOr<std::string> text = cli::RenderStatus(reply->body);
    if (!text.ok()) return Fail(text.status());
    std::cout << *text;
    return 0;
  }
  return kExitUsage;
}
