// hearthctl: the admin CLI for hearthd. The command line is in command_line.h, what each
// command prints in views.h; this file sends the requests and picks the view.
//
// Exit codes (command_line.h): 0 success, 1 the daemon answered with an error, 2 usage error,
// 3 the daemon cannot be reached.
#include <rapidjson/document.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>

#include "cli/admin_client.h"
#include "cli/command_line.h"
#include "cli/reply_hint.h"
#include "cli/sse.h"
#include "cli/cluster_views.h"
#include "cli/views.h"
#include "common/json_writer.h"

namespace {

using namespace hearth;
using cli::AdminTarget;
using cli::CommandLine;
using cli::HttpReply;
using cli::kExitDown;
using cli::kExitError;
using cli::kExitUsage;
using cli::Listener;

// A view of an answer's body: what a command prints.
using View = StatusOr<std::string> (*)(const std::string&);

int Fail(const Status& st) {
  std::cerr << "hearthctl: " << st.message() << "\n";
  if (st.code() == Status::Code::kUnavailable) return kExitDown;
  if (st.IsInvalidArgument()) return kExitUsage;
  return kExitError;
}

// Where a request went: enough to say what to do about an error answer.
struct Sent {
  const AdminTarget& target;
  std::string path;
  Listener listener = Listener::kAdmin;
};

int FailReply(const HttpReply& reply, const Sent& sent) {
  std::cerr << "hearthctl: hearthd answered " << reply.status << ": " << cli::ErrorMessage(reply) << "\n";
  const std::string hint = cli::ReplyHint(reply, sent.listener, sent.path, !sent.target.token.empty());
  if (!hint.empty()) std::cerr << "hearthctl: " << hint << "\n";
  return kExitError;
}

// Prints an answer through `text`; with --json, the answer itself or, when given, `json_view`
// of it.
int Show(const StatusOr<HttpReply>& reply, const Sent& sent, bool json, View text, View json_view = nullptr) {
  if (!reply.ok()) return Fail(reply.status());
  if (reply->status >= 400) return FailReply(*reply, sent);
  if (json && json_view == nullptr) {
    std::cout << reply->body;
    if (reply->body.empty() || reply->body.back() != '\n') std::cout << "\n";
    return 0;
  }
  StatusOr<std::string> shown = (json ? json_view : text)(reply->body);
  if (!shown.ok()) return Fail(shown.status());
  std::cout << *shown;
  return 0;
}

int GetAndShow(const AdminTarget& target, const std::string& path, bool json, View text, View json_view = nullptr) {
  return Show(cli::Get(target, path), {target, path}, json, text, json_view);
}

int PostAndShow(const AdminTarget& target, const std::string& path, const std::string& body, bool json, View text) {
  return Show(cli::Post(target, path, body), {target, path}, json, text);
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

// Prints a stream of chunks as text as it arrives (or each event's JSON, one per line, with
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
  int Finish(const StatusOr<HttpReply>& reply, const Sent& sent) {
    if (!json_ && !text_.empty()) std::cout << "\n";
    if (!reply.ok()) return Fail(reply.status());
    if (reply->status >= 400) return FailReply(*reply, sent);
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
    if (status.status >= 400) {
      std::string message = "cannot read the API address from the admin status (hearthd answered " +
                            std::to_string(status.status) + ": " + cli::ErrorMessage(status) + ")";
      const std::string hint = cli::ReplyHint(status, Listener::kAdmin, "/admin/v1/status", !admin.token.empty());
      if (!hint.empty()) message += "; " + hint;
      return Status::Internal(message + "; or pass --api-url");
    }
    rapidjson::Document d;
    d.Parse(status.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("listen") || !d["listen"].IsString()) {
      return Status::Internal("cannot find the API address in the admin status; pass --api-url");
    }
    HEARTH_ASSIGN_OR_RETURN(api, cli::ParseUrl(std::string("http://") + d["listen"].GetString()));
    if (api.host == "0.0.0.0") api.host = "127.0.0.1";
  }
  api.token = api_key;
  return api;
}

int Models(const CommandLine& cl, const AdminTarget& target) {
  const std::string& name = cl.model_name;
  const std::string model_url = "/admin/v1/models/" + name;
  const std::string force = cl.force ? "?force=true" : "";
  // Posts that may load the model, with a progress line while they run.
  auto loading = [&](const std::string& path, const std::string& body) {
    return Show(WithProgress(target, name, cl.json, [&] { return cli::Post(target, path, body); }), {target, path},
                cl.json, cli::RenderModel);
  };
  if (cl.command == "models add" || (cl.command == "models load" && !cl.model_path.empty())) {
    const std::string body =
        "{\"name\":" + JsonQuote(name) + ",\"path\":" + JsonQuote(cl.model_path) + (cl.pin ? ",\"pinned\":true}" : "}");
    return loading("/admin/v1/models", body);
  }
  if (cl.command == "models load") return loading(model_url + "/load", "");
  if (cl.command == "models stage") return loading(model_url + "/stage" + force, "");
  if (cl.command == "models remove") {
    return Show(cli::Delete(target, model_url + force), {target, model_url}, cl.json, cli::RenderRemoved);
  }
  if (cl.command == "models unload")
    return PostAndShow(target, model_url + "/unload" + force, "", cl.json, cli::RenderModel);
  if (cl.command == "models pin") return PostAndShow(target, model_url + "/pin", "", cl.json, cli::RenderModel);
  if (cl.command == "models unpin") return PostAndShow(target, model_url + "/unpin", "", cl.json, cli::RenderModel);
  if (cl.command == "models history") {
    const std::string limit = cl.limit > 0 ? "?limit=" + std::to_string(cl.limit) : "";
    return GetAndShow(target, model_url + "/history" + limit, cl.json, cli::RenderHistory);
  }
  return GetAndShow(target, "/admin/v1/models", cl.json, cli::RenderModels);
}

int Requests(const CommandLine& cl, const AdminTarget& target) {
  const std::string request_url = "/admin/v1/requests/" + cl.request_id;
  if (cl.command == "requests show") return GetAndShow(target, request_url, cl.json, cli::RenderRequest);
  if (cl.command == "requests cancel") {
    return Show(cli::Delete(target, request_url), {target, request_url}, cl.json, cli::RenderRequest);
  }
  if (cl.command == "requests follow") {
    StreamPrinter printer(cl.json);
    std::vector<std::pair<std::string, std::string>> headers;
    if (cl.after >= 0) headers.emplace_back("Last-Event-ID", std::to_string(cl.after));
    const std::string path = request_url + "/events";
    auto reply = cli::GetStream(
        target, path, [&](const char* d, size_t n) { return printer.Feed(d, n); }, headers);
    return printer.Finish(reply, {target, path});
  }
  std::string path = "/admin/v1/requests";
  std::string sep = "?";
  if (!cl.state.empty()) {
    path += sep + "state=" + cl.state;
    sep = "&";
  }
  if (cl.limit > 0) path += sep + "limit=" + std::to_string(cl.limit);
  return GetAndShow(target, path, cl.json, cli::RenderRequests);
}

// `run`: one prompt, or a chat from stdin, streamed from the API listener.
int Chat(const CommandLine& cl, const AdminTarget& target) {
  std::string api_key = cl.api_key;
  if (api_key.empty()) {
    if (const char* k = std::getenv("HEARTH_API_KEY")) api_key = k;
  }
  StatusOr<AdminTarget> api = ApiTarget(target, cl.api_url, api_key);
  if (!api.ok()) return Fail(api.status());
  const std::string path = "/v1/chat/completions";
  std::string history;  // the messages so far, as JSON objects joined by commas
  auto ask = [&](const std::string& prompt) {
    if (!history.empty()) history += ",";
    history += "{\"role\":\"user\",\"content\":" + JsonQuote(prompt) + "}";
    std::string body = "{\"model\":" + JsonQuote(cl.run_model) +
                       ",\"stream\":true,\"max_tokens\":" + std::to_string(cl.max_tokens) + ",\"messages\":[" +
                       history + "]";
    if (cl.temperature >= 0) body += ",\"temperature\":" + std::to_string(cl.temperature);
    body += "}";
    StreamPrinter printer(cl.json);
    auto reply = cli::PostStream(*api, path, body, [&](const char* d, size_t n) { return printer.Feed(d, n); });
    const int rc = printer.Finish(reply, {*api, path, Listener::kApi});
    history += ",{\"role\":\"assistant\",\"content\":" + JsonQuote(printer.text()) + "}";
    return rc;
  };
  if (!cl.run_prompt.empty()) return ask(cl.run_prompt);
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

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  if (std::optional<int> rc = cli::ParseCommandLine(argc, argv, &cl, std::cout, std::cerr)) return *rc;
  StatusOr<AdminTarget> target_or = cli::ResolveTarget(cl.url, cl.config);
  if (!target_or.ok()) return Fail(target_or.status());
  const AdminTarget target = *target_or;
  const std::string& cmd = cl.command;

  if (cmd == "status") return GetAndShow(target, "/admin/v1/status", cl.json, cli::RenderStatus);
  if (cmd == "workers") return GetAndShow(target, "/admin/v1/status", cl.json, cli::RenderWorkers, cli::WorkersJson);
  if (cmd.rfind("models ", 0) == 0) return Models(cl, target);
  if (cmd == "cluster list") return GetAndShow(target, "/admin/v1/cluster", cl.json, cli::RenderCluster);
  if (cmd == "cluster targets") {
    return GetAndShow(target, "/admin/v1/cluster", /*json=*/false, cli::ClusterTargets);
  }
  if (cmd.rfind("requests ", 0) == 0) return Requests(cl, target);
  if (cmd == "drain") {
    return PostAndShow(target, "/admin/v1/drain", cl.resume ? "{\"resume\":true}" : "", cl.json, cli::RenderDrain);
  }
  if (cmd == "reload") return PostAndShow(target, "/admin/v1/reload", "", cl.json, cli::RenderReload);
  if (cmd == "preempt") {
    const std::string body = cl.grace >= 0 ? "{\"grace_seconds\":" + std::to_string(cl.grace) + "}" : "";
    return PostAndShow(target, "/admin/v1/preempt", body, cl.json, cli::RenderPreempt);
  }
  if (cmd == "metrics") return GetAndShow(target, "/metrics", cl.json, cli::RenderMetrics, cli::MetricsJson);
  if (cmd == "run") return Chat(cl, target);
  std::cerr << "hearthctl: unknown command " << cmd << "\n";
  return kExitUsage;
}
