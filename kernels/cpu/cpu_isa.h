// Which SIMD level the CPU kernels run at: detected at runtime, lowered by
// HEARTH_CPU_ISA=scalar|avx2|avx512 or by tests through SetActiveIsa.
#pragma once

#include <string_view>

#include "common/status.h"

namespace hearth::kernels {

// Ordered: a level implies every lower one.
enum class Isa : int {
  kScalar = 0,  // portable C++, no intrinsics
  kAvx2 = 1,    // AVX2 + FMA + F16C
  kAvx512 = 2,  // AVX-512 F/BW/VL + VNNI (+ the AVX2 set)
};

const char* IsaName(Isa isa);
StatusOr<Isa> ParseIsa(std::string_view name);

// The best level this CPU supports (ignores the environment).
Isa DetectedIsa();

// The level kernels use now. On first use it is DetectedIsa(), lowered to
// HEARTH_CPU_ISA when that is set to a supported level.
Isa ActiveIsa();

// Process-wide switch (meant for tests and benchmarks; not thread-safe with
// kernels running concurrently). Fails when the CPU lacks `isa`.
Status SetActiveIsa(Isa isa);

}  // namespace hearth::kernels
