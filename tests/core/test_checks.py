import numpy as np
import pytest
import torch

from lessonlib.checks import (
    CHECKER_FAILED,
    AnswerProblem,
    CheckResult,
    call,
    checker,
    compare,
    hint_if,
    hint_if_equal,
    read_array,
    read_choice,
    read_number,
    read_words,
    values_of,
)


def test_right_answer_passes():
    r = compare("density", 1 / 3, 1 / 3)
    assert r and r.message == "✅ density: correct."
    r = compare("density", 0.3333333334, 1 / 3)
    assert r and "correct (largest difference" in r.message


def test_last_bit_differences_read_the_same_on_every_cpu():
    """Whether a learner's sum equals the reference exactly or to the last bit depends on the CPU's
    instruction set; the feedback must not, or stored notebook outputs would differ between machines."""
    exact = compare("log|det L|", 793.9170000000001, 793.9170000000001)
    last_bit = compare("log|det L|", 793.9170000000001 + 1.1e-13, 793.9170000000001)
    assert exact and last_bit and exact.message == last_bit.message


def test_not_attempted_is_said_not_failed_silently():
    r = compare("density", None, 1.0)
    assert not r and "not attempted" in r.message


def test_known_mistake_gets_its_hint():
    hints = [hint_if_equal(lambda w: 9 * w, "you multiplied by f' instead of dividing")]
    r = compare("density", 3.0, 1 / 3, hints=hints)
    assert not r and "multiplied by f'" in r.message


def test_sign_flip_is_named():
    r = compare("log-det", -0.69, 0.69, rtol=1e-3)
    assert not r and "sign" in r.message


def test_shape_and_nan_messages():
    assert "shape" in compare("x", [1.0, 2.0], [[1.0, 2.0]]).message
    assert "NaN" in compare("x", float("nan"), 1.0).message
    assert "expected numbers, got the text 'abc'" in compare("x", "abc", 1.0).message
    assert "without quotes" in compare("x", "0.5", 1.0).message


# --- the decorator every checker goes through --------------------------------------------------------


@checker("demo")
def check_demo(answer, scale=1.0):
    return compare("demo", read_number(answer), 0.25 * scale)


@checker("buggy")
def check_buggy(answer):
    return compare("buggy", read_number(answer), {"not": "an array"}["oops"])


def test_only_None_is_not_attempted():
    assert "not attempted" in check_demo(None).message
    for value in (Ellipsis, "", 0, [], np.array([]), float("nan")):
        r = check_demo(value)
        assert isinstance(r, CheckResult) and not r and "not attempted" not in r.message, (value, r.message)
    assert "placeholder dots" in check_demo(Ellipsis).message


def test_answers_are_read_in_any_numeric_form():
    for value in (
        0.25,
        np.float32(0.25),
        [0.25],
        np.array([[0.25]]),
        torch.tensor(0.25, dtype=torch.bfloat16),
        torch.tensor([0.25], requires_grad=True),
        torch.tensor(0.25, dtype=torch.float16),
    ):
        assert check_demo(value), value


@pytest.mark.parametrize(
    "value, words",
    [
        ("abc", "the text 'abc'"),
        ("0.25", "without quotes"),
        (True, "expected a number, got True"),
        (1 + 2j, "complex"),
        (10**400, "too large"),
        ([1.0, 2.0], "one number, got 2 numbers"),
        ((0.25, 0.5), "a pair"),
        ([[1.0], [2.0, 3.0]], "lists of different lengths"),
        ({"a": 1}, "dict"),
        (lambda x: x, "call it and give its value"),
        (object(), "object"),
        (torch.tensor([1j]), "complex"),
    ],
)
def test_a_wrong_kind_of_answer_gets_a_sentence_not_a_traceback(value, words):
    r = check_demo(value)
    assert not r and words in r.message, r.message


def test_a_failure_of_the_checker_itself_is_never_the_learners_verdict():
    r = check_buggy(0.25)
    assert not r and CHECKER_FAILED in r.message and "nothing about your answer" in r.message
    assert "KeyError" in r.message


def test_calling_a_checker_with_several_values_is_explained():
    r = check_demo(1, 2, 3)
    assert not r and "takes your answer as one value" in r.message and CHECKER_FAILED not in r.message


def test_the_learners_function_is_called_safely():
    with pytest.raises(AnswerProblem, match="raised ZeroDivisionError"):
        call(lambda x: 1 / 0, 1.0)
    with pytest.raises(AnswerProblem, match="returned None: did you forget the return"):
        call(lambda x: None, 1.0)
    with pytest.raises(AnswerProblem, match="expected a function"):
        call(3.0, 1.0)
    _, v = values_of(lambda x: 2.0, np.zeros(4))  # a constant is spread over the points
    np.testing.assert_array_equal(v, np.full(4, 2.0))
    with pytest.raises(AnswerProblem, match=r"returned shape \(3,\) for an input of shape \(4,\)"):
        values_of(lambda x: x[:3], np.zeros(4))


def test_words_choices_and_arrays():
    assert read_words(["Positive ", "zero"], 2, ("positive", "zero"), "[...]") == ["positive", "zero"]
    for bad in (5, float("nan"), "positive zero", ["positive"], [1, 0]):
        with pytest.raises(AnswerProblem, match="words|list of 2"):
            read_words(bad, 2, ("positive", "zero"), "[...]")
    assert read_choice(" b", ("A", "B")) == "B"
    with pytest.raises(AnswerProblem, match='the letter "A" or "B"'):
        read_choice(1, ("A", "B"))
    assert read_array([True, False]).tolist() == [1.0, 0.0]


# --- rounding -----------------------------------------------------------------------------------------


def test_a_rounded_right_answer_gets_right_idea_give_more_digits():
    want = 0.341344746
    for rounded in (0.34, 0.3413, round(want, 5)):
        r = compare("P", rounded, want, rtol=1e-6, atol=1e-9)
        assert not r and "Right idea, give more digits" in r.message and "Re-read" not in r.message, r.message
    assert "2 decimals" in compare("P", 0.34, want).message
    far = compare("P", 0.3, want)  # 0.3 is 12% off: not a rounding of the answer
    assert "Right idea" not in far.message


def test_a_rounded_known_mistake_still_gets_its_hint():
    hints = [hint_if_equal(lambda w: w - 0.9189385, "the constant 1/2 log(2 pi) is missing")]
    r = compare("NLL", round(1.7654321 - 0.9189385, 3), 1.7654321, rtol=1e-4, hints=hints)
    assert not r and "1/2 log(2 pi) is missing" in r.message and "give more digits too" in r.message
    r = compare("NLL", -1.77, 1.7654321, rtol=1e-4)
    assert "wrong sign" in r.message


def test_a_hint_that_cannot_apply_never_raises():
    hints = [hint_if(lambda g, w: g[5] > 0, "never"), hint_if_equal(lambda w: {"a": 1}, "never either")]
    r = compare("x", [1.0, 2.0], [3.0, 4.0], hints=hints)
    assert not r and "never" not in r.message
