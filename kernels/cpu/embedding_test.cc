#include "kernels/cpu/embedding.h"

#include "gtest/gtest.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/test_util.h"

namespace hearth::kernels {
namespace {

using testing::AllWeightTypes;
using testing::AvailableIsas;
using testing::RandomWeights;
using testing::ScopedIsa;

TEST(Embedding, RowsOfEveryType) {
  for (GgmlType type : AllWeightTypes()) {
    const int64_t dim = BlockElems(type) == 1 ? 111 : 256, vocab = 19;
    std::vector<uint8_t> table = RandomWeights(type, vocab, dim, 5);
    const size_t rb = RowBytes(type, dim).value();
    WeightView view{type, vocab, dim, table.data(), rb};
    const std::vector<int32_t> ids = {7, 0, 18, 7};
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      std::vector<float> out(ids.size() * dim);
      ASSERT_TRUE(Embedding(view, ids.data(), ids.size(), out.data()).ok());
      for (size_t i = 0; i < ids.size(); ++i) {
        std::vector<float> want(dim);
        DequantizeRowRef(type, table.data() + ids[i] * rb, want.data(), dim);
        for (int64_t c = 0; c < dim; ++c) ASSERT_EQ(out[i * dim + c], want[c]) << GgmlTypeName(type);
      }
    }
    const int32_t bad = 19;
    std::vector<float> out(dim);
    EXPECT_TRUE(Embedding(view, &bad, 1, out.data()).IsInvalidArgument());
  }
}

}  // namespace
}  // namespace hearth::kernels
