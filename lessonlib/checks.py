"""The one core of every exercise checker: feedback that explains, never a traceback, never a wrong pass.

A checker is a function of the learner's answer decorated with ``@checker(name)``, which guarantees:

* "not attempted" means exactly ``None``, the placeholder every exercise cell starts with;
* the answer is read once, by ``read_number``, ``read_array``, ``read_words``, ``read_choice`` or, for a
  function, ``call`` / ``values_of``: numbers, lists, numpy arrays and torch tensors of any dtype
  (float32, float64, int, bool, with or without grad) are all fine, and an answer computed in float32 is
  compared to float32's precision; anything else gets a sentence saying what the exercise expects
  (``AnswerProblem``);
* an exception raised by the learner's own code is reported as theirs ("calling your function raised...");
* any other exception means the checker itself failed: the learner is told so, and that it says nothing
  about their answer (``CHECKER_FAILED``), instead of seeing a traceback or a false verdict.

``compare(name, got, want, hints=...)`` returns a CheckResult: truthy when the answer is right, shown in a
notebook as one line (exact / close / wrong, the largest difference, and a hint when the answer matches a
known mistake). A right answer rounded too far gets "right idea, give more digits"; a known mistake,
rounded, still gets its own hint.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lessonlib.inputs import describe, to_numpy

__all__ = [
    "CheckResult",
    "Hint",
    "compare",
    "hint_if",
    "hint_if_equal",
    "as_array",
    "NOT_DONE",
    "checker",
    "not_attempted",
    "AnswerProblem",
    "read_number",
    "read_array",
    "read_items",
    "read_words",
    "read_choice",
    "call",
    "values_of",
    "CHECKER_FAILED",
]

#: Differences below this (relative and absolute) are floating-point noise, whose size varies from CPU to CPU.
ROUNDING = 1e-12

#: What an exercise cell starts with; a checker that sees it says "not attempted yet".
NOT_DONE = None

#: The words that start the message of a checker that failed itself (a bug in lessonlib, not the learner's).
CHECKER_FAILED = "the checker itself failed"


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``passed`` and a one-line ``message`` for the learner."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(self.message)


class AnswerProblem(Exception):
    """Raised while reading an answer that cannot be checked as given; the message is for the learner."""


def not_attempted(
    name: str, how: str = "Replace the placeholder with your answer and run the cell again."
) -> CheckResult:
    """The verdict for the placeholder None."""
    return CheckResult(name, False, f"… {name}: not attempted yet. {how}")


def failed(name: str, sentence: str) -> CheckResult:
    """A wrong answer, explained in one sentence."""
    return CheckResult(name, False, f"❌ {name}: {sentence}")


# --------------------------------------------------------------------------------------------------
# the decorator every checker goes through
# --------------------------------------------------------------------------------------------------
def checker(
    name: str | Callable[..., str], *, how: str | None = None, answer: Callable[..., Any] | None = None
) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    """Make ``fn(answer, ...) -> CheckResult`` a checker: None is "not attempted", and nothing escapes.

    ``name`` is the exercise's name, or a function of the checker's arguments giving it. ``how`` replaces
    the "not attempted" advice. ``answer`` maps the checker's arguments to the answer tested for None
    (default: the first argument).
    """

    def wrap(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> CheckResult:
            title = name if isinstance(name, str) else fn.__name__.removeprefix("check_").replace("_", " ")
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return failed(
                    title,
                    f"{fn.__name__} takes your answer as one value, {fn.__name__}(answer), and was "
                    f"given {len(args) + len(kwargs)}. Put several numbers in one list: "
                    f"{fn.__name__}([..., ...]).",
                )
            try:
                bound.apply_defaults()
                title = name(*list(bound.arguments.values())[1:]) if callable(name) else name
                given = answer(*bound.args, **bound.kwargs) if answer else next(iter(bound.arguments.values()))
                if given is None:
                    return not_attempted(title, how) if how else not_attempted(title)
                result = fn(*bound.args, **bound.kwargs)
            except AnswerProblem as problem:
                return failed(str(title), str(problem))
            except Exception as e:  # noqa: BLE001 - a bug in the checker must not look like the learner's mistake
                return _checker_failed(str(title), e)
            if not isinstance(result, CheckResult):
                return _checker_failed(str(title), TypeError(f"it returned {describe(result)}"))
            return result

        run.is_checker = True  # type: ignore[attr-defined]
        return run

    return wrap


def _checker_failed(name: str, e: BaseException) -> CheckResult:
    return CheckResult(
        name,
        False,
        f"⚠️ {name}: {CHECKER_FAILED} on this answer ({type(e).__name__}: {e}). That says "
        "nothing about your answer; please report it to the course's maintainers.",
    )


# --------------------------------------------------------------------------------------------------
# reading answers
# --------------------------------------------------------------------------------------------------
def _kind_of_answer(value: Any) -> str:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return f"the text {value[:30]!r}"
        return f"the text {value!r}; write the number without quotes"
    if value is Ellipsis:
        return "... (still the placeholder dots; put your answer there)"
    if callable(value) and not hasattr(value, "shape"):
        return f"a function ({getattr(value, '__name__', 'lambda')}); call it and give its value"
    return describe(value)


#: The most items an answer may have: a longer one (range(10**9)) is refused before it fills the memory.
MAX_ITEMS = 10**6


def read_items(value: Any, what: str) -> list[Any]:
    """The items of an answer that is a collection: a list, a tuple, an array's rows, a generator, a range, a
    dict's values, any iterable. AnswerProblem (saying it expected ``what``) for text, a dict, a set, a single
    number, more than MAX_ITEMS items, or an iterable that fails while it is read.
    """
    if isinstance(value, (str, bytes, dict, set, frozenset)) or value is None or value is Ellipsis:
        raise AnswerProblem(f"expected {what}, got {_kind_of_answer(value)}.")
    if getattr(value, "ndim", 1) == 0 or not hasattr(value, "__iter__"):
        raise AnswerProblem(f"expected {what}, got {_kind_of_answer(value)}, which is one thing, not a list of them.")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            items = list(itertools.islice(iter(value.detach() if hasattr(value, "detach") else value), MAX_ITEMS + 1))
    except Exception as e:  # noqa: BLE001 - whatever the object does when its items are asked for
        raise AnswerProblem(
            f"expected {what}, got {describe(value)}, whose items cannot be read ({type(e).__name__})."
        ) from None
    if len(items) > MAX_ITEMS:
        raise AnswerProblem(f"expected {what}, got more than {MAX_ITEMS:,} items.")
    return items


def _length(value: Any) -> float:
    """len(value), or infinity for a collection too long for len() (range(10**20))."""
    try:
        return len(value)
    except OverflowError:
        return float("inf")


def _one_shot(value: Any) -> bool:
    """True for an iterable that numpy cannot read as an array by itself: a generator, a map, a dict's values."""
    return (
        hasattr(value, "__iter__")
        and not hasattr(value, "__len__")
        and not hasattr(value, "__array__")
        and not hasattr(value, "detach")
    ) or isinstance(value, (type({}.values()), type({}.keys()), type({}.items())))


