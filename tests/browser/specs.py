"""What the walk-through does with each notebook's main widget: a table, easy to extend.

For a notebook, ``SPECS`` names the main widget (a CSS selector; the course's widgets carry
``.lesson-widget-<ClassName>``), the interactions to perform, and a check on the numbers the
widget's readout shows before and after each interaction, as the maths says they must behave.
A notebook without an entry still runs: its first ``.lesson-widget`` (or first slider) gets the
generic interactions (ArrowRight on the first slider, a mouse drag on it) and must change its
picture.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NUMBER = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def numbers_in(text: str) -> dict[str, float]:
    """'name = 1.23, other: 4' -> {'name': 1.23, 'other': 4.0}; unnamed numbers get keys '#0', '#1', ..."""
    out: dict[str, float] = {}
    for m in re.finditer(r"([A-Za-z_][\w ()|\[\]'^-]*?)\s*[=:≈]\s*" + NUMBER.pattern, text):
        out[m.group(1).strip()] = float(m.group(2))
    if not out:
        for i, m in enumerate(NUMBER.finditer(text)):
            out[f"#{i}"] = float(m.group(1))
    return out


Check = Callable[[dict[str, float], dict[str, float]], "str | None"]


@dataclass(frozen=True)
class Interaction:
    """One thing a student does. kind: 'key' (press ``keys`` on slider number ``control``),
    'drag_slider' (drag that slider's handle by ``dx`` pixels), 'drag_canvas' (drag on the figure from
    fractions ``start`` to ``end`` of its size). ``picture``: the figure must change."""

    kind: str
    control: int = 0
    keys: tuple[str, ...] = ("ArrowRight",)
    dx: float = 60.0
    start: tuple[float, float] = (0.5, 0.5)
    end: tuple[float, float] = (0.6, 0.5)
    picture: bool = True
    start_from: Callable[[], tuple[float, float]] | None = None  # computes ``start`` at run time
    check: Check | None = None
    latency: bool = False  # measure key press -> new pixels for this interaction


@dataclass(frozen=True)
class Spec:
    widget: str  # CSS selector of the main widget's root
    interactions: tuple[Interaction, ...]
    watch: str = "pixels"  # what "the picture changed" means: 'pixels' (its canvases) or a CSS selector of text the kernel updates
    readout: str = ".lesson-readout"
    notes: str = ""
    parse: Callable[[str], dict[str, float]] = numbers_in  # readout text -> named numbers


def changed(before: dict[str, float], after: dict[str, float]) -> str | None:
    return None if before != after else f"the readout did not change: {after}"


def equal_pair(a: str, b: str, tol: float = 2e-3) -> Check:
    """The readout's numbers ``a`` and ``b`` are equal after the interaction."""

    def check(before: dict[str, float], after: dict[str, float]) -> str | None:
        if a not in after or b not in after:
            return f"readout lacks {a!r} or {b!r}: {after}"
        if abs(after[a] - after[b]) > tol * max(1.0, abs(after[a])):
            return f"{a} = {after[a]} and {b} = {after[b]} should be equal"
        return None

    return check


def approx(name: str, want: float, tol: float = 2e-3) -> Check:
    def check(before: dict[str, float], after: dict[str, float]) -> str | None:
        got = after.get(name)
        return None if got is not None and abs(got - want) <= tol else f"{name} should stay {want}, reads {got}"

    return check


def both(*checks: Check) -> Check:
    def check(before: dict[str, float], after: dict[str, float]) -> str | None:
        for c in checks:
            msg = c(before, after)
            if msg:
                return msg
        return None

    return check


def twice_value(before: dict[str, float], after: dict[str, float]) -> str | None:
    """00's check widget: 'The slider is at n; twice that is 2n' -> #1 == 2 * #0, and n moved."""
    n, twice = after.get("#0"), after.get("#1")
    if n is None or twice != 2 * n:
        return f"expected 'twice' = 2 x slider value, read {after}"
    return changed(before, after)


