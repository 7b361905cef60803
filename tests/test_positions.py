"""Positions: sinusoidal encodings and rotary position embeddings (RoPE)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import attention_matmul
from selfattn.positions import (
    half_to_interleaved,
    interleaved_to_half,
    rope,
    rope_complex,
    rope_frequencies,
    sinusoidal_positions,
)
from tests.conftest import RopeProblem, assert_close, rope_problems

LAYOUTS = ("half", "interleaved")


def rope_oracle(
    x: torch.Tensor, positions: torch.Tensor, base: float, layout: str
) -> torch.Tensor:
    """RoPE one pair at a time with Python's math, in float64: the formula of the
    RoFormer paper, theta_i = base^(-2(i-1)/d) for i = 1 .. d/2, written out."""
    d = x.shape[-1]
    out = x.double().clone()
    for row, p in enumerate(positions.tolist()):
        for i in range(d // 2):
            angle = p * base ** (-2 * i / d)
            a, b = (i, i + d // 2) if layout == "half" else (2 * i, 2 * i + 1)
            xa, xb = x[..., row, a].double(), x[..., row, b].double()
            out[..., row, a] = xa * math.cos(angle) - xb * math.sin(angle)
            out[..., row, b] = xa * math.sin(angle) + xb * math.cos(angle)
    return out


# --- RoPE: what it computes -------------------------------------------------------


@given(p=rope_problems(max_n=5))
def test_rope_matches_a_pair_by_pair_oracle(p: RopeProblem) -> None:
    out = rope(p.x, p.positions, base=p.base, layout=p.layout)
    assert out.shape == p.x.shape
    assert out.dtype == p.x.dtype
    # float64 angles up to 1e4 radians carry an error of ~1e4 * 1e-16.
    assert_close(out, rope_oracle(p.x, p.positions, p.base, p.layout))


# --8<-- [start:test_rope_complex]
@given(p=rope_problems(dtypes=(torch.float64, torch.float32)))
def test_rope_equals_its_plain_complex_form(p: RopeProblem) -> None:
    out = rope(p.x, p.positions, base=p.base, layout="interleaved")
    assert_close(out, rope_complex(p.x, p.positions, base=p.base))


# --8<-- [end:test_rope_complex]


def test_position_zero_is_the_identity() -> None:
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    for layout in LAYOUTS:
        assert torch.equal(rope(x, torch.zeros(5, dtype=torch.long), layout=layout), x)


def test_the_first_pair_turns_one_radian_per_position() -> None:
    # theta_0 = base^0 = 1 whatever the base: pair 0 of row p turns by exactly p.
    x = torch.zeros(4, 6, dtype=torch.float64)
    x[:, 0] = 1.0  # channel 0 is the first element of pair 0 in both layouts
    for layout in LAYOUTS:
        out = rope(x, torch.arange(4), layout=layout)
        partner = 3 if layout == "half" else 1
        angles = torch.atan2(out[:, partner], out[:, 0])
        assert_close(angles, torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64))


def test_frequencies_fall_geometrically_from_one_to_one_over_base() -> None:
    theta = rope_frequencies(8, base=10_000.0)
    assert_close(theta, torch.tensor([1.0, 0.1, 0.01, 0.001], dtype=torch.float64))


# --8<-- [start:test_rope_norms]
@given(p=rope_problems(dtypes=(torch.float64, torch.float32)))
def test_rope_preserves_norms(p: RopeProblem) -> None:
    out = rope(p.x, p.positions, base=p.base, layout=p.layout)
    # A rotation keeps the length of each channel pair, hence of the vector.
    assert_close(out.norm(dim=-1), p.x.norm(dim=-1))


# --8<-- [end:test_rope_norms]


# --8<-- [start:test_rope_offset]
@given(
    p=rope_problems(min_n=2, max_n=2),
    shift=st.integers(-5_000, 5_000),
)
def test_rope_score_depends_only_on_the_offset(
    p: RopeProblem,
    shift: int,
) -> None:
    q, k = p.x[..., :1, :], p.x[..., 1:, :]  # one query, one key
    i, j = p.positions[:1], p.positions[1:]
    kw: dict[str, Any] = {"base": p.base, "layout": p.layout}

    def score(i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return (rope(q, i, **kw) * rope(k, j, **kw)).sum(-1)

    shifted = score(i + shift, j + shift)  # both moved by the same t
    # An angle p * theta is rounded to ~eps * p radians: the condition.
    far = max(abs(int(t)) for t in (i, j, i + shift, j + shift))
    size = float(q.norm() * k.norm())  # a score is at most |q||k|
    assert_close(shifted, score(i, j), condition=1.0 + far, magnitude=size)
    # ... and it is q . R(j - i) k: the query stays put, the key turns
    # by the offset alone.
    turned = (q * rope(k, j - i, **kw)).sum(-1)
    assert_close(score(i, j), turned, condition=1.0 + far, magnitude=size)


# --8<-- [end:test_rope_offset]


def test_rope_relative_offset_in_float32_degrades_with_the_position() -> None:
    # float32 angles p * theta carry an error of ~eps * p radians, so the score's
    # error grows with the position (the page prints it at 0, 1e3 and 1e5). The
    # bound: 8 eps32 p |q| |k|, a few times the error of the angles alone.
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 1, 64, generator=gen, dtype=torch.float64)
    for start in (0, 1_000, 100_000):
        i, j = torch.tensor([start]), torch.tensor([start + 7])
        exact = (rope(q, i) * rope(k, j)).sum()
        approx = (rope(q.float(), i) * rope(k.float(), j)).sum().double()
        bound = 8 * torch.finfo(torch.float32).eps * (start + 8) * q.norm() * k.norm()
        assert (approx - exact).abs() <= bound


# --8<-- [start:test_rope_layouts]
@given(p=rope_problems(dtypes=(torch.float64, torch.float32)))
def test_layouts_agree_up_to_one_channel_permutation(p: RopeProblem) -> None:
    d = p.x.shape[-1]
    perm = interleaved_to_half(d)
    inter = rope(p.x, p.positions, base=p.base, layout="interleaved")
    half = rope(p.x[..., perm], p.positions, base=p.base, layout="half")
    # The same rotations; only the channels' order differs.
    assert torch.equal(half, inter[..., perm])
    back = half_to_interleaved(d)
    assert torch.equal(half[..., back], inter)


# --8<-- [end:test_rope_layouts]


def test_layouts_differ_without_the_permutation() -> None:
    x = torch.randn(5, 8, dtype=torch.float64)
    pos = torch.arange(5)
    diff = rope(x, pos, layout="half") - rope(x, pos, layout="interleaved")
    assert diff.abs().max() > 0.1


def test_the_layout_permutation_is_a_permutation() -> None:
    for d in (2, 4, 10, 128):
        perm = interleaved_to_half(d)
        assert sorted(perm.tolist()) == list(range(d))
        assert torch.equal(perm[half_to_interleaved(d)], torch.arange(d))
    assert interleaved_to_half(6).tolist() == [0, 2, 4, 1, 3, 5]


@pytest.mark.parametrize("layout", LAYOUTS)
@given(x=rope_problems(min_n=1, max_n=3), i=st.integers(0, 50), j=st.integers(0, 50))
def test_rope_is_differentiable_and_the_gradient_is_the_inverse_rotation(
    layout: str, x: RopeProblem, i: int, j: int
) -> None:
    # The Jacobian of a rotation R is R itself, so d(g . Rx)/dx = R^T g = R(-p) g.
    pos = torch.full((x.x.shape[-2],), i)
    xx = x.x.clone().requires_grad_(True)
    g = torch.randn_like(xx)
    (rope(xx, pos, layout=layout) * g).sum().backward()  # type: ignore[no-untyped-call]
    assert xx.grad is not None
    assert_close(xx.grad, rope(g, -pos, layout=layout))


# --- float16 and bfloat16 ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_half_precision_is_rotated_in_float32_and_rounded_once(
    dtype: torch.dtype, layout: str
) -> None:
    x = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(1)).to(dtype)
    # Positions past float16's largest number, 65504: cast to float16 they would be inf.
    pos = torch.arange(70_000, 70_006)
    out = rope(x, pos, layout=layout)
    assert out.dtype == dtype
    assert torch.equal(out, rope(x.float(), pos, layout=layout).to(dtype))
    # One rounding from float32: within a unit in the last place of the exact result.
    exact = rope_oracle(x, pos, 10_000.0, layout)
    ulp = torch.finfo(dtype).eps * exact.abs().clamp_min(torch.finfo(dtype).tiny)
    float32_err = 1e-6 * 70_006 * x.double().norm(dim=-1, keepdim=True)
    assert ((out.double() - exact).abs() <= ulp + float32_err).all()


# --- edges -------------------------------------------------------------------------


def test_rope_of_no_tokens_is_empty() -> None:
    x = torch.empty(2, 0, 4)
    for layout in LAYOUTS:
        out = rope(x, torch.empty(0, dtype=torch.long), layout=layout)
        assert out.shape == (2, 0, 4)
    assert sinusoidal_positions(0, 4).shape == (0, 4)


def test_rope_accepts_any_integer_dtype_and_negative_positions() -> None:
    x = torch.randn(3, 4, dtype=torch.float64)
    for dtype in (torch.int8, torch.int32, torch.int64, torch.uint8):
        pos = torch.tensor([0, 1, 2], dtype=dtype)
        assert torch.equal(rope(x, pos), rope(x, pos.long()))
    # A negative position turns the other way: rope undoes itself.
    pos = torch.tensor([3, 50, 700])
    assert_close(rope(rope(x, pos), -pos), x)


# --- sinusoidal encodings ----------------------------------------------------------


@given(
    n=st.integers(0, 20),
    half_d=st.integers(1, 16),
    offset=st.integers(0, 10_000),
    base=st.sampled_from([10_000.0, 100.0]),
)
def test_sinusoidal_matches_the_formula_of_the_paper(
    n: int, half_d: int, offset: int, base: float
) -> None:
    d = 2 * half_d
    pe = sinusoidal_positions(n, d, base=base, offset=offset, dtype=torch.float64)
    expected = torch.empty(n, d, dtype=torch.float64)
    for row in range(n):
        pos = offset + row
        for i in range(half_d):
            # PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(...)
            expected[row, 2 * i] = math.sin(pos / base ** (2 * i / d))
            expected[row, 2 * i + 1] = math.cos(pos / base ** (2 * i / d))
    # Angles up to offset + n radians, each rounded to ~eps * angle.
    assert_close(pe, expected, condition=1.0 + offset + n)


def test_sinusoidal_known_values() -> None:
    pe = sinusoidal_positions(3, 4, dtype=torch.float64)
    # d = 4: the second pair turns at 10000^(-1/2) = 1/100 radian per position.
    expected = [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)]
    assert_close(pe[2], torch.tensor(expected, dtype=torch.float64))


@given(n=st.integers(1, 12), offset=st.integers(0, 1000))
def test_sinusoidal_offset_continues_the_sequence(n: int, offset: int) -> None:
    whole = sinusoidal_positions(offset + n, 8, dtype=torch.float64)
    part = sinusoidal_positions(n, 8, offset=offset, dtype=torch.float64)
    assert_close(part, whole[offset:])


def test_sinusoidal_dtype_and_range() -> None:
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        pe = sinusoidal_positions(50, 16, dtype=dtype)
        assert pe.dtype == dtype
        assert torch.equal(
            pe, sinusoidal_positions(50, 16, dtype=torch.float64).to(dtype)
        )
        assert pe.abs().max() <= 1


# --- positions break permutation equivariance ---------------------------------------


def _inputs(seed: int, n: int = 6, d: int = 8) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)).double()


def _max_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


# --8<-- [start:test_positions_break_permutation]
PERM = torch.tensor([5, 4, 3, 2, 1, 0])  # the sentence read backwards
POS = torch.arange(6)  # positions stay 0 .. 5: they belong to the slots


def with_sinusoidal(x: torch.Tensor) -> torch.Tensor:
    h = x + sinusoidal_positions(6, 8, dtype=x.dtype)  # add, then attend
    return attention_matmul(h, h, h)


def with_rope(x: torch.Tensor) -> torch.Tensor:
    q = k = rope(x, POS)  # rotate queries and keys; values stay as they are
    return attention_matmul(q, k, x)


@pytest.mark.parametrize("seed", range(5))
def test_positions_break_permutation_equivariance(seed: int) -> None:
    x = _inputs(seed)  # (6, 8) token embeddings
    none = attention_matmul(x[PERM], x[PERM], x[PERM])
    assert_close(none, attention_matmul(x, x, x)[PERM])  # no positions
    for attend in (with_sinusoidal, with_rope):
        # With positions, the reversed sentence is a different input.
        assert _max_gap(attend(x[PERM]), attend(x)[PERM]) > 1e-3


# --8<-- [end:test_positions_break_permutation]


# --8<-- [start:test_rope_shift]
@pytest.mark.parametrize("layout", LAYOUTS)
@given(p=rope_problems(min_n=1), shift=st.integers(0, 10_000))
def test_rope_attention_is_unchanged_when_every_position_shifts(
    layout: str, p: RopeProblem, shift: int
) -> None:
    # What RoPE keeps: outputs depend on offsets only, so the same tokens,
    # attending only to one another, give the same outputs at position 0
    # and at position 10,000.
    def attend(pos: torch.Tensor) -> torch.Tensor:
        q = k = rope(p.x, pos, base=p.base, layout=layout)
        return attention_matmul(q, k, p.x)

    # Scores move by ~eps * position * |q||k|; the softmax magnifies that by
    # the spread of the scores.
    far = 1.0 + shift + float(p.positions.max())
    scores = (p.x @ p.x.mT).abs().amax() if p.x.numel() else torch.tensor(0.0)
    condition = far * (1.0 + float(scores))
    moved, there = attend(p.positions + shift), attend(p.positions)
    assert_close(moved, there, condition=condition)


# --8<-- [end:test_rope_shift]


# --- bad input ---------------------------------------------------------------------

X = torch.zeros(5, 8)
P5 = torch.arange(5)

BAD: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("x list", lambda: rope([[0.0, 1.0]], P5), TypeError, "x must be a torch.Tensor"),
    ("x int", lambda: rope(X.long(), P5), TypeError, "floating-point"),
    ("x 1-D", lambda: rope(torch.zeros(8), P5), ValueError, "(..., n, d)"),
    ("odd d", lambda: rope(torch.zeros(5, 7), P5), ValueError, "even"),
    ("pos list", lambda: rope(X, [0, 1, 2, 3, 4]), TypeError, "positions must be"),
    ("pos float", lambda: rope(X, P5.float()), TypeError, "integer dtype"),
    ("pos bool", lambda: rope(X, P5 > 2), TypeError, "integer dtype"),
    ("pos 2-D", lambda: rope(X, P5[None]), ValueError, "shape (n,)"),
    ("pos short", lambda: rope(X, P5[:4]), ValueError, "one entry per row"),
    ("pos device", lambda: rope(X, P5.to("meta")), ValueError, "x's device"),
    ("layout", lambda: rope(X, P5, layout="halves"), ValueError, "'half'"),
    ("layout type", lambda: rope(X, P5, layout=1), TypeError, "layout"),
    ("base 0", lambda: rope(X, P5, base=0.0), ValueError, "base"),
    ("base inf", lambda: rope(X, P5, base=math.inf), ValueError, "base"),
    ("base str", lambda: rope(X, P5, base="1e4"), TypeError, "base"),
    ("complex f16", lambda: rope_complex(X.half(), P5), TypeError, "float32"),
    ("sin odd d", lambda: sinusoidal_positions(4, 5), ValueError, "even"),
    ("sin n<0", lambda: sinusoidal_positions(-1, 4), ValueError, "n must be >= 0"),
    ("sin n float", lambda: sinusoidal_positions(4.0, 4), TypeError, "n must be"),
    ("sin offset", lambda: sinusoidal_positions(4, 4, offset=-1), ValueError, "offset"),
    (
        "sin dtype",
        lambda: sinusoidal_positions(4, 4, dtype=torch.long),
        TypeError,
        "dtype",
    ),
    ("perm odd", lambda: interleaved_to_half(5), ValueError, "even"),
    ("freq odd", lambda: rope_frequencies(3), ValueError, "even"),
]


@pytest.mark.parametrize(
    ("call", "error", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_is_rejected_with_a_clear_error(
    call: Callable[[], object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


# --- on a GPU (pytest -m gpu; skipped without CUDA) --------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_rope_on_cuda_matches_the_cpu(layout: str, dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 40, 64, generator=gen).to(dtype)
    pos = torch.arange(1_000, 1_040)
    out = rope(x.cuda(), pos.cuda(), layout=layout)
    assert out.device.type == "cuda"
    assert out.dtype == dtype
    # CUDA's cos and sin may differ from the CPU's in the last float32 bit, which
    # can move a float16/bfloat16 result by one unit in its last place.
    assert_close(out.cpu(), rope(x, pos, layout=layout))
    pe = sinusoidal_positions(40, 64, device="cuda")
    assert pe.device.type == "cuda"
    assert_close(pe.cpu(), sinusoidal_positions(40, 64))
