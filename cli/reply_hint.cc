#include "cli/reply_hint.h"

namespace hearth::cli {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string Unauthorized(Listener listener, bool sent_credentials) {
  if (listener == Listener::kAdmin) {
    return sent_credentials
               ? "the admin token was refused: $HEARTH_ADMIN_TOKEN (or admin_token in the hearth.toml hearthctl "
                 "reads, --config or $HEARTH_CONFIG) must match the daemon's admin_token in hearth.toml or its "
                 "$HEARTH_ADMIN_TOKEN"
               : "the admin API wants a token: set $HEARTH_ADMIN_TOKEN, or point --config (or $HEARTH_CONFIG) at "
                 "the hearth.toml whose admin_token the daemon uses";
  }
  return sent_credentials ? "the API key was refused: --api-key (or $HEARTH_API_KEY) must be one of the daemon's "
                            "keys, from its $HEARTH_API_KEYS or api_keys in hearth.toml"
                          : "the API wants a key: pass --api-key or set $HEARTH_API_KEY to one of the daemon's keys "
                            "(its $HEARTH_API_KEYS or api_keys in hearth.toml)";
}

}  // namespace

std::string ReplyHint(const HttpReply& reply, Listener listener, const std::string& path, bool sent_credentials) {
  if (reply.status == 401) return Unauthorized(listener, sent_credentials);
  // Both listeners answer a path they do not serve with "no route for METHOD PATH". The admin
  // listener serves every /admin/v1/ path hearthctl asks for, and the API listener every /v1/ one.
  if (reply.status != 404 || !StartsWith(ErrorMessage(reply), "no route for ")) return "";
  if (listener == Listener::kAdmin && StartsWith(path, "/admin/")) {
    return "this looks like hearthd's API listener, not the admin one: point --url (or $HEARTH_URL) at the "
           "daemon's admin_listen address (default 127.0.0.1:8081)";
  }
  if (listener == Listener::kApi && StartsWith(path, "/v1/")) {
    return "this looks like hearthd's admin listener, not the API one: point --api-url at the daemon's listen "
           "address";
  }
  return "";
}

}  // namespace hearth::cli
