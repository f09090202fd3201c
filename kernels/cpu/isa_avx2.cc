// AVX2 + FMA + F16C kernels (this file is compiled with those flags only).
#include "kernels/cpu/isa_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace hearth::kernels::internal {
namespace avx2 {
#define HEARTH_USE_VNNI 0
#include "kernels/cpu/simd_kernels.inc"
#undef HEARTH_USE_VNNI
}  // namespace avx2

const IsaKernels& Avx2Kernels() { return avx2::Table(); }

}  // namespace hearth::kernels::internal
#else
namespace hearth::kernels::internal {
const IsaKernels& Avx2Kernels() { return ScalarKernels(); }
}  // namespace hearth::kernels::internal
#endif
