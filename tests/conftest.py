"""Hypothesis profiles, shared strategies and dtype tolerances for the whole suite."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# --8<-- [start:profiles]
# `ci`: deterministic (same examples every run), so a red CI is reproducible.
# `dev`: random examples, a fresh sample each run. `thorough`: ten times as many.
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

# Tolerances for comparing two computations of the same attention in one dtype.
# float64: both sides round at ~1e-16; 1e-9 leaves room for sums of a few hundred terms.
# float32: unit roundoff 6e-8; matmul and loop sum in different orders, ~1e-6 apart.
# float16 and bfloat16 are computed in float32 and rounded once at the end, so two
# results may differ by one unit in the last place of the output: 2**-10 ~ 1e-3
# relative for float16 and 2**-7 ~ 8e-3 for bfloat16; we allow two such units.
TOLERANCES: dict[torch.dtype, float] = {
    torch.float64: 1e-9,
    torch.float32: 1e-5,
    torch.float16: 2e-3,
    torch.bfloat16: 1.6e-2,
}

DTYPES = tuple(TOLERANCES)


def assert_close(
    actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype | None = None
) -> None:
    """Compare with the tolerance of ``dtype`` (default: ``actual``'s), relative and
    absolute alike, NaN equal to NaN."""
    tol = TOLERANCES[dtype or actual.dtype]
    torch.testing.assert_close(
        actual.to(expected.dtype), expected, rtol=tol, atol=tol, equal_nan=True
    )


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


@st.composite
def qkv_problems(
    draw: st.DrawFn,
    dtypes: tuple[torch.dtype, ...] = DTYPES,
    max_n: int = 8,
    self_attention: bool = False,
    allow_mask: bool = True,
    allow_causal: bool = True,
    min_n: int = 1,
) -> QKV:
    """Random shapes, dtype, magnitude, scale, mask and causal flag.

    Values come from a seeded torch generator (fast, and the seed shrinks); every
    masked row keeps key 0, so no query is left with nothing to attend to.
    """
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n_q = draw(st.integers(min_n, max_n))
    n_k = n_q if self_attention else draw(st.integers(max(min_n, 1), max_n))
    d_k = draw(st.integers(1, 8))
    d_v = d_k if self_attention else draw(st.integers(1, 8))
    dtype = draw(st.sampled_from(dtypes))
    magnitude = draw(st.sampled_from([0.1, 1.0, 4.0]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))

    def rand(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=gen) * magnitude).to(dtype)

    q = rand(*batch, n_q, d_k)
    if self_attention:
        k = v = q
    else:
        k, v = rand(*batch, n_k, d_k), rand(*batch, n_k, d_v)
    mask = None
    if allow_mask and draw(st.booleans()):
        mask = torch.rand(*batch, n_q, n_k, generator=gen) < 0.6
        mask[..., 0] = True  # every query keeps at least one key
    causal = allow_causal and draw(st.booleans())
    scale = draw(st.one_of(st.none(), st.sampled_from([1.0, 0.5, 2.0])))
    return QKV(q, k, v, mask, causal, scale)


def run_implementation(name: str, p: QKV) -> torch.Tensor:
    """Call the registry entry ``name`` on a drawn problem."""
    from selfattn import IMPLEMENTATIONS

    return IMPLEMENTATIONS[name](p.q, p.k, p.v, **p.kwargs())  # type: ignore[arg-type]


def sdpa_reference(p: QKV) -> torch.Tensor:
    """PyTorch's own attention, the outside oracle, computed in float64.

    SDPA refuses ``attn_mask`` together with ``is_causal``, so a causal masked
    problem passes the two combined, built here independently of selfattn.
    """
    q, k, v = (t.double() for t in (p.q, p.k, p.v))
    mask, causal = p.mask, p.causal
    if mask is not None and causal:
        n_q, n_k = q.shape[-2], k.shape[-2]
        lower = torch.ones(n_q, n_k, dtype=torch.bool).tril().to(mask.device)
        mask, causal = mask & lower, False
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal, scale=p.scale
    )


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
