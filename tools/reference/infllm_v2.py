"""InfLLM-v2 block-sparse attention (config.json `sparse_config` of MiniCPM4 / MiniCPM-SALA), an
independent PyTorch statement of what modeling_minicpm_sala.py's MiniCPMInfLLMv2Attention computes
with OpenBMB/infllmv2_cuda_impl's kernels in a forward whose keys reach dense_len (below that the
layer attends densely). For each KV head g and query row at position p, in a forward holding L keys:

  1. Keys are compressed by mean-pooling windows: k1 entry j averages positions
     [j * stride, j * stride + size) (size = kernel_size, stride = kernel_stride), k2 the same with
     4 * kernel_size and 4 * kernel_stride (CompressK / compress_k2). Entries exist for whole
     windows of the forward's L keys; the query sees those that end at or before p.
  2. Stage 1 (infllmv2_attn_stage1): per query head h of the group, the log-sum-exp of
     q_h . k2_j * scale over the visible k2 entries normalises exp(q_h . k1_j * scale - lse_h) for
     the visible k1 entries (0 for the others, and for every entry while no k2 entry is visible);
     the group's heads are summed.
  3. max_pooling_1d: block b (block_size positions) scores the max over k1 entries
     [b * P - 1, b * P + P) of the forward's entries, P = block_size / kernel_stride (-inf if
     none); blocks b < init_blocks and b in [q - local_blocks, q] score +inf, where
     q = p // block_size and local_blocks = window_size // block_size.
  4. The topk + local_blocks best of the forward's ceil(L / block_size) blocks are kept (equal
     scores: the lower block first), those after q dropped (topk_idx > q_idx -> -1).
  5. Stage 2 (infllmv2_attn_varlen_func): softmax attention (scale 1/sqrt(head_dim)) of the query
     over the keys <= p of the kept blocks.

Usage: rows computed in one forward share L; a decode step is a forward of one row with L = p + 1.

cuda_alignment (off by default; for measuring the difference): infllmv2_attn_stage1's causal
mask in a multi-row forward aligns the compressed entries to the forward's end, so that when
L = stride - 1 (mod stride) each query of that forward sees one entry fewer than have ended
(mask.h apply_mask_stage1: visible = (p + 1) // s - 1 + C - (L - s + 1) // s, clamped to [0, C]).
"""

import torch

DEFAULTS = {"block_size": 64, "dense_len": 8192, "init_blocks": 1, "kernel_size": 32,
            "kernel_stride": 16, "topk": 64, "window_size": 2048, "use_nope": False}


class SparseConfig:
    """sparse_config with the reference's defaults (MiniCPMInfLLMv2Attention.__init__)."""

    def __init__(self, sc):
        sc = sc or {}
        for key, default in DEFAULTS.items():
            setattr(self, key, sc.get(key, default))
        self.local_blocks = self.window_size // self.block_size
        self.n_select = self.topk + self.local_blocks


