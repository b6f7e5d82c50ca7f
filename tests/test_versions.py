"""The pinned set students get lies inside the range the course declares; the oldest set is that range's floor."""

from packaging.version import Version

from lessonlib.ui.envcheck import pinned_versions
from tests.versions import declared, lower_end, oldest_set


def test_every_declared_package_is_pinned_inside_its_range():
    pins = pinned_versions()
    for req in declared():
        assert req.name in pins, f"{req.name} has a range in pyproject.toml but no pin in requirements.txt"
        assert req.specifier.contains(Version(pins[req.name])), f"the pin {req.name}=={pins[req.name]} is outside {req}"


def test_every_range_has_a_lower_and_an_upper_end():
    for req in declared():
        ops = sorted(s.operator for s in req.specifier)
        assert ops == ["<", ">="], f"{req}: give the oldest tested version (>=) and the next breaking release (<)"


def test_the_oldest_set_is_the_floor_of_every_range():
    oldest = dict(line.split("==") for line in oldest_set())
    for req in declared():
        assert Version(oldest[req.name]) == Version(lower_end(req))
        assert req.specifier.contains(Version(oldest[req.name]))
    assert oldest["torch"] == "2.13.0"
