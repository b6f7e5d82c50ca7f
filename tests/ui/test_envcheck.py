"""Notebook 00's environment check: it reports versions and never stops a notebook for one that differs."""

import pytest
from packaging.requirements import Requirement

from lessonlib.ui import envcheck


@pytest.fixture
def installed(monkeypatch):
    """Pretend the environment has the pinned versions, except those the test sets."""
    versions = dict(envcheck.pinned_versions())

    def fake(name):
        return versions.get(name)

    monkeypatch.setattr(envcheck, "_installed", fake)
    return versions


def test_the_pinned_set_is_reported_ok(installed, capsys):
    assert envcheck.check_environment() is True
    out = capsys.readouterr().out
    assert out.count("ok (the tested version)") == len(envcheck.NEEDED + envcheck.SHOWN)
    assert "outside" not in out


def test_older_versions_inside_the_supported_range_are_fine(installed, capsys):
    installed.update(numpy="2.1.3", matplotlib="3.9.2", ipympl="0.9.4", jupyterlab="4.3.5")
    assert envcheck.check_environment() is True
    out = capsys.readouterr().out
    assert "numpy       2.1.3    ok (supported: <3,>=2.1.3; tested with 2.4.6)" in out
    assert "outside" not in out


def test_a_version_outside_the_range_is_reported_with_what_to_do_and_never_raises(installed, capsys):
    installed.update(numpy="1.26.4", ipympl="0.11.2")
    assert envcheck.check_environment() is False
    out = capsys.readouterr().out
    assert "numpy       1.26.4   outside the range the course supports (<3,>=2.1.3)" in out
    assert "numpy, ipympl: outside the range the course supports" in out
    assert "python3 course.py setup" in out and "on a hub, ask for versions in the ranges above" in out


def test_a_missing_server_package_is_only_noted(installed, capsys):
    installed.pop("jupyterlab")
    assert envcheck.check_environment() is True
    assert "jupyterlab  -        not in this kernel's environment" in capsys.readouterr().out


@pytest.mark.parametrize("name", envcheck.NEEDED)
def test_a_missing_needed_package_stops_with_the_fix(installed, name):
    installed.pop(name)
    with pytest.raises(RuntimeError, match=rf"cannot run without {name}\..*python3 course.py setup"):
        envcheck.check_environment()


def test_the_supported_ranges_are_read_from_the_installed_package():
    ranges = envcheck.supported_ranges()
    assert set(envcheck.NEEDED) <= set(ranges)
    assert ranges["jupyterlab"].marker is not None  # the `lab` extra
    assert isinstance(ranges["torch"], Requirement)


def test_without_installed_metadata_there_are_no_ranges_and_the_pins_decide(installed, monkeypatch, capsys):
    def missing():
        raise envcheck.metadata.PackageNotFoundError("lessonlib")

    monkeypatch.setattr(envcheck, "supported_ranges", missing)
    installed.update(numpy="2.1.3")
    assert envcheck.check_environment() is True
    assert "numpy       2.1.3    ok; tested with 2.4.6" in capsys.readouterr().out
