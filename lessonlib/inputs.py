"""What lessonlib accepts, in one place: numbers, counts, arrays and parameter ranges, with the errors for the rest.

Every public entry point reads its arguments through these functions, so one kind of bad input gets
one kind of answer everywhere, and the answer names the cause and the fix:

* **numbers** are real and finite: a string, a complex number, None, True/False or NaN is refused
  (``TypeError`` for the wrong kind of thing, ``ValueError`` for a number out of range);
* **counts** (sizes, steps, seeds, sample counts) are whole numbers; ``1000.0`` is read as 1000, ``2.5`` is refused;
  a seed is a whole number too (``seed``): None would mean "a different result every run", so it is refused;
* **random generators** are torch.Generator objects where torch draws (``generator``), numpy Generators where
  numpy draws (``numpy_generator``); a seed or a string in their place is refused with the fix;
* **arrays** become float64 numpy arrays, from numbers, nested lists, numpy arrays or torch tensors of any
  real dtype; complex values, strings and ragged lists are refused, and so are NaN and infinity unless asked;
* **dtypes**: a layer keeps its parameters in the dtype it is given (``dtype=``, or a floating tensor's own
  dtype), else in torch's default dtype; data given to a flow is converted to the dtype of the flow's
  parameters (float64 data in a float32 flow is rounded to float32, which keeps its meaning: 7 significant
  digits of a measurement); ``lessonlib.bijectors.check_batch`` applies this rule to tensors;
* **parameter ranges**: a scale must leave room for its inverse in the parameters' dtype
  (``check_scale_range``); a log-scale bound is a positive number, and None or infinity both mean "no bound";
* **empty batches** are fine: a (0, D) batch gives (0, D) points and (0,) log-densities;
* **switches** (``learnable``, ``flip``, ...) are True or False (``flag``): the text "no" is refused, not read as true;
* **functions** the caller passes in are checked for the arguments they will be given (``function``), so a
  sampler of the wrong signature is named before it is called.

numpy only: the numpy lessons' maths use it too. Tensors are read through their methods.
"""

from __future__ import annotations

import inspect
import math
import numbers
import operator
from typing import Any

import numpy as np

__all__ = [
    "real_number",
    "positive_number",
    "count",
    "real_array",
    "to_numpy",
    "dtype_limits",
    "check_scale_range",
    "log_scale_bound",
    "describe",
    "seed",
    "generator",
    "numpy_generator",
    "one_of",
    "flag",
    "takes",
    "function",
]


def describe(value: Any) -> str:
    """A short name for what ``value`` is, for messages: "the text 'abc'", "a function", "None"."""
    if value is None:
        return "None"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:17] + "..."
        return f"the text {shown!r}"
    if callable(value) and not hasattr(value, "shape"):
        return f"a function ({getattr(value, '__name__', type(value).__name__)})"
    if value is Ellipsis:
        return "... (Ellipsis)"
    return f"a {type(value).__name__}"


def real_number(value: Any, name: str, *, allow_inf: bool = False) -> float:
    """``value`` as a Python float; TypeError unless it is a real number, ValueError if NaN (or infinite)."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, got {describe(value)}.")
    if hasattr(value, "detach") or isinstance(value, np.ndarray):  # a one-element tensor or array
        arr = to_numpy(value)
        if arr.size != 1:
            raise TypeError(f"{name} must be a single number, got an array of shape {arr.shape}.")
        value = arr.reshape(-1)[0]
    if isinstance(value, (complex, np.complexfloating)):
        raise TypeError(f"{name} must be a real number, got the complex number {value}.")
    if not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"{name} must be a number, got {describe(value)}.")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} = {value} is too large for a floating-point number.") from None
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {v}.")
    return v


def positive_number(value: Any, name: str, *, allow_inf: bool = False) -> float:
    """A real number > 0 (e.g. a learning rate, a width); the errors of ``real_number`` otherwise."""
    v = real_number(value, name, allow_inf=allow_inf)
    if not v > 0:
        raise ValueError(f"{name} must be positive, got {v:g}.")
    return v


def count(value: Any, name: str, *, minimum: int = 0, maximum: int | None = None, why: str = "") -> int:
    """A whole number >= ``minimum`` (and <= ``maximum``, ``why`` saying why); numpy integers and whole floats
    such as 1e3 are fine."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a whole number, got {describe(value)}.")
    try:
        n = operator.index(value)
    except TypeError:
        v = real_number(value, name)
        if not v.is_integer():
            raise ValueError(f"{name} must be a whole number, got {v:g}.") from None
        n = int(v)
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {n}.")
    if maximum is not None and n > maximum:
        got = f"{n:,}" if n < 10**15 else f"a number with {len(str(n))} digits"
        raise ValueError(f"{name} must be at most {maximum:,}, got {got}{': ' + why if why else ''}.")
    return n


