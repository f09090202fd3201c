// Runtime ISA detection and the process-wide active level.
#include "kernels/cpu/cpu_isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace hearth::kernels {
namespace {

Isa Detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  if (!avx2) return Isa::kScalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return avx512 ? Isa::kAvx512 : Isa::kAvx2;
#else
  return Isa::kScalar;
#endif
}

Isa InitialIsa() {
  Isa isa = DetectedIsa();
  if (const char* env = std::getenv("HEARTH_CPU_ISA")) {
    StatusOr<Isa> wanted = ParseIsa(env);
    // An unknown or unsupported request keeps the detected level: a typo must
    // not crash a daemon, and a higher level than the CPU has cannot run.
    if (wanted.ok() && *wanted < isa) isa = *wanted;
  }
  return isa;
}

std::atomic<int>& ActiveSlot() {
  static std::atomic<int> slot{static_cast<int>(InitialIsa())};
  return slot;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "unknown";
}

StatusOr<Isa> ParseIsa(std::string_view name) {
  if (name == "scalar") return Isa::kScalar;
  if (name == "avx2") return Isa::kAvx2;
  if (name == "avx512") return Isa::kAvx512;
  return Status::InvalidArgument("unknown CPU ISA '" + std::string(name) + "'");
}

Isa DetectedIsa() {
  static const Isa detected = Detect();
  return detected;
}

Isa ActiveIsa() { return static_cast<Isa>(ActiveSlot().load(std::memory_order_relaxed)); }

Status SetActiveIsa(Isa isa) {
  if (isa > DetectedIsa()) {
    return Status::FailedPrecondition(std::string("CPU does not support ") + IsaName(isa));
  }
  ActiveSlot().store(static_cast<int>(isa), std::memory_order_relaxed);
  return Status::Ok();
}

}  // namespace hearth::kernels
