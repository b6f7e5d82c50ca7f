"""What a saved notebook shows of a live widget: a still picture beside the widget's view.

GitHub, nbviewer, VS Code, nbconvert and JupyterLab before a notebook runs have no kernel: of a
widget output they can show only what its mime bundle carries besides the widget view. So every
widget output of the course carries a still:

* a lesson widget (``LessonWidget``) adds a PNG of its figure (``image/png``, and an ``<img>`` in
  ``text/html``) to its mime bundle when it is displayed: its initial picture. JupyterLab with the
  widget manager, and Voila, still show the live widget (the widget view comes first);
* a figure that moves while its cell runs (a training figure) and a progress bar are stored in their
  final state: ``install()`` (called by ``setup()``) gives their outputs a display id when they are
  shown, and once the cell has run, re-sends them with their last picture (a figure registered with
  ``keep_final``) or their last text (a progress bar). nbclient, and so ``course.py regenerate``,
  stores the re-sent version.
"""

from __future__ import annotations

import base64
import html
import io
import uuid
from typing import Any

__all__ = ["figure_png", "still_bundle", "keep_final", "install", "final_bundle"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

_final: dict[str, Any] = {}  # model id -> a widget whose output is stored in its final state
_pending: list[tuple[str, Any]] = []  # (display id, widget) shown by the running cell


def figure_png(fig: Any) -> bytes:
    """The figure as PNG bytes at its own resolution, with no "Software" chunk (same picture, same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    return buf.getvalue()


def still_bundle(png: bytes, alt: str) -> dict[str, str]:
    """``image/png`` and ``text/html`` entries that show ``png``: static renderers pick one of them."""
    b64 = base64.b64encode(png).decode("ascii")
    tag = f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt, quote=True)}"/>'
    return {"image/png": b64, "text/html": tag}


def keep_final(widget: Any) -> Any:
    """Store ``widget``'s output (a live figure's canvas) in its final state: re-sent after its cell ran.

    Returns the widget. Has an effect only in a kernel where ``install()`` ran.
    """
    _final[widget.model_id] = widget
    return widget


def _is_progress_bar(widget: Any) -> bool:
    """tqdm's notebook bar: an HBox of (label, IntProgress or FloatProgress, label) tied to its tqdm."""
    import ipywidgets as w

    kids = getattr(widget, "children", ())
    return hasattr(widget, "pbar") and len(kids) == 3 and isinstance(kids[1], (w.IntProgress, w.FloatProgress))


def _progress_text(bar: Any) -> str:
    """The bar's last state as tqdm prints it in a terminal: 'training: 100%|##########| 300/300 [...]'."""
    left, progress, right = (c for c in bar.children)
    filled = int(round(10 * progress.value / progress.max)) if progress.max else 0
    text = f"{html.unescape(left.value)}|{'█' * filled}{' ' * (10 - filled)}|{html.unescape(right.value)}"
    return text.replace("\u2007", " ")


def final_bundle(widget: Any) -> dict[str, Any]:
    """The mime bundle of ``widget``'s output now: its view, and its last picture or text."""
    data: dict[str, Any] = {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}}
    if _is_progress_bar(widget):
        data["text/plain"] = _progress_text(widget)
    else:
        data["text/plain"] = f"{type(widget).__name__} (a live figure; run the notebook to see it move)"
        data.update(still_bundle(figure_png(widget.figure), "the figure's last picture"))
    return data


def _widget_of(data: dict[str, Any]) -> Any:
    from ipywidgets import widget_serialization

    model_id = data.get(WIDGET_VIEW, {}).get("model_id")
    if model_id is None:
        return None
    found = widget_serialization["from_json"](f"IPY_MODEL_{model_id}", None)
    return None if isinstance(found, str) else found


def _on_publish(msg: dict[str, Any]) -> dict[str, Any]:
    """Display hook: give a to-be-finalised widget output a display id, so it can be updated later."""
    if msg.get("msg_type", msg.get("header", {}).get("msg_type")) != "display_data":
        return msg
    content = msg.get("content", {})
    widget = _widget_of(content.get("data", {}))
    if widget is None or not (widget.model_id in _final or _is_progress_bar(widget)):
        return msg
    transient = content.setdefault("transient", {})
    display_id = transient.setdefault("display_id", uuid.uuid4().hex)
    _pending.append((display_id, widget))
    return msg


def _after_cell(result: Any = None) -> None:
    """post_run_cell: re-send every output to finalise with its widget's last state."""
    from IPython.display import publish_display_data

    while _pending:
        display_id, widget = _pending.pop(0)
        publish_display_data(final_bundle(widget), transient={"display_id": display_id}, update=True)
        _final.pop(widget.model_id, None)


def install() -> bool:
    """Finalise stills in this kernel (idempotent); False outside an IPython kernel."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    pub = getattr(shell, "display_pub", None)
    if shell is None or not hasattr(pub, "register_hook"):
        return False
    pub.unregister_hook(_on_publish)  # once only, however often setup() runs
    pub.register_hook(_on_publish)
    if _after_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", _after_cell)
    return True
