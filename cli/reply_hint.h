// What an operator can do about an error answer from hearthd: which setting a 401 is about, and
// which listener a URL points at when a route is missing.
#pragma once

#include <string>

#include "cli/admin_client.h"

namespace hearth::cli {

// hearthd's two listeners: the admin API (hearthctl's --url) and the OpenAI API (run's --api-url).
enum class Listener { kAdmin, kApi };

// One sentence for an error `reply` to a request for `path` on `listener`; "" when there is
// nothing to add. `sent_credentials`: whether the request carried a token or key.
std::string ReplyHint(const HttpReply& reply, Listener listener, const std::string& path, bool sent_credentials);

}  // namespace hearth::cli
