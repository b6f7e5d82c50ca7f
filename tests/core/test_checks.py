from lessonlib.checks import compare, hint_if_equal


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
    assert "expected a number" in compare("x", "abc", 1.0).message
