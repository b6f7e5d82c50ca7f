"""A hostile probe of the lessons: every checker's answer gets feedback, and every widget control holds at its extremes.

Checkers (every function decorated with ``lessonlib.checks.checker`` in a lesson's exercises.py): the
placeholder None ("not attempted"), the right answer in the forms a learner writes it (float32, a tensor,
a one-element list; a function returning numpy or torch), the plausible wrong answers of the exercise
(sign errors, a forgotten log-det, the wrong direction, the identity map), each of which must fail with
the hint that names it, and odd answers (text, NaN, infinity, complex, True, ..., a dict, a function where a
number is asked and the reverse, a function that raises or returns None), which must fail with feedback,
never a traceback. Widgets (every LessonWidget of a lesson's widgets.py, built headless as the benchmark
builds them): every control set to its minimum, its maximum and two random values, then reset(); no
exception may escape, and a message shown is a teaching message, never "unexpected".

    python -m tests.lessons.test_hostile_answers      prints the cases that are not right, and the tally
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from pathlib import Path

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")  # as tests/lessons/conftest.py and the notebooks

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lessonlib.bijectors import Affine  # noqa: E402
from lessonlib.flows import Flow, make_flow, standard_normal  # noqa: E402
from tests.hostile import Case, Expect, check_case, fails, main, not_attempted, passes, raises, returns  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
F64 = torch.float64
CASES: list[Case] = []


def case(id: str, call, expect) -> None:
    CASES.append(Case(id, call, expect))


def all_checkers() -> dict[str, object]:
    """lesson.name -> checker, for every function of a lesson's exercises.py that goes through the checker core."""
    found = {}
    for path in sorted((ROOT / "lessonlib" / "lessons").glob("*/exercises.py")):
        module = importlib.import_module(f"lessonlib.lessons.{path.parent.name}.exercises")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if getattr(fn, "is_checker", False) and fn.__module__ == module.__name__:
                found[f"{path.parent.name[:3]}.{name}"] = fn
    return found


CHECKERS = all_checkers()
ex = {
    name.split(".")[0]: importlib.import_module(f"lessonlib.lessons.{p.parent.name}.exercises")
    for p in sorted((ROOT / "lessonlib" / "lessons").glob("*/exercises.py"))
    for name in [p.parent.name[:3]]
}


def answer(checker: str, given, expect: Expect, what: str) -> None:
    """A case: ``CHECKERS[checker](*given)`` (``given`` a tuple of arguments, or one answer) must ``expect``."""
    two = ("affine_coupling", "own_stack", "rotation_scaling_density")
    args = given if isinstance(given, tuple) and checker.endswith(two) else (given,)
    case(f"{checker}: {what}", lambda c=checker, a=args: CHECKERS[c](*a), expect)


def raising(error: Exception):
    def fn(*args):
        raise error

    return fn


# --------------------------------------------------------------------------------------------------
# odd answers, for every checker
# --------------------------------------------------------------------------------------------------
#: the kind of answer each checker reads: a number, an array, a function, words, a choice, or a pair of functions
KIND = {
    "l01.check_decreasing_affine_density": "function",
    "l01.check_lognormal_logpdf": "function",
    "l01.check_interval_mass": "number",
    "l01.check_inverse_cdf_map": "function",
    "l02.check_rotation_scaling_density": "point and number",
    "l02.check_signs": "array",
    "l02.check_big_log_det": "number",
    "l03.check_nll_loss": "function",
    "l03.check_gaussian_nll": "number",
    "l03.check_nll_signs": "words",
    "l03.check_unit_change": "number",
    "l04.check_affine_coupling": "pair",
    "l04.check_zero_entries": "array",
    "l04.check_log_density": "number",
    "l05.check_two_layer_log_prob": "number",
    "l05.check_keep_mask": "array",
    "l05.check_masks_cover": "array",
    "l05.check_more_layers": "choice",
    "l05.check_own_stack": "stack",
    "l06.check_maf_passes": "array",
    "l06.check_ode_log_density_change": "number",
    "l06.check_reparameterized": "function",
    "l07.check_bin_density": "number",
    "l07.check_bin_inverse": "number",
    "l07.check_spline_parameters": "number",
    "l08.check_bits_per_dim": "number",
    "l08.check_preprocessing_log_det": "number",
    "l08.check_honest_number": "choice",
    "l09.check_log_evidence": "number",
    "l09.check_ess": "number",
    "l09.check_reverse_kl_passes": "array",
    "l09.check_reverse_kl_loss": "function",
    "l09.check_dropped_mode_kl": "number",
    "l10.check_conv_log_det": "number",
    "l10.check_unsqueeze": "function",
    "l10.check_variational_bound": "number",
}

ODD = [
    ("text", "abc"),
    ("a number as text", "0.5"),
    ("NaN", math.nan),
    ("infinity", math.inf),
    ("a complex number", 1 + 2j),
    ("True", True),
    ("the placeholder ...", Ellipsis),
    ("a dict", {"a": 1}),
    ("a set", {1.0}),
    ("a ragged list", [1.0, [2.0, 3.0]]),
    ("an empty list", []),
]

for _name in CHECKERS:
    answer(_name, None, not_attempted(), "None, the placeholder")
    kind = KIND.get(_name, "?")
    if kind == "stack":
        continue
    for _what, _value in ODD:
        answer(_name, _value, fails(), _what)
    if kind in ("number", "array", "words", "choice"):
        answer(_name, lambda *a: 0.5, fails("function"), "a function instead of a value")
        answer(_name, np.array([[1.0, 2.0], [3.0, 4.0]]), fails(), "a 2x2 array")
    if kind == "point and number":
        answer(_name, 0.034, fails("both"), "the density alone, without z*")
        answer(_name, (None, 0.034), fails("both"), "z* still None")
    if kind in ("function", "pair"):
        answer(_name, 0.5, fails("function" if kind == "function" else "pair"), "a number instead of a function")
        answer(
            _name,
            raising(ZeroDivisionError("boom")) if kind == "function" else (raising(ZeroDivisionError("boom")),) * 2,
            fails("raised ZeroDivisionError"),
            "a function that raises",
        )
        answer(
            _name,
            (lambda *a: None) if kind == "function" else (lambda *a: None, lambda *a: None),
            fails("return"),
            "a function that returns None (no return)",
        )


# --------------------------------------------------------------------------------------------------
# the right answers, in the forms a learner writes them, and the plausible wrong ones
# --------------------------------------------------------------------------------------------------
def n01(x):
    return np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)


def l01_density(x):
    return n01((x - 1) / -2) / 2


