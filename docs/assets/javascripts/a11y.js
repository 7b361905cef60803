// Material 9.8's search dialog has no accessible name (axe: aria-dialog-name).
// It lives in the header, which instant navigation keeps, so naming it once is enough.
document.querySelectorAll(".md-search").forEach((dialog) => {
  if (!dialog.getAttribute("aria-label")) dialog.setAttribute("aria-label", "Search");
});
