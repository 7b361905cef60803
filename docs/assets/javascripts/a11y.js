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
  // Likewise a table wider than the page, inside Material's scrolling wrapper, and a
  // notebook output that scrolls sideways (it never wraps inside a number).
  focusIfScrolling(".md-typeset__scrollwrap", "Table (scrolls sideways)");
  focusIfScrolling(".jupyter-wrapper .jp-RenderedText pre", "Output (scrolls sideways)");
  focusIfScrolling(".md-typeset .katex-display", "Formula (scrolls sideways)");
  // Code never wraps: a block with a long line scrolls sideways, and the keyboard
  // must reach it on a touch screen too (Material adds tabindex only where the
  // device can hover).
  document.querySelectorAll(".md-typeset pre > code").forEach((code) => {
    if (code.scrollWidth > code.clientWidth && !code.hasAttribute("tabindex")) {
      code.setAttribute("tabindex", "0");
    }
  });
}
function focusIfScrolling(selector, label) {
  document.querySelectorAll(selector).forEach((el) => {
    if (el.scrollWidth > el.clientWidth && !el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
      el.setAttribute("role", "region");
      el.setAttribute("aria-label", label);
    }
  });
}
// A phone turned sideways, or a narrowed window, can make a table start to scroll.
window.addEventListener("resize", () => selfattnA11y());
if (typeof document$ !== "undefined") {
  document$.subscribe(selfattnA11y);
} else {
  selfattnA11y();
}
