// The generated Unicode category table (model/unicode_data.cc, from model/unicode_data_gen.py).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::model {

// Code points from `start` up to the next run's start share `flags` (CodepointFlags).
struct CodepointRun {
  uint32_t start;
  uint16_t flags;
};

extern const CodepointRun kCodepointRuns[];  // sorted by start; the first starts at 0
extern const size_t kNumCodepointRuns;

}  // namespace hearth::model
