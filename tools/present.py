"""Present a notebook at a projector: slides with live widgets, in presenter style, offline.

    python3 course.py present 01            slides (Voila, reveal template) of notebooks/01_*.ipynb
    python3 course.py present 01 --lab      the notebook in JupyterLab, presenter style
                                            (then View > Presentation Mode, and Ctrl + / Ctrl - to zoom)
    python3 course.py present 01 --code     slides that also show the code cells
    python3 course.py present 01 --check PNG   start, render in headless Chromium, save a screenshot of
                                            the first slide with a live widget, stop (used to test this)

Slides follow each cell's metadata.slideshow.slide_type; solution cells are skipped. Every notebook
runs with LESSONLIB_PRESENTER=1, so figures, fonts and widget controls are projector-sized.
Voila's reveal template loads reveal.js's style sheets from a CDN by default; here they come from
the npm registry once (`npm pack reveal.js@VERSION`, about 3 MB, into .cache/, which git ignores)
and are then served locally, so presenting works without a network.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REVEAL_VERSION = "6.0.1"  # the version voila 0.5.13 bundles for its slide logic; its CSS must match
CACHE = ROOT / ".cache"
REVEAL_DIR = CACHE / f"reveal.js-{REVEAL_VERSION}"
SLIDE_SIZE = (1280, 720)  # every slide with a widget fits this without scrolling (tests/browser/test_slide_fit.py)


def say(msg: str) -> None:
    print(f"[present] {msg}", flush=True)


def find_notebook(name: str) -> Path:
    """'01', '01_change', or a path -> the notebook file."""
    p = Path(name)
    if p.suffix == ".ipynb" and p.exists():
        return p.resolve()
    hits = sorted((ROOT / "notebooks").glob(f"{name}*.ipynb"))
    if not hits:
        have = ", ".join(q.stem for q in sorted((ROOT / "notebooks").glob("*.ipynb")))
        sys.exit(f"[present] no notebook matches {name!r}; the course has: {have}")
    return hits[0]


def ensure_reveal() -> Path:
    """reveal.js's dist/ folder from the npm registry, fetched once into .cache/ (git ignores it)."""
    if (REVEAL_DIR / "dist" / "reveal.css").exists():
        return _with_slides_script(REVEAL_DIR)
    say(f"fetching reveal.js {REVEAL_VERSION} from the npm registry (once; about 3 MB)")
    with tempfile.TemporaryDirectory() as tmp:
        tgz = None
        if shutil.which("npm"):
            r = subprocess.run(
                ["npm", "pack", f"reveal.js@{REVEAL_VERSION}", "--silent"], cwd=tmp, capture_output=True, text=True
            )
            if r.returncode == 0:
                tgz = Path(tmp) / r.stdout.strip().splitlines()[-1]
        if tgz is None or not tgz.exists():  # no npm: the same tarball straight from the registry
            url = f"https://registry.npmjs.org/reveal.js/-/reveal.js-{REVEAL_VERSION}.tgz"
            tgz = Path(tmp) / "reveal.tgz"
            try:
                with urllib.request.urlopen(url, timeout=60) as resp:
                    tgz.write_bytes(resp.read())
            except OSError as e:
                sys.exit(
                    f"[present] could not fetch reveal.js ({e}). Connect once to the internet and run again; "
                    "after that, presenting works offline."
                )
        staging = Path(tmp) / "out"
        with tarfile.open(tgz) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/dist/") and m.isfile()]
            tar.extractall(staging, members=members, filter="data")
        REVEAL_DIR.parent.mkdir(parents=True, exist_ok=True)
        if REVEAL_DIR.exists():
            shutil.rmtree(REVEAL_DIR)
        shutil.move(str(staging / "package"), REVEAL_DIR)
    return _with_slides_script(REVEAL_DIR)


def _with_slides_script(folder: Path) -> Path:
    """The folder, holding this version of tools/slides.js (the page's own script, see voila_command)."""
    shutil.copyfile(ROOT / "tools" / "slides.js", folder / "slides.js")
    return folder


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CONTINUING = {None, "-", "fragment"}  # slide types that stay on the slide before them


def shows_widget(cell: dict) -> bool:
    return any(WIDGET_VIEW in o.get("data", {}) for o in cell.get("outputs", []))


