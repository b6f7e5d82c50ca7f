"""Notebook 02's exercise checkers: the right answers pass, the typical wrong answers get the right hint."""

import numpy as np
import torch

from lessonlib import linear2d as L
from lessonlib.lessons.l02_jacobian.exercises import (
    EX1_POINT,
    big_triangular_matrix,
    check_big_log_det,
    check_rotation_scaling_density,
    check_signs,
    ex1_matrix,
)


def test_the_exercise_matrix_and_point_are_the_ones_the_notebook_states():
    np.testing.assert_allclose(ex1_matrix(), 2.0 * L.rotation(np.pi / 6))
    np.testing.assert_array_equal(EX1_POINT, [1.0, 0.5])


def ex1_answers() -> dict[str, float]:
    """The right p_X(x*) and the values of its typical wrong answers, computed here independently of the checker."""
    A = 2.0 * L.rotation(np.pi / 6)
    x = np.array([[1.0, 0.5]])
    pz = float(L.gaussian_density(np.linalg.solve(A, x.T).T)[0])
    d = abs(np.linalg.det(A))
    return {
        "right": pz / d,
        "times_det": pz * d,
        "over_s": pz / 2.0,
        "no_det": pz,
        "forward": float(L.gaussian_density(x @ A.T)[0]) / d,
        "not_mapped": float(L.gaussian_density(x)[0]) / d,
        "no_2pi": pz * 2 * np.pi / d,
    }


def test_check_rotation_scaling_density():
    p = ex1_answers()
    A, x = 2.0 * L.rotation(np.pi / 6), np.array([1.0, 0.5])
    z_star = np.linalg.solve(A, x)
    assert check_rotation_scaling_density(z_star, p["right"]).passed
    assert check_rotation_scaling_density(torch.tensor(z_star, dtype=torch.float32), np.float32(p["right"])).passed
    assert "not attempted" in check_rotation_scaling_density(None).message
    assert "both" in check_rotation_scaling_density(p["right"]).message  # the density alone: z* is asked too
    expect = {
        "times_det": "multiplied by |det A|",
        "over_s": "s^2 = 4",
        "no_det": "area factor",
        "forward": "A^-1 x*",
        "not_mapped": "map back",
        "no_2pi": "2 pi",
    }
    for key, words in expect.items():
        r = check_rotation_scaling_density(z_star, p[key])
        assert not r.passed and words in r.message, (key, r.message)
    points = {  # a wrong z* is refused even where the density, which depends on |z*| only, comes out right
        "turned the wrong way": L.rotation(np.pi / 6) @ x / 2,
        "lands ON x*": A @ x,
        "x* itself": x,
        "not the turn": x / 2,
        "not the scaling": L.rotation(-np.pi / 6) @ x,
    }
    for words, z in points.items():
        r = check_rotation_scaling_density(z, p["right"])
        assert not r.passed and words in r.message, (words, r.message)


def test_check_signs():
    assert check_signs((1, -1, 1)).passed  # P keeps orientation, Q flips it, R is a half turn
    assert "not attempted" in check_signs(None).message
    assert "reversed" in check_signs((-1, 1, -1)).message
    assert "half turn" in check_signs((1, -1, -1)).message
    assert "clockwise" in check_signs((1, 1, 1)).message
    assert "no determinant is 0" in check_signs((1, 0, 1)).message
    assert "exactly three" in check_signs((1, -1)).message


def test_check_big_log_det():
    M = big_triangular_matrix()
    right = np.linalg.slogdet(M)[1]
    assert check_big_log_det(right).passed and check_big_log_det(torch.as_tensor(right)).passed
    with np.errstate(all="ignore"):
        assert "overflowed" in check_big_log_det(np.log(abs(np.linalg.det(M)))).message
        assert "absolute value" in check_big_log_det(np.sum(np.log(np.diagonal(M)))).message
    assert "their logs" in check_big_log_det(np.diagonal(M).sum()).message
    assert "log base 10" in check_big_log_det(np.log10(np.abs(np.diagonal(M))).sum()).message
    assert "inverse map" in check_big_log_det(-right).message
    assert "(sign, logabsdet)" in check_big_log_det(np.linalg.slogdet(M)).message
    assert "sign of det" in check_big_log_det(1.0).message


# --- every checker: odd answers, rounded answers, answers in other types -------------------------------


def test_check_rotation_scaling_density_rounded_and_other_types():
    p, z = ex1_answers(), np.linalg.solve(2.0 * L.rotation(np.pi / 6), np.array([1.0, 0.5]))
    r = check_rotation_scaling_density(z, round(p["right"], 3))
    assert not r and "Right idea, give more digits" in r.message
    assert check_rotation_scaling_density(z, np.float32(p["right"])) and check_rotation_scaling_density(z, [p["right"]])
    assert check_rotation_scaling_density(list(z), p["right"]) and check_rotation_scaling_density(z[None], p["right"])
    r = check_rotation_scaling_density(z, round(p["times_det"], 3))  # a known mistake, rounded
    assert not r and "multiplied by |det A|" in r.message
    for odd, words in (([p["right"], p["right"]], "one number"), ("0.034", "without quotes"), (np.nan, "NaN")):
        r = check_rotation_scaling_density(z, odd)
        assert not r and words in r.message, r.message
    for odd, words in (([1.0, 2.0, 3.0], "two numbers"), ("z", "the text"), ([np.nan, 0.0], "NaN")):
        r = check_rotation_scaling_density(odd, p["right"])
        assert not r and words in r.message, r.message


def test_check_signs_reads_words_and_refuses_odd_answers():
    assert check_signs(("+", "-", "+")).passed and check_signs(["positive", "negative", "positive"]).passed
    assert check_signs(np.array([2.0, -0.5, 7.0])).passed  # only the signs count
    for odd, words in (
        ((1, float("nan"), 1), "NaN"),
        ("positive negative positive", "three numbers"),
        (("+", "?", "+"), "the words"),
        (5, "three numbers"),
        (torch.tensor([1.0, -1.0, 1.0, 1.0]), "exactly three"),
    ):
        r = check_signs(odd)
        assert not r.passed and words in r.message, r.message


def test_check_big_log_det_rounded_float32_and_non_finite():
    right = float(np.linalg.slogdet(big_triangular_matrix())[1])
    r = check_big_log_det(round(right, 1))
    assert not r.passed and "Right idea, give more digits" in r.message
    assert check_big_log_det(torch.tensor(right, dtype=torch.float32)).passed  # right to float32's precision
    assert "overflowed" in check_big_log_det(float("inf")).message
    assert "log of 0" in check_big_log_det(-float("inf")).message
    assert "two things" in check_big_log_det((1.0, right)).message
