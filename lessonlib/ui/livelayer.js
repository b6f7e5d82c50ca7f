// Films (lessonlib/ui/film.py): the page keeps, for each slider of a lesson widget, the frames the kernel drew
// in advance for every position, and while a hand drags that slider it paints the frame of the slider's
// position on a canvas over the widget's ipympl figure, with the readout and message line of that position.
// Nothing goes to the kernel until the release; the kernel's own picture then replaces the canvas.
// Drags in two dimensions (02's vector tips) have no film. When the widget tells the page how to draw them
// (LessonWidget.page_drawing: a model, its background and images), the page draws each frame itself (PAGE_DRAWINGS)
// and asks the kernel only for the readout and message line, at most every TEXT_MS; otherwise it asks the kernel for
// each frame while the hand drags (LessonWidget.live_drags, Films.live) and paints it the same way.
// A frame is the figure's background (a PNG, shared by frames with the same axis limits) and a display list
// of the moving artists (paths, markers and images in figure pixels, y up; see lessonlib/ui/livelayer.py).

const CAP = { butt: "butt", round: "round", projecting: "square" };

function pathOf(codes, verts, start, count) {
  const p = new Path2D();
  for (let i = start; i < start + count;) {
    const c = codes[i], x = verts[2 * i], y = verts[2 * i + 1];
    if (c === 1) { p.moveTo(x, y); i += 1; }
    else if (c === 2) { p.lineTo(x, y); i += 1; }
    else if (c === 3) { p.quadraticCurveTo(x, y, verts[2 * i + 2], verts[2 * i + 3]); i += 2; }
    else if (c === 4) { p.bezierCurveTo(x, y, verts[2 * i + 2], verts[2 * i + 3], verts[2 * i + 4], verts[2 * i + 5]); i += 3; }
    else if (c === 79) { p.closePath(); i += 1; }
    else { i += 1; }  // 0: STOP
  }
  return p;
}

const rgba = (c) => `rgba(${Math.round(255 * c[0])},${Math.round(255 * c[1])},${Math.round(255 * c[2])},${c[3]})`;

function paint(ctx, op, path) {
  if (op.f) { ctx.fillStyle = rgba(op.f); ctx.fill(path, "nonzero"); }
  if (op.s) {
    ctx.strokeStyle = rgba(op.s);
    ctx.lineWidth = op.lw;
    ctx.lineCap = CAP[op.cap] || "butt";
    ctx.lineJoin = op.join || "round";
    ctx.setLineDash(op.d ? op.d[1] : []);
    ctx.lineDashOffset = op.d ? op.d[0] : 0;
    ctx.stroke(path);
  }
}

// One frame: its background, then its display list.
function replay(canvas, frame, background, bitmaps) {
  if (canvas.width !== frame.W || canvas.height !== frame.H) { canvas.width = frame.W; canvas.height = frame.H; }
  const ctx = canvas.getContext("2d");
  const { codes, verts } = frame;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.globalAlpha = 1;
  ctx.drawImage(background, 0, 0);
  for (const op of frame.ops) {
    ctx.save();
    ctx.setTransform(1, 0, 0, -1, 0, frame.H);  // matplotlib's display coordinates: y up from the bottom
    if (op.c) { ctx.beginPath(); ctx.rect(op.c[0], op.c[1], op.c[2], op.c[3]); ctx.clip(); }
    if (op.cp) ctx.clip(pathOf(codes, verts, op.cp[0], op.cp[1]), "nonzero");
    if (op.t === "p") {
      paint(ctx, op, pathOf(codes, verts, op.v[0], op.v[1]));
    } else if (op.t === "m") {
      const marker = pathOf(codes, verts, op.v[0], op.v[1]);
      for (let k = op.o[0]; k < op.o[0] + op.o[1]; k++) {
        ctx.save();
        ctx.translate(verts[2 * k], verts[2 * k + 1]);
        paint(ctx, op, marker);
        ctx.restore();
      }
    } else if (op.t === "i") {
      ctx.setTransform(1, 0, 0, 1, 0, 0);  // an image's rows run top to bottom
      ctx.globalAlpha = op.a;
      ctx.imageSmoothingEnabled = false;  // matplotlib resampled it to these pixels already
      ctx.drawImage(bitmaps[op.b], op.x, frame.H - op.y - op.h, op.w, op.h);
    }
    ctx.restore();
  }
}

