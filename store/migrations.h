// The schema, as an ordered list of migrations. Never edit a released one:
// append a new one.
#pragma once

#include <span>

namespace hearth::store {

struct Migration {
  int version;
  const char* sql;
};

std::span<const Migration> Migrations();

}  // namespace hearth::store