def read_array(value: Any, what: str = "numbers") -> np.ndarray:
    """The answer as a float64 array: numbers, (nested) lists, numpy arrays, tensors of any real dtype, and any
    iterable of those (a generator, a range, a dict's values).

    True/False count as 1/0. Raises AnswerProblem for text, functions, complex numbers, ragged lists and
    other objects. NaN and infinity are kept (``compare`` explains them).
    """
    if (
        value is None
        or value is Ellipsis
        or isinstance(value, (str, bytes, dict, set))
        or (callable(value) and not hasattr(value, "shape"))
    ):
        raise AnswerProblem(f"expected {what}, got {_kind_of_answer(value)}.")
    if _one_shot(value):
        value = read_items(value, what)
    elif isinstance(value, (list, tuple, range)) and _length(value) > MAX_ITEMS:
        raise AnswerProblem(f"expected {what}, got more than {MAX_ITEMS:,} items.")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            arr = to_numpy(value)
    except Exception as e:  # noqa: BLE001 - whatever the object does when asked for its values
        if isinstance(value, (list, tuple)) and value:  # a list of tensors (with grad, say): read item by item
            arr = _stacked([read_array(v, what) for v in value], what, value)
        else:
            raise AnswerProblem(
                f"expected {what}, got {describe(value)}, which cannot be read as numbers (lists of "
                f"different lengths, or something other than numbers? {type(e).__name__})."
            ) from None
    if np.iscomplexobj(arr):
        raise AnswerProblem(f"expected {what}, got complex numbers; the answer is real.")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except OverflowError:
            raise AnswerProblem("your number is too large for a floating-point number.") from None
        except (TypeError, ValueError):
            raise AnswerProblem(
                f"expected {what}, got {describe(value)} holding something other than numbers "
                "(text, or lists of different lengths?)."
            ) from None
    if arr.dtype.kind not in "biuf":
        raise AnswerProblem(f"expected {what}, got values of type {arr.dtype} (text?).")
    return arr.astype(np.float64)


