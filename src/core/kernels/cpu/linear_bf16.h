#pragma once
// Fast-mode linear for bf16 weights on CPUs with AVX512-BF16 dot products (AMD Zen 4, Intel
// Cooper Lake / Sapphire Rapids and later): x is rounded to bf16 once per call, as bf16 inference
// computes, and each instruction multiplies 32 bf16 pairs exactly into f32 sums, twice the work
// of an f32 FMA. Highway 1.0 has no BF16 target, hence target attributes and a CPU check here.
#include <cstdint>

#include "core/kernels/dispatch.h"

namespace mofa::kernels::cpu {

// True where the CPU (and OS) can run linear_bf16_dot.
bool bf16_dot_available();

// y[m, w.rows] = bf16(x) · wᵀ for dense bf16 w; w.cols must be even. The bias is the caller's.
void linear_bf16_dot(const float* x, int64_t m, const WeightView& w, float* y);

// One row of x against outs[0..n) (all dense bf16, even and equal cols): x is rounded once and
// every product's rows run in one parallel region. Biases are the caller's.
void matvec_bf16_dot_shared(const float* x, const LinearOut* outs, int n);

}  // namespace mofa::kernels::cpu
