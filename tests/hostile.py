"""The harness of the hostile probe (tests/core/test_hostile_inputs.py, tests/lessons/test_hostile_answers.py).

A probe case is one call with an odd input and the outcome it must have, stated in advance:

* ``raises(*words)``: a ValueError or TypeError raised by a ``raise`` statement in lessonlib itself, whose
  message contains every one of ``words`` (case ignored): the words that name the real cause;
* ``returns(check, what)``: a result for which ``check(result)`` is true (finite, the right shape, a round
  trip that closes, a log-det that matches autograd, ...);
* for exercise checkers, ``fails(*words)``, ``passes()`` and ``not_attempted()``: a CheckResult with that
  verdict, and for a failure a message that contains ``words`` (the hint that names the mistake).

``classify`` runs a case and sorts what happened into the five outcomes of the probe:

* "fine": the result the case asks for;
* "clear error": the refusal the case asks for (lessonlib's own error naming the cause, or a checker's
  failure with the hint that names the mistake);
* "silent wrong": a result where a refusal was due, or a result that fails the case's check (a checker
  that passes a wrong answer);
* "obscure": any other exception (a raw torch or numpy error, an AttributeError, a lessonlib error whose
  message names another cause), a refusal of good input, a checker's failure without the right hint;
* "hang": no answer within ``TIMEOUT_S`` seconds.
"""

from __future__ import annotations

import contextlib
import re
import signal
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lessonlib.checks import CheckResult

import torch

LESSONLIB = str(Path(__file__).resolve().parent.parent / "lessonlib")
OUTCOMES = ("fine", "clear error", "silent wrong", "obscure", "hang")
#: A call that has not answered after this many seconds counts as a hang.
TIMEOUT_S = 30


class Hang(Exception):
    """Raised by the alarm when a case runs longer than TIMEOUT_S."""


@dataclass(frozen=True)
class Case:
    """One call (``call()``, or ``call(tmp_path)`` when ``tmp``) and the outcome it must have."""

    id: str
    call: Callable[..., Any]
    expect: Expect
    tmp: bool = False

    @property
    def test_id(self) -> str:
        """The id without memory addresses, so every process that collects the tests names them alike."""
        return re.sub(r" at 0x[0-9a-fA-F]+", "", self.id)


@dataclass(frozen=True)
class Expect:
    """What a case must do. ``judge`` sorts an outcome ("returned", value) or ("raised", exception)."""

    what: str
    judge: Callable[[str, Any], tuple[str, str]] = field(repr=False)


def own_error(e: BaseException) -> bool:
    """True for a ValueError/TypeError with a message, raised by a raise statement in lessonlib's own code."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    return (
        isinstance(e, (ValueError, TypeError))
        and bool(str(e).strip())
        and last.filename.startswith(LESSONLIB)
        and (last.line or "").lstrip().startswith("raise")
    )


def _where(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    last = frames[-1] if frames else None
    place = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
    return f"{type(e).__name__}{place}: {str(e)[:300]}"


def _missing(message: str, words: Iterable[str]) -> list[str]:
    low = message.lower()
    return [w for w in words if w.lower() not in low]


def raises(
    *words: str,
    kind: tuple[type, ...] | type = (ValueError, TypeError),
    own: bool = True,
    after: Callable[[], bool] | None = None,
) -> Expect:
    """A refusal: ``kind`` raised (by lessonlib itself when ``own``), its message containing ``words``; then ``after()``."""

    def judge(how: str, value: Any) -> tuple[str, str]:
        if how == "returned":
            return "silent wrong", f"returned {_short(value)} instead of refusing"
        e = value
        if not isinstance(e, kind) or (own and not own_error(e)):
            return "obscure", _where(e)
        missing = _missing(str(e), words)
        if missing:
            return "obscure", f"the message does not name the cause (no {missing}): {_where(e)}"
        if after is not None and not after():
            return "silent wrong", f"refused clearly, but left things broken: {_where(e)}"
        return "clear error", str(e)[:200]

    names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
    return Expect(f"raises {names} naming {list(words)}", judge)


def returns(check: Callable[[Any], bool], what: str) -> Expect:
    """A result for which ``check(result)`` is true (an exception inside ``check`` counts as false)."""

    def judge(how: str, value: Any) -> tuple[str, str]:
        if how == "raised":
            return "obscure", f"refused good input: {_where(value)}"
        try:
            ok = bool(check(value))
        except Exception as e:  # noqa: BLE001 - a result the check cannot even read is a wrong result
            return "silent wrong", f"the result cannot be checked ({type(e).__name__}: {e}): {_short(value)}"
        return ("fine", what) if ok else ("silent wrong", f"expected {what}, got {_short(value)}")

    return Expect(f"returns {what}", judge)


def _verdict(value: Any) -> tuple[str, str] | None:
    """("obscure", why) unless ``value`` is a CheckResult on which the checker did not fail itself."""
    from lessonlib.checks import CHECKER_FAILED, CheckResult

    if not isinstance(value, CheckResult):
        return "obscure", f"the checker returned {_short(value)}, not a CheckResult"
    if CHECKER_FAILED in value.message:
        return "obscure", value.message
    return None


def _checker_expect(description: str, verdict: Callable[[CheckResult], tuple[str, str]]) -> Expect:
    """An expectation on a checker's answer: a raise or a malformed result is obscure, else ``verdict`` judges it."""

    def judge(how: str, value: Any) -> tuple[str, str]:
        if how == "raised":
            return "obscure", f"the checker raised {_where(value)}"
        return _verdict(value) or verdict(value)

    return Expect(description, judge)


