"""Binder and repo2docker build the course as it is: their plan, read without building.

`jupyter-repo2docker --no-build --debug` (installed by `python3 course.py test` from tests/requirements.txt,
never into a hub image) prints the Dockerfile it would build from a clone of the repository. The plan
must use Python 3.11 (binder/runtime.txt) and install binder/requirements.txt once the whole
repository is in place. That file must be the course's pins, with torch as its CPU build from the
PyTorch index, nbgitpuller (the hub's distribution links), and lessonlib itself. The PyTorch index
cannot be reached from here, so its choice is checked as a plan: pip resolves the file without that
index line (torch's CPU wheel comes from pip's find-links here), installing nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from escapism import unescape

from conftest import ROOT
from lessonlib.ui.envcheck import pinned_versions

pytestmark = pytest.mark.hub

REPO2DOCKER = Path(sys.executable).parent / "jupyter-repo2docker"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
BINDER_REQUIREMENTS = ROOT / "binder" / "requirements.txt"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@pytest.fixture(scope="module")
def plan(repo_copy, tmp_path_factory) -> tuple[str, str]:
    """(Dockerfile, log) of repo2docker's plan for the clone, as the user jovyan (uid 1000) Binder uses."""
    if not REPO2DOCKER.exists():
        pytest.fail(
            f"{REPO2DOCKER} is missing: run the tests with `python3 course.py test` "
            "(it installs tests/requirements.txt)",
            pytrace=False,
        )
    cwd = tmp_path_factory.mktemp("r2d-cwd")  # repo2docker reads a repo2docker_config.py from its working folder
    proc = subprocess.run(
        [str(REPO2DOCKER), "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan", str(repo_copy)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, proc.stderr


def test_repo2docker_plans_python_3_11(plan):
    dockerfile, log = plan
    assert "Building conda environment for python=3.11" in log, log
    assert "Python version unspecified" not in log
    lock = re.search(r"^COPY \S+ build_script_files/(\S+) /tmp/env/environment\.lock$", dockerfile, re.M)
    assert lock, "the plan installs no conda environment"
    source = unescape(lock.group(1).rsplit("-", 1)[0], escape_char="-")  # an escaped path, then "-" and a short hash
    assert source.endswith("/environment.py-3.11-linux-64.lock"), source


def test_repo2docker_installs_the_binder_requirements_with_the_whole_repository_in_place(plan):
    dockerfile, _ = plan
    pip_steps = re.findall(r"^RUN .*pip install.*$", dockerfile, re.M)
    assert pip_steps == ['RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'], (
        pip_steps
    )
    # "." and "-r ../requirements.txt" need the repository itself: it is copied before that step
    whole_repo = dockerfile.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    assert whole_repo < dockerfile.index(pip_steps[0])


def test_binder_requirements_are_the_course_pins_with_the_cpu_torch_and_lessonlib():
    torch = pinned_versions(ROOT / "requirements.txt")["torch"]
    assert requirement_lines(BINDER_REQUIREMENTS) == [
        f"--extra-index-url {CPU_INDEX}",
        f"torch=={torch}+cpu",
        "-r ../requirements.txt",
        "nbgitpuller==1.3.0",
        ".",
    ]
    assert requirement_lines(ROOT / "binder" / "runtime.txt") == ["python-3.11"]


def test_pip_resolves_the_binder_requirements_to_the_cpu_torch_and_lessonlib(repo_copy, tmp_path):
    offline = repo_copy / "binder" / "requirements-without-the-pytorch-index.txt"  # beside it: "-r ../" stays right
    offline.write_text(
        "\n".join(
            line
            for line in requirement_lines(repo_copy / "binder" / "requirements.txt")
            if not line.startswith("--extra-index-url")
        )
        + "\n"
    )
    report = tmp_path / "report.json"
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--no-deps",
                "--ignore-installed",
                "--quiet",
                "--report",
                str(report),
                "-r",
                str(offline),
            ],
            cwd=repo_copy,
            capture_output=True,
            text=True,
            timeout=600,
        )  # from the root, as repo2docker
    finally:
        offline.unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = {i["metadata"]["name"].lower(): i for i in json.loads(report.read_text())["install"]}
    pins = pinned_versions(ROOT / "requirements.txt")
    assert planned["torch"]["metadata"]["version"] == pins["torch"] + "+cpu"
    assert planned["lessonlib"]["download_info"]["url"] == repo_copy.as_uri()
    assert planned["nbgitpuller"]["metadata"]["version"] == "1.3.0"
    for name, version in pins.items():
        assert planned[name]["metadata"]["version"].split("+")[0] == version, name
    assert not [n for n in planned if n.startswith("nvidia")]
