// hearthctl: the admin CLI for hearthd.
//
// Exit codes: 0 success, 1 the daemon answered with an error, 2 usage error,
// 3 the daemon cannot be reached.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <iostream>

#include "cli/admin_client.h"
#include "cli/sse.h"
#include "cli/views.h"

namespace {

using namespace hearth;
using cli::AdminTarget;
using cli::HttpReply;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDown = 3;

int Fail(const Status& st) {
  std::cerr << "hearthctl: " << st.message() << "\n";
  if (st.code() == Status::Code::kUnavailable) return kExitDown;
  if (st.IsInvalidArgument()) return kExitUsage;
  return kExitError;
}

int FailReply(const HttpReply& reply) {
  std::cerr << "hearthctl: hearthd answered " << reply.status << ": " << cli::ErrorMessage(reply) << "\n";
  return kExitError;
}

// Prints a reply: raw JSON with --json, else through `render`.
int Show(const StatusOr<HttpReply>& reply, bool json, StatusOr<std::string> (*render)(const std::string&)) {
  if (!reply.ok()) return Fail(reply.status());
  if (reply->status >= 400) return FailReply(*reply);
  if (json || render == nullptr) {
    std::cout << reply->body;
    if (reply->body.empty() || reply->body.back() != '\n') std::cout << "\n";
    return 0;
  }
  StatusOr<std::string> text = render(reply->body);
  if (!text.ok()) return Fail(text.status());
  std::cout << *text;
  return 0;
}

// Runs `call` (a load, add or stage of model `name`) and, while it runs and stderr is a
// terminal, redraws a line from the admin list: the model's state and a progress bar while its
// file is read.
StatusOr<HttpReply> WithProgress(const AdminTarget& target, const std::string& name, bool json,
                                 const std::function<StatusOr<HttpReply>()>& call) {
  if (json || !::isatty(STDERR_FILENO)) return call();
  std::future<StatusOr<HttpReply>> done = std::async(std::launch::async, call);
  size_t shown = 0;
  while (done.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
    StatusOr<HttpReply> list = cli::Get(target, "/admin/v1/models");
    if (!list.ok() || list->status != 200) continue;
    const std::string line = cli::RenderModelProgress(list->body, name);
    if (line.empty()) continue;
    std::cerr << "\r" << line << std::string(shown > line.size() ? shown - line.size() : 0, ' ') << std::flush;
    shown = line.size();
  }
  if (shown > 0) std::cerr << "\r" << std::string(shown, ' ') << "\r" << std::flush;
  return done.get();
}

std::string JsonString(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

// The text a stream chunk carries (chat delta content or completion text).
std::string ChunkText(const rapidjson::Document& chunk) {
  if (!chunk.HasMember("choices") || !chunk["choices"].IsArray() || chunk["choices"].Empty()) return "";
  const rapidjson::Value& c = chunk["choices"][0];
  if (c.HasMember("delta") && c["delta"].IsObject() && c["delta"].HasMember("content") &&
      c["delta"]["content"].IsString()) {
    return c["delta"]["content"].GetString();
  }
  if (c.HasMember("text") && c["text"].IsString()) return c["text"].GetString();
  return "";
}

// Prints a stream of chunks as text as it arrives (or each event's JSON with
// --json); collects the text in `text`. Returns an exit code.
class StreamPrinter {
 public:
  explicit StreamPrinter(bool json) : json_(json) {}
  bool Feed(const char* data, size_t n) {
    std::vector<cli::SseEvent> events;
    parser_.Feed(data, n, &events);
    for (const cli::SseEvent& e : events) {
      if (e.data == "[DONE]") {
        done_ = true;
        return false;
      }
      if (json_) std::cout << e.data << "\n" << std::flush;
      rapidjson::Document d;
      d.Parse(e.data.c_str());
      if (d.HasParseError() || !d.IsObject()) continue;
      if (d.HasMember("error") && d["error"].IsObject()) {
        error_ = d["error"].HasMember("message") && d["error"]["message"].IsString() ? d["error"]["message"].GetString()
                                                                                     : "error";
        continue;
      }
      const std::string t = ChunkText(d);
      text_ += t;
      if (!json_) std::cout << t << std::flush;
    }
    return true;
  }
  int Finish(const StatusOr<HttpReply>& reply) {
    if (!json_ && !text_.empty()) std::cout << "\n";
    if (!reply.ok()) return Fail(reply.status());
    if (reply->status >= 400) return FailReply(*reply);
    if (!error_.empty()) {
      std::cerr << "hearthctl: the request ended with an error: " << error_ << "\n";
      return kExitError;
    }
    if (!done_) {
      std::cerr << "hearthctl: the stream ended before [DONE]\n";
      return kExitError;
    }
    return 0;
  }
  const std::string& text() const { return text_; }

 private:
  bool json_;
  cli::SseParser parser_;
  std::string text_, error_;
  bool done_ = false;
};

// The API listener: --api-url, else the "listen" address in the admin status.
StatusOr<AdminTarget> ApiTarget(const AdminTarget& admin, const std::string& api_url, const std::string& api_key) {
  AdminTarget api;
  if (!api_url.empty()) {
    HEARTH_ASSIGN_OR_RETURN(api, cli::ParseUrl(api_url));
  } else {
    HEARTH_ASSIGN_OR_RETURN(HttpReply status, cli::Get(admin, "/admin/v1/status"));
    rapidjson::Document d;
    d.Parse(status.body.c_str());
    if (status.status != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("listen") ||
        !d["listen"].IsString()) {
      return Status::Internal("cannot find the API address in the admin status; pass --api-url");
    }
    HEARTH_ASSIGN_OR_RETURN(api, cli::ParseUrl(std::string("http://") + d["listen"].GetString()));
    if (api.host == "0.0.0.0") api.host = "127.0.0.1";
  }
  api.token = api_key;
  return api;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hearthctl: operate a Hearth daemon"};
  std::string url, config;
  bool json = false;
  app.add_option("--url", url, "admin API URL (default: $HEARTH_URL, the config file, or http://127.0.0.1:8081)");
  app.add_option("--config", config, "hearth.toml to read admin_listen and admin_token from");
  app.add_flag("--json", json, "print machine-readable JSON");
  app.require_subcommand(1);

  app.add_subcommand("status", "show the daemon's workers, models and queues");
  app.add_subcommand("workers", "list the worker processes");

  CLI::App* models =
      app.add_subcommand("models", "list, add, remove, load, stage, unload or pin models (default: list)");
  models->require_subcommand(0, 1);
  models->add_subcommand("list", "list the models and their state");
  std::string model_name, model_path;
  bool model_pin = false, model_force = false;
  CLI::App* models_add =
      models->add_subcommand("add", "register a GGUF file under a name (kept across restarts) and load it");
  models_add->add_option("name", model_name, "model name")->required();
  models_add->add_option("path", model_path, "GGUF file on the daemon's machine")->required();
  models_add->add_flag("--pin", model_pin, "keep it warm: never evicted for room");
  CLI::App* models_remove = models->add_subcommand("remove", "unload a model and forget it");
  models_remove->add_option("name", model_name, "model name")->required();
  CLI::App* models_load = models->add_subcommand("load", "load a registered model (with PATH: add it first)");
  models_load->add_option("name", model_name, "model name")->required();
  models_load->add_option("path", model_path, "GGUF file: add it under the name");
  CLI::App* models_unload = models->add_subcommand("unload", "unload a model; it stays registered");
  models_unload->add_option("name", model_name, "model name")->required();
  CLI::App* models_stage = models->add_subcommand(
      "stage", "keep a host copy of a model ready to swap in; a warm model is swapped out to it");
  models_stage->add_option("name", model_name, "model name")->required();
  for (CLI::App* a : {models_remove, models_unload, models_stage}) {
    a->add_flag("--force", model_force, "even if requests use it: they fail");
  }
  CLI::App* models_pin = models->add_subcommand("pin", "never evict a model for room");
  models_pin->add_option("name", model_name, "model name")->required();
  CLI::App* models_unpin = models->add_subcommand("unpin", "let a model be evicted again");
  models_unpin->add_option("name", model_name, "model name")->required();

  CLI::App* requests = app.add_subcommand("requests", "list, show, cancel or follow requests (default: list)");
  requests->require_subcommand(0, 1);
  std::string state;
  int limit = 0;
  CLI::App* requests_list = requests->add_subcommand("list", "list recent requests, newest first");
  for (CLI::App* a : {requests, requests_list}) {
    a->add_option("--state", state, "queued, running, finished, cancelled or failed");
    a->add_option("--limit", limit, "at most this many")->check(CLI::Range(1, 10000));
  }
  std::string request_id;
  CLI::App* requests_show = requests->add_subcommand("show", "show one request and its text");
  requests_show->add_option("id", request_id, "request id")->required();
  CLI::App* requests_cancel = requests->add_subcommand("cancel", "cancel a request");
  requests_cancel->add_option("id", request_id, "request id")->required();
  CLI::App* requests_follow = requests->add_subcommand("follow", "print a request's stream, live until it ends");
  requests_follow->add_option("id", request_id, "request id")->required();
  int after = -1;
  requests_follow->add_option("--after", after, "start after this event id (Last-Event-ID)");

  CLI::App* drain = app.add_subcommand("drain", "stop admitting requests; running ones finish");
  bool resume = false;
  drain->add_flag("--resume", resume, "admit requests again");
  app.add_subcommand("reload", "re-read the configuration (as SIGHUP)");
  CLI::App* preempt = app.add_subcommand("preempt", "preemption notice: drain, stop before the deadline, exit 0");
  double grace = -1;
  preempt->add_option("--grace", grace, "seconds until the machine goes away (default: the daemon's grace_seconds)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_subcommand("metrics", "summarize /metrics: requests, tokens, queues, latency quantiles");

  CLI::App* run = app.add_subcommand("run", "chat with a model: one prompt, or an interactive chat from stdin");
  std::string run_model, run_prompt, api_url, api_key;
  int max_tokens = 256;
  double temperature = -1;
  run->add_option("model", run_model, "model name")->required();
  run->add_option("prompt", run_prompt, "the message (omit for an interactive chat)");
  run->add_option("--max-tokens", max_tokens, "tokens to generate per answer")->check(CLI::Range(1, 1 << 20));
  run->add_option("--temperature", temperature, "sampling temperature (default: the daemon's)");
  run->add_option("--api-url", api_url, "API URL (default: the daemon's listen address)");
  run->add_option("--api-key", api_key, "API key (default: $HEARTH_API_KEY)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help or the error
    return rc == 0 ? 0 : kExitUsage;
  }

  StatusOr<AdminTarget> target_or = cli::ResolveTarget(url, config);
  if (!target_or.ok()) return Fail(target_or.status());
  const AdminTarget target = *target_or;
  CLI::App* cmd = app.get_subcommands().front();
  const std::string name = cmd->get_name();

  if (name == "status") {
    return Show(cli::Get(target, "/admin/v1/status"), json, cli::RenderStatus);
  }
  if (name == "workers") {
    return Show(cli::Get(target, "/admin/v1/status"), json, cli::RenderWorkers);
  }
  if (name == "models") {
    const std::string model_url = "/admin/v1/models/" + model_name;
    const std::string force = model_force ? "?force=true" : "";
    if (models_add->parsed() || (models_load->parsed() && !model_path.empty())) {
      const std::string body = "{\"name\":" + JsonString(model_name) + ",\"path\":" + JsonString(model_path) +
                               (model_pin ? ",\"pinned\":true}" : "}");
      return Show(WithProgress(target, model_name, json, [&] { return cli::Post(target, "/admin/v1/models", body); }),
                  json, cli::RenderModel);
    }
    if (models_remove->parsed()) return Show(cli::Delete(target, model_url + force), json, nullptr);
    if (models_load->parsed()) {
      return Show(WithProgress(target, model_name, json, [&] { return cli::Post(target, model_url + "/load", ""); }),
                  json, cli::RenderModel);
    }
    if (models_unload->parsed()) {
      return Show(cli::Post(target, model_url + "/unload" + force, ""), json, cli::RenderModel);
    }
    if (models_stage->parsed()) {
      return Show(
          WithProgress(target, model_name, json, [&] { return cli::Post(target, model_url + "/stage" + force, ""); }),
          json, cli::RenderModel);
    }
    if (models_pin->parsed()) return Show(cli::Post(target, model_url + "/pin", ""), json, cli::RenderModel);
    if (models_unpin->parsed()) return Show(cli::Post(target, model_url + "/unpin", ""), json, cli::RenderModel);
    return Show(cli::Get(target, "/admin/v1/models"), json, cli::RenderModels);
  }
  if (name == "requests") {
    if (requests_show->parsed()) return Show(cli::Get(target, "/admin/v1/requests/" + request_id), json, cli::RenderRequest);
    if (requests_cancel->parsed()) {
      return Show(cli::Delete(target, "/admin/v1/requests/" + request_id), json, cli::RenderRequest);
    }
    if (requests_follow->parsed()) {
      StreamPrinter printer(json);
      std::vector<std::pair<std::string, std::string>> headers;
      if (after >= 0) headers.emplace_back("Last-Event-ID", std::to_string(after));
      auto reply = cli::GetStream(
          target, "/admin/v1/requests/" + request_id + "/events",
          [&](const char* d, size_t n) { return printer.Feed(d, n); }, headers);
      return printer.Finish(reply);
    }
    std::string path = "/admin/v1/requests";
    std::string sep = "?";
    if (!state.empty()) {
      path += sep + "state=" + state;
      sep = "&";
    }
    if (limit > 0) path += sep + "limit=" + std::to_string(limit);
    return Show(cli::Get(target, path), json, cli::RenderRequests);
  }
  if (name == "drain") {
    return Show(cli::Post(target, "/admin/v1/drain", resume ? "{\"resume\":true}" : ""), json, cli::RenderDrain);
  }
  if (name == "reload") return Show(cli::Post(target, "/admin/v1/reload", ""), json, cli::RenderReload);
  if (name == "preempt") {
    const std::string body = grace >= 0 ? "{\"grace_seconds\":" + std::to_string(grace) + "}" : "";
    return Show(cli::Post(target, "/admin/v1/preempt", body), json, cli::RenderPreempt);
  }
  if (name == "metrics") {
    StatusOr<HttpReply> reply = cli::Get(target, "/metrics");
    if (json) {
      // Prometheus text is already machine-readable; --json does not wrap it.
      return Show(reply, true, nullptr);
    }
    return Show(reply, false, cli::RenderMetrics);
  }
  if (name == "run") {
    if (api_key.empty()) {
      if (const char* k = std::getenv("HEARTH_API_KEY")) api_key = k;
    }
    StatusOr<AdminTarget> api = ApiTarget(target, api_url, api_key);
    if (!api.ok()) return Fail(api.status());
    std::string history;  // the messages so far, as JSON objects joined by commas
    auto ask = [&](const std::string& prompt) {
      if (!history.empty()) history += ",";
      history += "{\"role\":\"user\",\"content\":" + JsonString(prompt) + "}";
      std::string body = "{\"model\":" + JsonString(run_model) + ",\"stream\":true,\"max_tokens\":" +
                         std::to_string(max_tokens) + ",\"messages\":[" + history + "]";
      if (temperature >= 0) body += ",\"temperature\":" + std::to_string(temperature);
      body += "}";
      StreamPrinter printer(json);
      auto reply = cli::PostStream(*api, "/v1/chat/completions", body,
                                   [&](const char* d, size_t n) { return printer.Feed(d, n); });
      const int rc = printer.Finish(reply);
      history += ",{\"role\":\"assistant\",\"content\":" + JsonString(printer.text()) + "}";
      return rc;
    };
    if (!run_prompt.empty()) return ask(run_prompt);
    const bool tty = ::isatty(STDIN_FILENO);
    int rc = 0;
    std::string line;
    for (;;) {
      if (tty) std::cout << ">>> " << std::flush;
      if (!std::getline(std::cin, line)) break;
      if (line.empty()) continue;
      if (line == "/bye" || line == "/exit") break;
      rc = ask(line);
      if (rc == kExitDown) return rc;
    }
    return rc;
  }
  return kExitUsage;
}