def seed(value: Any, name: str = "seed", *, for_numpy: bool = False) -> int:
    """A seed: a whole number (non-negative for numpy's generators); None is refused, since it would mean
    "a different result on every run" where the course promises the same one."""
    return count(value, name, minimum=0 if for_numpy else -(2**63), maximum=2**64 - 1)


def generator(value: Any, name: str = "generator", *, optional: bool = True) -> Any:
    """``value`` if it is a torch.Generator (or None when ``optional``); TypeError naming the fix otherwise.

    Read through its methods (this module does not import torch): a torch.Generator has manual_seed and get_state.
    """
    if value is None and optional:
        return None
    if not (hasattr(value, "manual_seed") and hasattr(value, "get_state") and hasattr(value, "initial_seed")):
        kind = "None" if value is None else describe(value)
        raise TypeError(
            f"{name} must be a torch.Generator, e.g. torch.Generator().manual_seed(0){' (or None)' if optional else ''}, "
            f"got {kind}. A seed alone is not a generator: wrap it, torch.Generator().manual_seed(seed)."
        )
    return value


def numpy_generator(value: Any, name: str = "rng") -> np.random.Generator:
    """``value`` if it is a numpy random Generator; TypeError naming the fix otherwise."""
    if not isinstance(value, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy random Generator, e.g. np.random.default_rng(0), got {describe(value)}."
        )
    return value


def one_of(value: Any, name: str, options: Any) -> Any:
    """``value`` if it is one of ``options``; ValueError listing them otherwise."""
    if isinstance(value, (str, int, float, type(None))) and value in list(options):
        return value
    raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")


