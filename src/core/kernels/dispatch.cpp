#include "core/kernels/dispatch.h"

#include <atomic>

namespace mofa::kernels {

namespace {
std::atomic<const KernelTable*>& active_slot() {
  static std::atomic<const KernelTable*> slot{nullptr};
  return slot;
}
}  // namespace

const KernelTable& active_kernels() {
  const KernelTable* t = active_slot().load(std::memory_order_acquire);
  return t ? *t : cpu_kernels();
}

void kernels_use(const KernelTable& table) {
  active_slot().store(&table, std::memory_order_release);
}

WeightView weight_view(const Weight& w) {
  WeightView v;
  v.dtype = w.w.dtype();
  v.data = w.w.raw();
  v.rows = w.rows;
  v.cols = w.cols;
  if (w.quantized()) {
    v.scales = w.scales.raw();
    v.biases = w.biases.raw();
    v.sdtype = w.scales.dtype();
    v.bits = w.quant.bits;
    v.group_size = w.quant.group_size;
    v.row_words = w.w.dim(1);
  }
  return v;
}

}  // namespace mofa::kernels
