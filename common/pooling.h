// How an embedding request turns a sequence's hidden states into one vector: plain data that
// the API, the engine and the worker protocol share.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class Pooling : uint8_t {
  kNone = 0,  // a generation request: nothing pooled, a token sampled
  kMean = 1,  // the mean of every prompt position's final (normed) hidden state
  kLast = 2,  // the last prompt position's
};

inline std::optional<Pooling> PoolingFromName(std::string_view name) {
  if (name == "mean") return Pooling::kMean;
  if (name == "last") return Pooling::kLast;
  return std::nullopt;
}

}  // namespace hearth
