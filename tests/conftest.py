"""Hypothesis profiles, shared strategies and dtype tolerances for the whole suite."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# --8<-- [start:profiles]
# `ci`: deterministic (same examples every run), so a red CI is reproducible.
# `dev`: random examples, a fresh sample each run. `thorough`: 1000, not 60.
settings.register_profile(
    "ci", max_examples=60, derandomize=True, deadline=None, print_blob=True
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)
# --8<-- [end:profiles]

DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)

# What the attention strategy draws (the verification page quotes these bounds):
# the size of the entries of q, k and v, the most tokens n_q or n_k (most draws stay
# at ATTENTION_SMALL_N or fewer; about one in ATTENTION_LARGE_N_ODDS goes up to
# ATTENTION_MAX_N), and how often a drawn mask hides every key from some query.
ATTENTION_MAGNITUDES = (1e-3, 0.1, 1.0, 4.0, 30.0, 1e3, 1e4)
ATTENTION_SMALL_N = 8
ATTENTION_MAX_N = 128
ATTENTION_LARGE_N_ODDS = 10
ATTENTION_MAX_D = 8
ATTENTION_FULLY_MASKED_ODDS = 4

# --8<-- [start:tolerances]
# Tolerances follow the dtype and the problem, never a bare constant.
# float16 and bfloat16 are computed in float32 and rounded once at the end, so their
# error is float32's plus one rounding in their own precision.
ULPS = 64  # rounding errors of a few dozen operations, in units of eps(dtype)
SCORE_ULPS = 8  # per unit of score size: a score s is known to about 8 eps |s|


def eps(dtype: torch.dtype) -> float:
    """The distance from 1.0 to the next representable number in ``dtype``."""
    return torch.finfo(dtype).eps


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype selfattn computes in for inputs of ``dtype``."""
    low = (torch.float16, torch.bfloat16)
    return torch.float32 if dtype in low else dtype


def relative_tolerance(dtype: torch.dtype, condition: float = 1.0) -> float:
    """ULPS units of the computing precision, plus SCORE_ULPS units for each unit of
    ``condition - 1`` (how much the problem magnifies rounding errors; 1: not at
    all; for attention, ``QKV.weight_condition``, which makes this term the most
    that rounding the scores can move a row of weights), plus two units of
    ``dtype`` for the final rounding of float16 and bfloat16."""
    tol = eps(compute_dtype(dtype)) * (ULPS + SCORE_ULPS * (condition - 1))
    if compute_dtype(dtype) != dtype:
        tol += 2 * eps(dtype)
    return tol


def assert_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    dtype: torch.dtype | None = None,
    *,
    condition: float = 1.0,
    magnitude: float | None = None,
) -> None:
    """Equal up to ``relative_tolerance(dtype, condition)`` (``dtype`` defaults to
    ``actual``'s), relative to each element and to ``magnitude`` (default: the
    largest finite |expected|); NaN equal to NaN."""
    tol = relative_tolerance(dtype or actual.dtype, condition)
    if magnitude is None:
        finite = expected.detach().abs().nan_to_num(posinf=0.0, neginf=0.0)
        magnitude = float(finite.amax()) if finite.numel() else 0.0
    torch.testing.assert_close(
        actual.to(expected.dtype),
        expected,
        rtol=tol,
        atol=tol * magnitude,
        equal_nan=True,
    )


def largest(*tensors: torch.Tensor) -> float:
    """The largest |entry| of several tensors (e.g. the gradients of q, k and v)."""
    return max(
        (float(t.detach().abs().amax()) for t in tensors if t.numel()), default=0.0
    )


def _cast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.dtype.is_floating_point:
        return value.to(dtype)
    return value


