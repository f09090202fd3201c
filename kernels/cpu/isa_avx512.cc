// AVX-512 (F/BW/VL) + VNNI kernels (this file is compiled with those flags).
#include "kernels/cpu/isa_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace hearth::kernels::internal {
namespace avx512 {
#define HEARTH_USE_VNNI 1
#include "kernels/cpu/simd_kernels.inc"
#undef HEARTH_USE_VNNI
}  // namespace avx512

const IsaKernels& Avx512Kernels() { return avx512::Table(); }

}  // namespace hearth::kernels::internal
#else
namespace hearth::kernels::internal {
const IsaKernels& Avx512Kernels() { return ScalarKernels(); }
}  // namespace hearth::kernels::internal
#endif
