// Render every pymdownx.arithmatex element (generic mode) with the vendored KaTeX:
// the fallback for a site built without node, which renders the math at build time.
// Runs on each page Material shows, including pages reached by instant navigation.
(function () {
  function render(root) {
    root.querySelectorAll(".arithmatex").forEach(function (el) {
      // Rendered when the site was built (docs/hooks/speed.py), or already here.
      if (el.dataset.katexDone || el.querySelector(".katex")) return;
      var tex = el.textContent.trim();
      var display = tex.startsWith("\\[");
      // arithmatex wraps inline math in \( \) and block math in \[ \]
      tex = tex.replace(/^\\[([]/, "").replace(/\\[)\]]$/, "");
      katex.render(tex, el, { displayMode: display, throwOnError: true });
      el.dataset.katexDone = "1";
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(function () { render(document); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { render(document); });
  }
})();