def oracle_bound(
    reference: Callable[..., torch.Tensor],
    inputs: tuple[Any, ...],
    dtype: torch.dtype,
    *,
    magnitude: float,
    condition: float = 1.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, float]:
    """The float64 oracle ``reference(*inputs, **kwargs)`` and the error allowed to a
    computation in ``dtype``: twice the error of PyTorch's own computation in that
    precision (``reference`` on the inputs in float32 for float16 and bfloat16,
    rounded to ``dtype``; none for float64) plus a floor of
    ``relative_tolerance(dtype, condition) * magnitude``. The factor 2 is the rule
    of Dao-AILab/flash-attention's ``tests/test_flash_attn.py`` (FlashAttention-2,
    commit 765fbd9): ``(out - out_ref).abs().max() <= 2 * (out_pt -
    out_ref).abs().max()``, with ``out_ref`` upcast to float32 there (float64
    here)."""
    oracle = reference(*(_cast(t, torch.float64) for t in inputs), **kwargs)
    own_error = 0.0
    if dtype != torch.float64:
        low = reference(*(_cast(t, compute_dtype(dtype)) for t in inputs), **kwargs)
        diff = (low.to(dtype).double() - oracle).abs().nan_to_num(nan=0.0)
        own_error = float(diff.amax()) if diff.numel() else 0.0
    floor = relative_tolerance(dtype, condition) * magnitude
    return oracle, 2 * own_error + floor


def assert_close_to_oracle(
    ours: torch.Tensor,
    reference: Callable[..., torch.Tensor],
    inputs: tuple[Any, ...],
    *,
    magnitude: float,
    condition: float = 1.0,
    **kwargs: Any,
) -> None:
    """``ours`` within ``oracle_bound`` of the float64 oracle (NaN where it is NaN)."""
    oracle, bound = oracle_bound(
        reference,
        inputs,
        ours.dtype,
        magnitude=magnitude,
        condition=condition,
        **kwargs,
    )
    _assert_within(ours, oracle, bound)


def _assert_within(ours: torch.Tensor, oracle: torch.Tensor, bound: float) -> None:
    assert ours.shape == oracle.shape, (
        f"shape {tuple(ours.shape)} != {tuple(oracle.shape)}"
    )
    ours64 = ours.double()
    assert torch.equal(ours64.isnan(), oracle.isnan()), "NaN where the oracle has none"
    diff = (ours64 - oracle).abs().nan_to_num(nan=0.0)
    error = float(diff.amax()) if diff.numel() else 0.0
    assert error <= bound, f"error {error:.3g} > allowed {bound:.3g} ({ours.dtype})"


# --8<-- [end:tolerances]


@dataclass
class QKV:
    """A drawn attention problem: q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v)."""

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    mask: torch.Tensor | None
    causal: bool
    scale: float | None

    def kwargs(self) -> dict[str, object]:
        return {"mask": self.mask, "scale": self.scale, "causal": self.causal}

    def to(self, device: str | torch.device) -> QKV:
        mask = None if self.mask is None else self.mask.to(device)
        return QKV(
            self.q.to(device),
            self.k.to(device),
            self.v.to(device),
            mask,
            self.causal,
            self.scale,
        )

    def condition(self) -> float:
        """1 + the largest |scale| * sum_l |q_il| |k_jl|: how much rounding errors in
        the scores can grow (an absolute error e in a score changes its weight by a
        factor of about 1 + e)."""
        scale = (
            self.scale if self.scale is not None else 1 / math.sqrt(self.q.shape[-1])
        )
        if self.q.numel() == 0 or self.k.numel() == 0:
            return 1.0
        sizes = self.q.double().abs() @ self.k.double().abs().transpose(-2, -1)
        return 1.0 + abs(scale) * float(sizes.amax())

    def weight_condition(self, dtype: torch.dtype | None = None) -> float:
        """The ``condition`` for ``relative_tolerance`` that bounds, in ``dtype``
        (default: q's), how far rounding can move one query's weights, summed over
        its row: a score s_ij is known to D_i = SCORE_ULPS eps |scale| max_j
        sum_l |q_il| |k_jl|; moving each score of a row by at most D scales each
        weight by a factor within exp(+-2 D), so the row moves by at most
        2 (exp(2 D) - 1) (1 - a_i) in all, a_i its largest weight. Huge scores with
        one clear winner move nothing; near-ties move the most."""
        if self.q.numel() == 0 or self.k.numel() == 0:
            return 1.0
        unit = SCORE_ULPS * eps(compute_dtype(dtype or self.q.dtype))
        scale = (
            self.scale if self.scale is not None else 1 / math.sqrt(self.q.shape[-1])
        )
        q, k = self.q.double(), self.k.double()
        sizes = abs(scale) * (q.abs() @ k.abs().transpose(-2, -1))  # (..., n_q, n_k)
        delta = unit * sizes.amax(dim=-1)  # (..., n_q)
        s = (scale * q @ k.transpose(-2, -1)).masked_fill(~self.allowed(), -math.inf)
        rest = s.scatter(-1, s.argmax(dim=-1, keepdim=True), -math.inf)
        log_rest = rest.logsumexp(dim=-1) - s.logsumexp(dim=-1)  # log(1 - a_i)
        log_grow = 2 * delta + torch.log1p(-torch.exp(-2 * delta))  # exp(2D) - 1
        move = (math.log(2) + log_grow + log_rest).exp().clamp(max=2.0)
        return 1.0 + float(move.nan_to_num(nan=0.0).amax()) / unit

    def magnitude(self) -> float:
        """The largest |v|: no output can be larger."""
        return float(self.v.double().abs().amax()) if self.v.numel() else 0.0

    def gradient_sizes(self, upstream: torch.Tensor) -> tuple[float, float, float]:
        """Bounds on the size of the gradients of q, k and v under ``upstream``:
        dq_i = scale sum_j a_ij (dP_ij - D_i) k_j with |dP_ij| <= d_v |up| |v|, and
        alike for dk; dv_j = sum_i a_ij up_i. Errors are measured against these."""
        scale = (
            self.scale if self.scale is not None else 1 / math.sqrt(self.q.shape[-1])
        )
        up = float(upstream.detach().abs().amax()) if upstream.numel() else 0.0
        n_q, d_v = self.q.shape[-2], self.v.shape[-1]
        dp = 2 * d_v * up * self.magnitude()
        size_k = float(self.k.double().abs().amax()) if self.k.numel() else 0.0
        size_q = float(self.q.double().abs().amax()) if self.q.numel() else 0.0
        return abs(scale) * dp * size_k, abs(scale) * dp * size_q, n_q * up

    def allowed(self) -> torch.Tensor:
        """Which keys each query may attend to, (..., n_q, n_k): mask and causal."""
        n_q, n_k = self.q.shape[-2], self.k.shape[-2]
        keep = torch.ones(n_q, n_k, dtype=torch.bool, device=self.q.device)
        if self.causal:
            keep = keep.tril()
        if self.mask is not None:
            keep = keep & self.mask
        return keep.expand(*self.q.shape[:-2], n_q, n_k)


