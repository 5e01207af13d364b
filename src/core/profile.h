#pragma once
// Per-op-kind time profile (`mofa bench --profile`). Off by default; each op's single dispatch
// point wraps its kernel call in profile::timed, which costs one predictable branch when off.
// Kernels that fan out over the thread pool are timed from the calling thread, so a kind's time is
// the wall time the forward spent in it. Counters are process-wide atomics: no allocation or lock
// per call.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mofa::profile {

// What an op call is charged to. Linear layers are split by projection (from the weight's name).
enum class Kind : int {
  linear_qkv,    // attention q/k/v projections
  linear_o,      // attention output projection
  linear_mlp,    // MLP / MoE experts and router
  linear_head,   // output head (lm_head, or the tied embedding)
  linear_other,  // any other linear layer
  embedding,     // token embedding lookup
  attention,     // scores, softmax and weighted sum over the KV cache
  norm,          // RMSNorm (layer, final and q/k norms)
  rope,          // rotary position embedding
  elementwise,   // add, silu_mul, softmax
  count
};
inline constexpr int kKindCount = static_cast<int>(Kind::count);

// Short stable name for tables and JSON keys ("linear_qkv", "attention", ...).
std::string_view kind_name(Kind k);

// Classifies a linear weight by its checkpoint name (model.layers.3.self_attn.q_proj.weight ->
// linear_qkv, lm_head.weight and model.embed_tokens.weight -> linear_head, ...).
Kind linear_kind(std::string_view weight_name);

namespace detail {
extern std::atomic<bool> enabled;
void record(Kind k, uint64_t ns);
inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}
}  // namespace detail

inline bool enabled() {
  return detail::enabled.load(std::memory_order_relaxed);
}
void set_enabled(bool on);
// Zeroes every counter.
void reset();

// Accumulated time and call count per kind since the last reset.
struct Counters {
  std::array<uint64_t, kKindCount> ns{};
  std::array<uint64_t, kKindCount> calls{};
  uint64_t total_ns() const;
};
Counters snapshot();

// One line of a profile table: a kind, or "other" (wall time not spent inside any op: KV-cache
// appends, arena and forward glue, and whatever the caller did between forwards).
struct Row {
  std::string name;
  double ms = 0;     // total milliseconds
  double share = 0;  // fraction of the wall time, 0..1
  uint64_t calls = 0;
};
// Kinds with any calls, in enum order, then "other" = wall_ns minus the op time (never negative).
std::vector<Row> rows(const Counters& c, uint64_t wall_ns);

// Runs fn() and, when profiling is on, charges its wall time to `kind`.
template <typename Fn>
inline void timed(Kind kind, Fn&& fn) {
  if (enabled()) [[unlikely]] {
    const uint64_t t0 = detail::now_ns();
    fn();
    detail::record(kind, detail::now_ns() - t0);
  } else {
    fn();
  }
}

// Same, with the kind computed (only when profiling is on) by kind_of().
template <typename KindFn, typename Fn>
inline void timed_by(KindFn&& kind_of, Fn&& fn) {
  if (enabled()) [[unlikely]] {
    const uint64_t t0 = detail::now_ns();
    fn();
    detail::record(kind_of(), detail::now_ns() - t0);
  } else {
    fn();
  }
}

}  // namespace mofa::profile
