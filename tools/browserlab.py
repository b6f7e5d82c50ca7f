"""Drive the course in a real JupyterLab, in headless Chromium (used by the browser test and by screenshots.py).

    with JupyterLab(root) as lab, chromium() as browser:
        nb = NotebookPage(browser.new_page(viewport=...), lab)
        nb.open("notebooks/00_start_here.ipynb")
        nb.run_all()            # waits until every cell ran and the kernel is idle
        nb.problems()           # error outputs, widgets shown as text

Everything waits on a condition (the server answering, the status bar saying Idle, every prompt
numbered, a canvas whose pixels changed), never on a fixed sleep. The browser is Debian's
chromium; playwright never downloads one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "The browser test needs Debian's chromium at {path}. Install it with "
    "`sudo apt-get install -y chromium` (as root, `python3 course.py test` installs it itself), "
    "or point COURSE_CHROMIUM at a Chromium binary."
)

# JupyterLab settings for a quiet, deterministic test lab: every cell in the DOM, no news pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_course(dest: Path, notebooks: list[Path] | None = None) -> Path:
    """Copy the notebooks (never run the repository's own files) and data into ``dest``."""
    (dest / "notebooks").mkdir(parents=True, exist_ok=True)
    for nb in notebooks if notebooks is not None else sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, dest / "notebooks" / nb.name)
    return dest


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 with its own config, runtime, settings and workspace folders."""

    def __init__(
        self,
        root: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        settings: dict[str, dict] | None = None,
    ) -> None:
        self.root = Path(root)
        self.settings = LAB_SETTINGS if settings is None else settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.log_path: Path | None = None

    def start(self, timeout: float = 90.0) -> JupyterLab:
        self._tmp = tempfile.TemporaryDirectory(prefix="course-lab-")
        tmp = Path(self._tmp.name)
        env = dict(os.environ)
        for var, sub in [
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
            ("IPYTHONDIR", "ipython"),
        ]:
            (tmp / sub).mkdir()
            env[var] = str(tmp / sub)
        for rel, value in self.settings.items():
            p = tmp / "settings" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(value))
        env.pop("LESSONLIB_PRESENTER", None)
        env["PYTHONHASHSEED"] = "0"
        env.update(self.extra_env)
        # COURSE_LAB_PYTHON: the Python of another environment (the hub test's oldest versions) whose
        # JupyterLab, kernel and installed lessonlib the walk-through then drives
        jupyter = Path(os.environ.get("COURSE_LAB_PYTHON", sys.executable)).parent / "jupyter"
        cmd = [
            str(jupyter),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--allow-root",
            "--LabApp.news_url=None",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.disable_check_xsrf=True",  # lets shutdown_kernels() call the REST API (127.0.0.1 only)
        ]
        self.log_path = tmp / "lab.log"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start (code {self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)  # polling the server's status endpoint, not a fixed wait
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path and self.log_path.exists() else ""

    def shutdown_kernels(self) -> None:
        """Stop every kernel (between notebooks, so they do not pile up)."""
        for k in self.kernels():
            req = urllib.request.Request(f"{self.url}/api/kernels/{k['id']}", method="DELETE")
            try:
                urllib.request.urlopen(req, timeout=10).close()
            except OSError:
                pass

    def kernels(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/api/kernels", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        """SIGTERM to the server's own pid; it shuts its kernels down."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def chromium(headless: bool = True) -> Iterator[object]:
    """Playwright's Chromium driver on Debian's chromium binary. Raises RuntimeError saying how to install it."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(INSTALL_HINT.format(path=CHROMIUM))
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=headless, args=CHROMIUM_FLAGS)
        except PlaywrightError as e:
            raise RuntimeError(INSTALL_HINT.format(path=CHROMIUM) + f"\nChromium did not start: {e}") from e
        try:
            yield browser
        finally:
            browser.close()


# Page-side helpers. A fingerprint of an element is its text plus a checksum of every canvas in it, so
# "the picture changed" means changed pixels. Latency: keydown time (captured) to the first animation
# frame whose fingerprint differs from the one before the key press. Checksumming every canvas on
# every frame would itself take most of a core (and delay the page it measures), so the watcher looks
# again only in frames after something was drawn or the DOM changed, and a canvas is checksummed again
# only after a drawing call or a change of its size (the checksum is cached in between).
PAGE_JS = r"""
() => {
  if (window.__course) return;
  let canvasEpoch = 0, domEpoch = 0;
  const ctx2d = CanvasRenderingContext2D.prototype;
  for (const name of ['drawImage', 'putImageData', 'fillRect', 'clearRect', 'fill', 'stroke', 'fillText', 'strokeText']) {
    const orig = ctx2d[name];
    ctx2d[name] = function (...args) { canvasEpoch += 1; return orig.apply(this, args); };
  }
  new MutationObserver((records) => {
    domEpoch += 1;
    if (records.some((r) => r.target && r.target.tagName === 'CANVAS')) canvasEpoch += 1;  // a resize clears it
  }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  const cache = new WeakMap();
  const canvasSum = (c) => {
    const hit = cache.get(c);
    if (hit && hit.epoch === canvasEpoch) return hit.sum;
    let sum;
    try {
      const ctx = c.getContext('2d');
      if (!ctx || !c.width || !c.height) sum = '0';
      else {
        const d = new Uint32Array(ctx.getImageData(0, 0, c.width, c.height).data.buffer);
        let h = 2166136261 >>> 0;
        for (let i = 0; i < d.length; i += 1) { h = Math.imul(h ^ d[i], 16777619) >>> 0; }
        sum = c.width + 'x' + c.height + ':' + h;
      }
    } catch (e) { sum = 'err'; }
    cache.set(c, { epoch: canvasEpoch, sum });
    return sum;
  };
  // what: 'pixels' (every canvas in el), 'all' (canvases and text), or a CSS selector inside el whose text counts
  const fingerprint = (el, what) => {
    if (!el) return '';
    const parts = [];
    if (what === 'pixels' || what === 'all') for (const c of el.querySelectorAll('canvas')) parts.push(canvasSum(c));
    if (what === 'all') parts.push(el.innerText);
    if (what !== 'pixels' && what !== 'all') for (const t of el.querySelectorAll(what)) parts.push(t.innerText);
    return parts.join('|');
  };
  window.__course = { t0: null, fingerprint, watch: null, dirty: () => canvasEpoch + domEpoch };
  document.addEventListener('keydown', () => { window.__course.t0 = performance.now(); }, true);
  document.addEventListener('mousedown', () => { window.__course.t0 = performance.now(); }, true);
}
"""

WATCH_JS = r"""
([el, what, timeoutMs]) => {
  const C = window.__course;
  const before = C.fingerprint(el, what);
  let seen = C.dirty();
  C.watch = new Promise((resolve) => {
    const start = performance.now();
    const tick = () => {
      const now = performance.now();
      const d = C.dirty();
      const drawn = d !== seen;
      seen = d;
      if (drawn && C.t0 !== null && C.t0 >= start && C.fingerprint(el, what) !== before) { resolve(now - C.t0); return; }
      if (now - start > timeoutMs) { resolve(null); return; }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}
"""


class NotebookPage:
    """One notebook open in JupyterLab."""

    def __init__(self, page, lab: JupyterLab) -> None:
        self.page = page
        self.lab = lab
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}") if m.type == "error" else None)

    def open(self, rel_path: str, timeout_ms: int = 90_000) -> None:
        # ?reset: start from an empty workspace, not the tabs a previous page left open
        self.page.goto(f"{self.lab.url}/lab/tree/{rel_path}?reset", timeout=timeout_ms)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout_ms)
        self.wait_idle(timeout_ms)
        self.page.evaluate(PAGE_JS)

    def wait_idle(self, timeout_ms: int = 90_000) -> None:
        """The status bar says Idle (requests sent while the kernel starts are dropped, so wait for this)."""
        self.page.wait_for_function(
            """() => { const s = document.querySelector('#jp-main-statusbar');
                       const t = document.querySelector('.jp-Notebook-ExecutionIndicator');
                       return s && /\\bIdle\\b/.test(s.innerText) && (!t || t.getAttribute('data-status') === 'idle'); }""",
            timeout=timeout_ms,
        )

    def run_all(self, timeout_ms: int = 300_000) -> float:
        """Run > Run All Cells; wait until every code cell has a number and the kernel is idle. Returns seconds."""
        t0 = time.perf_counter()
        page = self.page
        for attempt in range(3):
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(
                ".lm-Menu-item[data-command='runmenu:run-all'], .lm-Menu-item[data-command='notebook:run-all-cells']"
            )
            try:  # a request sent while the kernel still starts is dropped: then no cell starts; ask again
                page.wait_for_function(
                    """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
                             .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""",
                    timeout=30_000,
                    polling=100,
                )
                break
            except Exception:
                if attempt == 2:
                    raise
        page.wait_for_function(
            """() => {
                 const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')];
                 if (!cells.length) return false;
                 const done = cells.every(c => {
                   const src = c.querySelector('.jp-InputArea-editor');
                   if (!src) return true;  // a folded input (a solution) has no editor and an empty prompt; Idle covers it
                   if (!src.textContent.trim()) return true;  // empty cells are not run
                   const p = c.querySelector('.jp-InputPrompt');
                   if (!p) return true;
                   return /\\[\\d+\\]/.test(p.textContent);
                 });
                 const s = document.querySelector('#jp-main-statusbar');
                 return done && s && /\\bIdle\\b/.test(s.innerText);
               }""",
            timeout=timeout_ms,
            polling=100,
        )
        self.wait_widgets_rendered()
        return time.perf_counter() - t0

    def wait_widgets_rendered(self, timeout_ms: int = 30_000) -> None:
        """Widget views appear asynchronously after their cell finished: wait until none says 'Loading widget'."""
        try:
            self.page.wait_for_function(
                """() => ![...document.querySelectorAll('.jp-OutputArea-output')]
                         .some(o => /Loading widget/.test(o.innerText))""",
                timeout=timeout_ms,
            )
        except Exception:
            pass  # problems() reports what is still not rendered

    def problems(self) -> list[str]:
        """Error outputs, tracebacks or warnings on stderr, and widget views that show as text."""
        return self.page.evaluate(
            r"""() => {
              const out = [];
              const cells = [...document.querySelectorAll('.jp-CodeCell')];
              cells.forEach((cell, i) => {
                for (const o of cell.querySelectorAll('.jp-OutputArea-output')) {
                  const mime = o.getAttribute('data-mime-type') || '';
                  const text = o.innerText || '';
                  if (mime === 'application/vnd.jupyter.stderr' && /Traceback|Error|Warning/.test(text))
                    out.push(`code cell ${i + 1}: stderr/error output: ${text.slice(0, 300)}`);
                  if (/Loading widget/.test(text))
                    out.push(`code cell ${i + 1}: a widget never rendered (still 'Loading widget...')`);
                  if (mime === 'text/plain' && /^(VBox|HBox|Box|GridBox|Canvas|FloatSlider|IntSlider|Output|Tab|Accordion)\(/.test(text.trim()))
                    out.push(`code cell ${i + 1}: a widget shows as its text repr: ${text.slice(0, 80)}`);
                  if (mime === 'application/vnd.jupyter.widget-view+json' && !o.querySelector('.lm-Widget, .jupyter-widgets'))
                    out.push(`code cell ${i + 1}: an empty widget view`);
                }
              });
              return out;
            }"""
        )

    def widget_count(self) -> int:
        return self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.widget-view+json']"
        ).count()

    # -- interacting with one widget ------------------------------------------------------------
    def fingerprint(self, locator, what: str = "all") -> str:
        return self.page.evaluate(
            "([el, what]) => window.__course.fingerprint(el, what)", [locator.element_handle(), what]
        )

    def start_watch(self, locator, what: str, timeout_ms: int = 10_000) -> None:
        self.page.evaluate(WATCH_JS, [locator.element_handle(), what, timeout_ms])

    def finish_watch(self) -> float | None:
        """Milliseconds from the key press / mouse down to the first frame that looks different (None: no change)."""
        return self.page.evaluate("() => window.__course.watch")

    def text(self, locator) -> str:
        return locator.inner_text() if locator.count() else ""
