#include "core/profile.h"

#include <algorithm>

namespace mofa::profile {

namespace detail {
std::atomic<bool> enabled{false};
}  // namespace detail

namespace {

std::array<std::atomic<uint64_t>, kKindCount> g_ns{};
std::array<std::atomic<uint64_t>, kKindCount> g_calls{};

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::linear_qkv:
      return "linear_qkv";
    case Kind::linear_o:
      return "linear_o";
    case Kind::linear_mlp:
      return "linear_mlp";
    case Kind::linear_head:
      return "linear_head";
    case Kind::linear_other:
      return "linear_other";
    case Kind::embedding:
      return "embedding";
    case Kind::attention:
      return "attention";
    case Kind::norm:
      return "norm";
    case Kind::rope:
      return "rope";
    case Kind::elementwise:
      return "elementwise";
    case Kind::count:
      break;
  }
  return "unknown";
}

Kind linear_kind(std::string_view name) {
  // Checkpoint names are module paths; the last component says the projection, the path says
  // whether a generic one ("dense") belongs to attention or to the MLP.
  if (name.size() > 7 && name.substr(name.size() - 7) == ".weight") name.remove_suffix(7);
  const size_t dot = name.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? name : name.substr(dot + 1);
  if (last == "lm_head" || last == "embed_tokens" || last == "output_layer" || last == "wte")
    return Kind::linear_head;
  if (last == "q_proj" || last == "k_proj" || last == "v_proj" || last == "qkv_proj" ||
      last == "query_key_value" || last == "c_attn" || contains(last, "q_a_proj") ||
      contains(last, "q_b_proj") || contains(last, "kv_a_proj") || contains(last, "kv_b_proj"))
    return Kind::linear_qkv;
  if (last == "o_proj" || last == "out_proj" ||
      ((last == "dense" || last == "c_proj") &&
       (contains(name, "attn") || contains(name, "attention"))))
    return Kind::linear_o;
  if (contains(name, "mlp") || contains(name, "moe") || contains(name, "experts") ||
      contains(name, "feed_forward") || contains(name, "ffn") || last == "gate_proj" ||
      last == "up_proj" || last == "down_proj" || last == "gate_up_proj")
    return Kind::linear_mlp;
  return Kind::linear_other;
}

void detail::record(Kind k, uint64_t ns) {
  const auto i = static_cast<size_t>(k);
  g_ns[i].fetch_add(ns, std::memory_order_relaxed);
  g_calls[i].fetch_add(1, std::memory_order_relaxed);
}

void set_enabled(bool on) {
  detail::enabled.store(on, std::memory_order_relaxed);
}

void reset() {
  for (int i = 0; i < kKindCount; ++i) {
    g_ns[i].store(0, std::memory_order_relaxed);
    g_calls[i].store(0, std::memory_order_relaxed);
  }
}

uint64_t Counters::total_ns() const {
  uint64_t t = 0;
  for (uint64_t v : ns) t += v;
  return t;
}

Counters snapshot() {
  Counters c;
  for (int i = 0; i < kKindCount; ++i) {
    c.ns[i] = g_ns[i].load(std::memory_order_relaxed);
    c.calls[i] = g_calls[i].load(std::memory_order_relaxed);
  }
  return c;
}

std::vector<Row> rows(const Counters& c, uint64_t wall_ns) {
  std::vector<Row> out;
  const double wall = static_cast<double>(wall_ns);
  auto share = [&](uint64_t ns) { return wall > 0 ? static_cast<double>(ns) / wall : 0.0; };
  for (int i = 0; i < kKindCount; ++i) {
    if (c.calls[i] == 0) continue;
    out.push_back({std::string(kind_name(static_cast<Kind>(i))), static_cast<double>(c.ns[i]) / 1e6,
                   share(c.ns[i]), c.calls[i]});
  }
  const uint64_t ops = c.total_ns();
  const uint64_t other = wall_ns > ops ? wall_ns - ops : 0;
  out.push_back({"other", static_cast<double>(other) / 1e6, share(other), 0});
  return out;
}

}  // namespace mofa::profile
