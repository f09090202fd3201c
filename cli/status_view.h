// Renders the admin status document as human-readable tables.
#pragma once

#include <string>

#include "common/status.h"

namespace hearth::cli {

StatusOr<std::string> RenderStatus(const std::string& status_json);

}  // namespace hearth::cli