def _stacked(parts: list[np.ndarray], what: str, value: Any) -> np.ndarray:
    """Items read one by one, as one array; AnswerProblem when their shapes differ."""
    if len({p.shape for p in parts}) > 1:
        raise AnswerProblem(f"expected {what}, got {describe(value)} of lists of different lengths (a ragged list).")
    return np.stack(parts)


def as_array(value: Any) -> np.ndarray:
    """A float64 numpy array from a number, list, numpy array or torch tensor (for references and hints)."""
    return np.asarray(to_numpy(value), dtype=np.float64)


def read_number(value: Any) -> np.floating:
    """The answer as one number (a number, or a one-element list, array or tensor); AnswerProblem otherwise.

    Returned as a numpy float32 when the answer was computed in float32 or less (``compare`` then allows
    for that precision), as a float64 otherwise.
    """
    if isinstance(value, (bool, np.bool_)):
        raise AnswerProblem(f"expected a number, got {value}.")
    if isinstance(value, tuple) and len(value) == 2:
        raise AnswerProblem("expected one number, got a pair of two things.")
    arr = read_array(value, "a number")
    if arr.size != 1:
        raise AnswerProblem(f"expected one number, got {arr.size} numbers (shape {arr.shape}).")
    return _as_precise_as(arr, value).reshape(-1)[0]


#: Machine epsilon of the floating dtypes an answer may come in (numpy or torch); float64 for everything else.
_EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23}


#: The smallest normal number of those dtypes: closer to 0, their numbers are spaced by it, not relatively.
_TINY = {"float16": 2.0**-14, "bfloat16": 2.0**-126, "float32": 2.0**-126}


def _dtype_name(value: Any) -> str:
    return str(getattr(value, "dtype", "float64")).removeprefix("torch.")


def _precision(value: Any) -> float:
    """The relative precision an answer was computed with: its dtype's epsilon (float64's for plain numbers)."""
    return _EPS.get(_dtype_name(value), 2.0**-52)


def _as_precise_as(values: np.ndarray, answer: Any) -> np.ndarray:
    """float64 ``values`` in the numpy dtype that carries the answer's precision (``compare`` then allows for it):
    float32 for float32, float16 for 16-bit floats (bfloat16 too, where float16 holds the numbers)."""
    eps = _precision(answer)
    if eps >= _EPS["float16"] and np.all(np.abs(values[np.isfinite(values)]) < 6e4):
        return values.astype(np.float16)
    return values.astype(np.float32) if eps > 2.0**-52 else values


