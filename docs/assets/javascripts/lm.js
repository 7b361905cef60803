/* The Part IV character model, run in the reader's browser.
 *
 * The weights come from the committed checkpoint (selfattn.lm.load_pretrained),
 * written at build time by docs/hooks/lm_demo.py as one little-endian float32
 * file plus a JSON manifest (config, vocabulary, tensor names, shapes, offsets).
 * Nothing else is fetched: no library, no other host.
 *
 * The forward pass is the one in selfattn/lm.py, step by step:
 *   x = embed[ids]                                   (n, d): the residual stream
 *   per block: x += out(attn(rope(q), rope(k), v))   with q|k|v = LN1(x) W_qkv^T
 *              x += down(gelu_tanh(up(LN2(x))))      (when the model has MLPs)
 *   logits = head(LN(x))                             (n, vocab)
 * A query at position p sees keys p - context + 1 .. p (causal, at most `context`).
 *
 * The contract a test drives, on window.selfattnLM once it has loaded:
 *   vocab            the list of characters, id i is vocab[i]
 *   encode(text)     -> array of ids; a character not in the vocabulary becomes the
 *                       replacement character (selfattn.corpus.REPLACEMENT), as
 *                       Vocab.encode(text, errors="replace") does in Python
 *   forward(ids)     -> {logits: n x vocab, attention: layer x head x n x n}
 *   generate(text, nNew) -> the nNew characters greedy decoding appends, with a
 *                       rolling KV cache of `context` tokens per layer
 * window.selfattnLMReady is a promise of it.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- the math

  /** y (n, out) = x (n, inp) W^T + b, with W stored (out, inp) as nn.Linear keeps it. */
  function linear(x, n, inp, W, b, out) {
    const y = new Float32Array(n * out);
    for (let t = 0; t < n; t++) {
      const xo = t * inp;
      const yo = t * out;
      for (let o = 0; o < out; o++) {
        const wo = o * inp;
        // Four running sums: independent additions the CPU can overlap.
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let i = 0;
        for (; i + 3 < inp; i += 4) {
          s0 += x[xo + i] * W[wo + i];
          s1 += x[xo + i + 1] * W[wo + i + 1];
          s2 += x[xo + i + 2] * W[wo + i + 2];
          s3 += x[xo + i + 3] * W[wo + i + 3];
        }
        for (; i < inp; i++) s0 += x[xo + i] * W[wo + i];
        y[yo + o] = (b ? b[o] : 0) + (s0 + s1 + (s2 + s3));
      }
    }
    return y;
  }

  /** LayerNorm over the last dimension (biased variance, eps as in the model). */
  function layerNorm(x, n, d, g, b, eps) {
    const y = new Float32Array(n * d);
    for (let t = 0; t < n; t++) {
      const o = t * d;
      let mean = 0;
      for (let i = 0; i < d; i++) mean += x[o + i];
      mean /= d;
      let v = 0;
      for (let i = 0; i < d; i++) {
        const c = x[o + i] - mean;
        v += c * c;
      }
      const inv = 1 / Math.sqrt(v / d + eps);
      for (let i = 0; i < d; i++) y[o + i] = (x[o + i] - mean) * inv * g[i] + b[i];
    }
    return y;
  }

  const GELU_C = Math.sqrt(2 / Math.PI);
  /** GELU, tanh form (PyTorch's approximate="tanh"), in place. */
  function geluTanh(x) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      x[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v)));
    }
    return x;
  }

  /** cos and sin of p * theta_c for one position, theta_c = base^(-2c/d_h). As
   * selfattn.positions.rope computes them in float32: the angle is rounded to
   * float32 before its cosine is taken. */
  function ropeAngles(p, thetas) {
    const half = thetas.length;
    const cos = new Float64Array(half);
    const sin = new Float64Array(half);
    for (let c = 0; c < half; c++) {
      const a = Math.fround(Math.fround(p) * thetas[c]);
      cos[c] = Math.cos(a);
      sin[c] = Math.sin(a);
    }
    return { cos, sin };
  }

  /** Rotate one head's vector in place, half layout: pairs (c, c + d_h/2). */
  function rotate(v, off, dh, ang) {
    const half = dh / 2;
    for (let c = 0; c < half; c++) {
      const a = v[off + c];
      const b = v[off + c + half];
      v[off + c] = a * ang.cos[c] - b * ang.sin[c];
      v[off + c + half] = a * ang.sin[c] + b * ang.cos[c];
    }
  }

  // ---------------------------------------------------------------- the model

  function Model(manifest, buffer) {
    const cfg = manifest.config;
    this.cfg = cfg;
    this.vocab = manifest.vocab;
    this.replacement = manifest.replacement;
    this.eps = manifest.eps;
    this.index = new Map(this.vocab.map((c, i) => [c, i]));
    this.w = {};
    for (const t of manifest.tensors) {
      this.w[t.name] = new Float32Array(buffer, t.offset, t.size);
    }
    const dh = cfg.d_model / cfg.n_heads;
    this.dh = dh;
    this.thetas = new Float64Array(dh / 2);
    for (let c = 0; c < dh / 2; c++) {
      this.thetas[c] = Math.fround(Math.pow(manifest.rope_base, (-2 * c) / dh));
    }
  }

  Model.prototype.encode = function (text) {
    const ids = [];
    const fallback = this.index.get(this.replacement);
    for (const ch of String(text)) {
      const id = this.index.get(ch);
      ids.push(id === undefined ? fallback : id);
    }
    return ids;
  };

  Model.prototype.decode = function (ids) {
    return ids.map((i) => this.vocab[i]).join("");
  };

  /** The residual stream of new tokens through one block, attending to the keys
   * in `kv` (this layer's cache: arrays of rotated keys and values, with their
   * positions) after appending the new ones. Returns the block's output and, when
   * `weights` is given (one flat n x n Float32Array per head), writes each head's
   * attention rows into it. */
  Model.prototype.block = function (l, x, n, positions, kv, weights) {
    const { d_model: d, n_heads: H, context, mlp } = this.cfg;
    const dh = this.dh;
    const w = this.w;
    const pre = `blocks.${l}.`;
    const h = layerNorm(x, n, d, w[pre + "norm1.weight"], w[pre + "norm1.bias"], this.eps);
    const qkv = linear(h, n, d, w[pre + "attn.qkv.weight"], null, 3 * d);
    // Rotate q and k of every head by the token's position (keys cached rotated).
    for (let t = 0; t < n; t++) {
      const ang = ropeAngles(positions[t], this.thetas);
      for (let hh = 0; hh < H; hh++) {
        rotate(qkv, t * 3 * d + hh * dh, dh, ang); // q
        rotate(qkv, t * 3 * d + d + hh * dh, dh, ang); // k
      }
      kv.k.push(qkv.slice(t * 3 * d + d, t * 3 * d + 2 * d));
      kv.v.push(qkv.slice(t * 3 * d + 2 * d, t * 3 * d + 3 * d));
      kv.pos.push(positions[t]);
    }
    // The cache holds consecutive positions, kv.pos[0], kv.pos[0] + 1, ...: the keys
    // a query at position p sees (p - context, p] are one run of cache slots.
    const scale = 1 / Math.sqrt(dh);
    const z = new Float32Array(n * d);
    const p0 = kv.pos[0];
    const scores = new Float64Array(context);
    for (let t = 0; t < n; t++) {
      const p = positions[t];
      const lo = Math.max(0, p - context + 1 - p0);
      const hi = p - p0; // inclusive
      for (let hh = 0; hh < H; hh++) {
        const qo = t * 3 * d + hh * dh;
        const ko = hh * dh;
        let max = -Infinity;
        for (let j = lo; j <= hi; j++) {
          const kj = kv.k[j];
          let s = 0;
          for (let c = 0; c < dh; c++) s += qkv[qo + c] * kj[ko + c];
          s *= scale;
          scores[j - lo] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j <= hi - lo; j++) {
          const e = Math.exp(scores[j] - max);
          scores[j] = e;
          sum += e;
        }
        const zo = t * d + hh * dh;
        const row = weights ? weights[hh] : null;
        const ro = t * n - kv.base;
        for (let j = lo; j <= hi; j++) {
          const a = scores[j - lo] / sum;
          const vj = kv.v[j];
          for (let c = 0; c < dh; c++) z[zo + c] += a * vj[ko + c];
          if (row) row[ro + kv.pos[j]] = a;
        }
      }
    }
    const a = linear(z, n, d, w[pre + "attn.out.weight"], w[pre + "attn.out.bias"], d);
    for (let i = 0; i < n * d; i++) x[i] += a[i];
    if (mlp) {
      const h2 = layerNorm(x, n, d, w[pre + "norm2.weight"], w[pre + "norm2.bias"], this.eps);
      const up = geluTanh(linear(h2, n, d, w[pre + "mlp.up.weight"], w[pre + "mlp.up.bias"], 4 * d));
      const down = linear(up, n, 4 * d, w[pre + "mlp.down.weight"], w[pre + "mlp.down.bias"], d);
      for (let i = 0; i < n * d; i++) x[i] += down[i];
    }
    while (kv.k.length > context) {
      kv.k.shift();
      kv.v.shift();
      kv.pos.shift();
    }
    return x;
  };

  Model.prototype.newCache = function () {
    const caches = [];
    for (let l = 0; l < this.cfg.n_layers; l++) caches.push({ k: [], v: [], pos: [], base: 0 });
    return caches;
  };

  /** Tokens `ids` at positions start.. through every block; logits (n, vocab). */
  Model.prototype.run = function (ids, start, caches, maps) {
    const { d_model: d, n_layers: L, vocab_size: V } = this.cfg;
    const n = ids.length;
    const emb = this.w["embed.weight"];
    let x = new Float32Array(n * d);
    for (let t = 0; t < n; t++) x.set(emb.subarray(ids[t] * d, ids[t] * d + d), t * d);
    const positions = [];
    for (let t = 0; t < n; t++) positions.push(start + t);
    for (let l = 0; l < L; l++) {
      caches[l].base = start;
      x = this.block(l, x, n, positions, caches[l], maps ? maps[l] : null);
    }
    const h = layerNorm(x, n, d, this.w["norm.weight"], this.w["norm.bias"], this.eps);
    return linear(h, n, d, this.w["head.weight"], this.w["head.bias"], V);
  };

  function checkIds(ids, V) {
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
      throw new TypeError(`ids must be an array of token ids, got ${typeof ids}`);
    }
    for (const i of ids) {
      if (!Number.isInteger(i) || i < 0 || i >= V) {
        throw new RangeError(`ids must hold integers in [0, ${V}), got ${i}`);
      }
    }
  }

  /** Logits (n x vocab) and attention weights (layer x head x n x n) of `ids`.
   * Every row is a Float32Array: a view into one flat buffer, not a copy. */
  Model.prototype.forward = function (ids) {
    const { n_layers: L, n_heads: H, vocab_size: V } = this.cfg;
    checkIds(ids, V);
    const n = ids.length;
    const maps = [];
    for (let l = 0; l < L; l++) {
      const heads = [];
      for (let hh = 0; hh < H; hh++) heads.push(new Float32Array(n * n));
      maps.push(heads);
    }
    const flat = this.run(Array.from(ids), 0, this.newCache(), maps);
    const rows = (buffer, width) => {
      const out = new Array(n);
      for (let t = 0; t < n; t++) out[t] = buffer.subarray(t * width, (t + 1) * width);
      return out;
    };
    const logits = rows(flat, V);
    const attention = maps.map((heads) => heads.map((buffer) => rows(buffer, n)));
    return { logits, attention };
  };

  /** Greedy decoding with a rolling KV cache: the nNew characters appended. */
  Model.prototype.generate = function (text, nNew) {
    const V = this.cfg.vocab_size;
    if (!Number.isInteger(nNew) || nNew < 0) {
      throw new RangeError(`nNew must be an integer >= 0, got ${nNew}`);
    }
    const ids = this.encode(text);
    if (ids.length === 0) throw new RangeError("text must hold at least one character, got none");
    const caches = this.newCache();
    let logits = null;
    let pos = 0;
    // Prefill in chunks of at most `context` tokens (each within its own window).
    for (let s = 0; s < ids.length; s += this.cfg.context) {
      const chunk = ids.slice(s, s + this.cfg.context);
      logits = this.run(chunk, pos, caches, null);
      pos += chunk.length;
    }
    let last = logits.subarray(logits.length - V);
    const out = [];
    for (let i = 0; i < nNew; i++) {
      let best = 0;
      for (let c = 1; c < V; c++) if (last[c] > last[best]) best = c;
      out.push(best);
      if (i === nNew - 1) break;
      last = this.run([best], pos, caches, null);
      pos += 1;
    }
    return this.decode(out);
  };

  // ---------------------------------------------------------------- loading

  async function load(base) {
    const manifest = await (await fetch(base + ".json")).json();
    const buffer = await (await fetch(base + ".bin")).arrayBuffer();
    const model = new Model(manifest, buffer);
    return {
      vocab: model.vocab.slice(),
      config: Object.assign({}, model.cfg),
      encode: (text) => model.encode(text),
      decode: (ids) => model.decode(ids),
      forward: (ids) => model.forward(ids),
      generate: (text, nNew) => model.generate(text, nNew),
    };
  }

  // ---------------------------------------------------------------- the panel

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  function shown(ch) {
    if (ch === " ") return "\u2423"; // open box: a space you can see
    if (ch === "\n") return "\u21b5";
    return ch;
  }

  function heatColour(a) {
    // Transparent at 0, the theme's accent at 1: readable in both palettes.
    return `rgba(var(--lm-heat-rgb), ${Math.min(1, a).toFixed(3)})`;
  }

  function render(panel, lm) {
    const input = panel.querySelector("[data-control=text]");
    const layerSel = panel.querySelector("[data-control=layer]");
    const headSel = panel.querySelector("[data-control=head]");
    const querySel = panel.querySelector("[data-control=query]");
    const probs = panel.querySelector(".lm-demo__probs");
    const strip = panel.querySelector(".lm-demo__strip");
    const grid = panel.querySelector(".lm-demo__grid");
    const status = panel.querySelector(".lm-demo__status");
    const text = input.value;
    const ids = lm.encode(text);
    if (ids.length === 0) {
      probs.replaceChildren();
      strip.replaceChildren();
      grid.replaceChildren();
      status.textContent = "Type at least one character.";
      return;
    }
    const t0 = performance.now();
    const { logits, attention } = lm.forward(ids);
    const ms = performance.now() - t0;
    panel.dataset.forwardMs = ms.toFixed(1);
    status.textContent = `${ids.length} characters, forward pass ${ms.toFixed(0)} ms.`;

    // One query's attention as a strip over the characters, for the chosen head.
    const L = attention.length;
    const H = attention[0].length;
    if (!layerSel.options.length) {
      for (let l = 0; l < L; l++) layerSel.append(el("option", { value: l, text: `layer ${l + 1}` }));
      for (let h = 0; h < H; h++) headSel.append(el("option", { value: h, text: `head ${h + 1}` }));
      layerSel.value = panel.dataset.layer || "0";
      headSel.value = panel.dataset.head || "0";
    }
    const n = ids.length;
    const oldQ = querySel.value;
    querySel.replaceChildren(
      ...ids.map((id, t) => el("option", { value: t, text: `x(${t + 1}) ${shown(lm.vocab[id])}` })),
    );
    querySel.value = oldQ !== "" && Number(oldQ) < n ? oldQ : String(n - 1);
    const l = Number(layerSel.value);
    const h = Number(headSel.value);
    const q = Number(querySel.value);
    const weights = attention[l][h][q];
    // Next-character probabilities after the query character.
    const row = Array.from(logits[q]);
    const max = Math.max(...row);
    const ex = row.map((v) => Math.exp(v - max));
    const sum = ex.reduce((a, b) => a + b, 0);
    const top = ex
      .map((e, i) => ({ i, p: e / sum }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 5);
    probs.replaceChildren(
      ...top.map(({ i, p }) =>
        el(
          "li",
          { "data-char": lm.vocab[i], "data-prob": p.toFixed(4) },
          el("code", { text: shown(lm.vocab[i]) }),
          el("span", { class: "lm-demo__bar", style: `width: ${(p * 100).toFixed(1)}%` }),
          el("span", { text: ` ${(100 * p).toFixed(1)}%` }),
        ),
      ),
    );

    strip.replaceChildren(
      ...ids.map((id, j) =>
        el("span", {
          class: "lm-demo__cell" + (j === q ? " lm-demo__cell--query" : ""),
          "data-key": j,
          "data-weight": weights[j].toFixed(4),
          title: `x(${j + 1}) ${shown(lm.vocab[id])}: ${weights[j].toFixed(3)}`,
          style: `background: ${heatColour(weights[j])}`,
          text: shown(lm.vocab[id]),
        }),
      ),
    );
    // Every head's map for the last 48 characters, as small squares.
    const from = Math.max(0, n - 48);
    grid.style.setProperty("--lm-heads", String(H));
    // The heat colour once per draw: reading a computed style makes the browser
    // settle every pending style change first.
    const rgb = getComputedStyle(panel).getPropertyValue("--lm-heat-rgb").split(",").map(Number);
    grid.replaceChildren(
      ...attention.flatMap((heads, li) =>
        heads.map((rows, hi) => {
          const c = el("canvas", {
            width: n - from,
            height: n - from,
            role: "img",
            "aria-label": `layer ${li + 1}, head ${hi + 1}: attention of the last ${n - from} characters`,
          });
          const ctx = c.getContext("2d");
          const img = ctx.createImageData(n - from, n - from);
          for (let i = from; i < n; i++) {
            for (let j = from; j < n; j++) {
              const o = ((i - from) * (n - from) + (j - from)) * 4;
              img.data[o] = rgb[0];
              img.data[o + 1] = rgb[1];
              img.data[o + 2] = rgb[2];
              img.data[o + 3] = Math.round(255 * Math.min(1, rows[i][j]));
            }
          }
          ctx.putImageData(img, 0, 0);
          return el("figure", {}, c, el("figcaption", { text: `layer ${li + 1}, head ${hi + 1}` }));
        }),
      ),
    );
  }

  // The panel's headings sit one level below the heading it follows (an h4 right
  // after the page's h1 would skip levels: axe's heading-order).
  function headingLevel(panel) {
    let level = 1;
    for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
      if (panel.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_PRECEDING) level = Number(h.tagName[1]);
    }
    return `h${Math.min(6, level + 1)}`;
  }

  function build(panel, lm) {
    const example = panel.dataset.example || "";
    const heading = headingLevel(panel);
    const textId = "lm-demo-text";
    panel.dataset.built = "";  // hidden (lm.css) until the model has filled it in
    panel.replaceChildren(
      el("label", { for: textId, text: "Text (the model reads it character by character)" }),
      el("textarea", { id: textId, "data-control": "text", rows: "3", spellcheck: "false" }),
      el(
        "div",
        { class: "lm-demo__row" },
        el("button", { type: "button", "data-control": "example", text: "Use the example" }),
        el("button", { type: "button", "data-control": "generate", text: "Generate 40 characters" }),
      ),
      el("p", { class: "lm-demo__status", "aria-live": "polite" }),
      el(heading, { text: "Where one head looks" }),
      el(
        "div",
        { class: "lm-demo__row" },
        el("label", { text: "Layer " }, el("select", { "data-control": "layer" })),
        el("label", { text: "Head " }, el("select", { "data-control": "head" })),
        el("label", { text: "Query " }, el("select", { "data-control": "query" })),
      ),
      el("div", { class: "lm-demo__strip", "aria-label": "attention weights over the text" }),
      el(heading, { text: "What comes after the query? The five likeliest characters" }),
      el("ol", { class: "lm-demo__probs" }),
      el(heading, { text: "Every head (the last 48 characters; row: query, column: key)" }),
      el("div", { class: "lm-demo__grid" }),
    );
    const input = panel.querySelector("[data-control=text]");
    input.value = example;
    const redraw = () => render(panel, lm);
    input.addEventListener("input", () => {
      panel.querySelector("[data-control=query]").value = "";
      redraw();
    });
    for (const name of ["layer", "head", "query"]) {
      panel.querySelector(`[data-control=${name}]`).addEventListener("change", redraw);
    }
    panel.querySelector("[data-control=example]").addEventListener("click", () => {
      input.value = example;
      panel.querySelector("[data-control=query]").value = "";
      redraw();
    });
    panel.querySelector("[data-control=generate]").addEventListener("click", () => {
      input.value += lm.generate(input.value || " ", 40);
      panel.querySelector("[data-control=query]").value = "";
      redraw();
    });
    // The model runs in a task of its own, after the panel is in place.
    setTimeout(() => {
      redraw();
      panel.dataset.ready = "";
    }, 0);
  }

  const script = document.currentScript;
  const base = script ? script.dataset.weights : null;
  if (!base) return;
  const ready = load(base);
  window.selfattnLMReady = ready;
  // The panel is built after the page's first paint (speed.py), so the text shows first.
  const afterPaint = window.selfattnAfterPaint || ((fn) => fn());
  ready.then((lm) => {
    window.selfattnLM = lm;
    afterPaint(() => {
      for (const panel of document.querySelectorAll(".lm-demo:not([data-ready])")) build(panel, lm);
    });
  });
})();