answer("l01.check_decreasing_affine_density", l01_density, passes(), "the right density")
answer(
    "l01.check_decreasing_affine_density",
    lambda x: l01_density(x).astype(np.float32),
    passes(),
    "the right density in float32",
)
answer(
    "l01.check_decreasing_affine_density", lambda x: -l01_density(x), fails("negative"), "a sign error: p_Z(z) / f'(z)"
)
answer(
    "l01.check_decreasing_affine_density", lambda x: n01((x - 1) / -2), fails("missing"), "the 1/|f'| factor forgotten"
)
answer(
    "l01.check_decreasing_affine_density", lambda x: n01((x - 1) / -2) * 2, fails("multiplied"), "multiplied by |f'|"
)
answer(
    "l01.check_decreasing_affine_density",
    lambda x: n01(-2 * x + 1) / 2,
    fails("f(x)"),
    "the wrong direction: p_Z(f(x))",
)
answer("l01.check_decreasing_affine_density", n01, fails("Hint"), "the identity map: p_Z(x) itself")
answer(
    "l01.check_decreasing_affine_density",
    lambda x: n01(x / -2 + 1) / 2,
    fails("reverse order", "integrates to 1, as a density must"),
    "a wrong inverse: x / (-2) + 1",
)
case(
    "l01.check_decreasing_affine_density: a wrong inverse is never told 'a density integrates to 1' as if that were wrong",
    lambda: CHECKERS["l01.check_decreasing_affine_density"](lambda x: n01((x + 3) / -2) / 2),
    Expect(
        "fail without the contradiction",
        lambda how, v: (
            ("clear error", v.message)
            if how == "returned" and not v.passed and "integrates to 1; a density integrates to 1" not in v.message
            else ("obscure", str(v))
        ),
    ),
)
answer("l01.check_decreasing_affine_density", lambda x: math.exp(x), fails("raised"), "math.exp on an array")
answer(
    "l01.check_decreasing_affine_density", lambda x: l01_density(x)[:10], fails("shape"), "ten values for 801 points"
)


def l01_log(x):
    return -0.5 * np.log(x) ** 2 - 0.5 * np.log(2 * np.pi) - np.log(x)


answer("l01.check_lognormal_logpdf", l01_log, passes(), "the right log-density")
answer(
    "l01.check_lognormal_logpdf",
    lambda x: l01_log(x) + 2 * np.log(x),
    fails("wrong sign"),
    "the log-det's sign flipped",
)
answer("l01.check_lognormal_logpdf", lambda x: l01_log(x) + np.log(x), fails("missing"), "the log-det forgotten")
answer("l01.check_lognormal_logpdf", lambda x: np.exp(l01_log(x)), fails("p_X(x) itself"), "the density, not its log")
answer(
    "l01.check_lognormal_logpdf",
    lambda x: -0.5 * np.exp(x) ** 2 - 0.5 * np.log(2 * np.pi) - x,
    fails("inverse"),
    "the wrong direction: f applied to x",
)
answer(
    "l01.check_lognormal_logpdf",
    lambda x: -0.5 * x**2 - 0.5 * np.log(2 * np.pi),
    fails("Hint"),
    "the identity map: log p_Z(x)",
)
answer("l01.check_interval_mass", 0.3413447460685429, passes(), "the right probability")
answer("l01.check_interval_mass", 0.3413, passes(), "the right probability to four decimals")
answer("l01.check_interval_mass", np.float32(0.34134475), passes(), "the right probability as a numpy float32")
answer("l01.check_interval_mass", torch.tensor([0.34134475]), passes(), "the right probability as a one-element tensor")
answer(
    "l01.check_interval_mass",
    0.15537415809516142,
    fails("map the ends back"),
    "the x-interval put into Z's CDF (identity map)",
)
answer("l01.check_interval_mass", 0.8413447460685429, fails("lower end"), "P(Z < 1)")
answer("l01.check_interval_mass", 1 - 0.3413447460685429, fails("OUTSIDE"), "the complement")
answer("l01.check_interval_mass", 0.3520653267642995, fails("not a probability"), "a density value")
answer("l01.check_interval_mass", [0.34, 0.1], fails("one number"), "two numbers")


def l01_sampler(u):
    return -np.log1p(-u) / 2


answer("l01.check_inverse_cdf_map", l01_sampler, passes(), "F^-1(u) = -log(1 - u) / 2")
answer("l01.check_inverse_cdf_map", lambda u: -np.log(u) / 2, passes(), "the decreasing map -log(u) / 2")
answer("l01.check_inverse_cdf_map", lambda u: -2 * np.log1p(-u), fails("multiplied by the rate"), "times the rate")
answer("l01.check_inverse_cdf_map", lambda u: np.log1p(-u) / 2, fails("negative"), "a sign error")
answer("l01.check_inverse_cdf_map", lambda u: -np.expm1(-2 * u), fails("CDF"), "the CDF, the wrong direction")
answer("l01.check_inverse_cdf_map", lambda u: -np.log1p(-u), fails("rate is missing"), "the rate forgotten")
answer("l01.check_inverse_cdf_map", lambda u: u, fails("Hint"), "the identity map")


P2, Z2 = ex["l02"]._ex1_parts(), ex["l02"]._ex1_points()
Z_STAR = np.linalg.solve(ex["l02"].ex1_matrix(), ex["l02"].EX1_POINT)
answer("l02.check_rotation_scaling_density", (Z_STAR, P2["right"]), passes(), "z* and the right density")
answer(
    "l02.check_rotation_scaling_density",
    (torch.tensor(Z_STAR, dtype=torch.float32), np.float32(P2["right"])),
    passes(),
    "z* and the density in float32",
)
answer("l02.check_rotation_scaling_density", (list(Z_STAR), [P2["right"]]), passes(), "as lists")
case(
    "l02.check_rotation_scaling_density: z* as a generator",
    lambda: CHECKERS["l02.check_rotation_scaling_density"]((v for v in Z_STAR), P2["right"]),
    passes(),
)
for _key, _words, _what in (
    ("times_det", "multiplied by |det A|", "multiplied by |det A|"),
    ("over_s", "divided by s", "divided by s, not s^2"),
    ("no_det", "area factor", "|det A| forgotten"),
    ("forward", "A x*", "the wrong direction: p_Z(A x*)"),
    ("not_mapped", "x* itself", "x* not mapped back"),
    ("no_2pi", "2 pi", "the 1/(2 pi) forgotten"),
):
    answer("l02.check_rotation_scaling_density", (Z_STAR, P2[_key]), fails(_words), _what)
answer(
    "l02.check_rotation_scaling_density",
    (Z_STAR, float(np.exp(-0.5 * 1.25) / (2 * np.pi))),
    fails("Hint"),
    "the identity map: p_Z(x*)",
)
for _key, _words, _what in (
    ("wrong_way", "turned the wrong way", "z* turned the wrong way, with the density right (it depends on |z*| only)"),
    ("forward", "lands ON x*", "z* = A x*"),
    ("not_mapped", "x* itself", "z* = x*"),
    ("scale_only", "not the turn", "only the scaling undone"),
    ("turn_only", "not the scaling", "only the turn undone"),
    ("times_s", "multiplied by 2", "scaled up by 2"),
):
    answer("l02.check_rotation_scaling_density", (Z2[_key], P2["right"]), fails(_words), _what)
