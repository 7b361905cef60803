// Inlined into every page's <head> by speed.py. The page's text is painted first;
// the theme's script (Material's bundle) and the site's own scripts run after the
// first paint. On a phone this takes their work off the path to the first screen of
// text (Lighthouse mobile); the reader sees the same page a moment sooner.
//
//   selfattnAfterPaint(fn)          run fn once the page has painted
//   selfattnAfterPaint.load(urls)   then load these scripts, in order
//
// When all of it has run, <html> gets data-after-paint="done" (the browser tests
// wait for it). Material's bundle starts on DOMContentLoaded: when it arrives after
// that event, the event is sent again for it (the site's other listener, the
// katex-init.js fallback, uses Material's document$ once the bundle is there).
(function () {
  "use strict";
  var root = document.documentElement;
  // Scripts run here, so the page is styled for them from its first paint (Material's
  // bundle makes the same swap when it starts; made here, it restyles nothing then).
  root.classList.remove("no-js");
  root.classList.add("js");
  // The marks Material's focus-visible polyfill puts on <html> when it starts. No
  // stylesheet reads them, yet made then, the change restyled every element
  // (Chromium's trace); made here, before the first styling, it costs nothing.
  root.classList.add("js-focus-visible");
  root.setAttribute("data-js-focus-visible", "");
  var waiting = [];
  var painted = false;
  // Things still to come: the rest of the page (until DOMContentLoaded), then the
  // scripts asked for. Sent again below for Material, the event counts once here.
  var loading = 1;
  document.addEventListener("DOMContentLoaded", function () {
    loading -= 1;
    settle();
  }, { once: true });

  function call(fn) {
    try {
      fn();
    } catch (error) {
      setTimeout(function () { throw error; }, 0);  // reported, and the rest still runs
    }
  }

  function settle() {
    if (painted && loading === 0 && !root.hasAttribute("data-after-paint")) {
      root.setAttribute("data-after-paint", "done");
    }
  }

  function flush() {
    if (painted) return;
    painted = true;
    while (waiting.length) call(waiting.shift());
    settle();
  }

  function afterPaint(fn) {
    if (painted) setTimeout(function () { call(fn); }, 0);
    else waiting.push(fn);
  }

  afterPaint.load = function (urls) {
    var queue = urls.slice();
    loading += 1;
    afterPaint(function next() {
      var url = queue.shift();
      if (url === undefined) {
        // A task of its own: the scripts ran in theirs; Material starts in this one.
        setTimeout(function () {
          if (document.readyState !== "loading") {
            document.dispatchEvent(new Event("DOMContentLoaded"));
          }
          loading -= 1;
          settle();
        }, 0);
        return;
      }
      var script = document.createElement("script");
      script.src = url;
      script.onload = script.onerror = next;
      document.body.appendChild(script);
    });
  };

  // A reader switching palettes: nothing transitions while the colours change (the
  // rule is in extra.css). Material applies the scheme on the radio's change event;
  // this listener, capturing, comes first, and lets go a frame later, as Material's
  // own attribute did.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || !target.closest("[data-md-component=palette]")) {
      return;
    }
    document.body.setAttribute("data-selfattn-switching", "");
    requestAnimationFrame(function () {
      document.body.removeAttribute("data-selfattn-switching");
    });
  }, true);

  window.selfattnAfterPaint = afterPaint;
  var types = (window.PerformanceObserver && PerformanceObserver.supportedEntryTypes) || [];
  if (types.indexOf("paint") >= 0) {
    new PerformanceObserver(function (list, observer) {
      observer.disconnect();
      setTimeout(flush, 0);
    }).observe({ type: "paint", buffered: true });
  } else {
    requestAnimationFrame(function () { setTimeout(flush, 0); });
  }
  setTimeout(flush, 10000);  // a browser that never reports a paint still gets the scripts
})();