def slide_copy(nb: Path, dest: Path) -> Path:
    """The notebook as the slides show it: every cell that shows a widget starts a subslide of its own,
    and the cell after it starts the next one, so a widget (controls, figure, readout) has the whole
    1280x720 slide and never shares it with the section's text. ``dest``: the folder of the copy."""
    data = json.loads(nb.read_text(encoding="utf-8"))
    cells = [c for c in data["cells"] if c.get("metadata", {}).get("slideshow", {}).get("slide_type") != "skip"]
    for k, cell in enumerate(cells):
        if not shows_widget(cell):
            continue
        for c in cells[k : k + 2]:
            show = c.setdefault("metadata", {}).setdefault("slideshow", {})
            if show.get("slide_type") in CONTINUING:
                show["slide_type"] = "subslide"
    out = dest / nb.name
    out.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return out


def serve_static(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A local file server for reveal.js's style sheets, in a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def presenter_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LESSONLIB_PRESENTER"] = "1"
    env["PYTHONHASHSEED"] = "0"
    return env


def voila_command(nb: Path, port: int, reveal_url: str, show_code: bool, config_dir: Path) -> list[str]:
    """The Voila command, with the course's slide template (tools/voila/templates/course-slides: Voila's reveal
    template, asking nothing of the network); the reveal settings go through a voila.json in ``config_dir`` (a dict option
    on the command line does not reach the template)."""
    reveal = {
        "url_prefix": reveal_url,
        "theme": "white",
        "transition": "none",
        "width": SLIDE_SIZE[0],
        "height": SLIDE_SIZE[1],
        "scroll": False,
    }  # reveal's scrolling of tall slides needs jQuery; every slide fits (tests/browser/test_slide_fit.py)
    # the slides do not need jQuery: in its place (no CDN asked) the page loads tools/slides.js, which lays the
    # slides out again when a widget renders after its slide was shown
    script = f"{reveal_url}/slides.js"
    config = {"VoilaConfiguration": {"resources": {"reveal": reveal}}, "HTMLExporter": {"jquery_url": script}}
    (config_dir / "voila.json").write_text(json.dumps(config))
    return [
        str(BIN / "voila"),
        str(nb),
        "--template=course-slides",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--no-browser",
        f"--strip_sources={not show_code}",
        f"--Voila.config_file_paths={config_dir}",
    ]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"[present] the server stopped (exit code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)  # polling the server, not a fixed wait
    sys.exit(f"[present] no answer from {url} after {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


_FIRST_WIDGET_JS = """() => {
    const w = document.querySelector('.reveal .slides .lesson-widget')
           || document.querySelector('.reveal .slides .widget-vbox:has(.widget-slider)');
    if (!w) return null;
    const inner = w.closest('section'), outer = inner.parentElement.closest('section') || inner;
    const hs = [...document.querySelectorAll('.reveal .slides > section')];
    const vs = outer === inner ? [inner] : [...outer.querySelectorAll(':scope > section')];
    const frag = w.closest('.fragment');
    const f = frag ? frag.getAttribute('data-fragment-index') : null;
    return '#/' + hs.indexOf(outer) + '/' + vs.indexOf(inner) + (f !== null ? '/' + f : '');
}"""

_WIDGET_SHOWN_JS = """() => { const s = document.querySelector('.reveal section.present:not(.stack)');
    const w = s && (s.querySelector('.lesson-widget') || s.querySelector('.widget-vbox:has(.widget-slider)'));
    return !!w && !w.closest('.fragment:not(.visible)'); }"""


def go_to_first_widget(page: Any) -> bool:
    """Show the slide (and fragment) of the first widget, through reveal's URL #/h/v/f; False if no slide has one."""
    page.wait_for_selector(".reveal .slides section", state="attached", timeout=300_000)
    page.wait_for_selector(".jupyter-widgets", state="attached", timeout=120_000)
    # the current slide is the innermost section.present (not a .stack)
    where = page.evaluate(_FIRST_WIDGET_JS)
    if where is None:
        return False
    page.evaluate("(h) => { location.hash = h; }", where)
    page.wait_for_function(_WIDGET_SHOWN_JS, timeout=10_000)
    page.wait_for_timeout(800)  # the slide transition and reveal's layout
    return True


def drag_first_slider(page: Any) -> str | None:
    """Drag the shown widget's slider with the mouse and wait until the kernel redraws it; a problem, or None."""
    from browserlab import PAGE_JS

    slide = page.locator(".reveal section.present:not(.stack)")
    widget = slide.locator(".lesson-widget").first
    if not widget.count():
        widget = slide.locator(".widget-vbox:has(.widget-slider)").first
    handle = widget.locator(".noUi-handle").first
    page.evaluate(PAGE_JS)
    what = "pixels" if widget.locator("canvas").count() else ".widget-html-content"  # what only the kernel changes
    el = widget.element_handle()
    fingerprint = lambda: page.evaluate("([el, what]) => window.__course.fingerprint(el, what)", [el, what])  # noqa: E731
    hash_before = page.evaluate("() => location.hash")
    before = fingerprint()
    # drag the slider with the mouse (in slides the arrow keys turn the page, see the README)
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=6)
    page.mouse.up()
    deadline = time.monotonic() + 30
    while fingerprint() == before:  # the kernel redrew: the widget is live
        if time.monotonic() > deadline:
            return "the widget on the slide did not answer a key press within 30 s"
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)
    if page.evaluate("() => location.hash") != hash_before:
        return f"moving the slider also turned the slide ({hash_before} -> {page.evaluate('() => location.hash')})"
    return None