def sdpa_on(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    causal: bool,
    scale: float | None,
) -> torch.Tensor:
    """PyTorch's own attention in the dtype of q, k and v.

    SDPA refuses ``attn_mask`` together with ``is_causal``, so a causal masked
    problem passes the two combined, built here independently of selfattn.
    """
    if mask is not None and causal:
        n_q, n_k = q.shape[-2], k.shape[-2]
        lower = torch.ones(n_q, n_k, dtype=torch.bool).tril().to(mask.device)
        mask, causal = mask & lower, False
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal, scale=scale
    )


def sdpa_reference(p: QKV) -> torch.Tensor:
    """PyTorch's own attention, the outside oracle, computed in float64."""
    return sdpa_on(p.q.double(), p.k.double(), p.v.double(), p.mask, p.causal, p.scale)


def sdpa_bound(p: QKV, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, float]:
    """The float64 SDPA oracle of ``p`` and the error allowed to an attention
    computed in ``dtype`` (default: ``p``'s): see ``oracle_bound``."""
    return oracle_bound(
        sdpa_on,
        (p.q, p.k, p.v, p.mask, p.causal, p.scale),
        dtype or p.q.dtype,
        magnitude=p.magnitude(),
        condition=p.weight_condition(dtype),
    )


def assert_close_to_sdpa(out: torch.Tensor, p: QKV) -> None:
    """``out`` (in p's dtype) is PyTorch's attention of ``p``, as exactly as PyTorch's
    own computation in that precision allows (twice its error, plus a floor)."""
    oracle, bound = sdpa_bound(p, out.dtype)
    _assert_within(out, oracle, bound)


def assert_agree(first: torch.Tensor, second: torch.Tensor, p: QKV) -> None:
    """Two computations of ``p``'s attention, each within ``sdpa_bound`` of the
    oracle, are within twice that bound of each other."""
    _, bound = sdpa_bound(p, first.dtype)
    _assert_within(first, second.to(first.dtype).double(), 2 * bound)


