#include "core/kernels/cpu/cpu_kernels.h"

namespace mofa::kernels {

const KernelTable& cpu_kernels() {
  static const KernelTable table{
      "cpu",           cpu::linear,        cpu::embedding,        cpu::rms_norm,
      cpu::rope_apply, cpu::softmax,       cpu::silu_mul,         cpu::add,
      cpu::attention,  cpu::linear_shared, cpu::attention_scores,
  };
  return table;
}

}  // namespace mofa::kernels
