// Material 9.8's search dialog has no accessible name (axe: aria-dialog-name).
// It lives in the header, which instant navigation keeps, so naming it once is enough.
document.querySelectorAll(".md-search").forEach((dialog) => {
  if (!dialog.getAttribute("aria-label")) dialog.setAttribute("aria-label", "Search");
});

// A table wider than the page scrolls inside Material's wrapper, which a keyboard
// cannot reach (axe: scrollable-region-focusable): make each wrapper that actually
// scrolls focusable and name it. Instant navigation swaps the content, so this runs
// on every page (Material's document$), not just the first.
function focusableScrollingTables() {
  document.querySelectorAll(".md-typeset__scrollwrap").forEach((wrap) => {
    if (wrap.scrollWidth > wrap.clientWidth && !wrap.hasAttribute("tabindex")) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", "Table (scrolls sideways)");
    }
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(focusableScrollingTables);
} else {
  focusableScrollingTables();
}