@st.composite
def qkv_problems(
    draw: st.DrawFn,
    dtypes: tuple[torch.dtype, ...] = DTYPES,
    max_n: int = ATTENTION_MAX_N,
    self_attention: bool = False,
    allow_mask: bool = True,
    allow_causal: bool = True,
    min_n: int = 1,
    magnitudes: tuple[float, ...] = ATTENTION_MAGNITUDES,
    allow_fully_masked: bool = True,
) -> QKV:
    """Random shapes, dtype, magnitude, scale, mask and causal flag.

    Values come from a seeded torch generator (fast, and the seed shrinks), clipped
    at 4 standard deviations (so float16 holds 4 * 1e4). Most draws have at most
    ATTENTION_SMALL_N tokens; about one in ATTENTION_LARGE_N_ODDS has up to
    ``max_n`` (with no batch dimensions, to keep the Python-loop entries quick).
    A drawn mask keeps key 0 for every query, except that about one mask in
    ATTENTION_FULLY_MASKED_ODDS hides every key from some queries (when
    ``allow_fully_masked``): those queries get a zero output row.
    """
    large = max_n > ATTENTION_SMALL_N and draw(
        st.integers(1, ATTENTION_LARGE_N_ODDS).map(lambda i: i == 1)
    )
    top = max_n if large else min(max_n, ATTENTION_SMALL_N)
    batch = () if large else tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n_q = draw(st.integers(min_n, top))
    n_k = n_q if self_attention else draw(st.integers(max(min_n, 1), top))
    d_k = draw(st.integers(1, ATTENTION_MAX_D))
    d_v = d_k if self_attention else draw(st.integers(1, ATTENTION_MAX_D))
    dtype = draw(st.sampled_from(dtypes))
    magnitude = draw(st.sampled_from(magnitudes))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))

    def rand(*shape: int) -> torch.Tensor:
        values = torch.randn(*shape, generator=gen, dtype=torch.float64)
        return (values.clamp(-4, 4) * magnitude).to(dtype)

    q = rand(*batch, n_q, d_k)
    if self_attention:
        k = v = q
    else:
        k, v = rand(*batch, n_k, d_k), rand(*batch, n_k, d_v)
    mask = None
    if allow_mask and draw(st.booleans()):
        mask = torch.rand(*batch, n_q, n_k, generator=gen) < 0.6
        mask[..., 0] = True  # every query keeps at least one key ...
        fully_masked = allow_fully_masked and draw(
            st.integers(1, ATTENTION_FULLY_MASKED_ODDS).map(lambda i: i == 1)
        )
        if fully_masked:  # ... except these, which see no key at all
            hidden = torch.rand(*batch, n_q, generator=gen) < 0.5
            mask &= ~hidden.unsqueeze(-1)
    causal = allow_causal and draw(st.booleans())
    scale = draw(st.one_of(st.none(), st.sampled_from([1.0, 0.5, 2.0])))
    return QKV(q, k, v, mask, causal, scale)


def run_implementation(name: str, p: QKV) -> torch.Tensor:
    """Call the registry entry ``name`` on a drawn problem."""
    from selfattn import IMPLEMENTATIONS

    return IMPLEMENTATIONS[name](p.q, p.k, p.v, **p.kwargs())  # type: ignore[arg-type]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave tests/browser out unless it is asked for by path (`nox -s browser` does):
    it needs a built site, chromium and Playwright, which the plain suite does not."""
    browser = Path(__file__).parent / "browser"
    if collection_path != browser:
        return None
    asked = (Path(arg.split("::")[0]).resolve() for arg in config.args)
    return not any(path == browser or browser in path.parents for path in asked)


@dataclass
class RopeProblem:
    """A drawn RoPE input: x (..., n, d) with d even, positions (n,), base, layout."""

    x: torch.Tensor
    positions: torch.Tensor
    base: float
    layout: str


@st.composite
def rope_problems(
    draw: st.DrawFn,
    dtypes: tuple[torch.dtype, ...] = (torch.float64,),
    max_n: int = 8,
    min_n: int = 0,
    max_position: int = 10_000,
) -> RopeProblem:
    """Random leading dims, n, even d, positions in [0, max_position), base, layout."""
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n = draw(st.integers(min_n, max_n))
    d = 2 * draw(st.integers(1, 8))
    dtype = draw(st.sampled_from(dtypes))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(*batch, n, d, generator=gen).to(dtype)
    positions = torch.randint(0, max_position, (n,), generator=gen)
    base = draw(st.sampled_from([10_000.0, 500_000.0, 10.0]))
    layout = draw(st.sampled_from(["half", "interleaved"]))
    return RopeProblem(x, positions, base, layout)
