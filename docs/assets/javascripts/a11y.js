// Accessibility fixes that CSS alone cannot make (axe-core findings on Material 9.8
// and mkdocs-jupyter pages). Instant navigation swaps the content, so this runs on
// every page (Material's document$), not just the first.
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
  // Likewise a table wider than the page, inside Material's scrolling wrapper, a
  // notebook output that scrolls sideways (it never wraps inside a number), a wide
  // formula, and a code block (code never wraps: a long line scrolls; Material adds
  // tabindex only where the device can hover).
  const candidates = [
    [".md-typeset__scrollwrap", "Table (scrolls sideways)"],
    [".jupyter-wrapper .jp-RenderedText pre", "Output (scrolls sideways)"],
    [".jupyter-wrapper .highlight-ipynb pre", "Code (scrolls sideways)"],
    [".md-typeset .katex-display", "Formula (scrolls sideways)"],
    [".md-typeset pre > code", null],
  ].flatMap(([selector, label]) =>
    [...document.querySelectorAll(selector)]
      .filter((el) => !el.hasAttribute("tabindex"))
      .map((el) => [el, label]));
  // Whether each one scrolls is read once the page is laid out (on a phone the
  // blocks far from the screen are laid out a few at a time while the browser is
  // idle: after_paint.js), then in slices of a few milliseconds, one slice per task.
  // Read earlier, each size would lay its block out at once, in one long task.
  const run = ++selfattnA11y.run;
  document.documentElement.setAttribute("data-a11y", "busy");
  // Every size is read before any attribute is written: a write in between would
  // make the next read lay the page out again.
  let next = 0;
  const scrolling = [];
  const slice = () => {
    if (run !== selfattnA11y.run) return;  // a newer page or size took over
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
    document.documentElement.setAttribute("data-a11y", "done");
  };
  selfattnAfterLayout(slice);
}

// fn in a task of its own once after_paint.js has laid the whole page out
// (data-laid-out on <html>); at once where that script is not on the page.
function selfattnAfterLayout(fn) {
  const root = document.documentElement;
  const ready = () => !window.selfattnAfterPaint || root.hasAttribute("data-laid-out");
  if (ready()) {
    setTimeout(fn, 0);
    return;
  }
  const observer = new MutationObserver(() => {
    if (!ready()) return;
    observer.disconnect();
    setTimeout(fn, 0);
  });
  observer.observe(root, { attributes: true, attributeFilter: ["data-laid-out"] });
}
selfattnA11y.run = 0;
// A phone turned sideways, or a narrowed window, can make a table start to scroll.
window.addEventListener("resize", () => selfattnA11y());
if (typeof document$ !== "undefined") {
  document$.subscribe(selfattnA11y);
} else {
  selfattnA11y();
}