// Drawings the page makes itself while a hand drags in two dimensions (LessonWidget.page_drawing): each takes the
// kernel's model, the images it named (decoded), the drag's name and value, and gives a frame as the kernel's
// recorder would (display list in figure pixels, y up) with its images; replay paints it over the model's background.
function linear2d(m, images, name, value) {
  // 02: x = A z. Grid, unit square and columns are images of fixed shapes under A; the density is the standard
  // normal's pushed through A, p_Z(A^-1 x) / |det A|, on the image's cells, coloured by the kernel's colour map
  const A = [[m.A[0][0], m.A[0][1]], [m.A[1][0], m.A[1][1]]];
  const j = m.columns[name];
  A[0][j] = value[0];
  A[1][j] = value[1];
  const [ox, oy, sx, sy] = m.T;
  const px = (x, y) => [ox + sx * (A[0][0] * x + A[0][1] * y), oy + sy * (A[1][0] * x + A[1][1] * y)];  // z -> pixel of A z
  const det = A[0][0] * A[1][1] - A[0][1] * A[1][0];
  const size = Math.max(Math.abs(A[0][0]), Math.abs(A[0][1]), Math.abs(A[1][0]), Math.abs(A[1][1]));
  const s = (v) => v / size;
  const collapsed = size === 0 || Math.abs(s(A[0][0]) * s(A[1][1]) - s(A[0][1]) * s(A[1][0])) <= m.rtol;  // linear2d.is_singular
  const codes = [], verts = [], ops = [], bitmaps = [];
  const placed = (lines, lw) => {
    // Agg snaps a path whose segments all run along x or y to the pixel grid (matplotlib's PathSnapper: to pixel
    // centres when the rounded stroke width is odd, corners when even; in rows from the top), as the recorder does
    const along = lines.every((pts) => pts.every(([x, y], k) => k === 0 || Math.abs(x - pts[k - 1][0]) < 1e-4 || Math.abs(y - pts[k - 1][1]) < 1e-4));
    const off = Math.floor(lw + 0.5) % 2 ? 0.5 : 0;
    return along ? lines.map((pts) => pts.map(([x, y]) => [Math.floor(x + 0.5) + off, m.H - Math.floor(m.H - y + 0.5) - off])) : lines;
  };
  const path = (lines, closed, lw) => {  // [first, count] of a path through lines of points (pixels), placed as Agg does
    const first = codes.length;
    for (const pts of placed(lines, lw)) {
      pts.forEach(([x, y], k) => { codes.push(k === 0 ? 1 : 2); verts.push(x, y); });
      if (closed) { codes.push(79); verts.push(0, 0); }
    }
    return [first, codes.length - first];
  };
  const d = m.density;
  const n = d.xs.length;
  if (!m.canvas || m.canvas.width !== n) { m.canvas = document.createElement("canvas"); m.canvas.width = n; m.canvas.height = n; }
  const cctx = m.canvas.getContext("2d");
  const pixels = cctx.createImageData(n, n);
  const inv = collapsed ? null : [[A[1][1] / det, -A[0][1] / det], [-A[1][0] / det, A[0][0] / det]];
  const peak = collapsed ? 0 : 1 / (2 * Math.PI * Math.abs(det));
  for (let r = 0; r < n; r++) {
    const y = d.xs[r];
    for (let c = 0; c < n; c++) {
      const x = d.xs[c];
      let v = 0;
      if (inv) {
        const z1 = inv[0][0] * x + inv[0][1] * y, z2 = inv[1][0] * x + inv[1][1] * y;
        v = Math.exp(-0.5 * (z1 * z1 + z2 * z2)) * peak;
      }
      const t = (v - d.vmin) / (d.vmax - d.vmin);  // matplotlib's Normalize, then the colour map's table
      const rgba = t < 0 ? d.under : t > 1 ? d.over : d.lut[Math.min(d.lut.length - 1, Math.floor(t * d.lut.length))];
      pixels.data.set(rgba, 4 * ((n - 1 - r) * n + c));  // the image's first row is y's top
    }
  }
  cctx.putImageData(pixels, 0, 0);
  const st = m.styles;
  const parts = {
    density: () => { bitmaps.push(m.canvas); ops.push({ t: "i", x: d.rect[0], y: d.rect[1], w: d.rect[2], h: d.rect[3], a: 1, b: bitmaps.length - 1, c: d.c }); },
    square: () => {
      if (collapsed) return;
      const style = det > 0 ? st.square : st.flipped;
      ops.push({ t: "p", v: path([[px(0, 0), px(1, 0), px(1, 1), px(0, 1)]], true, style.lw), ...style });
    },
    grid: () => {
      ops.push({ t: "p", v: path(m.grid.map(([x0, y0, x1, y1]) => [px(x0, y0), px(x1, y1)]), false, st.grid.lw), ...st.grid });
    },
    collapse: () => {
      if (collapsed) ops.push({ t: "p", v: path([[px(0, 0), px(1, 0), px(1, 1), px(0, 1), px(0, 0)]], false, st.collapse.lw), ...st.collapse });
    },
    arrows: () => { for (const k of [0, 1]) ops.push({ t: "p", v: path([[px(0, 0), px(k === 0 ? 1 : 0, k === 1 ? 1 : 0)]], false, st.arrow.lw), ...st.arrow }); },
    tips: () => {  // stamped as Agg stamps markers: at the pixel each tip rounds to (in rows from the top)
      const first = codes.length;
      m.marker.codes.forEach((c, k) => { codes.push(c); verts.push(m.marker.verts[2 * k], m.marker.verts[2 * k + 1]); });
      const marker = [first, codes.length - first], at = codes.length;
      for (const k of [0, 1]) {
        const [x, y] = px(k === 0 ? 1 : 0, k === 1 ? 1 : 0);
        codes.push(0);
        verts.push(Math.floor(x + 0.5) + m.marker.centre, m.H - Math.floor(m.H - y + 0.5) - m.marker.centre);
      }
      ops.push({ t: "m", v: marker, o: [at, 2], ...st.tips });
    },
    labels: () => {
      m.labels.forEach((l, k) => {
        const [x, y] = px(k === 0 ? 1 : 0, k === 1 ? 1 : 0);
        const [ax, ay] = [x + sx * m.label_offset, y + sy * m.label_offset];
        bitmaps.push(images[l.image]);
        const op = { t: "i", x: Math.round(ax + l.dx), y: Math.round(ay + l.dy), w: l.w, h: l.h, a: 1, b: bitmaps.length - 1 };
        if (l.c) op.c = l.c;
        ops.push(op);
      });
    },
  };
  for (const part of m.order) parts[part]();
  return { frame: { W: m.W, H: m.H, ops, codes: Uint8Array.from(codes), verts: Float32Array.from(verts) }, bitmaps };
}