answer("l02.check_rotation_scaling_density", ([1.0, 2.0, 3.0], P2["right"]), fails("two numbers"), "z* of 3 numbers")
SIGNS = [float(np.sign(np.linalg.det(A))) for A in ex["l02"].SIGN_QUIZ.values()]
answer("l02.check_signs", SIGNS, passes(), "the right signs")
answer("l02.check_signs", ["+" if s > 0 else "-" for s in SIGNS], passes(), "the right signs as '+' and '-'")
answer("l02.check_signs", [-s for s in SIGNS], fails("all three are reversed"), "every sign flipped")
answer("l02.check_signs", SIGNS[:2] + [-SIGNS[2]], fails("R:"), "R's sign flipped")
answer("l02.check_signs", SIGNS[:2] + [0.0], fails("flat"), "a zero")
answer("l02.check_signs", SIGNS[:2], fails("three signs"), "two signs")
answer("l02.check_signs", ["up", "down", "up"], fails("+1 or -1"), "words that are not signs")
L_BIG = ex["l02"].big_triangular_matrix()
LOGDET = float(np.sum(np.log(np.abs(np.diagonal(L_BIG)))))
answer("l02.check_big_log_det", LOGDET, passes(), "sum log|L_ii|")
answer("l02.check_big_log_det", np.linalg.slogdet(L_BIG), fails("slogdet returns two things"), "slogdet's pair")
answer("l02.check_big_log_det", math.inf, fails("overflowed"), "log(det L), overflowed")
answer("l02.check_big_log_det", math.nan, fails("absolute value"), "log of negative entries")
answer("l02.check_big_log_det", -math.inf, fails("log of 0"), "-inf")
answer(
    "l02.check_big_log_det", float(np.diagonal(L_BIG).sum()), fails("added the diagonal entries"), "sum of the diagonal"
)
answer("l02.check_big_log_det", LOGDET / math.log(10), fails("log base 10"), "log10")
answer("l02.check_big_log_det", -LOGDET, fails("wrong sign"), "a sign error")
answer("l02.check_big_log_det", 1.0, fails("sign of det L"), "slogdet's sign")
answer("l02.check_big_log_det", (LOGDET,), passes(), "the right value in a tuple of one")
answer("l02.check_big_log_det", (1.0, LOGDET), fails("slogdet returns two things"), "slogdet's pair as a tuple")
answer("l02.check_signs", torch.tensor(SIGNS, requires_grad=True), passes(), "the signs as a tensor with grad")
answer(
    "l05.check_keep_mask",
    [torch.tensor(v, requires_grad=True) for v in (1.0, 1.0, 0.0, 0.0)],
    passes(),
    "a list of tensors with grad",
)


def _l03_terms(flow, x):
    z, ld = flow.bijector.inverse_and_log_det(x)
    return flow.base.log_prob(z), ld


answer("l03.check_nll_loss", lambda flow, x: -flow.log_prob(x).mean(), passes(), "-mean log p")
answer("l03.check_nll_loss", lambda flow, x: -sum(_l03_terms(flow, x)).mean(), passes(), "from the two terms")
answer(
    "l03.check_nll_loss",
    lambda flow, x: -(_l03_terms(flow, x)[0] - _l03_terms(flow, x)[1]).mean(),
    fails("wrong sign"),
    "the log-det's sign flipped",
)
answer(
    "l03.check_nll_loss",
    lambda flow, x: -_l03_terms(flow, x)[0].mean(),
    fails("log-det term is missing"),
    "the log-det forgotten",
)
answer("l03.check_nll_loss", lambda flow, x: -flow.log_prob(x).sum(), fails("summed"), "a sum, not a mean")
answer("l03.check_nll_loss", lambda flow, x: -flow.log_prob(x), fails("one number per point"), "one loss per point")
answer(
    "l03.check_nll_loss",
    lambda flow, x: flow.log_prob(x).mean(),
    fails("log-likelihood itself"),
    "the log-likelihood, not its negative",
)
answer(
    "l03.check_nll_loss",
    lambda flow, x: -flow.log_prob(x).mean().detach(),
    fails("connected"),
    "the right value, detached",
)
answer(
    "l03.check_nll_loss",
    lambda flow, x: float(-flow.log_prob(x).mean()),
    fails("torch tensor"),
    "the right value as a float",
)
answer("l03.check_nll_loss", lambda x: -x.mean(), fails("raised TypeError"), "a function of one argument")
answer(
    "l03.check_nll_loss",
    lambda flow, x: (
        -sum(
            flow.bijector.forward_and_log_det(x)[i] if i else flow.base.log_prob(flow.bijector.forward(x))
            for i in (0, 1)
        ).mean()
    ),
    fails("forward and inverse are swapped"),
    "forward_and_log_det used for the density",
)
answer(
    "l03.check_nll_loss",
    lambda flow, x: -(flow.base.log_prob(flow.bijector.forward(x)) - flow.bijector.forward_and_log_det(x)[1]).mean(),
    fails("forward and inverse are swapped"),
    "forward_and_log_det used for the density, log-det subtracted",
)
GNLL = ex["l03"].gaussian_nll_reference()
answer("l03.check_gaussian_nll", GNLL, passes(), "the right NLL")
answer("l03.check_gaussian_nll", round(GNLL, 4), passes(), "the right NLL to four decimals")
answer("l03.check_gaussian_nll", GNLL - 0.5 * math.log(2 * math.pi), fails("1/2 log(2 pi)"), "the constant forgotten")
answer("l03.check_gaussian_nll", GNLL - math.log(0.8), fails("log sigma"), "log sigma forgotten")
answer("l03.check_gaussian_nll", 4 * GNLL, fails("total"), "the sum over points")
answer("l03.check_gaussian_nll", -GNLL, fails("wrong sign"), "the log-likelihood")
answer("l03.check_nll_signs", ["positive", "negative", "negative", "zero"], passes(), "the right words")
answer(
    "l03.check_nll_signs",
    [" Positive", "NEGATIVE", "negative", "zero "],
    passes(),
    "the right words, other case and spaces",
)
answer("l03.check_nll_signs", ["positive", "positive", "negative", "zero"], fails("case b"), "case b wrong")
answer("l03.check_nll_signs", ["positive", "negative", "negative"], fails("4 words"), "three words")
answer("l03.check_nll_signs", 5, fails("list of 4 words"), "a number")
answer("l03.check_nll_signs", ["pos", "neg", "neg", "zero"], fails("use the words"), "abbreviations")
answer("l03.check_nll_signs", "positive", fails("list of 4 words"), "one word")
answer("l03.check_unit_change", math.log(60), passes(), "log 60")
answer("l03.check_unit_change", 60.0, fails("scale factor itself"), "60, not its log")
answer("l03.check_unit_change", -math.log(60), fails("wrong direction"), "-log 60")
answer("l03.check_unit_change", math.log10(60), fails("log10"), "log10(60)")

E4 = ex["l04"]


def _swap_forward(z, mask, cond):
    return E4.reference_inverse(z, mask, cond)


def _identity(p, mask, cond):
    return p.clone(), p.new_zeros(p.shape[0])


def _additive_forward(z, mask, cond):
    s, t = cond(z * mask)
    return mask * z + (1 - mask) * (z + t), p_zero(z)


def p_zero(z):
    return z.new_zeros(z.shape[0])


def _exp_log_det(z, mask, cond):
    x, _ = E4.reference_forward(z, mask, cond)
    s, _ = cond(z * mask)
    return x, ((1 - mask) * torch.exp(s)).sum(1)


def _kept_too(z, mask, cond):
    s, t = cond(z * mask)
    return z * torch.exp(s) + t, ((1 - mask) * s).sum(1)


def _divide_first(x, mask, cond):
    s, t = cond(x * mask)
    return mask * x + (1 - mask) * (x * torch.exp(-s) - t), -((1 - mask) * s).sum(1)


def _inverse_sign(x, mask, cond):
    z, ld = E4.reference_inverse(x, mask, cond)
    return z, -ld


def _float32(fn):
    return lambda p, mask, cond: tuple(t.float() for t in fn(p, mask, cond))


def _numpy(fn):
    return lambda p, mask, cond: tuple(t.numpy() for t in fn(p, mask, cond))


def _unsummed(p, mask, cond):
    x, _ = E4.reference_forward(p, mask, cond)
    s, _ = cond(p * mask)
    return x, (1 - mask) * s