_WIDGET_SLIDES_JS = """() => {
    const out = [];
    [...document.querySelectorAll('.reveal .slides > section')].forEach((outer, h) => {
        const inner = [...outer.querySelectorAll(':scope > section')];
        (inner.length ? inner : [outer]).forEach((s, v) => { if (s.querySelector('.jupyter-widgets')) out.push([h, v]); });
    });
    return out;
}"""

_SHOWN_JS = """([h, v]) => {
    const outer = document.querySelectorAll('.reveal .slides > section')[h];
    const inner = outer && outer.querySelectorAll(':scope > section');
    const s = inner && inner.length ? inner[v] : outer;
    return !!s && s.classList.contains('present');
}"""

_SLIDE_FIT_JS = """([width, height]) => {
    const s = document.querySelector('.reveal section.present:not(.stack)');
    const box = document.querySelector('.reveal .slides').getBoundingClientRect();
    const scale = box.width / width;  // reveal scales the slide to the window
    const problems = [];
    if (s.scrollHeight > s.clientHeight + 1)
        problems.push(`the slide scrolls: its content is ${Math.round(s.scrollHeight)} px tall, the slide ${Math.round(s.clientHeight)} px`);
    for (const w of s.querySelectorAll('.jp-OutputArea-output .jupyter-widgets, .jp-OutputArea-output canvas')) {
        const r = w.getBoundingClientRect();
        if (r.height === 0) continue;
        const bottom = (r.bottom - box.top) / scale, right = (r.right - box.left) / scale;
        if (bottom > height + 1 || right > width + 1)
            problems.push(`${w.tagName.toLowerCase()}.${[...w.classList].slice(0, 2).join('.')} ends at (${Math.round(right)}, ${Math.round(bottom)}), outside ${width}x${height}`);
    }
    // the controls' texts: none cut short, none over another
    const texts = [...s.querySelectorAll('.jupyter-widgets .widget-label, .jupyter-widgets .widget-readout, .jupyter-widgets button, .jupyter-widgets select')]
        .filter((e) => e.getBoundingClientRect().width > 0);
    const name = (e) => `${e.tagName.toLowerCase()} "${(e.innerText || e.value || '').trim().slice(0, 20)}"`;
    for (const e of texts)
        if (e.tagName !== 'SELECT' && e.scrollWidth > e.clientWidth + 1) problems.push(`${name(e)} is cut short (${e.scrollWidth} px of text in ${e.clientWidth} px)`);
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].getBoundingClientRect(), b = texts[j].getBoundingClientRect();
        if (texts[i].contains(texts[j]) || texts[j].contains(texts[i])) continue;
        if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 2 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 2)
            problems.push(`${name(texts[i])} and ${name(texts[j])} overlap`);
    }
    return problems;
}"""


def widget_slides_fit(page: Any) -> dict[str, list[str]]:
    """Every slide that shows a widget, with all its fragments shown: '#/h/v' -> what does not fit in
    SLIDE_SIZE (empty when it fits without scrolling)."""
    page.wait_for_selector(".reveal .slides section", state="attached", timeout=300_000)
    page.wait_for_selector(".jupyter-widgets", state="attached", timeout=120_000)
    out = {}
    for h, v in page.evaluate(_WIDGET_SLIDES_JS):
        page.evaluate("([h, v]) => { location.hash = `#/${h}/${v}/99`; }", [h, v])  # 99: every fragment shown
        page.wait_for_function(_SHOWN_JS, arg=[h, v])
        out[f"#/{h}/{v}"] = _settled_fit(page)
    return out


def _settled_fit(page: Any, tries: int = 12) -> list[str]:
    """What does not fit on the slide shown, measured once reveal's layout (and the widgets' own, which
    follows the kernel's messages) has settled: two measurements 400 ms apart that agree."""
    last = None
    for _ in range(tries):
        page.wait_for_timeout(400)
        now = page.evaluate(_SLIDE_FIT_JS, list(SLIDE_SIZE))
        if now == last:
            return now
        last = now
    return last