def fails(*words: str) -> Expect:
    """A checker's failure (not "not attempted") whose message contains ``words``: the hint naming the mistake."""

    def verdict(value: CheckResult) -> tuple[str, str]:
        if value.passed:
            return "silent wrong", f"passed a wrong answer: {value.message}"
        if "not attempted" in value.message:
            return "obscure", f"called an answer 'not attempted': {value.message}"
        missing = _missing(value.message, words)
        if missing:
            return "obscure", f"failed without naming the mistake (no {missing}): {value.message}"
        return "clear error", value.message[:200]

    return _checker_expect(f"fail with a message naming {list(words)}", verdict)


def passes() -> Expect:
    """A checker's pass: the right answer, in any of the forms the exercise allows."""
    return _checker_expect(
        "pass",
        lambda value: (
            ("fine", value.message[:200]) if value.passed else ("obscure", f"refused a right answer: {value.message}")
        ),
    )


def not_attempted() -> Expect:
    """The placeholder None: "not attempted yet", not passed."""

    def verdict(value: CheckResult) -> tuple[str, str]:
        if value.passed or "not attempted" not in value.message:
            return "obscure", f"None is not called 'not attempted': {value.message}"
        return "fine", value.message[:200]

    return _checker_expect("say 'not attempted'", verdict)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:297] + "..."


# --------------------------------------------------------------------------------------------------
# running a case
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def alarm(seconds: int):
    """Raise Hang in the main thread after ``seconds`` (Unix only; elsewhere no limit)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def ring(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    """torch's default dtype set to ``dtype`` for the block (notebooks train in float32)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def classify(case: Case, tmp_path: Path | None = None) -> tuple[str, str]:
    """(outcome, detail) of running ``case``: one of OUTCOMES and a sentence saying what happened."""
    try:
        with alarm(TIMEOUT_S):
            value = case.call(tmp_path) if case.tmp else case.call()
    except Hang as e:
        return "hang", str(e)
    except Exception as e:  # noqa: BLE001 - every exception is sorted
        return case.expect.judge("raised", e)
    return case.expect.judge("returned", value)


def tally(cases: list[Case], tmp_root: Path) -> Counter:
    """Run every case; print each one that is not "fine" or "clear error", and return the counts by outcome."""
    counts: Counter = Counter()
    for k, case in enumerate(cases):
        tmp = tmp_root / f"case{k}"
        tmp.mkdir(parents=True, exist_ok=True)
        outcome, detail = classify(case, tmp)
        counts[outcome] += 1
        if outcome not in ("fine", "clear error"):
            print(f"[{outcome}] {case.id}: {detail}")
    return counts


def check_case(case: Case, tmp_path: Path) -> None:
    """The body of every parametrised probe test: fail unless the outcome is the one the case asks for."""
    outcome, detail = classify(case, tmp_path)
    assert outcome in ("fine", "clear error"), f"{outcome}: {case.id}: expected it to {case.expect.what}; {detail}"


def main(cases: list[Case]) -> None:
    """Print the cases that are not fine and the counts by outcome (``python -m tests.core.test_hostile_inputs``)."""
    import tempfile

    torch.set_default_dtype(torch.float64)  # as tests/conftest.py sets for every test
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="lessonlib-probe-") as root:
        counts = tally(cases, Path(root))
    print(f"{len(cases)} cases: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES))
