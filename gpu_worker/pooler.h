// Pools one sequence's final hidden states into an embedding, chunk by chunk: the rows arrive
// in position order over as many steps as the sequence's prefill takes, and the result does
// not depend on where the chunks were cut (the running sum adds each row in position order, in
// double precision, whatever the chunking). The result is L2-normalised.
#pragma once

#include <cstdint>
#include <vector>

#include "common/pooling.h"

namespace hearth::worker {

class Pooler {
 public:
  // mode: kMean or kLast. width: the hidden size.
  Pooler(Pooling mode, int64_t width);

  // rows: [num_rows, width], the next positions' hidden states.
  void Add(const float* rows, int64_t num_rows);
  // The pooled vector scaled to unit L2 norm ([width]); all zeros when nothing was added or
  // the pool is the zero vector.
  std::vector<float> Finish() const;
  int64_t num_rows() const { return num_rows_; }

 private:
  Pooling mode_;
  int64_t width_;
  int64_t num_rows_ = 0;
  std::vector<double> sum_;  // [width] kMean: the rows added so far
  std::vector<float> last_;  // [width] kLast: the latest row
};

// Scales `v` to unit L2 norm (the norm summed in double, in index order); a zero vector stays.
std::vector<float> L2Normalize(const std::vector<double>& v);

}  // namespace hearth::worker
