// Material 9.8's search dialog has no accessible name (axe: aria-dialog-name).
// It lives in the header, which instant navigation keeps, so naming it once is enough.
document.querySelectorAll(".md-search").forEach((dialog) => {
  if (!dialog.getAttribute("aria-label")) dialog.setAttribute("aria-label", "Search");
});

// mkdocs-jupyter's code cells scroll sideways but cannot take keyboard focus
// (axe: scrollable-region-focusable); tabindex lets a keyboard user scroll them.
// document$ re-runs this after each instant navigation.
const focusNotebookCells = () => {
  document.querySelectorAll(".highlight-ipynb").forEach((cell) => {
    if (!cell.hasAttribute("tabindex")) cell.setAttribute("tabindex", "0");
  });
};
if (typeof document$ !== "undefined") document$.subscribe(focusNotebookCells);
else focusNotebookCells();
