// Base64 (RFC 4648, standard alphabet, padded): etcd's JSON API carries keys and values so.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace hearth {

std::string Base64Encode(std::string_view bytes);
// InvalidArgument for a character outside the alphabet, a length that is not a multiple of 4,
// misplaced padding or non-zero bits after the last byte.
StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace hearth
