"""The Part IV transformer: shapes, causality, one answer whatever the attention
entry, head ablation, and the KV cache equal to the full forward pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.lm import GELU_CUBIC, Block, TransformerLM, count_parameters
from tests.conftest import assert_close

V = 11  # a small vocabulary keeps these tests fast


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny matrices: one thread is faster than two fighting for a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(seed: int = 0, **kw: object) -> TransformerLM:
    torch.manual_seed(seed)
    args: dict[str, object] = {"vocab_size": V, "d_model": 16, "n_layers": 2}
    args.update({"n_heads": 2, "context": 8, **kw})
    return TransformerLM(**args).eval()  # type: ignore[arg-type]


def ids(b: int, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (b, n), generator=g)


def test_shapes_and_attention_rows_sum_to_one() -> None:
    model = make()
    logits, maps = model(ids(3, 6), return_attention=True)
    assert logits.shape == (3, 6, V)
    assert len(maps) == 2
    for w in maps:
        assert w.shape == (3, 2, 6, 6)
        assert_close(w.sum(-1), torch.ones(3, 2, 6))
        assert (w.triu(1) == 0).all()  # nothing from the future


def test_parameter_count_follows_the_sizes() -> None:
    d = 16
    mlp = (d * 4 * d + 4 * d) + (4 * d * d + d)  # up and down, with biases
    per_block = 2 * 2 * d + 3 * d * d + (d * d + d) + mlp
    expected = V * d + 2 * per_block + 2 * d + d * V + V
    assert count_parameters(make()) == expected
    # Attention-only: no MLP and no second LayerNorm.
    no_mlp = V * d + 2 * (2 * d + 4 * d * d + d) + 2 * d + d * V + V
    assert count_parameters(make(mlp=False)) == no_mlp


# --8<-- [start:causality]
@pytest.mark.parametrize("n", [5, 8, 13])  # inside the context, at it, past it
def test_a_later_token_never_changes_earlier_logits(n: int) -> None:
    model = make()
    x = ids(2, n)
    base = model(x)
    for j in range(n):
        y = x.clone()
        y[:, j] = (y[:, j] + 1) % V
        out = model(y)
        assert torch.equal(out[:, :j], base[:, :j]), f"token {j} changed earlier logits"
        assert not torch.equal(out[:, j:], base[:, j:])


# --8<-- [end:causality]


def test_past_the_context_a_token_sees_only_the_last_context_tokens() -> None:
    model = make(n_layers=1)  # two layers would relay it through a middle token
    x = ids(1, 14)
    base = model(x)
    y = x.clone()
    y[:, 0] = (y[:, 0] + 1) % V  # 8 or more places before positions 8..13
    out = model(y)
    # Position 7 still sees token 0; 8 and later do not (context 8).
    assert not torch.equal(out[:, 7], base[:, 7])
    assert_close(out[:, 8:], base[:, 8:])


@pytest.mark.parametrize("attention", ["tiled", "sdpa", "online"])
@pytest.mark.parametrize("n", [6, 13])
def test_logits_equal_across_attention_entries(attention: str, n: int) -> None:
    ref = make()
    other = make(attention=attention)
    other.load_state_dict(ref.state_dict())
    x = ids(2, n)
    # float32 rounding of a few hundred operations, relative to the logits' size
    assert_close(other(x), ref(x))


def test_return_attention_gives_the_same_logits() -> None:
    model = make(attention="tiled")
    x = ids(2, 11)
    logits, _ = model(x, return_attention=True)
    assert_close(logits, model(x))


def test_head_mask_zeros_one_heads_output() -> None:
    model = make()
    x = ids(2, 6)
    seen = {}

    def grab(_m: object, args: tuple[torch.Tensor, ...]) -> None:
        seen["z"] = args[0]

    block = model.blocks[1]
    assert isinstance(block, Block)
    hook = block.attn.out.register_forward_pre_hook(grab)
    mask = torch.ones(2, 2)
    mask[1, 0] = 0.0
    ablated = model(x, head_mask=mask)
    z = seen["z"].view(2, 6, 2, 8)  # (B, n, H, d_h): what enters `out`
    assert (z[:, :, 0] == 0).all()
    assert (z[:, :, 1] != 0).any()
    hook.remove()
    assert_close(model(x, head_mask=torch.ones(2, 2)), model(x))
    assert not torch.allclose(ablated, model(x))


MODELS: dict[tuple[int, bool], TransformerLM] = {}  # built once, drawn from


# Each example runs the model a few dozen times: a third of the profile's examples.
@settings(max_examples=max(10, settings().max_examples // 3))
@given(
    n=st.integers(1, 14),
    seed=st.integers(0, 2**16),
    chunk=st.integers(1, 8),
    mlp=st.booleans(),
)
def test_cached_logits_equal_uncached_at_every_step(
    n: int, seed: int, chunk: int, mlp: bool
) -> None:
    key = (seed % 3, mlp)
    if key not in MODELS:
        MODELS[key] = make(key[0], mlp=mlp)
    model = MODELS[key]
    x = ids(2, n, seed)
    full = model(x)
    cache = model.new_cache(2)
    parts = [model(x[:, i : i + chunk], cache=cache) for i in range(0, n, chunk)]
    # float32: the same sums in another order (cache slots, chunking)
    assert_close(torch.cat(parts, dim=1), full)
    assert torch.equal(torch.cat(parts, 1).argmax(-1), full.argmax(-1))


BAD = [
    ({"vocab_size": 0}, ValueError, "vocab_size"),
    ({"d_model": 10, "n_heads": 4}, ValueError, "d_model"),
    ({"d_model": 12, "n_heads": 4}, ValueError, "even"),
    ({"attention": "fast"}, ValueError, "attention"),
    ({"mlp": "yes"}, TypeError, "mlp"),
]


@pytest.mark.parametrize(("kw", "err", "word"), BAD)
def test_bad_config_is_named(kw: dict[str, object], err: type, word: str) -> None:
    args: dict[str, object] = {
        "vocab_size": V,
        "d_model": 16,
        "n_layers": 1,
        "n_heads": 2,
        "context": 8,
    }
    args.update(kw)
    with pytest.raises(err, match=word):
        TransformerLM(**args)  # type: ignore[arg-type]


def test_bad_forward_input_is_named() -> None:
    model = make()
    with pytest.raises(TypeError, match="ids"):
        model(ids(1, 3).float())
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 11\)"):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match="ids must have shape"):
        model(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="head_mask"):
        model(ids(1, 3), head_mask=torch.ones(2, 3))
    with pytest.raises(TypeError, match="cache"):
        model(ids(1, 3), cache=[])
    with pytest.raises(ValueError, match="batch size"):
        model(ids(2, 3), cache=model.new_cache(1))
    with pytest.raises(ValueError, match="at most context"):
        model(ids(1, 9), cache=model.new_cache(1))


def test_gelu_constant_is_pytorchs_and_the_browser_ports() -> None:
    x = torch.linspace(-6.0, 6.0, 241, dtype=torch.float64)
    inner = (2 / torch.pi) ** 0.5 * (x + GELU_CUBIC * x**3)
    tanh_form = 0.5 * x * (1 + torch.tanh(inner))
    torch.testing.assert_close(
        tanh_form, torch.nn.functional.gelu(x, approximate="tanh"), rtol=0, atol=1e-12
    )
    port = Path(__file__).resolve().parents[1] / "docs/assets/javascripts/lm.js"
    assert f"(v + {GELU_CUBIC} * v * v * v)" in port.read_text()
