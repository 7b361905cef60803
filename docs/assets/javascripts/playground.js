// The attention playground: the reader edits the toy embeddings and watches the
// scores, the weights and the context vectors of simplified self-attention respond.
//
// The page holds <div class="playground" data-tokens='[...]' data-embeddings='[[...]]'>;
// the build (docs/hooks/playground.py) writes those two attributes from selfattn's
// TOKENS and EMBEDDINGS, so nothing here knows the toy sentence. The math is
// selfattn.attention_weights / context_vectors with q = k = v = X:
//   omega_ij = scale * x_i . x_j, masked to -inf where j > i when causal,
//   alpha_ij = softmax_j(omega_ij) (stable: the row's maximum is subtracted first),
//   z_i = sum_j alpha_ij x_j.
// Test contract (tests/browser/test_playground.py): embedding inputs carry data-token
// and data-dim, weight cells data-row and data-col, context cells data-row and
// data-dim, controls data-control = query | scale | causal | reset; every number is
// plain decimal text. The scale and causal switches exist only on the pages that
// have taught them: data-switches="scale causal" (by default there are none).
// Tokens are labelled in the pages' notation, x^(1) to x^(n), counting from 1.
(function () {
  "use strict";
  if (window.selfattnPlayground) {
    // Instant navigation re-ran this script: set up the panels of the new page only.
    window.selfattnPlayground.setupAll();
    return;
  }
  var DIGITS = 3; // decimals shown for scores, weights, sums and context vectors
  var HASH_KEY = "attn=";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  // ------------------------------------------------------------------ the math

  function attention(x, scale, causal) {
    var n = x.length;
    var scores = [], weights = [], context = [];
    for (var i = 0; i < n; i++) {
      var row = [];
      for (var j = 0; j < n; j++) {
        if (causal && j > i) { row.push(-Infinity); continue; }
        var dot = 0;
        for (var d = 0; d < x[i].length; d++) dot += x[i][d] * x[j][d];
        row.push(dot * scale);
      }
      var max = Math.max.apply(null, row);
      var exps = row.map(function (s) { return s === -Infinity ? 0 : Math.exp(s - max); });
      var sum = exps.reduce(function (a, b) { return a + b; }, 0);
      var w = exps.map(function (e) { return e / sum; });
      var z = x[0].map(function (_, d) {
        return w.reduce(function (acc, wj, j) { return acc + wj * x[j][d]; }, 0);
      });
      scores.push(row); weights.push(w); context.push(z);
    }
    return { scores: scores, weights: weights, context: context };
  }

  var SUPERSCRIPT = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079";
  function tokenLabel(i) { // x^(i+1) as text: x⁽¹⁾
    var digits = String(i + 1).split("").map(function (c) { return SUPERSCRIPT[+c]; });
    return "x\u207d" + digits.join("") + "\u207e";
  }

  function fmt(value) {
    if (value === -Infinity) return "\u2212\u221e";
    var text = value.toFixed(DIGITS); // plain decimal text, ASCII minus
    return /^-0\.0*$/.test(text) ? text.slice(1) : text;
  }

  // Cell colour: from the page's background towards indigo as the weight grows;
  // the text is black or white, whichever contrasts more with that colour.
  function mix(a, b, t) {
    return a.map(function (v, k) { return Math.round(v + (b[k] - v) * t); });
  }
  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function cellColours(weight, dark) {
    var low = dark ? [30, 33, 41] : [255, 255, 255];
    var high = dark ? [140, 158, 255] : [48, 63, 159];
    var bg = mix(low, high, Math.sqrt(Math.max(0, Math.min(1, weight))));
    var l = luminance(bg);
    var fg = (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000000" : "#ffffff";
    return { bg: "rgb(" + bg.join(",") + ")", fg: fg };
  }

  // ------------------------------------------------------------------ the panel

  function Panel(root, uid) {
    this.root = root;
    this.uid = uid;
    this.tokens = JSON.parse(root.dataset.tokens);
    this.initial = JSON.parse(root.dataset.embeddings);
    var switches = (root.dataset.switches || "").split(/\s+/);
    this.hasScale = switches.indexOf("scale") >= 0;
    this.hasCausal = switches.indexOf("causal") >= 0;
    this.defaults = {
      query: Math.min(parseInt(root.dataset.query || "0", 10), this.tokens.length - 1),
      scale: this.hasScale && root.dataset.scale === "on",
      causal: this.hasCausal && root.dataset.causal === "on",
    };
    this.build();
    this.apply(this.fromHash() || this.defaultState());
    this.update(false);
  }

  Panel.prototype.defaultState = function () {
    return {
      x: this.initial.map(function (row) { return row.slice(); }),
      query: this.defaults.query, scale: this.defaults.scale, causal: this.defaults.causal,
    };
  };

  Panel.prototype.build = function () {
    var self = this, n = this.tokens.length, dims = this.initial[0].length;
    var id = "pg" + this.uid;
    this.root.textContent = "";
    this.root.setAttribute("role", "group");
    this.root.setAttribute("aria-labelledby", id + "-title");

    this.root.appendChild(el("p", { class: "playground__title", id: id + "-title",
      text: "Playground: change the embeddings and watch attention respond" }));

    // Controls: query token, the 1/sqrt(d_k) scale and the causal mask (on the pages
    // that have taught them), reset.
    var controls = el("div", { class: "playground__controls" });
    this.query = el("select", { "data-control": "query", id: id + "-query" });
    this.tokens.forEach(function (token, i) {
      self.query.appendChild(el("option", { value: String(i),
        text: tokenLabel(i) + " " + token }));
    });
    controls.appendChild(el("label", { for: id + "-query", text: "Query " }));
    controls.appendChild(this.query);
    this.scale = null; this.causal = null;
    if (this.hasScale) {
      this.scale = el("input", { type: "checkbox", "data-control": "scale", id: id + "-scale" });
      controls.appendChild(el("span", { class: "playground__toggle" }, [
        this.scale, el("label", { for: id + "-scale",
          text: "scale by 1/\u221ad\u2096 (d\u2096 = " + dims + ")" }),
      ]));
    }
    if (this.hasCausal) {
      this.causal = el("input", { type: "checkbox", "data-control": "causal", id: id + "-causal" });
      controls.appendChild(el("span", { class: "playground__toggle" }, [
        this.causal, el("label", { for: id + "-causal", text: "causal mask" }),
      ]));
    }
    this.reset = el("button", { type: "button", "data-control": "reset", class: "playground__reset",
      text: "Reset" });
    controls.appendChild(this.reset);
    this.root.appendChild(controls);

    // Embeddings: one row per token, one number input per dimension.
    var embed = el("table", { class: "playground__embeddings" });
    embed.appendChild(el("caption", { text: "Embeddings x\u207d\u2071\u207e (edit them)" }));
    var head = el("tr", {}, [el("th", { scope: "col", text: "token" })]);
    for (var d = 0; d < dims; d++) {
      head.appendChild(el("th", { scope: "col", text: "dim " + (d + 1) }));
    }
    embed.appendChild(el("thead", {}, [head]));
    var body = el("tbody");
    this.inputs = [];
    this.tokens.forEach(function (token, i) {
      var tr = el("tr", {}, [el("th", { scope: "row", text: tokenLabel(i) + " " + token })]);
      var row = [];
      for (var d = 0; d < dims; d++) {
        var input = el("input", {
          type: "number", step: "0.01", inputmode: "decimal",
          "data-token": String(i), "data-dim": String(d),
          "aria-label": tokenLabel(i) + " " + token + ", dimension " + (d + 1),
        });
        row.push(input);
        tr.appendChild(el("td", {}, [input]));
      }
      self.inputs.push(row);
      body.appendChild(tr);
    });
    embed.appendChild(body);

    // Scores of the chosen query.
    var scores = el("table", { class: "playground__scores" });
    this.scoreCaption = el("caption");
    scores.appendChild(this.scoreCaption);
    var sHead = el("tr"), sRow = el("tr");
    this.scoreCells = [];
    this.tokens.forEach(function (token, j) {
      sHead.appendChild(el("th", { scope: "col", text: tokenLabel(j), title: token }));
      var td = el("td", { "data-score-col": String(j) });
      self.scoreCells.push(td);
      sRow.appendChild(td);
    });
    scores.appendChild(el("thead", {}, [sHead]));
    scores.appendChild(el("tbody", {}, [sRow]));

    // Weights: the n x n heatmap, a number in every cell, the row sums at the end.
    var weights = el("table", { class: "playground__weights" });
    weights.appendChild(el("caption", {
      text: "Weights \u03b1\u1d62\u2c7c: row i is query x\u207d\u2071\u207e, column j is key x\u207d\u02b2\u207e" }));
    var wHead = el("tr", {}, [el("td")]);
    this.tokens.forEach(function (token, j) {
      wHead.appendChild(el("th", { scope: "col", text: tokenLabel(j), title: token }));
    });
    wHead.appendChild(el("th", { scope: "col", text: "sum" }));
    weights.appendChild(el("thead", {}, [wHead]));
    var wBody = el("tbody");
    this.weightCells = []; this.sumCells = []; this.weightRows = [];
    this.tokens.forEach(function (token, i) {
      var tr = el("tr", {}, [el("th", { scope: "row", text: tokenLabel(i), title: token })]);
      var cells = [];
      for (var j = 0; j < n; j++) {
        var td = el("td", { "data-row": String(i), "data-col": String(j) });
        cells.push(td);
        tr.appendChild(td);
      }
      var sum = el("td", { class: "playground__sum", "data-sum-row": String(i) });
      tr.appendChild(sum);
      self.weightCells.push(cells); self.sumCells.push(sum); self.weightRows.push(tr);
      wBody.appendChild(tr);
    });
    weights.appendChild(wBody);

    // Context vectors z_i = sum_j alpha_ij x_j.
    var context = el("table", { class: "playground__context" });
    context.appendChild(el("caption", { text: "Context vectors z\u207d\u2071\u207e" }));
    var cHead = el("tr", {}, [el("th", { scope: "col", text: "query" })]);
    for (var d2 = 0; d2 < dims; d2++) {
      cHead.appendChild(el("th", { scope: "col", text: "dim " + (d2 + 1) }));
    }
    context.appendChild(el("thead", {}, [cHead]));
    var cBody = el("tbody");
    this.contextCells = []; this.contextRows = [];
    this.tokens.forEach(function (token, i) {
      var tr = el("tr", {}, [el("th", { scope: "row", text: tokenLabel(i) + " " + token })]);
      var cells = [];
      for (var d = 0; d < dims; d++) {
        var td = el("td", { "data-row": String(i), "data-dim": String(d) });
        cells.push(td);
        tr.appendChild(td);
      }
      self.contextCells.push(cells); self.contextRows.push(tr);
      cBody.appendChild(tr);
    });
    context.appendChild(cBody);

    // Each table in a wrapper that scrolls sideways if a phone is too narrow for it;
    // a wrapper that scrolls is keyboard-focusable (set in update()).
    var grid = el("div", { class: "playground__grid" });
    [embed, scores, weights, context].forEach(function (table) {
      grid.appendChild(el("div", { class: "playground__scroll" }, [table]));
    });
    this.root.appendChild(grid);
    this.status = el("p", { class: "playground__note" });
    this.root.appendChild(this.status);

    this.inputs.forEach(function (row) {
      row.forEach(function (input) {
        input.addEventListener("input", function () { self.update(true); });
      });
    });
    this.query.addEventListener("change", function () { self.update(true); });
    [this.scale, this.causal].forEach(function (box) {
      if (box) box.addEventListener("change", function () { self.update(true); });
    });
    this.reset.addEventListener("click", function () {
      self.apply(self.defaultState());
      self.update(false);
      if (location.hash.indexOf("#" + HASH_KEY) === 0) {
        history.replaceState(history.state, "", location.pathname + location.search);
      }
    });
  };

  Panel.prototype.apply = function (state) {
    this.inputs.forEach(function (row, i) {
      row.forEach(function (input, d) { input.value = String(state.x[i][d]); });
    });
    this.query.value = String(state.query);
    if (this.scale) this.scale.checked = state.scale;
    if (this.causal) this.causal.checked = state.causal;
  };

  // The inputs as numbers; an empty or unparsable field counts as 0 (and is marked).
  Panel.prototype.read = function () {
    var bad = 0;
    var x = this.inputs.map(function (row) {
      return row.map(function (input) {
        var v = parseFloat(input.value);
        var ok = isFinite(v);
        if (ok) input.removeAttribute("aria-invalid");
        else input.setAttribute("aria-invalid", "true");
        if (!ok) bad += 1;
        return ok ? v : 0;
      });
    });
    return {
      x: x, bad: bad, query: parseInt(this.query.value, 10),
      scale: !!(this.scale && this.scale.checked), causal: !!(this.causal && this.causal.checked),
    };
  };

  Panel.prototype.update = function (share) {
    var state = this.read();
    var dims = state.x[0].length;
    var scale = state.scale ? 1 / Math.sqrt(dims) : 1;
    var result = attention(state.x, scale, state.causal);
    var dark = (document.body.getAttribute("data-md-color-scheme") || "") === "slate";
    var q = state.query, tokens = this.tokens;
    this.dark = dark;

    this.scoreCaption.textContent = "Scores \u03c9\u2c7c of the query " + tokenLabel(q) +
      " " + tokens[q] + (state.scale ? " (scaled by 1/\u221ad\u2096)" : "") +
      (state.causal ? " (future keys masked to \u2212\u221e)" : "");
    result.scores[q].forEach(function (s, j) {
      this.scoreCells[j].textContent = fmt(s);
    }, this);
    result.weights.forEach(function (row, i) {
      row.forEach(function (w, j) {
        var cell = this.weightCells[i][j];
        var colours = cellColours(w, dark);
        cell.textContent = fmt(w);
        cell.style.backgroundColor = colours.bg;
        cell.style.color = colours.fg;
        cell.classList.toggle("playground__masked", state.causal && j > i);
      }, this);
      this.sumCells[i].textContent = fmt(row.reduce(function (a, b) { return a + b; }, 0));
      this.weightRows[i].classList.toggle("playground__query", i === q);
      this.contextRows[i].classList.toggle("playground__query", i === q);
    }, this);
    result.context.forEach(function (z, i) {
      z.forEach(function (v, d) { this.contextCells[i][d].textContent = fmt(v); }, this);
    }, this);
    this.status.textContent = state.bad
      ? state.bad + " empty or invalid field(s) count as 0."
      : "Row " + tokenLabel(q) + " is highlighted: its weights are the softmax of the scores above.";
    this.markScrolling();
    if (share) this.toHash(state);
  };

  // A table that scrolls sideways is reachable by keyboard. Its size is read after
  // the next frame has laid the panel out: read at once, it would force a layout of
  // the page inside the update.
  Panel.prototype.markScrolling = function () {
    var root = this.root;
    function mark() {
      root.querySelectorAll(".playground__scroll").forEach(function (wrap) {
        var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
        if (scrolls) {
          wrap.setAttribute("tabindex", "0");
          wrap.setAttribute("role", "region");
          wrap.setAttribute("aria-label", "Table (scrolls sideways)");
        } else {
          wrap.removeAttribute("tabindex");
          wrap.removeAttribute("role");
          wrap.removeAttribute("aria-label");
        }
      });
    }
    requestAnimationFrame(function () { setTimeout(mark, 0); });
  };

  // The state as the address's hash: #attn=q2;s1;c0;x=0.43,0.15,...
  Panel.prototype.toHash = function (state) {
    var x = [].concat.apply([], state.x).map(function (v) { return String(v); });
    var hash = "#" + HASH_KEY + "q" + state.query + ";s" + (state.scale ? 1 : 0) +
      ";c" + (state.causal ? 1 : 0) + ";x=" + x.join(",");
    history.replaceState(history.state, "", location.pathname + location.search + hash);
  };

  Panel.prototype.fromHash = function () {
    var hash = decodeURIComponent(location.hash || "");
    if (hash.indexOf("#" + HASH_KEY) !== 0) return null;
    var m = /^q(\d+);s([01]);c([01]);x=(.*)$/.exec(hash.slice(HASH_KEY.length + 1));
    var n = this.tokens.length, dims = this.initial[0].length;
    if (!m) return null;
    var values = m[4].split(",").map(Number);
    var query = parseInt(m[1], 10);
    if (values.length !== n * dims || !values.every(isFinite) || query >= n) return null;
    var x = [];
    for (var i = 0; i < n; i++) x.push(values.slice(i * dims, (i + 1) * dims));
    return { x: x, query: query, scale: this.hasScale && m[2] === "1",
      causal: this.hasCausal && m[3] === "1" };
  };

  var panels = [];
  var counter = 0;

  function setupAll() {
    panels = panels.filter(function (p) { return p.root.isConnected; });
    document.querySelectorAll(".playground[data-embeddings]").forEach(function (root) {
      if (root.dataset.ready) return;
      root.dataset.ready = "1";
      panels.push(new Panel(root, ++counter));
    });
  }

  // The heatmap's colours follow the palette toggle.
  new MutationObserver(function () {
    panels.forEach(function (p) {
      var dark = document.body.getAttribute("data-md-color-scheme") === "slate";
      if (p.root.isConnected && p.dark !== dark) p.update(false);
    });
  }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });

  window.selfattnPlayground = { setupAll: setupAll, attention: attention };
  // Reached by instant navigation, Material's document$ runs setupAll; on a page
  // opened directly, the panel is built after the page's first paint (speed.py).
  if (typeof document$ !== "undefined") document$.subscribe(setupAll);
  else if (window.selfattnAfterPaint) window.selfattnAfterPaint(setupAll);
  else setupAll();
})();