RF, RI = E4.reference_forward, E4.reference_inverse
for _pair, _expect, _what in (
    ((RF, RI), passes(), "the reference layer"),
    ((_float32(RF), _float32(RI)), passes(), "the reference layer in float32"),
    ((_identity, _identity), fails("unchanged"), "the identity map"),
    ((_additive_forward, RI), fails("only shifts"), "an additive coupling (no scale)"),
    ((_exp_log_det, RI), fails("exp(s)"), "exp(s) in the log-det"),
    ((_kept_too, RI), fails("every coordinate"), "the kept half transformed too"),
    ((RF, _divide_first), fails("divides before subtracting"), "the inverse in the wrong order"),
    ((RF, _inverse_sign), fails("wrong sign"), "the inverse log-det's sign flipped"),
    ((_swap_forward, RF), fails("swapped"), "forward and inverse swapped"),
    ((_numpy(RF), _numpy(RI)), fails("torch tensors"), "numpy arrays returned"),
    ((_unsummed, RI), fails("summed over coordinates"), "log-det not summed"),
    ((RF, None), fails("both functions"), "the inverse still None"),
    ((RF, RI, RF), fails("one value"), "three functions"),
    ((lambda *a: (a[0], a[0], a[0]), RI), fails("two things"), "three outputs"),
):
    answer("l04.check_affine_coupling", _pair, _expect, _what)
answer("l04.check_affine_coupling", RF, fails("both functions"), "one function only")
ZERO = E4.zero_entries_reference()
answer("l04.check_zero_entries", ZERO, passes(), "the right table")
answer("l04.check_zero_entries", ZERO.astype(bool), passes(), "the right table as True/False")
answer("l04.check_zero_entries", ZERO.T, fails("swapped"), "rows and columns swapped")
answer("l04.check_zero_entries", 1 - ZERO, fails("can be nonzero"), "the nonzero entries marked")
answer("l04.check_zero_entries", np.zeros((4, 4)), fails(), "no zero at all (a dense Jacobian)")
answer("l04.check_zero_entries", np.ones((3, 3)), fails("shape"), "a 3x3 table")


def _l04_log_density():
    c, (x1, x2) = E4.LOG_DENSITY_CURVES, E4.LOG_DENSITY_POINT
    s, t = c["a"] + c["b"] * math.sin(c["c"] * x1), c["d"] + c["e"] * x1**2
    z2 = (x2 - t) * math.exp(-s)
    return -math.log(2 * math.pi) - 0.5 * (x1**2 + z2**2), s, -math.log(2 * math.pi) - 0.5 * (x1**2 + x2**2)


LPZ, S4, LPX = _l04_log_density()
answer("l04.check_log_density", LPZ - S4, passes(), "log p_Z(z) - s")
answer("l04.check_log_density", torch.tensor(LPZ - S4, dtype=torch.float32), passes(), "as a float32 tensor")
answer("l04.check_log_density", LPZ + S4, fails("added the forward log-det"), "a sign error")
answer("l04.check_log_density", LPZ, fails("log-det term -s is missing"), "the log-det forgotten")
answer("l04.check_log_density", LPZ - math.exp(S4), fails("exp(s)"), "exp(s) for s")
answer("l04.check_log_density", LPX, fails("base density at x"), "the identity map: log p_Z(x)")

W5 = ex["l05"].two_layer_log_prob()
answer("l05.check_two_layer_log_prob", W5, passes(), "log p_Z - sum of log-dets")
answer("l05.check_two_layer_log_prob", -2.35 + 0.45, fails("added the forward log-dets"), "a sign error")
answer("l05.check_two_layer_log_prob", -2.35, fails("log-dets are missing"), "the log-dets forgotten")
answer("l05.check_two_layer_log_prob", -2.35 - 0.62, fails("only layer 1"), "layer 2 forgotten")
answer("l05.check_two_layer_log_prob", math.exp(W5), fails("density p_X(x) itself"), "the density, not its log")
answer("l05.check_keep_mask", [1, 1, 0, 0], passes(), "[1, 1, 0, 0]")
answer("l05.check_keep_mask", torch.tensor([True, True, False, False]), passes(), "as a bool tensor")
answer("l05.check_keep_mask", [0, 0, 1, 1], fails("swapped the meaning"), "1 and 0 swapped")
answer("l05.check_keep_mask", [1, 0, 1, 0], fails("wrong places"), "two ones in the wrong places")
answer("l05.check_keep_mask", [1, 1, 1, 1], fails("identity"), "all ones")
answer("l05.check_keep_mask", [1, 2, 0, 0], fails("1 (kept"), "a 2")
answer("l05.check_keep_mask", [1, 1, 0], fails("one entry per coordinate"), "three entries")
answer("l05.check_masks_cover", [[1, 0, 1, 0], [0, 1, 0, 1]], passes(), "two complementary masks")
answer("l05.check_masks_cover", np.array([[1, 1, 0, 0], [0, 0, 1, 1]]), passes(), "two halves as an array")
answer("l05.check_masks_cover", [[1, 1, 0, 0], [1, 1, 0, 0]], fails("same mask"), "the same mask twice")
answer(
    "l05.check_masks_cover", [[1, 1, 0, 0], [1, 0, 0, 0]], fails("coordinate 1 is"), "the first coordinate kept by both"
)
answer("l05.check_masks_cover", [[1, 1, 0, 0], [1, 1, 0, 0]], fails("coordinates 1 and 2 are"), "counted from 1")
answer("l05.check_masks_cover", range(10**20), fails("more than 1,000,000"), "range(10**20)")
answer("l05.check_masks_cover", [[1, 1, 0, 0], range(4)], fails("1 (kept"), "range(4) as a mask")
answer("l05.check_masks_cover", [[1, 0, 1, 0]], fails("exactly 2 masks"), "one mask")
answer("l05.check_masks_cover", [[1, 0, 2, 0], [0, 1, 0, 1]], fails("mask 1"), "a 2 in mask 1")
answer("l05.check_more_layers", "B", passes(), "B")
answer("l05.check_more_layers", " b", passes(), "b with a space")
answer("l05.check_more_layers", "A", fails("vertical line"), "A")
answer("l05.check_more_layers", "C", fails('"A" or "B"'), "C")
answer("l05.check_more_layers", 1, fails('"A" or "B"'), "a number")


def _masks(dim, n):
    return [[float((i + k) % 2) for i in range(dim)] for k in range(n)]


def _stack_nll(flow, x):
    return -flow.log_prob(x).mean()


def _no_log_det(flow, x):
    z, _ = flow.bijector.inverse_and_log_det(x)
    return -flow.base.log_prob(z).mean()


def _draw(flow, z):
    return flow.bijector.forward(z)


def _draw_inverse(flow, z):
    return flow.bijector.inverse(z)


