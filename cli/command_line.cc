#include "cli/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <string_view>

namespace hearth::cli {
namespace {

constexpr const char* kVersion = "hearthctl " HEARTH_VERSION;

// A command's help lists only its own options: say that the global ones work there too.
void AddGlobalOptionsFooter(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    sub->footer("Global options, before or after the command: --url URL, --config FILE, --json, --version");
    AddGlobalOptionsFooter(*sub);
  }
}

// Declares every command and option of hearthctl on `app`, storing into `cl`.
void Define(CLI::App& app, CommandLine* cl) {
  // Set before any subcommand is added, so every one inherits it: an option a command does not
  // know falls through to its parent, and the global options work after the command too.
  app.fallthrough();
  app.set_version_flag("--version", kVersion, "print hearthctl's version and exit");
  app.add_option("--url", cl->url, "admin API URL (default: $HEARTH_URL, the config file, or http://127.0.0.1:8081)");
  app.add_option("--config", cl->config, "hearth.toml to read admin_listen and admin_token from");
  app.add_flag("--json", cl->json, "print machine-readable JSON");
  app.require_subcommand(1);

  app.add_subcommand("status", "show the daemon: draining, queues, KV blocks, workers and models");
  app.add_subcommand("workers", "list the worker processes");
  CLI::App* cluster = app.add_subcommand("cluster", "the cluster's nodes, their leases and models (default: list)");
  cluster->require_subcommand(0, 1);
  cluster->add_subcommand("list", "the nodes this daemon sees in etcd, with instance type, price, lease and models");
  cluster->add_subcommand("targets", "every node as a Prometheus file_sd target list (JSON)");

  CLI::App* models =
      app.add_subcommand("models", "list, add, remove, load, stage, unload or pin models (default: list)");
  models->require_subcommand(0, 1);
  models->add_subcommand("list", "list the models and their state");
  CLI::App* add = models->add_subcommand("add", "register a GGUF file under a name (kept across restarts) and load it");
  add->add_option("name", cl->model_name, "model name")->required();
  add->add_option("path", cl->model_path, "GGUF file on the daemon's machine")->required();
  add->add_flag("--pin", cl->pin, "keep it warm: never evicted for room");
  CLI::App* remove = models->add_subcommand("remove", "unload a model and forget it");
  CLI::App* load = models->add_subcommand("load", "load a registered model (with PATH: add it first)");
  CLI::App* unload = models->add_subcommand("unload", "unload a model; it stays registered");
  CLI::App* stage = models->add_subcommand(
      "stage", "keep a host copy of a model ready to swap in; a warm model is swapped out to it");
  CLI::App* pin = models->add_subcommand("pin", "never evict a model for room");
  CLI::App* unpin = models->add_subcommand("unpin", "let a model be evicted again");
  CLI::App* history = models->add_subcommand("history", "a model's load per window and the forecast of the next");
  history->add_option("--limit", cl->limit, "the last N windows (default 48)")->check(CLI::Range(1, 10000));
  for (CLI::App* a : {remove, load, unload, stage, pin, unpin, history}) {
    a->add_option("name", cl->model_name, "model name")->required();
  }
  load->add_option("path", cl->model_path, "GGUF file: add it under the name");
  for (CLI::App* a : {remove, unload, stage}) a->add_flag("--force", cl->force, "even if requests use it: they fail");

  CLI::App* requests = app.add_subcommand("requests", "list, show, cancel or follow requests (default: list)");
  requests->require_subcommand(0, 1);
  CLI::App* list = requests->add_subcommand("list", "list recent requests, newest first");
  for (CLI::App* a : {requests, list}) {
    a->add_option("--state", cl->state, "queued, running, finished, cancelled or failed");
    a->add_option("--limit", cl->limit, "at most this many")->check(CLI::Range(1, 10000));
  }
  const CLI::Validator request_id(
      [](std::string& text) -> std::string {
        std::optional<std::string> id = AdminRequestId(text);
        if (!id) return "not a request id (17, cmpl-17 or chatcmpl-17): " + text;
        text = *id;
        return "";
      },
      "ID", "request id");
  CLI::App* show = requests->add_subcommand("show", "show one request and its text");
  CLI::App* cancel = requests->add_subcommand("cancel", "cancel a request");
  CLI::App* follow = requests->add_subcommand("follow", "print a request's stream, live until it ends");
  for (CLI::App* a : {show, cancel, follow}) {
    a->add_option("id", cl->request_id, "request id: 17, or the response's cmpl-17 or chatcmpl-17")
        ->required()
        ->transform(request_id);
  }
  follow->add_option("--after", cl->after, "start after this event id (Last-Event-ID)");

  CLI::App* drain = app.add_subcommand("drain", "stop admitting requests; running ones finish");
  drain->add_flag("--resume", cl->resume, "admit requests again");
  app.add_subcommand("reload", "re-read the configuration (as SIGHUP)");
  CLI::App* preempt = app.add_subcommand("preempt", "preemption notice: drain, stop before the deadline, exit 0");
  preempt->add_option("--grace", cl->grace, "seconds until the machine goes away (default: the daemon's grace_seconds)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_subcommand("metrics", "summarize /metrics: requests, tokens, queues, latency quantiles");

  CLI::App* run = app.add_subcommand("run", "chat with a model: one prompt, or an interactive chat from stdin");
  run->add_option("model", cl->run_model, "model name")->required();
  run->add_option("prompt", cl->run_prompt, "the message (omit for an interactive chat)");
  run->add_option("--max-tokens", cl->max_tokens, "tokens to generate per answer")->check(CLI::Range(1, 1 << 20));
  run->add_option("--temperature", cl->temperature, "sampling temperature (default: the daemon's)");
  run->add_option("--api-url", cl->api_url, "API URL (default: the daemon's listen address)");
  run->add_option("--api-key", cl->api_key, "API key (default: $HEARTH_API_KEY)");
  AddGlobalOptionsFooter(app);
}

// The parsed command's words, with a group alone standing for its list.
std::string CommandName(const CLI::App& app) {
  std::string name;
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    name += (name.empty() ? "" : " ") + at->get_name();
  }
  if (name == "models" || name == "requests" || name == "cluster") name += " list";
  return name;
}

void Collect(const CLI::App& app, const std::string& prefix, std::vector<CommandInfo>* out) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    CommandInfo info{prefix + sub->get_name(), {}};
    for (const CLI::Option* opt : sub->get_options()) {
      for (const std::string& lname : opt->get_lnames()) {
        if (lname != "help") info.options.push_back("--" + lname);
      }
    }
    out->push_back(info);
    Collect(*sub, info.name + " ", out);
  }
}

}  // namespace

std::optional<int> ParseCommandLine(int argc, const char* const argv[], CommandLine* cl, std::ostream& out,
                                    std::ostream& err) {
  CLI::App app{"hearthctl: operate a Hearth daemon", "hearthctl"};
  Define(app, cl);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e, out, err);  // help and --version exit 0
    return rc == 0 ? kExitOk : kExitUsage;
  }
  cl->command = CommandName(app);
  return std::nullopt;
}

std::optional<std::string> AdminRequestId(const std::string& text) {
  std::string number = text;
  for (std::string_view prefix : {"chatcmpl-", "cmpl-"}) {
    if (number.rfind(prefix, 0) == 0) {
      number.erase(0, prefix.size());
      break;
    }
  }
  const bool digits = !number.empty() && number.size() <= 20 &&
                      std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return std::nullopt;
  return number;
}

std::vector<CommandInfo> Commands() {
  CommandLine cl;
  CLI::App app{"hearthctl", "hearthctl"};
  Define(app, &cl);
  std::vector<CommandInfo> out;
  Collect(app, "", &out);
  return out;
}

std::vector<std::string> GlobalOptions() { return {"--url", "--config", "--json", "--version", "--help"}; }

}  // namespace hearth::cli
