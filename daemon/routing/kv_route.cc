#include "daemon/routing/kv_route.h"

#include <httplib.h>
#include <rapidjson/document.h>

#include <memory>

#include "common/log.h"
#include "daemon/api/auth.h"
#include "daemon/http/router.h"
#include "daemon/openai/openai_error.h"
#include "daemon/routing/kv_wire.h"

namespace hearth::daemon {
std::string KvImportedEvent(int32_t blocks) { return "{\"imported_blocks\":" + std::to_string(blocks) + "}"; }

StatusOr<int32_t> ParseKvImportedEvent(const std::string& data) {
  rapidjson::Document d;
  d.Parse(data.c_str(), data.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("imported_blocks") || !d["imported_blocks"].IsInt() ||
      d["imported_blocks"].GetInt() < 0) {
    return Status::Corruption("the peer's KV answer is not {\"imported_blocks\": N}");
  }
  return d["imported_blocks"].GetInt();
}

void RegisterKvRoute(http::Router& router, KvRouteOptions options) {
  auto auth = std::make_shared<BearerAuth>(std::vector<std::string>{options.token});
  router.Post(kKvPath, [options, auth](const httplib::Request& req, httplib::Response& res) {
    if (options.token.empty() || !auth->Allows(req.get_header_value("Authorization"))) {
      return SetError(res, 401, "node-to-node calls need the cluster token (HEARTH_CLUSTER_TOKEN)",
                    "authentication_error");
    }
    if (options.refusal) {
      if (std::string why = options.refusal(); !why.empty()) {
        return SetError(res, 503, "this node takes no routed work: " + why, "server_error");
      }
    }
    StatusOr<KvPrefix> prefix = DecodeKvPrefix(req.body);
    if (!prefix.ok()) return SetError(res, 400, prefix.status().message(), "invalid_request_error");
    const int32_t vocab = options.vocab_size ? options.vocab_size(prefix->model) : 0;
    if (vocab <= 0) return SetError(res, 404, "model '" + prefix->model + "' not found", "invalid_request_error");
    for (int32_t t : prefix->tokens) {
      if (t >= vocab) {
        return SetError(res, 400, "KV body: token id " + std::to_string(t) + " is outside the vocabulary",
                      "invalid_request_error");
      }
    }
    StatusOr<int32_t> written = options.import(*prefix);
    if (!written.ok()) {
      // Not warm here (yet), another layout: the request is recomputed instead; no error is worse.
      LogInfo("KV blocks not imported").Kv("model", prefix->model).Kv("why", written.status().ToString());
      return SetError(res, ErrorFromStatus(written.status()));
    }
    if (*written > 0 && options.on_import) options.on_import(*written, static_cast<uint64_t>(*written) * prefix->bytes_per_block);
    res.set_content("data: " + KvImportedEvent(*written) + "\n\n", "text/event-stream");
  });
}

}  // namespace hearth::daemon
