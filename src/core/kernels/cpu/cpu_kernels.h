#pragma once
// The Highway kernels (the KernelTable returned by cpu_kernels()); each picks its ISA at run time
// and splits work over thread_pool_global().
#include "core/kernels/dispatch.h"

namespace mofa::kernels::cpu {

void linear(const float* x, int64_t m, const WeightView& w, const void* bias, DType bias_dtype,
            float* y, ops::MatmulMode mode);
void linear_shared(const float* x, int64_t m, const LinearOut* outs, int n, ops::MatmulMode mode);
void embedding(const WeightView& w, const int32_t* ids, int64_t n, float* out);
void rms_norm(const float* x, int64_t m, int64_t d, const void* weight, DType wdtype, float eps,
              float* y);
void rope_apply(float* x, int64_t m, int64_t n_heads, const int32_t* pos, const ops::Rope& rope);
void softmax(float* x, int64_t rows, int64_t n);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void add(const float* a, const float* b, float* out, int64_t n);
void attention(const AttentionArgs& args);
void attention_scores(const AttentionArgs& args);

}  // namespace mofa::kernels::cpu
