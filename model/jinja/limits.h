// The bounds that keep an untrusted template from exhausting the daemon: every one is checked
// where the quantity grows, and exceeding it is a template error, never a crash or a hang.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::model::jinja {

inline constexpr size_t kMaxStringBytes = 8u << 20;   // any string value, and the output
inline constexpr size_t kMaxListItems = 100'000;      // any list, range() included
inline constexpr int64_t kMaxSteps = 1'000'000;       // statements and expressions evaluated
inline constexpr int kMaxCallDepth = 20;              // nested macro calls
inline constexpr int kMaxValueDepth = 128;            // lists and dicts inside each other

}  // namespace hearth::model::jinja