def parse_01(text: str) -> dict[str, float]:
    """01's readout: '... mass in z = 0.3829, mass in x = 0.3829. Local stretch |f'(z)| = 1.000 ... p_Z = 0.399, p_X = 0.399.'"""
    out: dict[str, float] = {}
    for key, pattern in {
        "mass_z": r"mass in z\s*=\s*",
        "mass_x": r"mass in x\s*=\s*",
        "stretch": r"\|f'\(z\)\|\s*=\s*",
        "p_z": r"p_Z\s*=\s*",
        "p_x": r"p_X\s*=\s*",
    }.items():
        m = re.search(pattern + NUMBER.pattern, text)
        if m:
            out[key] = float(m.group(1))
    return out


def density_rescaled(before: dict[str, float], after: dict[str, float]) -> str | None:
    """p_X = p_Z / |f'(z)| at the interval's centre (to the 3 printed decimals)."""
    try:
        want = after["p_z"] / after["stretch"]
    except (KeyError, ZeroDivisionError):
        return f"readout lacks p_Z, p_X or |f'(z)|: {after}"
    return (
        None if abs(after["p_x"] - want) <= 2e-3 + 2e-3 * want else f"p_X = {after['p_x']} but p_Z / |f'| = {want:.4f}"
    )


def knot_01(i: int) -> Callable[[], tuple[float, float]]:
    """Where knot i of 01's widget sits, as fractions of its figure (built here, laid out as in the browser)."""

    def where() -> tuple[float, float]:
        import matplotlib

        matplotlib.use("module://ipympl.backend_nbagg")  # as the notebook (and tests/ui/test_widgetkit.py) do
        from lessonlib.lessons.l01_change_of_variables.widgets import ChangeOfVariables1D
        from lessonlib.ui.style import use_style

        use_style(None)  # the notebook's style: LESSONLIB_PRESENTER, as the server that runs it
        w = ChangeOfVariables1D()
        x, y = w.knot_pixels()[i]
        return float(x / w.fig.bbox.width), float(1.0 - y / w.fig.bbox.height)

    return where


def knot_room_01(i: int, share: float) -> Callable[[], tuple[float, float]]:
    """An offset that drags knot i of 01's widget up by ``share`` of its room (to its upper neighbour or the end of
    the axis), as fractions of the figure: a drag that stays where the map is invertible."""

    def offset() -> tuple[float, float]:
        import matplotlib

        matplotlib.use("module://ipympl.backend_nbagg")
        from lessonlib.lessons.l01_change_of_variables.widgets import X_LIM, ChangeOfVariables1D
        from lessonlib.ui.style import use_style

        use_style(None)
        w = ChangeOfVariables1D()
        k = w.knots_x
        top = k[i + 1] if i + 1 < len(k) else X_LIM[1]
        _, y0 = w.ax_map.transData.transform((0.0, k[i]))
        _, y1 = w.ax_map.transData.transform((0.0, top))
        return 0.0, -share * float(y1 - y0) / w.fig.bbox.height

    return offset


