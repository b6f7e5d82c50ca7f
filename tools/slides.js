/* Slides: reveal.js centres a slide from its height when the slide is shown. A widget that renders after
   that (the kernel still running the notebook, a figure whose first picture comes later) would leave the
   slide off-centre, running past the bottom of the screen. Whenever a slide's content changes size, lay
   the slides out again (reveal does so on a window resize). Served in place of jQuery, which the slides
   do not need. */
(() => {
  // Voila's reveal template runs the notebook in the page's head, before it defines the heartbeat that a long
  // cell calls: without this, each heartbeat is an error in the console
  window.voila_heartbeat = window.voila_heartbeat || (() => {});
  let queued = false;
  const relayout = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; window.dispatchEvent(new Event("resize")); });
  };
  const watched = new WeakSet();
  const observer = new ResizeObserver(relayout);
  const watch = () => {
    for (const s of document.querySelectorAll(".reveal .slides section")) {
      if (!watched.has(s)) { watched.add(s); observer.observe(s); }
    }
  };
  const start = () => {
    watch();
    const slides = document.querySelector(".reveal .slides");
    if (slides) new MutationObserver(watch).observe(slides, { childList: true });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