answer("l05.check_own_stack", (_masks, _stack_nll, _draw), passes(), "masks, loss and sampler right (trains 300 steps)")
answer("l05.check_own_stack", (_masks, _no_log_det, _draw), fails("log-det term is missing"), "the log-det forgotten")
answer(
    "l05.check_own_stack",
    (_masks, lambda f, x: f.log_prob(x).mean(), _draw),
    fails("negative"),
    "the log-likelihood, not the loss",
)
answer("l05.check_own_stack", (_masks, _stack_nll, _draw_inverse), fails("inverse"), "sampling through the inverse")
answer("l05.check_own_stack", (_masks, _stack_nll, lambda f, z: z), fails("forward"), "the identity map as sampler")
answer(
    "l05.check_own_stack",
    (lambda d, n: [[1, 0]] * n, _stack_nll, _draw),
    fails("same mask"),
    "the same mask every layer",
)
answer(
    "l05.check_own_stack",
    (raising(ValueError("masks!")), _stack_nll, _draw),
    fails("failed", "masks!"),
    "make_masks raising",
)
answer("l05.check_own_stack", (_masks, None, _draw), fails("still None"), "the loss still None")
answer("l05.check_own_stack", (_masks, 3.0, _draw), fails("function"), "a number for the loss")
answer("l05.check_own_stack", (_masks, _stack_nll, lambda f, z: None), fails("draw"), "a sampler returning None")

answer("l06.check_maf_passes", (5, 1), passes(), "(5, 1)")
answer("l06.check_maf_passes", np.array([5.0, 1.0], dtype=np.float32), passes(), "as a float32 array")
answer("l06.check_maf_passes", (1, 5), fails("swapped"), "swapped")
answer("l06.check_maf_passes", (10, 1), fails("batch size"), "the batch size")
answer("l06.check_maf_passes", (1, 1), fails("cannot be one pass"), "one pass each")
answer("l06.check_maf_passes", 5, fails("two numbers"), "one number")
answer("l06.check_ode_log_density_change", 1.0, passes(), "1")
answer("l06.check_ode_log_density_change", -1.0, fails("log|det J| itself"), "a sign error")
answer("l06.check_ode_log_density_change", 0.5, fails("one unit of time"), "T forgotten")
answer("l06.check_ode_log_density_change", 6.0, fails("off-diagonal"), "the off-diagonal entry")
answer("l06.check_reparameterized", lambda eps: 2.0 + 0.5 * eps, passes(), "mu + sigma eps")
answer("l06.check_reparameterized", lambda eps: (2.0 + 0.5 * eps).float(), passes(), "mu + sigma eps in float32")
answer(
    "l06.check_reparameterized",
    lambda eps: (2.0 + 0.5 * eps).numpy(),
    fails("not a torch tensor"),
    "the right values in numpy",
)
answer("l06.check_reparameterized", lambda eps: 0.5 + 2.0 * eps, fails("swapped mu and sigma"), "mu and sigma swapped")
answer("l06.check_reparameterized", lambda eps: 2.0 + 0.25 * eps, fails("variance"), "scaled by the variance")
answer("l06.check_reparameterized", lambda eps: (eps - 2.0) / 0.5, fails("inverse map"), "the wrong direction")
answer("l06.check_reparameterized", lambda eps: eps, fails("Hint"), "the identity map")

E7 = ex["l07"]
X_MID, SLOPE = E7._forward(2.0)
answer("l07.check_bin_density", E7.bin_density_reference(), passes(), "p_Z(2) / f'(2)")
answer("l07.check_bin_density", n01(2.0) * SLOPE, fails("multiplied by f'"), "multiplied by f'")
answer("l07.check_bin_density", n01(2.0) / 1.5, fails("average slope"), "the bin's average slope")
answer("l07.check_bin_density", n01(X_MID) / SLOPE, fails("base density at x"), "the base at x")
answer("l07.check_bin_density", math.log(E7.bin_density_reference()), fails("log p_X"), "log p_X")
answer("l07.check_bin_density", n01(2.0), fails("base density"), "the identity map: p_Z(2)")
XI, OTHER = E7._roots()
answer("l07.check_bin_inverse", E7.bin_inverse_reference(), passes(), "the root in the bin")
answer("l07.check_bin_inverse", XI, fails("fraction of the bin"), "xi, not z")
answer("l07.check_bin_inverse", XI * 2, fails("left end"), "z_k forgotten")
answer("l07.check_bin_inverse", 1.0 + OTHER * 2, fails("other root"), "the other root")
answer("l07.check_bin_inverse", 1.0 + 1.5 / 1.5, fails("straight line"), "the straight line between the knots")
answer("l07.check_bin_inverse", X_MID, fails("forward map"), "f(2), the wrong direction")
N7 = E7.spline_parameters_reference()
answer("l07.check_spline_parameters", N7, passes(), "the count")
answer("l07.check_spline_parameters", float(N7), passes(), "the count as a float")
answer("l07.check_spline_parameters", E7._mlp((2, 32, 32, 4 * 31)), fails("3K + 1"), "3K + 1 per coordinate")
answer(
    "l07.check_spline_parameters", E7._mlp((2, 32, 32, 4 * 29), biases=False), fails("weights only"), "biases forgotten"
)
answer(
    "l07.check_spline_parameters", E7._mlp((6, 32, 32, 4 * 29)), fails("whole masked vector"), "the network reads all 6"
)
answer(
    "l07.check_spline_parameters",
    E7._mlp((6, 32, 32, 6 * 29)),
    fails("notebook 04's style"),
    "counted as notebook 04's AffineCoupling: 6 in, 6 coordinates out",
)
answer("l07.check_spline_parameters", N7 + 1, fails(), "off by one")

BPD8 = 98.5 / (64 * math.log(2))
answer("l08.check_bits_per_dim", BPD8, passes(), "NLL / (D ln 2)")
answer("l08.check_bits_per_dim", round(BPD8, 3), passes(), "to three decimals")
answer("l08.check_bits_per_dim", 98.5 / math.log(2), fails("bits per IMAGE"), "the pixels forgotten")
answer("l08.check_bits_per_dim", 98.5 / 64, fails("nats per pixel"), "ln 2 forgotten")
answer("l08.check_bits_per_dim", 98.5 * math.log(2) / 64, fails("multiplied by ln 2"), "multiplied by ln 2")
answer("l08.check_bits_per_dim", 98.5 / (64 * math.log(10)), fails("ln 10"), "ln 10")
W8 = ex["l08"].preprocessing_log_det()
PER = ex["l08"]._per_pixel(np.array(ex["l08"].PIXELS), 17, 0.05)
answer("l08.check_preprocessing_log_det", W8, passes(), "the sum of the per-pixel log-dets")
answer("l08.check_preprocessing_log_det", list(PER), fails("their sum"), "one term per pixel")
answer("l08.check_preprocessing_log_det", -W8, fails("other direction"), "a sign error: the sampling direction")
answer(
    "l08.check_preprocessing_log_det",
    float(ex["l08"]._per_pixel(np.array(ex["l08"].PIXELS), 17, 0.05, scale=False).sum()),
    fails("scaling"),
    "the scaling's log-det forgotten",
)
answer(
    "l08.check_preprocessing_log_det",
    float(2 * np.log(0.9 / 17)),
    fails("only the scaling"),
    "the logit's log-det forgotten",
)
answer("l08.check_preprocessing_log_det", 0.0, fails(), "the identity map: no log-det")
answer("l08.check_honest_number", "C", passes(), "C")
answer("l08.check_honest_number", "A", fails("training images"), "A")
answer("l08.check_honest_number", "B", fails("validation images"), "B")
answer("l08.check_honest_number", "D", fails('"A", "B" or "C"'), "D")