def _grab(text: str, patterns: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, pattern in patterns.items():
        m = re.search(pattern, text)
        if m:
            out[key] = float(m.group(1).replace("−", "-"))
    return out


NUM = r"([-−]?\d+(?:\.\d+)?)"


def parse_02(text: str) -> dict[str, float]:
    """02's readout: 'det A = 1.000  area of the image ... = |det A| = 1.000  density at 0: ... = 0.159 / 1.000 = 0.159'."""
    out = _grab(text, {"det": r"det A\s*=\s*" + NUM, "area": r"\|det A\|\s*=\s*" + NUM})
    m = re.search(NUM + r"\s*/\s*" + NUM + r"\s*=\s*" + NUM, text)
    if m:
        out.update(pz=float(m.group(1)), det_abs=float(m.group(2)), px=float(m.group(3)))
    return out


def area_is_abs_det(before: dict[str, float], after: dict[str, float]) -> str | None:
    """The image of the unit square has area |det A|, and the density is p_Z / |det A|."""
    if after.get("det") == 0.0 and "area" not in after:
        return changed(before, after)  # the collapse: no area and no density to report, and the widget says why
    if "det" not in after or "area" not in after:
        return f"readout lacks det A or the area: {after}"
    if abs(after["area"] - abs(after["det"])) > 2e-3:
        return f"area {after['area']} should be |det A| = {abs(after['det'])}"
    if "px" in after and after["det_abs"] > 0 and abs(after["px"] - after["pz"] / after["det_abs"]) > 2e-3:
        return f"density {after['px']} should be {after['pz']} / {after['det_abs']}"
    return changed(before, after)


def parse_03(text: str) -> dict[str, float]:
    """03's readout: 'mean log p_Z(z) = -2.886 (base term), mean log|...| = 0.481 (log-det term); NLL = −(sum) = 2.405 nats'."""
    return _grab(
        text,
        {
            "base": NUM + r"\s*\(base term\)",
            "log_det": NUM + r"\s*\(log-det term\)",
            "nll": r"NLL\s*=\s*[-−]\(sum\)\s*=\s*" + NUM,
        },
    )


def nll_is_minus_sum(before: dict[str, float], after: dict[str, float]) -> str | None:
    """NLL = -(base term + log-det term): the log-likelihood is the sum of the two terms."""
    if len(after) < 3:
        return f"readout lacks the base term, the log-det term or the NLL: {after}"
    if abs(after["nll"] + after["base"] + after["log_det"]) > 3e-3:
        return f"NLL {after['nll']} should be -({after['base']} + {after['log_det']})"
    return changed(before, after)


def _product(text: str, a: str, b: str, c: str) -> dict[str, float]:
    """The first 'x × y = z' in the text, as {a: x, b: y, c: z}; {} when there is none."""
    m = re.search(NUM + r"\s*×\s*" + NUM + r"\s*=\s*" + NUM, text)
    return {a: float(m.group(1)), b: float(m.group(2)), c: float(m.group(3))} if m else {}


def parse_04(text: str) -> dict[str, float]:
    """04's readout: 'det J = J11·J22 = 1 × 1.819 = 1.819; log|det J| = s(z1) = 0.5985 , autograd: 0.5985'."""
    out = _grab(text, {"log_det": NUM + r"\s*,\s*autograd", "autograd": r"autograd:\s*" + NUM})
    out.update(_product(text, "J11", "J22", "det"))
    return out


def triangular_log_det(before: dict[str, float], after: dict[str, float]) -> str | None:
    """det J is the product of the diagonal, its log is s(z1), and autograd agrees."""
    import math

    if len(after) < 5:
        return f"readout lacks the Jacobian's diagonal, det J or the log-dets: {after}"
    if abs(after["J11"] * after["J22"] - after["det"]) > 2e-3 * max(1.0, after["det"]):
        return f"det J = {after['det']} should be J11 * J22 = {after['J11']} * {after['J22']}"
    if after["det"] > 0 and abs(math.log(after["det"]) - after["log_det"]) > 2e-3:
        return f"log|det J| = {after['log_det']} should be log({after['det']})"
    if abs(after["log_det"] - after["autograd"]) > 1e-3:
        return f"log-det {after['log_det']} disagrees with autograd {after['autograd']}"
    return changed(before, after)


def parse_05(text: str) -> dict[str, float]:
    """05's walker: 'inverse log-det of the 1 layer undone, mean over the points: +0.123 nats; spread ... (std): 1.05'."""
    return _grab(
        text, {"k": r"of the\s+(\d+)\s+layer", "log_det": r"points:\s*([-+−]?\d+\.\d+)", "std": r"\(std\):\s*" + NUM}
    )


def ledger_starts_at_zero(before: dict[str, float], after: dict[str, float]) -> str | None:
    """With no layer undone the ledger is empty (log-det 0); each step moves it."""
    if "k" not in after or "log_det" not in after:
        return f"readout lacks the layer count or the log-det: {after}"
    if after["k"] == 0 and abs(after["log_det"]) > 1e-9:
        return f"no layer undone, yet the log-det reads {after['log_det']}"
    return changed(before, after)


SIGNED = r"([-+−]?\d+\.\d+)"


def parse_06(text: str) -> dict[str, float]:
    """06's readout: 't = 1.0 ... integrated trace = +0.3477   log|det J| by finite differences = +0.3477 ...
    mass on the grid = 1.0000'."""
    return _grab(
        text,
        {
            "t": r"\bt\s*=\s*" + NUM,
            "trace": r"integrated trace\s*=\s*" + SIGNED,
            "log_det": r"finite differences\s*=\s*" + SIGNED,
            "mass": r"mass on the grid\s*=\s*" + NUM,
        },
    )


def trace_is_log_det(before: dict[str, float], after: dict[str, float]) -> str | None:
    """The divergence integrated along the path is log|det J| of the flow map, and the grid keeps all the mass."""
    if len(after) < 4:
        return f"readout lacks t, the integrated trace, the finite-difference log-det or the mass: {after}"
    if abs(after["trace"] - after["log_det"]) > 2e-4:
        return f"integrated trace {after['trace']} should equal log|det J| = {after['log_det']}"
    if abs(after["mass"] - 1.0) > 1e-3:
        return f"the mass on the grid should stay 1, reads {after['mass']}"
    return changed(before, after)


def parse_08(text: str) -> dict[str, float]:
    """08's readout: 'temperature T = 0.70: mean latent norm |z| = T·|ε| = 0.70 × 8.12 = 5.68 (...);
    interpolation t = 0.50: the middle image costs 2.95 bits/dim'."""
    out = _grab(
        text, {"T": r"temperature T\s*=\s*" + NUM, "t": r"interpolation t\s*=\s*" + NUM, "bpd": NUM + r"\s*bits/dim"}
    )
    out.update(_product(text, "T_again", "eps", "norm"))
    return out


def latent_norm_is_t_times_eps(before: dict[str, float], after: dict[str, float]) -> str | None:
    """|z| = T |eps| for the temperature shown, |eps| the same at every T, and the picture's bits/dim finite."""
    if len(after) < 6:
        return f"readout lacks the temperature, |eps|, |z|, t or the bits/dim: {after}"
    # |eps| is printed to 2 decimals and |z| computed from the unrounded value: allow both roundings
    if after["T"] != after["T_again"] or abs(after["T"] * after["eps"] - after["norm"]) > 0.005 * after["T"] + 0.006:
        return f"|z| = {after['norm']} should be T x |eps| = {after['T']} x {after['eps']}"
    if before and "eps" in before and before["eps"] != after["eps"]:
        return f"|eps| changed from {before['eps']} to {after['eps']}: the draws must stay fixed"
    return changed(before, after)


def parse_10(text: str) -> dict[str, float]:
    """10's readout, one line per level: 'level 1 (finest): T = 0.70, |z| = T·|ε| = 0.70 × 5.54 = 3.88, its 8 redraws
    differ from their mean by 0.62 grey levels a pixel'."""
    out: dict[str, float] = {}
    pattern = (
        r"level (\d) \(\w+\): T = "
        + NUM
        + r", \|z\| = T·\|ε\| = "
        + NUM
        + r"\s*×\s*"
        + NUM
        + r"\s*=\s*"
        + NUM
        + r", its 8 redraws differ from their mean by "
        + NUM
    )
    for m in re.finditer(pattern, text):
        k = m.group(1)
        out.update({f"T{k}": float(m.group(2)), f"T{k}_again": float(m.group(3)), f"eps{k}": float(m.group(4))})
        out.update({f"norm{k}": float(m.group(5)), f"spread{k}": float(m.group(6))})
    return out


def levels_obey_the_maths(before: dict[str, float], after: dict[str, float]) -> str | None:
    """Per level: |z| = T |eps| (to the printed digits), |eps| the same draws as before, a spread of zero or more."""
    if len(after) < 15:
        return f"readout lacks a level's temperature, |eps|, |z| or spread: {after}"
    for k in "123":
        t, eps, norm = after[f"T{k}"], after[f"eps{k}"], after[f"norm{k}"]
        if after[f"T{k}_again"] != t or abs(t * eps - norm) > 0.005 * t + 0.006:
            return f"level {k}: |z| = {norm} should be T x |eps| = {t} x {eps}"
        if before and f"eps{k}" in before and before[f"eps{k}"] != eps:
            return f"level {k}: |eps| changed from {before[f'eps{k}']} to {eps}: the draws must stay fixed"
        if after[f"spread{k}"] < 0:
            return f"level {k}: a negative spread {after[f'spread{k}']}"
    return changed(before, after)


def parse_09(text: str) -> dict[str, float]:
    """09's readout: 'modes 4.0 apart. At the far mode: forward fit = 0.50, reverse fit = 0.00. Reverse fit KL(q||p) = 0.70 nats: ...'."""
    out = _grab(
        text,
        {
            "separation": r"modes\s+" + NUM + r"\s+apart",
            "forward": r"forward fit\s*=\s*" + NUM,
            "reverse": r"reverse fit\s*=\s*" + NUM,
            "kl": r"KL\(q\|\|p\)\s*=\s*" + NUM,
        },
    )
    if out:
        out["dropped"] = 1.0 if "dropped a mode" in text else 0.0
    return out


def shares_and_kl(before: dict[str, float], after: dict[str, float]) -> str | None:
    """Each fit's share of samples at the far mode is a fraction, the reverse KL is not negative (beyond Monte Carlo
    noise), and 'dropped a mode' is said exactly when the reverse fit has (almost) nothing on one side."""
    if not {"separation", "forward", "reverse", "kl"} <= set(after):
        return f"readout lacks the separation, a share or the KL: {after}"
    if not all(0.0 <= after[k] <= 1.0 for k in ("forward", "reverse")):
        return f"a share of samples outside [0, 1]: {after}"
    if after["kl"] < -0.05:
        return f"KL(q||p) = {after['kl']} is negative"
    minor = min(after["reverse"], 1 - after["reverse"])  # the reverse fit's share at its emptier mode, 2 decimals
    if "dropped" in after and (after["dropped"] == 1.0) != (minor < 0.05) and minor != 0.05:
        return f"the readout says {'dropped' if after['dropped'] else 'covers both'} with a minor share of {minor}"
    return changed(before, after)


def parse_07(text: str) -> dict[str, float]:
    """07's readout: 'Knot 1 at z = -1.80, x = -2.40, slope f' = 0.500: there p_Z = 0.0790 and p_X = p_Z / f' = 0.1579.
    Bin 0 (left of it): mass in z = 0.0346, mass in x = 0.0346. Bin 1 (right): mass in z = 0.2383, mass in x = 0.2383.
    All of x: total = 1.0000. ...'."""
    out = _grab(
        text,
        {
            "knot": r"Knot\s+(\d+)\s+at",
            "z": r"at z\s*=\s*" + NUM,
            "x": r",\s*x\s*=\s*" + NUM,
            "slope": r"slope f'\s*=\s*" + NUM,
            "p_z": r"p_Z\s*=\s*" + NUM,
            "p_x": r"p_Z\s*/\s*f'\s*=\s*" + NUM,
            "total": r"total\s*=\s*" + NUM,
        },
    )
    for side, label in (("left", r"\(left of it\)"), ("right", r"\(right\)")):
        m = re.search(label + r":\s*mass in z\s*=\s*" + NUM + r",\s*mass in x\s*=\s*" + NUM, text)
        if m:
            out.update({f"mass_z_{side}": float(m.group(1)), f"mass_x_{side}": float(m.group(2))})
    return out


def spline_readout_holds(before: dict[str, float], after: dict[str, float]) -> str | None:
    """Each bin beside the knot has the same mass in z and in x, all of x holds mass 1, and p_X = p_Z / f' at the knot
    (within the rounding of the printed digits)."""
    need = ("knot", "z", "slope", "p_z", "p_x", "total", "mass_z_left", "mass_x_left", "mass_z_right", "mass_x_right")
    if any(k not in after for k in need):
        return f"readout lacks some of {need}: {after}"
    for side in ("left", "right"):
        if abs(after[f"mass_z_{side}"] - after[f"mass_x_{side}"]) > 1e-4:
            return (
                f"the bin {side} of the knot has mass {after[f'mass_z_{side}']} in z but {after[f'mass_x_{side}']} in x"
            )
    if abs(after["total"] - 1.0) > 1e-4:
        return f"all of x should hold mass 1, reads {after['total']}"
    want = after["p_z"] / after["slope"]
    if abs(after["p_x"] - want) > 1e-4 + (5e-5 + 5e-4 * want) / after["slope"]:
        return f"p_X = {after['p_x']} but p_Z / f' = {want:.4f}"
    return None


def knot_dragged_up_and_right(j: int, start: tuple[float, float], neighbours: tuple[float, float]) -> Check:
    """After dragging knot j from ``start`` = (z, x) up and to the right: the readout follows knot j, its z and x
    grew, and the bins beside it hold the base's CDF differences F_Z(z_j) - F_Z(z_{j-1}) and F_Z(z_{j+1}) - F_Z(z_j),
    with the neighbours' z in ``neighbours``."""
    from statistics import NormalDist

    cdf = NormalDist().cdf

    def check(before: dict[str, float], after: dict[str, float]) -> str | None:
        msg = spline_readout_holds(before, after)
        if msg:
            return msg
        if after["knot"] != j or not (after["z"] > start[0] and after.get("x", start[1]) > start[1]):
            return f"knot {j} should have moved up and to the right of (z, x) = {start}: {after}"
        left, right = cdf(after["z"]) - cdf(neighbours[0]), cdf(neighbours[1]) - cdf(after["z"])
        if abs(after["mass_z_left"] - left) > 3e-3 or abs(after["mass_z_right"] - right) > 3e-3:  # z is printed to 0.01
            return f"the bins beside z = {after['z']} should hold {left:.4f} and {right:.4f}: {after}"
        return None

    return check


def slope_moves_density_not_mass(before: dict[str, float], after: dict[str, float]) -> str | None:
    """A new slope at the knot changes p_X = p_Z / f' there, and no bin's mass: the knots, hence the bins, stay put."""
    msg = spline_readout_holds(before, after)
    if msg:
        return msg
    if after["slope"] == before.get("slope"):
        return f"the slope did not change: {after}"
    for key in ("knot", "z", "p_z", "mass_z_left", "mass_x_left", "mass_z_right", "mass_x_right"):
        if after.get(key) != before.get(key):
            return f"{key} changed from {before.get(key)} to {after.get(key)}, but a slope moves no knot and no mass"
    return None


def knot_07(i: int) -> Callable[[], tuple[float, float]]:
    """Where inner knot i of 07's SplineExplorer sits, as fractions of its figure (built here, laid out as in the browser)."""

    def where() -> tuple[float, float]:
        import matplotlib

        matplotlib.use("module://ipympl.backend_nbagg")
        from lessonlib.lessons.l07_splines.widgets import SplineExplorer
        from lessonlib.ui.style import use_style

        use_style(None)  # the notebook's style: LESSONLIB_PRESENTER, as the server that runs it
        w = SplineExplorer()
        x, y = w.knot_pixels()[i - 1]
        return float(x / w.fig.bbox.width), float(1.0 - y / w.fig.bbox.height)

    return where


GENERIC = (
    Interaction("key", keys=("ArrowRight",), latency=True),
    Interaction("drag_slider", dx=-80.0),
)


def key_and_drag(widget: str, parse: Callable[[str], dict[str, float]], check: Check, notes: str) -> Spec:
    """A spec that presses ArrowRight on the first slider (timed), then drags it, checking the maths after each."""
    return Spec(
        widget=widget,
        parse=parse,
        notes=notes,
        interactions=(
            Interaction("key", keys=("ArrowRight",), latency=True, check=check),
            Interaction("drag_slider", dx=-80.0, check=check),
        ),
    )


SPECS: dict[str, Spec] = {
    "00_start_here.ipynb": Spec(
        widget=".jp-OutputArea-output:has(.widget-slider)",
        readout=".widget-html-content",
        watch=".widget-html-content",  # the slider's own number moves without the kernel; the sentence needs it
        interactions=(
            Interaction("key", keys=("ArrowRight",), check=twice_value, latency=True),
            Interaction("drag_slider", dx=80.0, check=twice_value),
            Interaction("key", keys=("ArrowLeft",), check=twice_value),
        ),
        notes="the set-up check: a slider and a sentence that doubles its value",
    ),
    "01_change_of_variables_1d.ipynb": Spec(
        widget=".lesson-widget-ChangeOfVariables1D",
        parse=parse_01,
        interactions=(
            # first, with the knots where knot_01 computes them (default settings): grab knot 4 (z = 1)
            # on the figure and pull it up; the map bends, the interval's two masses stay equal
            Interaction(
                "drag_canvas", start_from=knot_01(4), end=(0.0, -0.08), check=equal_pair("mass_z", "mass_x", 1e-4)
            ),
            # slider 0 is the slope: the interval's two masses stay equal while the stretch changes
            Interaction(
                "key",
                control=0,
                keys=("ArrowRight",),
                latency=True,
                check=both(changed, equal_pair("mass_z", "mass_x", 1e-4), density_rescaled),
            ),
            Interaction(
                "drag_slider",
                control=0,
                dx=-50.0,
                check=both(changed, equal_pair("mass_z", "mass_x", 1e-4), density_rescaled),
            ),
            # slider 3 moves the interval: new masses, still equal in z and in x
            Interaction(
                "key",
                control=3,
                keys=("ArrowRight", "ArrowRight"),
                check=both(changed, equal_pair("mass_z", "mass_x", 1e-4)),
            ),
        ),
        notes="the interval's probability is the same in z and in x (mass conservation)",
    ),
    "02_jacobian_determinant_2d.ipynb": key_and_drag(
        ".lesson-widget-LinearMap2D",
        parse_02,
        area_is_abs_det,
        "the unit square's image has area |det A| and the density is divided by it",
    ),
    "03_log_likelihood_and_nll_training.ipynb": key_and_drag(
        ".lesson-widget-NLLExplorer",
        parse_03,
        nll_is_minus_sum,
        "NLL = -(base term + log-det term)",
    ),
    "04_coupling_layers.ipynb": key_and_drag(
        ".lesson-widget-CouplingExplorer",
        parse_04,
        triangular_log_det,
        "det J is the product of the diagonal; log|det J| = s(z1), as autograd says",
    ),
    "05_stacking_layers_into_a_flow.ipynb": key_and_drag(
        ".lesson-widget-LayerWalker",
        parse_05,
        ledger_starts_at_zero,
        "the ledger of inverse log-dets, empty before any layer is undone",
    ),
    "07_spline_flows.ipynb": Spec(
        widget=".lesson-widget-SplineExplorer",
        parse=parse_07,
        interactions=(
            # knot 2 starts at (z, x) = (-0.6, -1.2) between knots at z = -1.8 and 0.6; drag it up and to the right
            # (about +0.5 in z and +0.9 in x): the readout follows it, and its bins' masses are CDF differences
            Interaction(
                "drag_canvas",
                start_from=knot_07(2),
                end=(0.04, -0.06),
                check=knot_dragged_up_and_right(2, (-0.6, -1.2), (-1.8, 0.6)),
            ),
            # sliders in the page: 0 knot, 1 its z, 2 its x, 3 its slope, 4 bins; the slope changes p_X, not the masses
            Interaction("key", control=3, keys=("ArrowRight",), latency=True, check=slope_moves_density_not_mass),
            Interaction("drag_slider", control=3, dx=-80.0, check=slope_moves_density_not_mass),
        ),
        notes="each bin keeps its probability (in z and in x); p_X = p_Z / f' at the knot",
    ),
    "06_where_flows_fit.ipynb": key_and_drag(
        ".lesson-widget-ContinuousFlow2D",
        parse_06,
        trace_is_log_det,
        "time t moves the density; the integrated trace equals log|det J| of the flow map and the mass stays 1",
    ),
    "08_flows_on_images.ipynb": Spec(
        widget=".lesson-widget-LatentExplorer",
        parse=parse_08,
        interactions=(
            Interaction("key", control=0, keys=("ArrowRight",), latency=True, check=latent_norm_is_t_times_eps),
            Interaction("drag_slider", control=0, dx=-80.0, check=latent_norm_is_t_times_eps),
            Interaction("key", control=1, keys=("ArrowRight", "ArrowRight"), check=latent_norm_is_t_times_eps),
        ),
        notes="samples at temperature T sit at |z| = T |eps| from the base's centre; t walks between two digits",
    ),
    "09_flows_for_inference.ipynb": key_and_drag(
        ".lesson-widget-ModeExplorer",
        parse_09,
        shares_and_kl,
        "the separation moves over the precomputed fits; shares are fractions and KL(q||p) >= 0",
    ),
    "10_how_image_flows_are_built.ipynb": Spec(
        widget=".lesson-widget-ScaleExplorer",
        parse=parse_10,
        interactions=(
            Interaction("key", control=0, keys=("ArrowRight",), latency=True, check=levels_obey_the_maths),
            Interaction("drag_slider", control=0, dx=-80.0, check=levels_obey_the_maths),
            Interaction("key", control=2, keys=("ArrowLeft", "ArrowLeft"), check=levels_obey_the_maths),
        ),
        notes="each level's z is T |eps| long; a row redraws one level's z, the others kept",
    ),
    "browser_fixture.ipynb": Spec(
        widget=".lesson-widget-ScaleDemo",
        interactions=(
            Interaction("key", keys=("ArrowRight",), check=both(changed, approx("mass", 1.0)), latency=True),
            Interaction("drag_slider", dx=90.0, check=both(changed, approx("mass", 1.0))),
            Interaction("key", keys=("ArrowLeft", "ArrowLeft"), check=both(changed, approx("mass", 1.0))),
        ),
        notes="fixture for the machinery: x = a z keeps the mass 1",
    ),
}


def tip_02(j: int) -> Callable[[], tuple[float, float]]:
    """Where the tip of column j of 02's matrix sits, as fractions of its figure (built here, as in the browser)."""

    def where() -> tuple[float, float]:
        import matplotlib
        import numpy as np

        matplotlib.use("module://ipympl.backend_nbagg")
        from lessonlib.lessons.l02_jacobian.widgets import LinearMap2D
        from lessonlib.ui.style import use_style

        use_style(None)  # the notebook's style: LESSONLIB_PRESENTER, as the server that runs it
        w = LinearMap2D()
        x, y = w.ax_x.transData.transform(np.asarray(w.matrix()).T[j])
        return float(x / w.fig.bbox.width), float(1.0 - y / w.fig.bbox.height)

    return where


@dataclass(frozen=True)
class DragSpec:
    """The drags the drag benchmark does on a notebook's main widget: its sliders (by index), and drags on
    its figure (name, start as fractions of the figure computed at run time, offset as fractions)."""

    widget: str
    sliders: tuple[int, ...] = (0,)
    # (what, start, offset): start and offset as fractions of the figure; an offset may be computed at run time too
    canvas: tuple[tuple[str, Callable[[], tuple[float, float]], Any], ...] = ()
    filmed: tuple[str, ...] = ()  # the canvas drags the widget films (LessonWidget.figure_drags), by name
    live: tuple[tuple[str, str], ...] = ()  # the canvas drags the page draws from frames it asks for: (what, handle)

    def perform(self, page, lab, root) -> list:
        from dragbench import canvas_drag, reset, slider_drag

        out = []
        for c in self.sliders:
            reset(page, lab, root)
            out.append(slider_drag(page, lab, root, c))
        for what, start, offset in self.canvas:
            reset(page, lab, root)  # the knots and tips sit where ``start`` computes them only at the defaults
            out.append(
                canvas_drag(
                    page,
                    lab,
                    root,
                    start(),
                    offset() if callable(offset) else offset,
                    what,
                    filmed=what in self.filmed,
                    live=dict(self.live).get(what),
                )
            )
        return out


DRAGS: dict[str, DragSpec] = {
    "01_change_of_variables_1d.ipynb": DragSpec(
        ".lesson-widget-ChangeOfVariables1D",
        # knot 4 past its neighbour (where the drag is refused and the picture holds), knot 6 within its room
        canvas=(("knot 4", knot_01(4), (0.0, -0.2)), ("knot 6", knot_01(6), knot_room_01(6, 0.6))),
        filmed=("knot 4", "knot 6"),
    ),
    "02_jacobian_determinant_2d.ipynb": DragSpec(
        ".lesson-widget-LinearMap2D", canvas=(("tip of a1", tip_02(0), (-0.05, -0.2)),), live=(("tip of a1", "a1"),)
    ),
    "03_log_likelihood_and_nll_training.ipynb": DragSpec(".lesson-widget-NLLExplorer"),
    "04_coupling_layers.ipynb": DragSpec(".lesson-widget-CouplingExplorer"),
    "05_stacking_layers_into_a_flow.ipynb": DragSpec(".lesson-widget-LayerWalker"),
    "06_where_flows_fit.ipynb": DragSpec(".lesson-widget-ContinuousFlow2D"),
    "07_spline_flows.ipynb": DragSpec(".lesson-widget-SplineExplorer"),
    "08_flows_on_images.ipynb": DragSpec(".lesson-widget-LatentExplorer"),
    "09_flows_for_inference.ipynb": DragSpec(".lesson-widget-ModeExplorer"),
    "10_how_image_flows_are_built.ipynb": DragSpec(".lesson-widget-ScaleExplorer"),
}