def flag(value: Any, name: str) -> bool:
    """A switch: True or False (numpy's too, and the whole numbers 0 and 1); TypeError for anything else."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {describe(value) if not isinstance(value, int) else value}.")


def takes(fn: Any, n: int) -> bool:
    """True when ``fn`` can be called with n positional arguments (or when Python cannot tell)."""
    try:
        inspect.signature(fn).bind(*[None] * n)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): let the call decide
        return True
    return True


def function(value: Any, name: str, call: str, n_args: int) -> Any:
    """``value`` if it is a function that can be called with ``n_args`` arguments, as ``call`` shows; TypeError
    naming the signature otherwise."""
    if not callable(value) or hasattr(value, "shape"):
        raise TypeError(f"{name} must be a function, {call}, got {describe(value)}.")
    if not takes(value, n_args):
        raise TypeError(f"{name} is called as {call}, with {n_args} argument(s); the function given cannot take them.")
    return value


def to_numpy(value: Any) -> np.ndarray:
    """A numpy array of the values of a torch tensor (any dtype, with or without grad) or anything array-like.

    Half-precision tensors come back as float32 (numpy has no bfloat16); complex stays complex, so that the
    caller can refuse it by name.
    """
    if hasattr(value, "detach") and hasattr(value, "is_complex"):
        t = value.detach().cpu()
        if not t.is_complex() and t.is_floating_point() and t.element_size() < 4:
            t = t.float()
        return np.asarray(t.numpy())
    return np.asarray(value)


def real_array(value: Any, name: str, *, finite: bool = True, allow_bool: bool = False) -> np.ndarray:
    """``value`` as a float64 numpy array; TypeError for non-numbers, ValueError for complex, NaN or infinity."""
    if value is None or isinstance(value, (str, bytes)) or callable(value) and not hasattr(value, "shape"):
        raise TypeError(f"{name} must be numbers (a number, a list, a numpy array or a tensor), got {describe(value)}.")
    try:
        with np.errstate(all="ignore"):
            arr = to_numpy(value)
    except (ValueError, TypeError, RuntimeError, OverflowError) as e:
        raise TypeError(f"{name} must be a number or a rectangular array of numbers: {e}") from None
    if np.iscomplexobj(arr):
        raise ValueError(
            f"{name} contains complex numbers; densities and maps here live on real numbers. "
            "If the imaginary parts are all zero, pass .real."
        )
    if arr.dtype == np.bool_ and not allow_bool:
        raise TypeError(f"{name} must be numbers, got True/False values.")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numbers (a number, a list, a numpy array or a tensor), got {_kind(arr)}.")
    with np.errstate(all="ignore"):
        out = arr.astype(np.float64, copy=False)
    if finite and out.size and not np.all(np.isfinite(out)):
        where = np.argwhere(~np.isfinite(out))[:3].tolist()
        raise ValueError(
            f"{name} contains NaN or infinity (at index {where[0] if len(where) == 1 else where}): "
            "a map or a density needs finite numbers."
        )
    return out


def _kind(arr: np.ndarray) -> str:
    if arr.dtype.kind in "US":
        return f"the text values {arr.reshape(-1)[:3].tolist()}"
    if arr.dtype == object:
        kinds = sorted({type(v).__name__ for v in arr.reshape(-1)[:50]})
        return f"objects of type {', '.join(kinds) or 'object'} (a ragged list, or text?)"
    return f"values of dtype {arr.dtype}"


def dtype_limits(dtype: Any) -> tuple[str, float, float]:
    """(name, machine epsilon, largest finite number) of a numpy or torch floating dtype ("torch.float32" too)."""
    label = str(dtype).removeprefix("torch.")
    try:
        info = np.finfo(np.dtype(label))
    except TypeError:
        try:  # a numpy type such as np.float64, whose str() is its class
            info, label = np.finfo(np.dtype(dtype)), str(np.dtype(dtype))
        except (TypeError, ValueError):
            raise TypeError(f"{dtype} is not a floating-point dtype: use float32 or float64.") from None
    return label, float(info.eps), float(info.max)


#: The largest size (a dimension, a layer's width, a grid's side) lessonlib builds: beyond it, memory runs out.
MAX_SIZE = 100_000

#: A scale must leave this much room: |z| and |x| up to this size keep scale * z and z / scale finite.
ROOM = 1e6


def check_scale_range(values: np.ndarray, dtype: Any, what: str, fix: str) -> None:
    """Raise ValueError unless every |value| and its inverse are representable with room to spare in ``dtype``.

    Shapes: values (...). A scale of 1e-40 in float32 is accepted by float32 itself (as a subnormal), but its
    inverse 1e40 overflows; the rule keeps both |scale| and 1 / |scale| below max / ROOM.
    """
    label, _, big = dtype_limits(dtype)
    hi = big / ROOM
    a = np.abs(np.asarray(values, dtype=np.float64)).reshape(-1)
    if a.size == 0:
        return
    worst_small, worst_big = float(a.min()), float(a.max())
    if worst_small < 1 / hi or worst_big > hi:
        bad = worst_small if worst_small < 1 / hi else worst_big
        if bad == 0:
            side = "it is zero, so it has no inverse"
        else:
            side = (
                f"its inverse {1 / bad:.2g} overflows"
                if bad < 1 / hi
                else f"it overflows {label} for inputs above {big / bad:.2g}"
            )
        raise ValueError(
            f"{what} {bad:.3g} is out of range for {label}: {side} ({label} holds numbers up to {big:.2g}). "
            f"Keep every {what} between {1 / hi:.2g} and {hi:.2g} in size, or {fix}."
        )


def log_scale_bound(value: Any) -> float | None:
    """A log-scale bound: a positive number, or None (no bound). Infinity means no bound too, and reads as None."""
    if value is None:
        return None
    v = real_number(value, "log_scale_bound", allow_inf=True)
    if not v > 0:
        raise ValueError(f"log_scale_bound must be a positive number (or None for no bound), got {v:g}.")
    return None if math.isinf(v) else v
