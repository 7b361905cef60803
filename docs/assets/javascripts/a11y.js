// Accessibility fixes that CSS alone cannot make (axe-core findings on Material 9.8
// and mkdocs-jupyter pages).
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
}
if (typeof document$ !== "undefined") {
  document$.subscribe(selfattnA11y); // every page, instant navigation included
} else {
  selfattnA11y();
}