LW = np.array(ex["l09"].LOG_WEIGHTS)
W = np.exp(LW)
answer("l09.check_log_evidence", float(np.log(W.mean())), passes(), "log mean w")
answer("l09.check_log_evidence", float(LW.mean()), fails("ELBO"), "the mean log-weight")
answer("l09.check_log_evidence", float(np.log(W.sum())), fails("summed"), "log sum w")
answer("l09.check_log_evidence", float(W.mean()), fails("estimate of Z itself"), "Z, not log Z")
answer("l09.check_log_evidence", float(LW.max()), fails("largest weight"), "the largest log-weight")
answer("l09.check_ess", float(W.sum() ** 2 / (W**2).sum()), passes(), "(sum w)^2 / sum w^2")
answer("l09.check_ess", 5.0, fails("number of samples"), "n")
answer("l09.check_ess", float(W.sum() ** 2 / (W**2).sum()) / 5, fails("FRACTION"), "a fraction of n")
answer("l09.check_ess", float((W**2).sum() / W.sum() ** 2), fails("inverted"), "inverted")
answer("l09.check_reverse_kl_passes", (6, 1), passes(), "(6, 1)")
answer("l09.check_reverse_kl_passes", (1, 6), fails("swapped"), "swapped")
answer("l09.check_reverse_kl_passes", (7, 1), fails("no extra density pass"), "an extra density pass for MAF")
answer("l09.check_reverse_kl_passes", (6, 6), fails("IAF's scales come from z"), "IAF sequential")
answer("l09.check_reverse_kl_passes", (256, 1), fails("batch size"), "the batch size")


def _rkl(flow, log_target, n, generator):
    x, log_q = flow.sample_and_log_prob(n, generator)
    return (log_q - log_target(x)).mean()


def _rkl_no_q(flow, log_target, n, generator):
    x, _ = flow.sample_and_log_prob(n, generator)
    return -log_target(x).mean()


def _rkl_sum(flow, log_target, n, generator):
    x, log_q = flow.sample_and_log_prob(n, generator)
    return (log_q - log_target(x)).sum()


def _rkl_per_sample(flow, log_target, n, generator):
    x, log_q = flow.sample_and_log_prob(n, generator)
    return log_q - log_target(x)


def _rkl_own_generator(flow, log_target, n, generator):
    return _rkl(flow, log_target, n, torch.Generator().manual_seed(123))


def _rkl_detached(flow, log_target, n, generator):
    x, log_q = flow.sample_and_log_prob(n, generator)
    x = x.detach()
    return (flow.log_prob(x) - log_target(x)).mean()


def _rkl_forward_kl(flow, log_target, n, generator):
    x, _ = flow.sample_and_log_prob(n, generator)
    return -flow.log_prob(x.detach()).mean()


def _rkl_recipe(dtype=torch.float32, direction="forward_and_log_det", sign=-1, draw=None):
    """The notebook's recipe: z drawn with the generator, pushed through the flow, scored with the forward log-det."""

    def loss(flow, log_target, n, generator):
        z = draw(flow, n, generator) if draw else torch.randn(n, 2, generator=generator, dtype=dtype)
        x, log_det = getattr(flow.bijector, direction)(z)
        return (flow.base.log_prob(z) + sign * log_det - log_target(x)).mean()

    return loss


def _rkl_two_batches(flow, log_target, n, generator):
    x, _ = flow.sample_and_log_prob(n, generator)
    return (flow.sample_and_log_prob(n, generator)[1] - log_target(x)).mean()


for _fn, _expect, _what in (
    (_rkl, passes(), "mean(log q - log p~)"),
    (_rkl_recipe(), passes(), "the notebook's recipe: torch.randn(n, 2, generator=g), forward_and_log_det"),
    (_rkl_recipe(torch.float64), passes(), "the recipe in float64"),
    (_rkl_recipe(draw=lambda f, n, g: f.base_sample(n, g)), passes(), "the recipe with flow.base_sample"),
    (lambda *a: _rkl(*a).reshape(1), passes(), "a loss of shape (1,)"),
    (lambda f, lt, n, g: (lambda x: (f.log_prob(x) - lt(x)).mean())(f.sample(n, g)), passes(), "sample, then log_prob"),
    (_rkl_no_q, fails("left out log q"), "log q forgotten"),
    (_rkl_sum, fails("summed"), "a sum"),
    (_rkl_per_sample, fails("MEAN"), "one loss per sample"),
    (_rkl_own_generator, fails("do not change with the generator"), "its own generator"),
    (lambda f, lt, n, g: _rkl(f, lt, n, None), fails("do not change with the generator"), "the global generator"),
    (_rkl_recipe(sign=1), fails("log-det has the wrong sign"), "the log-det's sign flipped"),
    (_rkl_recipe(direction="inverse_and_log_det"), fails("through the inverse"), "sampling through the inverse"),
    (_rkl_recipe(draw=lambda f, n, g: f.base.sample(n, g)), fails("takes no generator"), "flow.base.sample(n, g)"),
    (_rkl_two_batches, fails("same samples"), "log q of another batch"),
    (_rkl_detached, fails("gradient"), "samples detached"),
    (lambda f, lt, n, g: float(_rkl(f, lt, n, g)), fails("torch tensor"), "a float"),
    (_rkl_forward_kl, fails("never called log_target"), "the wrong direction: the flow's own NLL of its samples"),
    (lambda f, lt, n, g: _rkl(f, lt, 64, g), fails("n = 2000"), "64 samples whatever n is"),
):
    answer("l09.check_reverse_kl_loss", _fn, _expect, _what)
answer("l09.check_dropped_mode_kl", math.log(2), passes(), "log 2")
answer("l09.check_dropped_mode_kl", 0.0, fails("half as high"), "0")
answer("l09.check_dropped_mode_kl", 0.5, fails("mass"), "0.5")
answer("l09.check_dropped_mode_kl", 20.0, fails("FORWARD"), "a huge value")
answer("l09.check_dropped_mode_kl", 1.0, fails("nats, not bits"), "1 bit")