export const PAGE_DRAWINGS = { linear2d };
export { replay };

function copy(view, Kind) {
  return new Kind(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

const bitmap = (view) => createImageBitmap(new Blob([copy(view, Uint8Array)], { type: "image/png" }));

function nearest(frames, v) {  // frames sorted by value
  let lo = 0, hi = frames.length - 1;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (frames[mid].v <= v) lo = mid; else hi = mid; }
  return Math.abs(frames[hi].v - v) < Math.abs(frames[lo].v - v) ? frames[hi] : frames[lo];
}

export default {
  render({ model, el }) {
    const overlay = document.createElement("canvas");
    overlay.className = "lesson-live-layer";
    Object.assign(overlay.style, { position: "absolute", left: "0", top: "0", zIndex: "0", pointerEvents: "none", display: "none" });
    let root = null, host = null, tries = 0, gen = 0, wantTimer = null, hideTimer = null, closed = false, awaiting = false;
    const films = {};  // slider name -> {gen, frames (sorted by value), complete}
    const backgrounds = new Map();  // background id -> ImageBitmap
    let chain = Promise.resolve();
    let drag = null;  // the slider being dragged with a film
    let pending = null;  // the value to paint on the next animation frame
    const observers = [];
    // the sliders' own models: while a slider's film is in the page, its view sends the value only on release.
    // Set on the model's attributes in the page alone: a kernel that toggled continuous_update would race the
    // release's value (the view re-sends its stale value when the option changes).
    const sliderModels = {};
    const manager = model.widget_manager;  // not every front end offers it: then a filmed drag also goes to the kernel
    for (const [name, id] of Object.entries(model.get("sliders") || {})) {
      if (manager && manager.get_model) manager.get_model(id).then((m) => { sliderModels[name] = m; }).catch(() => {});
    }
    // The hand changed something the films may depend on (a button, a menu, a slider or figure drag the kernel
    // draws): until the kernel's answer (it drops the films that no longer hold) comes, no film plays, so a drag
    // begun right after a Reset cannot show the old state. Without an answer (nothing changed), films play again
    // after SUSPEND_MS.
    const SUSPEND_MS = 3000;
    let suspended = false, suspendTimer = null;
    const mark = () => {  // the films the page can play and the live drags it can do, for tests that wait for one
      if (!root) return;
      root.setAttribute("data-films", suspended ? "" : Object.keys(films).filter((k) => films[k].complete).join(","));
      root.setAttribute("data-live", suspended ? "" : handles.map((h) => h.name).join(","));
    };
    const playing = (name, on) => {
      const m = sliderModels[name];
      if (on && suspended) return;
      if (!m) return;
      if (m.__lessonSync === undefined) m.__lessonSync = m.attributes.continuous_update;
      m.attributes.continuous_update = on ? false : m.__lessonSync;
    };

    const suspend = () => {
      suspended = true;
      for (const name of Object.keys(films)) playing(name, false);
      mark();
      clearTimeout(suspendTimer);
      suspendTimer = setTimeout(unsuspend, SUSPEND_MS);
    };
    const unsuspend = () => {
      clearTimeout(suspendTimer);
      if (!suspended) return;
      suspended = false;
      for (const [name, f] of Object.entries(films)) if (f.complete && f.gen === gen) playing(name, true);
      mark();
    };
    const fit = () => {
      if (!host) return;
      overlay.style.width = host.style.width || `${host.clientWidth}px`;
      overlay.style.height = host.style.height || `${host.clientHeight}px`;
    };
    const hide = () => { overlay.style.display = "none"; awaiting = false; clearTimeout(hideTimer); };
    let owed = false;  // the next message of films, held back while a hand drags (its arrival costs the page time)
    let pressed = false;
    const ask = (kind) => { if (closed) return; if (kind === "more" && (drag || pressed)) { owed = true; return; } model.send({ kind }); };
    const resume = () => { if (owed && !drag && !pressed) { owed = false; ask("more"); } };
    const askSoon = () => { clearTimeout(wantTimer); wantTimer = setTimeout(() => ask("want"), 300); };

    const text = (cls, html) => {
      const box = root.querySelector(`.${cls} .widget-html-content`);
      if (!box || html === undefined) return;
      // the browser re-serialises what it is given: compare with what this code set last, if the kernel has not since
      const shown = box.innerHTML;
      if (box.__lessonSet === html && box.__lessonShown === shown) return;
      if (shown === html) return;
      box.innerHTML = html;
      box.__lessonSet = html;
      box.__lessonShown = box.innerHTML;
    };
    // A frame's images (text drawn in the figure, heatmaps) stay PNGs until a frame needs them, and are known by their
    // bytes: 01's labels are the same image in nearly every frame of a knot's film, decoded once. Decoded images are
    // kept up to IMAGE_PIXELS, the least recently used closed first; images no film holds are dropped (prune).
    const IMAGE_PIXELS = 16e6;
    const images = new Map();  // key -> {blob, bitmap, decoding}, least recently used first
    let imagePixels = 0;
    const keyOf = (bytes) => {
      let h = 2166136261;
      for (let i = 0; i < bytes.length; i++) { h ^= bytes[i]; h = Math.imul(h, 16777619); }
      return `${bytes.length}:${h >>> 0}`;
    };
    const imageKey = (view) => {
      const bytes = copy(view, Uint8Array), key = keyOf(bytes);
      if (!images.has(key)) images.set(key, { blob: new Blob([bytes], { type: "image/png" }), bitmap: null, decoding: null });
      return key;
    };
    const touch = (key) => { const e = images.get(key); images.delete(key); images.set(key, e); return e; };
    const release = (e) => { if (e.bitmap) { imagePixels -= e.bitmap.width * e.bitmap.height; e.bitmap.close(); } e.bitmap = null; e.decoding = null; };
    const readyImages = (keys) => {  // the decoded images, or null while one is not
      if (!keys.every((k) => images.has(k) && images.get(k).bitmap)) return null;
      return keys.map((k) => touch(k).bitmap);
    };
    const decodeImages = (keys) => Promise.all(keys.map((k) => {
      const e = images.get(k);
      if (!e) return Promise.reject(new Error("image dropped"));
      if (e.bitmap) return e.bitmap;
      if (!e.decoding) {
        e.decoding = createImageBitmap(e.blob).then((b) => {
          if (images.get(k) !== e) { b.close(); return b; }
          e.bitmap = b;
          imagePixels += b.width * b.height;
          touch(k);
          for (const [key, old] of images) {
            if (imagePixels <= IMAGE_PIXELS) break;
            if (key !== k && old.bitmap) release(old);
          }
          return b;
        });
      }
      return e.decoding;
    }));
    const prune = () => {  // drop the images no film in the page holds
      const used = new Set();
      for (const f of Object.values(films)) for (const fr of f.frames) for (const k of fr.keys || []) used.add(k);
      for (const [k, e] of images) if (!used.has(k)) { release(e); images.delete(k); }
    };
    const predecode = (name) => {  // a drag begins: decode its film's images ahead of the hand
      const f = films[name];
      if (f) decodeImages([...new Set(f.frames.flatMap((fr) => fr.keys || []))]).catch(() => {});
    };
    let good = null;  // the value of the last frame shown that the maths accepted
    let refused = false;  // the last frame shown was of a setting the maths refuses
    let wanted = null;  // the frame last asked for: a frame whose images are still decoding paints only if still wanted
    const draw = (frame, bitmaps, background = backgrounds.get(frame.bg)) => {
      replay(overlay, frame, background, bitmaps);
      overlay.style.display = "block";
      overlay.dataset.frames = String(Number(overlay.dataset.frames || 0) + 1);  // tests read how many it painted
    };
    const show = () => {
      const v = pending;
      pending = null;
      const f = drag && films[drag];
      if (v === null || !f || !f.complete) return;
      const frame = nearest(f.frames, v);
      text("lesson-readout", frame.readout);
      text("lesson-message", frame.message);
      refused = !!frame.hold;
      if (refused && !overlay.dataset.heldAt) overlay.dataset.heldAt = String(performance.now());  // tests: when a drag was first refused
      if (frame.hold) return;  // a setting the maths refuses: the last picture stays, with the message
      good = frame.v;
      wanted = frame;
      const bitmaps = readyImages(frame.keys);
      if (bitmaps) { draw(frame, bitmaps); return; }
      decodeImages(frame.keys).then((decoded) => {
        if (wanted === frame && overlay.isConnected && (drag || awaiting)) draw(frame, decoded);
      }).catch(() => {});
    };

    const hook = (slider) => {  // slider: the element of an ipywidgets slider with class lesson-film-<name>
      const name = [...slider.classList].find((c) => c.startsWith("lesson-film-")).slice("lesson-film-".length);
      const target = slider.querySelector(".noUi-target");
      const ui = target && target.noUiSlider;
      if (!ui || ui.__lessonFilm) return;
      ui.__lessonFilm = true;
      const usable = () => { const f = films[name]; return !suspended && f && f.complete && f.gen === gen; };
      ui.on("start", () => { if (usable()) { clearTimeout(hideTimer); awaiting = false; drag = name; overlay.dataset.heldAt = ""; predecode(name); } });
      ui.on("slide", (values, handle, unencoded) => {
        if (!usable()) return;
        if (drag !== name) { clearTimeout(hideTimer); awaiting = false; drag = name; overlay.dataset.heldAt = ""; predecode(name); }  // a key press slides without a start
        const first = pending === null;
        pending = Number(unencoded[0]);
        if (first) requestAnimationFrame(show);
      });
      ui.on("set", () => {  // the release (or a key press): the value goes to the kernel, which draws it
        if (drag !== name) return;
        if (pending !== null) show();  // the last position, at once
        drag = null;
        setTimeout(resume, 300);
        awaiting = true;  // the kernel's picture of it replaces the film's once the figure paints it
        clearTimeout(hideTimer);
        hideTimer = setTimeout(hide, 2000);
      });
    };
    // drags on the figure (01's knots): the page picks up the knot, plays its film, and tells the kernel the release
    let figureDrag = null;
    const figurePixel = (e) => {
      const b = host.getBoundingClientRect();
      return [(e.clientX - b.left) * host.width / b.width, host.height - (e.clientY - b.top) * host.height / b.height];
    };
    const valueAt = (e) => {
      const d = films[figureDrag].drag, [x, y] = figurePixel(e);
      return d.a + d.b * (d.axis === "y" ? y : x);
    };
    const onMove = (e) => {
      if (!figureDrag) return;
      e.stopPropagation();  // on the window: ipympl sends the kernel nothing while the film plays, and the page's other
      // handlers of mouse moves (JupyterLab's) have nothing to do either
      const first = pending === null;
      pending = valueAt(e);
      if (first) requestAnimationFrame(show);
    };
    const onUp = (e) => {
      window.removeEventListener("mousemove", onMove, true);
      document.removeEventListener("mouseup", onUp, true);
      if (!figureDrag || !films[figureDrag]) { figureDrag = null; drag = null; return; }
      e.stopPropagation();
      const name = figureDrag, value = valueAt(e);
      pending = value;
      show();
      figureDrag = null;
      drag = null;
      awaiting = true;  // the kernel's picture of the release replaces the film's
      clearTimeout(hideTimer);
      hideTimer = setTimeout(hide, 2000);
      // let go where the drag is refused: the kernel keeps the knot at its last good place (and says why)
      model.send({ kind: "release", name, value, good: refused ? good : null });
      setTimeout(resume, 300);
    };
    const onDown = (e) => {
      if (e.button !== 0 || !host) return;
      const [x, y] = figurePixel(e);
      let best = null, bestD = Infinity;
      for (const [name, f] of Object.entries(films)) {
        if (!f.drag || !f.complete || f.gen !== gen) continue;
        const d = Math.hypot(x - f.drag.x, y - f.drag.y);
        if (d <= f.drag.r && d < bestD) { best = name; bestD = d; }
      }
      if (best === null && !suspended) {  // a live drag's handle (02's tips)
        let spec = null, specD = Infinity;
        for (const h of handles) {
          const d = Math.hypot(x - h.x, y - h.y);
          if (d <= h.r && d < specD) { spec = h; specD = d; }
        }
        if (spec) { startLive(e, spec); return; }
      }
      if (best === null || suspended) { suspend(); return; }  // not a filmed handle: ipympl sends the press to the kernel
      e.stopPropagation();
      e.preventDefault();
      figureDrag = drag = best;
      overlay.dataset.heldAt = "";
      good = null;
      refused = false;
      predecode(best);
      clearTimeout(hideTimer);
      awaiting = false;
      window.addEventListener("mousemove", onMove, true);
      document.addEventListener("mouseup", onUp, true);
    };

    // live drags (02's vector tips: two dimensions, no film): the page draws each frame itself when it holds the
    // widget's drawing (page_drawing; 02's tip: 26-32 frames a second on 2 cores, every position the drag passes), and
    // asks the kernel for the texts of the latest position; else it asks the kernel for each frame, at most LIVE_AHEAD
    // at a time and always for the latest position, and paints them as film frames (16-17 frames a second)
    const LIVE_AHEAD = 1;
    const TEXT_MS = 100;
    let handles = [];  // [{name, x, y, r, a, b, step, lo, hi}] from the kernel (LessonWidget.live_drags)
    const liveBackgrounds = new Map();  // background id -> ImageBitmap (the kernel sends one only when the page lacks it)
    let live = null;  // {name, spec, want, sent, inflight, painted, up}
    let liveSeq = 0;
    const liveValue = (e) => {
      const s = live.spec, [x, y] = figurePixel(e);
      const snap = (v) => Math.min(s.hi, Math.max(s.lo, Math.round(Math.round(v / s.step) * s.step * 100) / 100));
      return [snap(s.a[0] + s.b[0] * x), snap(s.a[1] + s.b[1] * y)];
    };
    const same = (p, q) => p !== null && q !== null && p[0] === q[0] && p[1] === q[1];
    const request = (v) => {  // ask the kernel for the frame of position v (its texts alone when the page draws it)
      live.sent = v;
      live.asked = performance.now();
      live.inflight += 1;
      model.send({ kind: "live", name: live.name, value: v, seq: ++liveSeq, have: [...liveBackgrounds.keys()], text: live.local });
    };
    // the page's own drawing of the live drags (LessonWidget.page_drawing): the model, with its background and images
    let page = null, pageAssets = null;  // pageAssets: {id, background, images}, decoded
    const pageReady = () => page !== null && pageAssets !== null && pageAssets.id === page.id && !!PAGE_DRAWINGS[page.kind];
    const onPage = (msg, buffers) => {
      page = msg || null;
      if (!page) return;
      page.canvas = null;
      if (!page.buffers) {
        if (!pageAssets || pageAssets.id !== page.id) model.send({ kind: "want" });  // a model whose background this page lacks
        return;
      }
      const id = page.id;
      Promise.all(page.buffers.map((b) => bitmap(buffers[b]))).then(([background, ...images]) => {
        if (page && page.id === id) pageAssets = { id, background, images };
      }).catch((err) => { console.error("lesson page drawing:", err); });
    };
    const paintLocal = () => {  // the frame of the hand's latest position, drawn here
      live.frame = 0;
      const v = live.local && live.next;
      if (!v || !pageReady()) return;
      live.next = null;
      const { frame, bitmaps } = PAGE_DRAWINGS[page.kind](page, pageAssets.images, live.name, v);
      draw(frame, bitmaps, pageAssets.background);
      overlay.dataset.pageFrames = String(Number(overlay.dataset.pageFrames || 0) + 1);  // of them, drawn by the page
    };
    const drawSoon = (v) => {
      live.next = v;
      if (!live.frame) live.frame = requestAnimationFrame(paintLocal);
    };
    const pump = () => {
      if (!live || live.want === null || live.inflight >= LIVE_AHEAD) return;
      if (live.local) {  // texts alone: asked at most every TEXT_MS (each answer costs the page a JupyterLab round trip)
        const wait = live.asked + TEXT_MS - performance.now();
        if (wait > 0) { if (!live.timer) live.timer = setTimeout(() => { live.timer = 0; pump(); }, wait); return; }
      }
      const v = live.want;
      live.want = null;
      request(v);
    };
    const onLiveMove = (e) => {
      if (!live || live.up) return;
      e.stopPropagation();  // ipympl sends the kernel nothing while the page draws the drag
      const v = liveValue(e);
      if (live.local && !same(v, live.drawn)) { live.drawn = v; drawSoon(v); }
      if (same(v, live.want) || (live.want === null && same(v, live.sent))) return;
      live.want = v;
      pump();
    };
    const onLiveUp = (e) => {
      window.removeEventListener("mousemove", onLiveMove, true);
      document.removeEventListener("mouseup", onLiveUp, true);
      if (!live) return;
      e.stopPropagation();
      const v = liveValue(e);
      live.want = null;
      clearTimeout(live.timer);
      if (live.local) {  // the last position, drawn at once
        cancelAnimationFrame(live.frame);
        live.next = v;
        paintLocal();
      }
      if (!same(v, live.sent)) request(v);  // the last position's frame is asked at once; those before it no longer paint
      live.last = liveSeq;
      live.up = true;
      awaiting = true;  // the kernel's picture of the release replaces the layer's
      clearTimeout(hideTimer);
      hideTimer = setTimeout(hide, 2000);
      model.send({ kind: "release", name: live.name, value: v });
      suspend();  // the release changes sliders: their films hold again only after the kernel's answer
      setTimeout(resume, 300);
    };
    const startLive = (e, spec) => {
      e.stopPropagation();
      e.preventDefault();
      live = { name: spec.name, spec, want: null, sent: null, inflight: 0, first: liveSeq + 1, painted: -1, up: false,
               local: pageReady(), drawn: null, next: null, frame: 0, asked: -Infinity, timer: 0 };
      clearTimeout(hideTimer);
      awaiting = false;
      window.addEventListener("mousemove", onLiveMove, true);
      document.addEventListener("mouseup", onLiveUp, true);
    };
    const onLiveFrame = (msg, buffers) => {
      const mine = live !== null && msg.seq >= live.first;  // an answer to this drag, not to one before it
      if (mine) { live.inflight = Math.max(0, live.inflight - 1); pump(); }
      const fr = msg.frame;
      Promise.all(msg.backgrounds.map((b) => bitmap(buffers[b.b]).then((img) => {
        liveBackgrounds.set(b.id, img);
        for (const id of liveBackgrounds.keys()) if (liveBackgrounds.size > 2 && id !== b.id) liveBackgrounds.delete(id);
      }))).then(() => {
        if (fr.hold || !fr.ops) return [];
        return decodeImages(buffers.slice(fr.images, fr.images + fr.ops.filter((op) => op.t === "i").length).map(imageKey));
      }).then((bitmaps) => {
        // paint only the newest frame, while the hand drags or until the kernel's own picture of the release comes
        if (!mine || msg.seq < live.first || msg.seq <= live.painted || !overlay.isConnected) return;
        if (live.up && (!awaiting || msg.seq < live.last)) return;  // after the release: the last position's frame alone
        live.painted = msg.seq;
        text("lesson-readout", fr.readout);
        text("lesson-message", fr.message);
        if (fr.hold || !fr.ops) return;  // texts alone: the page draws the picture
        fr.codes = copy(buffers[fr.codes], Uint8Array);
        fr.verts = copy(buffers[fr.verts], Float32Array);
        draw(fr, bitmaps, liveBackgrounds.get(fr.bg));
      }).catch((err) => { console.error("lesson live drag:", err); });
    };

    const hookAll = () => { if (root) root.querySelectorAll("[class*='lesson-film-']").forEach(hook); };

    const attach = () => {
      root = el.closest(".lesson-widget");
      const div = root && root.querySelector(".jupyter-matplotlib-canvas-div");
      const canvases = div ? div.querySelectorAll(":scope > canvas:not(.lesson-live-layer)") : [];
      if (!canvases.length) {
        if (++tries < 600) requestAnimationFrame(attach);  // the figure's view may render after this one
        return;
      }
      host = canvases[0];
      div.addEventListener("mousedown", onDown, true);
      host.after(overlay);  // above the picture, below ipympl's top canvas, which takes the mouse
      fit();
      const sizer = new ResizeObserver(fit);
      sizer.observe(host);
      const attrs = new MutationObserver(fit);
      attrs.observe(host, { attributes: true, attributeFilter: ["style", "width", "height"] });
      // the kernel's picture after a release: once the figure paints it, the film's canvas steps aside
      const hctx = host.getContext("2d");
      hctx.drawImage = function (...args) {
        const out = CanvasRenderingContext2D.prototype.drawImage.apply(this, args);
        if (awaiting) hide();
        return out;
      };
      for (const kind of ["pointerdown", "mousedown", "keydown", "focusin"]) root.addEventListener(kind, hookAll, true);
      root.addEventListener("pointerdown", (e) => {
        pressed = true;
        const slider = e.target.closest && e.target.closest(".widget-slider");
        if (slider && !slider.matches("[class*='lesson-film-']")) suspend();  // a slider the kernel draws
      }, true);
      root.addEventListener("click", (e) => { if (e.target.closest && e.target.closest("button")) suspend(); }, true);
      root.addEventListener("change", suspend, true);  // a menu, a text box
      root.addEventListener("keydown", (e) => {
        const slider = e.target.closest && e.target.closest(".widget-slider");
        if (!slider || !slider.matches("[class*='lesson-film-']")) suspend();
      }, true);
      document.addEventListener("pointerup", () => { pressed = false; setTimeout(resume, 300); }, true);
      // the film of the knot under the pointer is made first (the kernel knows where the knots are)
      let hoverAt = null, hoverTime = 0;
      if (model.get("hover")) div.addEventListener("mousemove", (e) => {
        if (drag || (live && !live.up) || pressed || e.timeStamp - hoverTime < 250) return;
        const at = figurePixel(e);
        if (hoverAt && Math.hypot(at[0] - hoverAt[0], at[1] - hoverAt[1]) < 10) return;
        hoverAt = at;
        hoverTime = e.timeStamp;
        model.send({ kind: "want", at });
      });
      let hovered = null;  // the film of the slider under the pointer is made first
      root.addEventListener("pointerover", (e) => {
        const slider = e.target.closest && e.target.closest("[class*='lesson-film-']");
        const name = slider && [...slider.classList].find((c) => c.startsWith("lesson-film-")).slice("lesson-film-".length);
        if (name && name !== hovered && !(films[name] && films[name].complete)) model.send({ kind: "want", name });
        hovered = name;
      }, true);
      hookAll();
      const seen = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) askSoon(); });
      seen.observe(root);
      observers.push(sizer, attrs, seen);
    };
    requestAnimationFrame(attach);

    model.on("msg:custom", (msg, buffers) => {
      if (msg.kind === "handles") { handles = msg.drags || []; onPage(msg.page, buffers); mark(); return; }
      if (msg.kind === "live") { onLiveFrame(msg, buffers); return; }
      if (msg.kind === "drop") {  // other controls changed: only the film of the slider that moved still holds
        gen = msg.gen;
        for (const name of Object.keys(films)) {
          if (name === msg.keep) films[name].gen = gen;
          else { delete films[name]; playing(name, false); }
        }
        mark();
        const used = new Set(Object.values(films).flatMap((f) => f.frames.map((fr) => fr.bg)));
        for (const id of [...backgrounds.keys()]) if (!used.has(id)) backgrounds.delete(id);
        prune();
        askSoon();
        unsuspend();
        return;
      }
      if (msg.kind !== "film" || msg.gen < gen) return;
      gen = msg.gen;
      if (msg.abandon) { delete films[msg.name]; ask("more"); return; }  // the kernel draws this slider itself
      const decoded = Promise.all([
        Promise.all(msg.backgrounds.map((b) => bitmap(buffers[b.b]).then((img) => backgrounds.set(b.id, img)))),
        Promise.all(msg.frames.map((fr) => {
          if (fr.hold) return fr;
          fr.codes = copy(buffers[fr.codes], Uint8Array);
          fr.verts = copy(buffers[fr.verts], Float32Array);
          fr.keys = buffers.slice(fr.images, fr.images + fr.ops.filter((op) => op.t === "i").length).map(imageKey);
          return fr;
        })),
      ]);
      chain = chain.then(() => decoded).then(([, frames]) => {
        if (msg.gen !== gen) return;  // dropped while decoding
        const f = films[msg.name] && films[msg.name].gen === gen ? films[msg.name] : (films[msg.name] = { gen, frames: [], complete: false });
        if (msg.drag) f.drag = msg.drag;
        f.frames.push(...frames);
        if (msg.last) {
          f.frames.sort((a, b) => a.v - b.v);
          f.complete = true;
          playing(msg.name, true);
          mark();
        }
        ask("more");
      }).catch((e) => { console.error("lesson film:", e); });
    });
    return () => { closed = true; observers.forEach((o) => o.disconnect()); overlay.remove(); };
  },
};