def n_compressed(n_keys, size, stride):
    """Whole windows of `size` every `stride` in the first n_keys positions (tensor or int)."""
    if torch.is_tensor(n_keys):
        return torch.where(n_keys >= size, (n_keys - size) // stride + 1, torch.zeros_like(n_keys))
    return (n_keys - size) // stride + 1 if n_keys >= size else 0


def compress(k, size, stride):
    """k [G, L, d] -> [G, C, d]: the mean of each whole window."""
    c = n_compressed(k.shape[1], size, stride)
    if c == 0:
        return k.new_zeros(k.shape[0], 0, k.shape[2])
    idx = torch.arange(c)[:, None] * stride + torch.arange(size)[None, :]
    return k[:, idx, :].mean(dim=2)


def visible_entries(pos, calls, prefill_len, size, stride, cuda_alignment):
    """Compressed entries each row sees: those ending at or before it (see cuda_alignment)."""
    v = n_compressed(pos + 1, size, stride)
    if not cuda_alignment or prefill_len is None or prefill_len < 2:
        return v
    c = n_compressed(prefill_len, size, stride)
    aligned = ((pos + 1) // stride - 1 + c - (prefill_len - stride + 1) // stride).clamp(0, c)
    return torch.where(calls == prefill_len, aligned, v)


def select_blocks(q, k, positions, call_lens, cfg, scale, prefill_len=None, cuda_alignment=False):
    """Blocks each row keeps: bool [G, n, ceil(max L / block_size)].

    q [H, n, d] rows at `positions`; k [G, >= max L, d]; call_lens[r] = the keys of row r's forward
    (prefill_len: that of the one multi-row forward, for cuda_alignment).
    """
    heads, n, d = q.shape
    groups = k.shape[0]
    group = heads // groups
    bs, stride, size = cfg.block_size, cfg.kernel_stride, cfg.kernel_size
    pos = torch.tensor(positions, dtype=torch.long)
    calls = torch.tensor(call_lens, dtype=torch.long)
    l_max = int(calls.max())
    c1 = compress(k[:, :l_max], size, stride)           # [G, C1, d]
    c2 = compress(k[:, :l_max], 4 * size, 4 * stride)   # [G, C2, d]
    v1 = visible_entries(pos, calls, prefill_len, size, stride, cuda_alignment)
    v2 = visible_entries(pos, calls, prefill_len, 4 * size, 4 * stride, cuda_alignment)
    qg = q.reshape(groups, group, n, d)

    s2 = torch.einsum("gxnd,gcd->gxnc", qg, c2) * scale
    s2 = s2.masked_fill(torch.arange(c2.shape[1])[None, None, None, :] >= v2[None, None, :, None],
                        float("-inf"))
    lse = torch.logsumexp(s2, dim=-1) if c2.shape[1] else torch.full_like(qg[..., 0], float("-inf"))
    s1 = torch.einsum("gxnd,gcd->gxnc", qg, c1) * scale
    visible = (torch.arange(c1.shape[1])[None, :] < v1[:, None]) & (v2[:, None] > 0)  # [n, C1]
    p1 = torch.where(visible[None, None], torch.exp(s1 - lse[..., None]), torch.zeros_like(s1))
    score = p1.sum(dim=1)                                # [G, n, C1]

    nb = (l_max + bs - 1) // bs
    per = bs // stride
    block_score = torch.full((groups, n, nb), float("-inf"), dtype=q.dtype)
    for call in sorted(set(call_lens)):  # rows of one forward share its k1 entries
        rows = (calls == call).nonzero().flatten()
        n1 = n_compressed(call, size, stride)
        for b in range((call + bs - 1) // bs):
            lo, hi = max(b * per - 1, 0), min(b * per + per, n1)
            if lo < hi:
                block_score[:, rows, b] = score[:, rows, lo:hi].max(dim=-1).values
    blk = torch.arange(nb)[None, :]
    qi = (pos // bs)[:, None]
    forced = (blk < cfg.init_blocks) | ((qi >= blk) & (qi <= blk + cfg.local_blocks))
    exists = blk * bs < calls[:, None]
    block_score = torch.where((forced & exists)[None], torch.full_like(block_score, float("inf")),
                              block_score)

    keep = torch.zeros(groups, n, nb, dtype=torch.bool)
    order = torch.sort(block_score, dim=-1, descending=True, stable=True).indices
    for r in range(n):
        n_keep = min(cfg.n_select, (int(calls[r]) + bs - 1) // bs)
        keep[:, r].scatter_(-1, order[:, r, :n_keep], True)
    return keep & (blk <= qi)[None]


def infllm_v2_attention(q, k, v, positions, call_lens, cfg, scale, prefill_len=None,
                        cuda_alignment=False):
    """q [H, n, d] rows at `positions`; k, v [G, L, d]. Returns ([H, n, d], kept blocks)."""
    heads, n, d = q.shape
    groups, length, _ = k.shape
    group = heads // groups
    keep = select_blocks(q, k, positions, call_lens, cfg, scale, prefill_len, cuda_alignment)
    t = torch.arange(length)
    pos = torch.tensor(positions, dtype=torch.long)
    block_of = t // cfg.block_size
    seen = keep[:, :, block_of] & (t[None, :] <= pos[:, None])[None]  # [G, n, L]
    seen = seen.repeat_interleave(group, dim=0)                     # [H, n, L]
    kh = k.repeat_interleave(group, dim=0)
    vh = v.repeat_interleave(group, dim=0)
    logits = (q @ kh.transpose(1, 2)) * scale
    logits = logits.masked_fill(~seen, float("-inf"))
    return torch.softmax(logits, dim=-1) @ vh, keep

