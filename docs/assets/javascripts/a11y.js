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
  // Likewise a table wider than the page, inside Material's scrolling wrapper.
  document.querySelectorAll(".md-typeset__scrollwrap").forEach((wrap) => {
    if (wrap.scrollWidth > wrap.clientWidth && !wrap.hasAttribute("tabindex")) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", "Table (scrolls sideways)");
    }
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(selfattnA11y);
} else {
  selfattnA11y();
}
