// Accessibility fixes that CSS alone cannot make (axe-core findings on Material 9.8
// and mkdocs-jupyter pages). Runs on each page Material shows (its document$).
function selfattnA11y() {
  // Material's search dialog has no accessible name (aria-dialog-name).
  document.querySelectorAll(".md-search").forEach((dialog) => {
    if (!dialog.getAttribute("aria-label")) dialog.setAttribute("aria-label", "Search");
  });
  // A notebook code cell that scrolls sideways must be reachable by keyboard
  // (scrollable-region-focusable).
  document.querySelectorAll(".jupyter-wrapper .highlight-ipynb").forEach((cell) => {
    if (!cell.hasAttribute("tabindex")) cell.setAttribute("tabindex", "0");
  });
  selfattnA11y.scrollers(document);
}

// Likewise a table wider than the page, inside Material's scrolling wrapper, a
// notebook output that scrolls sideways (it never wraps inside a number), a wide
// formula, and a code block (code never wraps: a long line scrolls; Material sets a
// block up, tabindex included, only when it first shows: speed.py, content.lazy).
selfattnA11y.SCROLLERS = [
  [".md-typeset__scrollwrap", "Table (scrolls sideways)"],
  [".jupyter-wrapper .jp-RenderedText pre", "Output (scrolls sideways)"],
  [".jupyter-wrapper .highlight-ipynb pre", "Code (scrolls sideways)"],
  [".md-typeset .katex-display", "Formula (scrolls sideways)"],
  [".md-typeset pre > code", null],
];

// Whether each one under `root` scrolls is read only where it is drawn: a block a
// phone skips at first (extra.css) and the inside of a closed fold are measured
// when they are drawn (below). Read earlier, each size would
// lay out its hidden block at once. The sizes are read in slices of a few
// milliseconds, one slice per task, all before any attribute is written (a write in
// between would make the next read lay the page out again).
selfattnA11y.pending = 0;
selfattnA11y.scrollers = function (root, beingDrawn = false) {
  const drawn = (el) => beingDrawn
    || !el.checkVisibility || el.checkVisibility({ contentVisibilityAuto: true });
  const candidates = selfattnA11y.SCROLLERS.flatMap(([selector, label]) =>
    [...root.querySelectorAll(selector)]
      .filter((el) => !el.hasAttribute("tabindex") && drawn(el))
      .map((el) => [el, label]));
  const html = document.documentElement;
  selfattnA11y.pending += 1;
  html.setAttribute("data-a11y", "busy");
  let next = 0;
  const scrolling = [];
  const slice = () => {
    const start = performance.now();
    while (next < candidates.length && performance.now() - start < 8) {
      const [el, label] = candidates[next++];
      if (el.isConnected && el.scrollWidth > el.clientWidth) scrolling.push([el, label]);
    }
    if (next < candidates.length) {
      setTimeout(slice, 0);
      return;
    }
    scrolling.forEach(([el, label]) => {
      el.setAttribute("tabindex", "0");
      if (label) {
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", label);
      }
    });
    selfattnA11y.pending -= 1;
    if (selfattnA11y.pending === 0) html.setAttribute("data-a11y", "done");
  };
  setTimeout(slice, 0);
};

// A skipped block the browser draws (the reader scrolled near it) and a fold the
// reader opens: measured then. The two events do not bubble: they are caught on
// their way down.
document.addEventListener("contentvisibilityautostatechange", (event) => {
  if (!event.skipped && event.target instanceof Element) {
    selfattnA11y.scrollers(event.target, true);
  }
}, true);
document.addEventListener("toggle", (event) => {
  if (event.target instanceof HTMLDetailsElement && event.target.open) {
    selfattnA11y.scrollers(event.target, true);
  }
}, true);
// A phone turned sideways, or a narrowed window, can make a table start to scroll.
window.addEventListener("resize", () => selfattnA11y.scrollers(document));
if (typeof document$ !== "undefined") {
  document$.subscribe(selfattnA11y);
} else {
  selfattnA11y();
}