E10 = ex["l10"]
LOGDET10 = E10.conv_log_det()
answer("l10.check_conv_log_det", LOGDET10, passes(), "H W sum log|U_cc|")
answer("l10.check_conv_log_det", np.float32(LOGDET10), passes(), "in float32")
answer("l10.check_conv_log_det", LOGDET10 / 16, fails("ONE pixel"), "log|det M|, H W forgotten")
answer("l10.check_conv_log_det", 3 * LOGDET10, fails("every coordinate"), "times C H W")
answer("l10.check_conv_log_det", 16 * (0.5 - 3.0 + 1.5), fails("LOGS"), "the diagonal without logs")
answer("l10.check_conv_log_det", -LOGDET10, fails("density direction"), "the inverse's log-det")
answer("l10.check_conv_log_det", 2.25**16, fails("|det J| itself"), "|det J|, not its log")
answer("l10.check_unsqueeze", E10.unsqueeze_reference, passes(), "view, permute, reshape")
answer("l10.check_unsqueeze", lambda y: E10.unsqueeze_reference(y).numpy(), passes(), "returning numpy")
answer(
    "l10.check_unsqueeze",
    lambda y: y.reshape(y.shape[0], y.shape[1] // 4, 2 * y.shape[2], 2 * y.shape[3]),
    fails("memory order"),
    "a reshape alone",
)
answer("l10.check_unsqueeze", E10._blocks_transposed, fails("transposed"), "dy and dx swapped")
answer("l10.check_unsqueeze", E10._channel_last_order, fails("(dy, dx, c)"), "channels read as (dy, dx, c)")
answer("l10.check_unsqueeze", E10.squeeze_reference, fails("shape"), "the squeeze again")
answer("l10.check_unsqueeze", lambda y: y, fails("the shape it was given"), "the identity")
P10, Q10 = np.array(E10.LOG_P), np.array(E10.LOG_Q)
answer("l10.check_variational_bound", float(np.mean(P10 - Q10)), passes(), "mean(log p - log q)")
answer("l10.check_variational_bound", float(np.mean(P10 + Q10)), fails("SUBTRACTS"), "log q added")
answer("l10.check_variational_bound", float(np.mean(P10)), fails("missing"), "log q forgotten")
answer("l10.check_variational_bound", -float(np.mean(P10 - Q10)), fails("minus the bound"), "the loss")
answer("l10.check_variational_bound", float(np.sum(P10 - Q10)), fails("summed"), "a sum over draws")
answer(
    "l10.check_variational_bound",
    float(np.log(np.mean(np.exp(P10 - Q10)))),
    fails("importance-weighted"),
    "log mean exp",
)


# any iterable an answer may come as: a generator, a map, a dict's values, a range
for _id, _make, _expect in (
    ("l02.check_signs: the signs as a generator", lambda: (s for s in SIGNS), passes()),
    ("l02.check_signs: the signs as a map", lambda: map(float, SIGNS), passes()),
    ("l02.check_signs: words as a generator", lambda: ("+" if s > 0 else "-" for s in SIGNS), passes()),
    (
        "l03.check_nll_signs: the words as a generator",
        lambda: iter(["positive", "negative", "negative", "zero"]),
        passes(),
    ),
    (
        "l03.check_nll_signs: the words as a dict's values",
        lambda: dict(enumerate(["positive", "negative", "negative", "zero"])).values(),
        passes(),
    ),
    ("l04.check_zero_entries: the rows as a generator", lambda: (row for row in ZERO), passes()),
    ("l05.check_keep_mask: a generator", lambda: (v for v in [1, 1, 0, 0]), passes()),
    ("l05.check_masks_cover: a generator of masks", lambda: (m for m in [[1, 1, 0, 0], [0, 0, 1, 1]]), passes()),
    ("l05.check_masks_cover: a dict's values", lambda: {"a": [1, 1, 0, 0], "b": [0, 0, 1, 1]}.values(), passes()),
    ("l09.check_reverse_kl_passes: a generator", lambda: (v for v in (6, 1)), passes()),
    ("l09.check_reverse_kl_passes: range(6, 0, -5)", lambda: range(6, 0, -5), passes()),
    ("l09.check_log_evidence: a generator of one number", lambda: (v for v in [float(np.log(W.mean()))]), passes()),
    ("l09.check_ess: an endless generator", lambda: iter(int, 1), fails("more than 1,000,000")),
    ("l02.check_signs: a generator that raises", lambda: (1 / 0 for _ in range(3)), fails("cannot be read")),
):
    case(_id, lambda i=_id, m=_make: CHECKERS[i.split(":")[0]](m()), _expect)


# answers computed in half precision (float16, bfloat16): right to their dtype's precision, and a wrong one still wrong
_RIGHT = {
    "l01.check_interval_mass": ex["l01"].ex3_reference(),
    "l02.check_big_log_det": LOGDET,
    "l03.check_gaussian_nll": GNLL,
    "l03.check_unit_change": math.log(60),
    "l04.check_log_density": LPZ - S4,
    "l05.check_two_layer_log_prob": W5,
    "l07.check_bin_density": ex["l07"].bin_density_reference(),
    "l07.check_bin_inverse": ex["l07"].bin_inverse_reference(),
    "l07.check_spline_parameters": ex["l07"].spline_parameters_reference(),
    "l09.check_log_evidence": float(np.log(W.mean())),
    "l09.check_ess": float(W.sum() ** 2 / (W**2).sum()),
    "l09.check_dropped_mode_kl": math.log(2),
    "l10.check_conv_log_det": LOGDET10,
    "l10.check_variational_bound": float(np.mean(P10 - Q10)),
}
for _name, _v in _RIGHT.items():
    answer(_name, np.float16(_v), passes(), "the right value as a numpy float16")
    answer(_name, torch.tensor([float(_v)], dtype=torch.bfloat16), passes(), "the right value as a bfloat16 tensor")
    answer(_name, np.float16(1.05 * _v + 0.1), fails(), "a wrong value in float16")
answer(
    "l01.check_decreasing_affine_density",
    lambda x: l01_density(x).astype(np.float16),
    passes(),
    "the right density in float16 (tails below float16's smallest normal number)",
)
answer("l03.check_nll_loss", lambda flow, x: -flow.log_prob(x).mean().reshape(1), passes(), "a loss of shape (1,)")
answer("l02.check_rotation_scaling_density", ((Z_STAR, P2["right"]),), passes(), "z* and the density as one pair")
answer("l02.check_rotation_scaling_density", ([Z_STAR, P2["right"]],), passes(), "z* and the density as one list")
answer("l02.check_rotation_scaling_density", ([1.0, 2.0],), fails("both"), "z* alone, as a list of two numbers")


def test_every_checker_is_probed_with_its_right_answer_and_wrong_ones():
    probed = {c.id.split(":")[0] for c in CASES if c.expect.what == "pass"}
    wrong = {c.id.split(":")[0] for c in CASES if c.expect.what.startswith("fail with a message naming ['")}
    assert set(CHECKERS) == set(KIND), sorted(set(CHECKERS) ^ set(KIND))
    assert len(CHECKERS) >= 30
    assert sorted(set(CHECKERS) - probed) == [] and sorted(set(CHECKERS) - wrong) == []


# --------------------------------------------------------------------------------------------------
# every widget: each control at its ends and two random values, then reset()
# --------------------------------------------------------------------------------------------------
def _quiet(widget: str) -> Expect:
    """No exception; the widget's message, if any, is a teaching message (a refusal), never "unexpected"."""

    def judge(how, value):
        if how == "raised":
            return "obscure", f"{type(value).__name__}: {value}"
        problem = WIDGETS[widget]().problem
        if problem is None:
            return "fine", "no message"
        if problem.startswith("unexpected"):
            return "obscure", problem
        return "clear error", problem[:200]

    return Expect("no exception, and no 'unexpected' message", judge)


def _small_factories():
    """The benchmark's factories, with smaller models where the size does not change what a control does."""
    from benchmarks.widget_latency import FACTORIES
    from lessonlib.data import load_old_faithful
    from lessonlib.lessons.l03_likelihood.widgets import NLLExplorer
    from lessonlib.lessons.l05_stacking.widgets import LayerWalker
    from lessonlib.lessons.l08_images.experiments import image_flow, load_digit_tensors
    from lessonlib.lessons.l08_images.widgets import LatentExplorer
    from lessonlib.lessons.l09_inference.experiments import mode_fits
    from lessonlib.lessons.l09_inference.widgets import ModeExplorer
    from lessonlib.lessons.l10_image_flows.widgets import ScaleExplorer
    from lessonlib.multiscale import make_image_flow
    from lessonlib.toy2d import two_moons

    def latent():
        d = load_digit_tensors()
        eps = torch.randn(8, 64, generator=torch.Generator().manual_seed(4))
        return LatentExplorer(image_flow(n_layers=2, hidden=16), d.test[0], d.test[1], eps)

    moons = two_moons().sample(200, torch.Generator().manual_seed(0)).to(torch.get_default_dtype())
    return {
        **FACTORIES,
        "LayerWalker": lambda: LayerWalker(make_flow(2, 3, hidden=(8,), seed=0), moons),
        "NLLExplorer": lambda: NLLExplorer(torch.as_tensor(load_old_faithful()[:, :1])),
        "LatentExplorer": latent,
        "ModeExplorer": lambda: ModeExplorer(mode_fits(separations=(2.0, 4.0, 6.0), steps=3, n_score=200, nx=16, ny=8)),
        "ScaleExplorer": lambda: ScaleExplorer(make_image_flow((1, 8, 8), 3, 1, (8,)), torch.randn(8, 64)),
    }


def _discover():
    from benchmarks.widget_latency import discover

    return {cls.__name__: cls for _, cls in discover()}


WIDGET_CLASSES = _discover()


@functools.cache
def _widget(name: str):
    factories = _small_factories()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return factories[name]() if name in factories else WIDGET_CLASSES[name]()


WIDGETS = {name: functools.partial(_widget, name) for name in WIDGET_CLASSES}


def _probe_values(control, seed: int) -> list[tuple[str, object]]:
    """(label, value): a slider's minimum, maximum and two random values in between; every option of a choice."""
    import ipywidgets as w

    from lessonlib.ui.widgetkit import sweep_values

    if isinstance(control, (w.FloatSlider, w.IntSlider)):
        lo, hi = control.min, control.max
        inner = np.random.default_rng(seed).uniform(lo, hi, 2)
        inner = [int(round(v)) if isinstance(control, w.IntSlider) else float(v) for v in inner]
        return [("its minimum", lo), ("its maximum", hi), (f"{inner[0]:.3g}", inner[0]), (f"{inner[1]:.3g}", inner[1])]
    return [(f"{v!r}", v) for v in sweep_values(control)]


def _set(name: str, control: str, value, first: bool):
    """Set one control (after a reset when it is the control's first probe value); the widget's message after it."""
    widget = WIDGETS[name]()
    if first:
        widget.reset()
    widget.controls[control].value = value
    return widget.problem


for _w in sorted(WIDGET_CLASSES):  # the widgets are built here, at collection, to read their controls' ranges
    for _k, (_c, _control) in enumerate(WIDGETS[_w]().controls.items()):
        for _j, (_label, _v) in enumerate(_probe_values(_control, _k)):
            case(f"{_w}.{_c} set to {_label}", lambda w=_w, c=_c, v=_v, f=_j == 0: _set(w, c, v, f), _quiet(_w))
    case(f"{_w}.reset()", lambda w=_w: WIDGETS[w]().reset(), _quiet(_w))


def _names_nan(widget: str, control: str) -> Expect:
    """The widget's message names the control set to NaN (not a cause further down), and no exception escapes."""

    def judge(how, value):
        if how == "raised":
            return "obscure", f"{type(value).__name__}: {value}"
        label = WIDGETS[widget]().controls[control].description or control
        if value and "is set to nan" in value and label in value:
            return "clear error", value[:200]
        return ("silent wrong" if value is None else "obscure"), f"the message does not name {label!r} as NaN: {value}"

    return Expect("a message naming the control set to NaN", judge)


def _set_nan(name: str, control: str):
    widget = WIDGETS[name]()
    widget.reset()
    widget.controls[control].value = math.nan
    problem = widget.problem
    widget.reset()
    return problem


for _w in sorted(WIDGET_CLASSES):
    for _c, _control in WIDGETS[_w]().controls.items():
        if type(_control).__name__ == "FloatSlider":  # a selection slider refuses NaN itself (a TraitError)
            case(f"{_w}.{_c} set to NaN from code", lambda w=_w, c=_c: _set_nan(w, c), _names_nan(_w, _c))


case("NLLExplorer(an empty data set)", lambda: _build("NLLExplorer", torch.zeros(0)), raises("empty"))
case(
    "NLLExplorer(both columns of Old Faithful)",
    lambda: _build("NLLExplorer", torch.as_tensor(_faithful())),
    raises("one column", "(272, 2)"),
)
case(
    "NLLExplorer(one column, shape (272, 1))",
    lambda: _build("NLLExplorer", torch.as_tensor(_faithful()[:, :1])).x.shape,
    returns(lambda shape: tuple(shape) == (272, 1), "272 points"),
)
case(
    "NLLExplorer(one column, shape (272,))",
    lambda: _build("NLLExplorer", _faithful()[:, 0]).x.shape,
    returns(lambda shape: tuple(shape) == (272, 1), "272 points"),
)


def _faithful():
    from lessonlib.data import load_old_faithful

    return load_old_faithful()


case("NLLExplorer(NaN data)", lambda: _build("NLLExplorer", [[math.nan]]), raises("NaN"))
case("NLLExplorer(text)", lambda: _build("NLLExplorer", "faithful"), raises("the text"))
case("ModeExplorer([])", lambda: _build("ModeExplorer", []), raises("at least one fit"))
case("ModeExplorer('fits')", lambda: _build("ModeExplorer", "fits"), raises("mode_fits", "the text 'fits'"))
case(
    "LayerWalker('flow', data)",
    lambda: _build("LayerWalker", "flow", torch.zeros(5, 2)),
    raises("LayerWalker needs a Flow", "the text 'flow'"),
)
case(
    "LayerWalker(a flow whose bijector is one layer)",
    lambda: _build("LayerWalker", Flow(standard_normal(2), Affine([1.0, 2.0])), torch.zeros(5, 2)),
    raises("Chain"),
)
case(
    "LayerWalker(data of 3 coordinates)",
    lambda: _build("LayerWalker", make_flow(2, 2, hidden=(4,)), torch.zeros(5, 3)),
    raises("3 coordinates"),
)
case(
    "ChangeOfVariables1D(base='Cauchy')",
    lambda: _build("ChangeOfVariables1D", "Cauchy"),
    raises("base", "Normal(0, 1)"),
)
case("LinearMap2D(a11=NaN)", lambda: _build("LinearMap2D", math.nan), raises("a11", "finite"))
case("LinearMap2D(a11=5), beyond its slider", lambda: _build("LinearMap2D", 5.0), raises("a11", "-2", "2"))
case("SplineExplorer(base='Cauchy')", lambda: _build("SplineExplorer", "Cauchy"), raises("base", "Normal(0, 1)"))
case("TrainingControl('two moons')", lambda: _build("TrainingControl", "two moons"), raises("target", "Target"))
case(
    "a widget built under a backend that is not ipympl (a script, %matplotlib inline)",
    lambda: _under_agg("ChangeOfVariables1D"),
    returns(lambda w: w.problem is None and w.fig is not None, "a working widget"),
)


def _build(name: str, *args):
    import matplotlib.pyplot as plt

    widget = WIDGET_CLASSES[name](*args)
    plt.close(widget.fig)
    return widget


def _under_agg(name: str):
    import matplotlib.pyplot as plt

    old = matplotlib.get_backend()
    plt.switch_backend("agg")
    try:
        widget = WIDGET_CLASSES[name]()
        widget.controls["slope"].value = -2.0
        return widget
    finally:
        plt.switch_backend(old)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.test_id)
def test_every_answer_and_every_control_gets_a_clear_answer(case, tmp_path):
    check_case(case, tmp_path)


def test_the_probe_is_broad():
    assert len(CASES) >= 400


if __name__ == "__main__":
    main(CASES)