def read_words(value: Any, n: int, allowed: Sequence[str], example: str) -> list[str]:
    """A list of ``n`` words from ``allowed`` (case and spaces ignored); AnswerProblem otherwise."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__") or isinstance(value, (dict, set)):
        raise AnswerProblem(f"give a list of {n} words, one per case, e.g. {example}; got {_kind_of_answer(value)}.")
    value = read_items(value, f"a list of {n} words, one per case, e.g. {example}")
    if len(value) != n:
        raise AnswerProblem(f"give a list of {n} words, one per case, e.g. {example}; got {len(value)}.")
    words = []
    for v in value:
        word = v.strip().lower() if isinstance(v, str) else None
        if word not in allowed:
            raise AnswerProblem(f"use the words {', '.join(repr(a) for a in allowed)} (got {v!r}).")
        words.append(word)
    return words


def read_choice(value: Any, options: Sequence[str]) -> str:
    """One of ``options`` (upper case; a string with spaces or lower case is fine); AnswerProblem otherwise."""
    quoted = [f'"{o}"' for o in options]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    letters = ("the letter " if all(len(o) == 1 for o in options) else "") + listed
    if not isinstance(value, str) or value.strip().upper() not in options:
        raise AnswerProblem(
            f"answer with {letters}, got {_kind_of_answer(value) if not isinstance(value, str) else repr(value)}."
        )
    return value.strip().upper()


def call(fn: Any, *args: Any, what: str = "a function") -> Any:
    """The learner's ``fn(*args)``. AnswerProblem if it is not a function, raises, or returns None."""
    if not callable(fn) or hasattr(fn, "shape"):
        raise AnswerProblem(f"expected {what}, got {_kind_of_answer(fn)}.")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = fn(*args)
    except Exception as e:  # noqa: BLE001 - the learner's code: report it, never raise it
        raise AnswerProblem(f"calling your function raised {type(e).__name__}: {e}") from None
    if out is None:
        raise AnswerProblem("your function returned None: did you forget the return?")
    return out


def values_of(fn: Any, x: Any, *, what: str = "a function of x (def ... or lambda x: ...)") -> tuple[Any, np.ndarray]:
    """(raw result, float64 values) of the learner's ``fn(x)``, one value per point of x (a constant is spread).

    Shapes: x (N,) -> (N,).
    """
    raw = call(fn, x.clone() if hasattr(x, "clone") else x.copy(), what=what)
    values = _as_precise_as(read_array(raw, "your function to return one number per point"), raw)
    n = tuple(x.shape)
    if values.shape != n:
        if values.size != 1:
            raise AnswerProblem(
                f"your function returned shape {values.shape} for an input of shape {n}: it must "
                "return one value per point (use numpy or torch functions, which act on whole arrays)."
            )
        values = np.full(n, float(values.reshape(-1)[0]))
    return raw, values


# --------------------------------------------------------------------------------------------------
# comparing with the reference
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hint:
    """A known mistake: ``message`` is shown when the wrong answer equals ``alt(want)`` (to ``rtol``), or when
    ``predicate(got, want)`` is true."""

    message: str
    alt: Callable[[np.ndarray], Any] | None = None
    predicate: Callable[[np.ndarray, np.ndarray], bool] | None = None
    rtol: float = 1e-4

    def value(self, want: np.ndarray) -> np.ndarray | None:
        return None if self.alt is None else as_array(self.alt(want))

    def matches(self, got: np.ndarray, want: np.ndarray) -> bool:
        try:
            if self.predicate is not None:
                return bool(self.predicate(got, want))
            alt = self.value(want)
            return alt.shape == got.shape and bool(np.allclose(got, alt, rtol=self.rtol, atol=1e-9))
        except Exception:  # noqa: BLE001 - a hint that does not apply to this answer's shape simply does not match
            return False


def hint_if(predicate: Callable[[np.ndarray, np.ndarray], bool], message: str) -> Hint:
    """A hint shown when ``predicate(got, want)`` is true for a wrong answer."""
    return Hint(message, predicate=predicate)


def hint_if_equal(transform: Callable[[np.ndarray], Any], message: str, rtol: float = 1e-4) -> Hint:
    """A hint shown when the wrong answer equals ``transform(want)``: the signature of a known mistake.

    It also matches when the answer is that wrong value rounded to the answer's own number of decimals.
    """
    return Hint(message, alt=transform, rtol=rtol)


