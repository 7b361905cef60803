"""Input checks shared by every attention function.

Each check raises `TypeError` or `ValueError` with a message that names the
argument, what was expected and what came, so that a mistake is reported where it
was made rather than as a shape error from deep inside torch.

The checks read only shapes, dtypes and devices: none of them looks at values,
because that would copy data from an accelerator to the CPU. NaN and infinity are
therefore not rejected; they propagate to the output (see `attention_matmul`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import torch


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"


def check_tensor(name: str, value: Any, *, min_dims: int = 1) -> torch.Tensor:
    """Check that `value` is a floating-point tensor with at least `min_dims` dims."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(value)}")
    if not value.dtype.is_floating_point:
        raise TypeError(
            f"{name} must have a floating-point dtype (float16, bfloat16, float32 or "
            f"float64), got {value.dtype}"
        )
    if value.dim() < min_dims:
        shape = "(..., n, d)" if min_dims == 2 else f"at least {min_dims} dimension(s)"
        raise ValueError(
            f"{name} must have shape {shape}, got shape {tuple(value.shape)} "
            f"with {value.dim()} dimension(s)"
        )
    return value


def check_same_dtype_and_device(**tensors: torch.Tensor) -> None:
    """Check that all tensors share one dtype and one device."""
    names = list(tensors)
    dtypes = {t.dtype for t in tensors.values()}
    if len(dtypes) > 1:
        got = ", ".join(f"{n} {tensors[n].dtype}" for n in names)
        raise TypeError(f"{', '.join(names)} must share one dtype, got {got}")
    devices = {t.device for t in tensors.values()}
    if len(devices) > 1:
        got = ", ".join(f"{n} on {tensors[n].device}" for n in names)
        raise ValueError(f"{', '.join(names)} must be on one device, got {got}")


def check_qkv(q: Any, k: Any, v: Any) -> None:
    """Check the `(..., n_q, d_k)`, `(..., n_k, d_k)`, `(..., n_k, d_v)` triple."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, min_dims=2)
    check_same_dtype_and_device(q=q, k=k, v=v)
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(
            "q, k and v must share their leading (batch) dimensions, got "
            f"q {tuple(q.shape[:-2])}, k {tuple(k.shape[:-2])}, v {tuple(v.shape[:-2])}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            "q and k must have the same last dimension d_k, got "
            f"q {q.shape[-1]} (shape {tuple(q.shape)}), k {k.shape[-1]} "
            f"(shape {tuple(k.shape)})"
        )
    if q.shape[-1] == 0:
        raise ValueError(
            f"q and k must have d_k >= 1 features, got q of shape {tuple(q.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            "k and v must hold the same number of tokens n_k, got "
            f"k {k.shape[-2]} (shape {tuple(k.shape)}), v {v.shape[-2]} "
            f"(shape {tuple(v.shape)})"
        )
    if k.shape[-2] == 0 and q.shape[-2] > 0:
        raise ValueError(
            "k and v must hold at least one token when q holds queries (a query over "
            f"no keys has no weights to average), got n_q={q.shape[-2]}, n_k=0"
        )


def check_mask(mask: Any, q: torch.Tensor, k: torch.Tensor) -> None:
    """Check a boolean mask broadcastable to `(..., n_q, n_k)`; True means attend."""
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {_describe(mask)}")
    if mask.dtype != torch.bool:
        raise TypeError(
            "mask must have dtype torch.bool (True where a query may attend to a key), "
            f"got {mask.dtype}"
        )
    if mask.device != q.device:
        raise ValueError(f"mask must be on q's device {q.device}, got {mask.device}")
    target = (*q.shape[:-1], k.shape[-2])
    try:
        broadcast = torch.broadcast_shapes(mask.shape, target)  # type: ignore[no-untyped-call]
    except RuntimeError:
        broadcast = None
    if broadcast != target:
        raise ValueError(
            f"mask must broadcast to (..., n_q, n_k) = {target}, got shape "
            f"{tuple(mask.shape)}"
        )


def check_scale(scale: Any) -> None:
    """Check that `scale` is None or a finite real number."""
    if scale is None:
        return
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"scale must be a float or None, got {_describe(scale)}")
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")


def check_flag(name: str, value: Any) -> None:
    """Check that a keyword flag is a real bool (not a tensor or a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")


def check_attention_args(
    q: Any,
    k: Any,
    v: Any,
    *,
    mask: Any = None,
    scale: Any = None,
    causal: Any = False,
) -> None:
    """Every check of the common calling convention, in one call."""
    check_qkv(q, k, v)
    check_mask(mask, q, k)
    check_scale(scale)
    check_flag("causal", causal)


P = ParamSpec("P")
R = TypeVar("R")


def checked_by(check: Callable[P, None]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run `check` on a function's arguments before the function itself.

    The checks live here, outside the functions the tutorial shows, so each function
    on a page is only its computation: copied on its own it runs with torch alone
    (without the argument checks); imported from selfattn it has them.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            check(*args, **kwargs)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> None:
    """Check that `value` is an int (not a bool) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_probability(name: str, value: Any) -> None:
    """Check that `value` is a float in [0, 1) (a dropout rate)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float in [0, 1), got {_describe(value)}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")


def check_sequence(name: str, x: Any, d_in: int) -> None:
    """`x` is a floating-point `(..., n, d_in)` tensor: the input of a module."""
    check_tensor(name, x, min_dims=2)
    if x.shape[-1] != d_in:
        raise ValueError(
            f"{name} must have d_in={d_in} features in its last dimension, got shape "
            f"{tuple(x.shape)} with {x.shape[-1]}"
        )


M = TypeVar("M", bound=type)


def checked_module(
    *, init: Callable[..., None] | None = None, **methods: Callable[..., None]
) -> Callable[[M], M]:
    """Run `init(*args, **kwargs)` before a module's `__init__`, and for each
    `name=check` in `methods`, `check(module, *args, **kwargs)` before that method.

    The class counterpart of `checked_by`: the decorator sits above the snippet
    marker, so the class on the page is only its computation, and a reader who copies
    it gets a module that runs with torch alone (without the checks).
    Example: `@checked_module(init=check_dims, forward=check_input)`.
    """

    def wrap(
        original: Callable[..., Any], check: Callable[..., None], pass_self: bool
    ) -> Callable[..., Any]:
        @functools.wraps(original)
        def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
            if pass_self:
                check(self, *args, **kwargs)
            else:
                check(*args, **kwargs)
            return original(self, *args, **kwargs)

        return checked

    def decorate(cls: M) -> M:
        if init is not None:
            setattr(cls, "__init__", wrap(getattr(cls, "__init__"), init, False))  # noqa: B009, B010
        for name, check in methods.items():
            setattr(cls, name, wrap(getattr(cls, name), check, True))
        return cls

    return decorate


def check_device(name: str, value: Any) -> None:
    """Check that `value` is None, a torch.device or a string naming a device."""
    if value is None or isinstance(value, torch.device):
        return
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a torch.device, a string such as 'cpu', or None, "
            f"got {_describe(value)}"
        )
    try:
        torch.device(value)
    except RuntimeError:
        raise ValueError(
            f"{name} must name a device such as 'cpu' or 'cuda:0', got {value!r}"
        ) from None


def check_float_dtype(name: str, value: Any) -> None:
    """Check that `value` is a floating-point torch.dtype."""
    if not isinstance(value, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype, got {_describe(value)}")
    if not value.is_floating_point:
        raise TypeError(
            f"{name} must be a floating-point dtype (float16, bfloat16, float32 or "
            f"float64), got {value}"
        )