def run_through(nb: Path) -> str | None:
    """Run ``nb`` top to bottom in a fresh kernel, claims strict (as the test command runs it); None when every
    cell ran, else which cell stopped it and why. The check runs this first, so that a notebook that stops
    is named at once instead of leaving the slides waiting for widgets that never come."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(nb, as_version=4)
    env_before = os.environ.get("LESSONLIB_STRICT_CLAIMS")
    os.environ["LESSONLIB_STRICT_CLAIMS"] = "1"
    try:
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(nb.parent)}}
        ).execute()
    except CellExecutionError as e:
        failed = [
            i
            for i, c in enumerate(notebook.cells)
            if any(o.get("output_type") == "error" for o in c.get("outputs", []))
        ]
        where = f"cell {failed[0]} ({notebook.cells[failed[0]].source.splitlines()[0][:60]!r})" if failed else "a cell"
        return f"{nb.name} stopped at {where}: {e.ename}: {e.evalue}"
    finally:
        if env_before is None:
            os.environ.pop("LESSONLIB_STRICT_CLAIMS")
        else:
            os.environ["LESSONLIB_STRICT_CLAIMS"] = env_before
    return None


def check_slides(url: str, png: Path) -> int:
    """Open the slides in headless Chromium, go to the first slide with a widget, move its slider, screenshot."""
    sys.path.insert(0, str(ROOT / "tools"))
    from browserlab import chromium

    with chromium() as browser:
        page = browser.new_page(viewport=dict(zip(("width", "height"), SLIDE_SIZE)))
        page.goto(url, timeout=300_000)
        if not go_to_first_widget(page):
            say("no widget found on any slide")
            return 1
        where = page.evaluate("() => location.hash")
        problem = drag_first_slider(page)
        if problem:
            say(problem)
            return 1
        png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(png))
        size = page.evaluate(
            "() => getComputedStyle(document.querySelector('.jupyter-widgets')).getPropertyValue('--jp-widgets-font-size')"
        )
        say(f"live widget answered on slide {where}; widget font size {size.strip() or '?'}; screenshot: {png}")
    return 0


def present_lab(nb: Path) -> int:
    cmd = [str(BIN / "jupyter"), "lab", str(nb.relative_to(ROOT)), "--ip=127.0.0.1", f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    say("JupyterLab in presenter style: open the link below, then View > Presentation Mode; Ctrl-C stops it.")
    return subprocess.call(cmd, cwd=ROOT, env=presenter_env())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python3 course.py present", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook", help="a notebook number such as 01, a name prefix, or a path")
    ap.add_argument("--lab", action="store_true", help="open in JupyterLab (presenter style) instead of slides")
    ap.add_argument("--code", action="store_true", help="show code cells on the slides")
    ap.add_argument("--port", type=int, default=0, help="port of the slide server (default: a free one)")
    ap.add_argument("--check", type=Path, metavar="PNG", help="render headless, save a screenshot, stop")
    args = ap.parse_args(argv)
    nb = find_notebook(args.notebook)
    if args.lab:
        return present_lab(nb)
    if args.check:
        say(f"running {nb.name} top to bottom first")
        problem = run_through(nb)
        if problem:
            say(problem)
            return 1
        say("it runs; now its slides, in headless Chromium")
        with slides_server(nb, args.code, args.port, quiet=True) as (url, _):
            return check_slides(url, args.check)
    try:
        with slides_server(nb, args.code, args.port) as (url, proc):
            say(f"slides of {nb.name}: open {url} in a browser (first load runs the notebook: a few seconds).")
            say("Arrow keys or space move between slides; Esc shows an overview; Ctrl-C here stops the server.")
            return proc.wait()
    except KeyboardInterrupt:
        return 0


@contextmanager
def slides_server(
    nb: Path, show_code: bool = False, port: int = 0, quiet: bool = False
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve ``nb`` as slides (Voila, reveal, presenter style) on 127.0.0.1; yields (URL, server process); stops it after."""
    static, reveal_url = serve_static(ensure_reveal())
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    config_dir = Path(tempfile.mkdtemp(prefix="course-present-"))
    slides = slide_copy(nb, config_dir)
    env = presenter_env()
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(ROOT / "tools"), env.get("JUPYTER_PATH")) if p)
    proc = subprocess.Popen(
        voila_command(slides, port, reveal_url, show_code, config_dir),
        cwd=nb.parent,
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
    )
    try:
        wait_http(url + "voila/static/", proc)
        yield url, proc
    finally:
        stop(proc)
        static.shutdown()
        shutil.rmtree(config_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