_GENERIC_HINTS: Sequence[Hint] = (
    hint_if_equal(lambda w: -w, "Your answer has the right size but the wrong sign: check the sign of each term."),
)


def _decimals(got: np.ndarray) -> int | None:
    """The number of decimals the answer was typed (or rounded) with, if at most 6; None for a full-precision answer."""
    for d in range(7):
        if np.array_equal(np.round(got, d), got):
            return d
    return None


def _rounds_to(got: np.ndarray, target: np.ndarray, decimals: int | None) -> bool:
    """True when ``got`` is ``target`` rounded to ``decimals`` decimals, within 5% of it (not a lucky coarse guess)."""
    if decimals is None or target.shape != got.shape or not np.all(np.isfinite(target)):
        return False
    half = 0.5 * 10.0**-decimals * (1 + 1e-9) + 1e-12
    return bool(np.all(np.abs(got - target) <= half) and np.all(np.abs(got - target) <= 0.05 * np.abs(target)))


def compare(
    name: str,
    got: Any,
    want: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hints: Sequence[Hint] = (),
    unit: str = "",
) -> CheckResult:
    """Compare a learner's answer with the reference and explain the difference.

    Specific ``hints`` are tried first, then generic ones (sign flip); then the same, allowing for an answer
    rounded to the decimals it was given with. ``unit`` is shown after numbers.
    """
    if got is None:
        return not_attempted(name)
    try:
        g = read_array(got)
    except AnswerProblem as problem:
        return failed(name, str(problem))
    rtol = max(rtol, 8 * _precision(got))  # an answer computed in float32 is right to float32's precision
    atol = max(atol, _TINY.get(_dtype_name(got), 0.0))  # below its smallest normal number a dtype keeps fewer digits
    w = as_array(want)
    if g.shape != w.shape:
        if g.size == w.size:
            msg = f"shape {g.shape} but the answer has shape {w.shape}; the values may be right, reshape them."
        else:
            msg = f"shape {g.shape} but the answer has shape {w.shape}."
        return failed(name, f"your answer has {msg}")
    if not np.all(np.isfinite(g)):
        return failed(name, "your answer contains NaN or infinity. A log of zero or a division by zero?")
    diff = float(np.max(np.abs(g - w))) if g.size else 0.0
    u = f" {unit}" if unit else ""
    if np.allclose(g, w, rtol=ROUNDING, atol=ROUNDING):
        # equal, or equal but for the last bits: which of the two depends on the CPU, so say the same thing
        return CheckResult(name, True, f"✅ {name}: correct.")
    if np.allclose(g, w, rtol=rtol, atol=atol):
        return CheckResult(name, True, f"✅ {name}: correct (largest difference {diff:.1e}{u}, within rounding).")
    return failed(
        name, f"not yet (largest difference {diff:.3g}{u}). " + _explain(g, w, (*hints, *_GENERIC_HINTS), rtol, atol)
    )


def _explain(g: np.ndarray, w: np.ndarray, hints: Sequence[Hint], rtol: float, atol: float) -> str:
    """The hint for a wrong answer: a known mistake, the right value rounded too far, or a rounded known mistake."""
    for hint in hints:
        if hint.matches(g, w):
            return f"Hint: {hint.message}"
    decimals = _decimals(g)
    if _rounds_to(g, w, decimals):
        need = max(atol, rtol * float(np.max(np.abs(w))))
        return (
            f"Right idea, give more digits: your answer is the right value rounded to {decimals} decimal"
            f"{'s' if decimals != 1 else ''}, and the check needs it to within {need:.0e}."
        )
    for hint in hints:
        try:
            alt = hint.value(w)
        except Exception:  # noqa: BLE001 - as in Hint.matches
            alt = None
        if alt is not None and _rounds_to(g, alt, decimals):
            return f"Hint: {hint.message} (Your answer matches that mistake rounded; give more digits too.)"
    return "Re-read the formula and try again."
