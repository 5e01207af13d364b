#include "core/kernels/reference/reference_kernels.h"

namespace mofa::kernels {

const KernelTable& reference_kernels() {
  static const KernelTable table{
      "reference",
      reference::linear,
      reference::embedding,
      reference::rms_norm,
      reference::rope_apply,
      reference::softmax,
      reference::silu_mul,
      reference::add,
      reference::attention,
      reference::linear_shared,
      reference::attention_scores,
  };
  return table;
}

}  // namespace mofa::kernels
