// archspec's interactive view: blocks collapse and expand on a click; layout by dagre (cytoscape-dagre).
// The data (nodes, blocks, edges) is the JSON in #archspec-data, written by builders/html_view.py.
// Text from the spec is shown with textContent only, never as HTML.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("archspec-data").textContent);
  const nodes = new Map(data.nodes.map((n) => [n.id, n]));
  const blocks = new Map(data.blocks.map((b) => [b.id, b]));
  const MIN_ZOOM = 1.0;
  const expanded = new Set(data.blocks.filter((b) => data.detail === null || b.depth < data.detail).map((b) => b.id));

  function ancestors(id) {  // outermost first
    const chain = [];
    let parent = (nodes.get(id) || blocks.get(id)).parent;
    while (parent) { chain.unshift(parent); parent = blocks.get(parent).parent; }
    return chain;
  }

  function shownAs(id) {  // the node or collapsed block that stands for id
    for (const a of ancestors(id)) if (!expanded.has(a)) return a;
    return id;
  }

  function sized(d) {  // a box around the label's lines (10 px Helvetica)
    const lines = d.label.split("\n");
    d.w = 12 + 6 * Math.max(...lines.map((l) => l.length));
    d.h = 8 + 13 * lines.length;
    return d;
  }

  function elements() {
    const out = [];
    const visibleBlocks = data.blocks.filter((b) => shownAs(b.id) === b.id);
    for (const b of visibleBlocks) {
      const open = expanded.has(b.id);
      out.push({ group: "nodes", classes: open ? "open" : "block",
                 data: sized({ id: b.id, label: open ? b.title : b.title + "\n" + b.summary,
                               parent: b.parent || undefined, diff: b.diff }) });
    }
    for (const n of data.nodes) {
      if (shownAs(n.id) !== n.id) continue;
      out.push({ group: "nodes", classes: "layer",
                 data: sized({ id: n.id, label: n.name + "\n" + n.label + (data.shapes ? "\n" + n.shape : ""),
                               colour: n.colour, parent: n.parent || undefined, diff: n.diff }) });
    }
    const seen = new Set();
    for (const [source, target] of data.edges) {
      const s = shownAs(source), t = shownAs(target);
      const key = s + "\u0000" + t;
      if (s === t || seen.has(key)) continue;
      seen.add(key);
      out.push({ group: "edges", data: { id: "e" + seen.size, source: s, target: t } });
    }
    return out;
  }

  const faded = data.against ? [  // render --diff: what is the same as in the other spec recedes
    { selector: "node.layer[^diff]", style: { "background-opacity": 0.3, "color": "#777", "border-color": "#BBB" } },
  ] : [];
  const cy = cytoscape({
    container: document.getElementById("graph"),
    style: [
      { selector: "node", style: { "label": "data(label)", "text-wrap": "wrap", "text-valign": "center",
          "font-size": 10, "font-family": "Helvetica, Arial, sans-serif", "shape": "round-rectangle",
          "width": "data(w)", "height": "data(h)", "border-width": 1, "border-color": "#555" } },
      { selector: "node.layer", style: { "background-color": "data(colour)" } },
      { selector: "node.block", style: { "background-color": data.block_colour, "border-width": 2 } },
      { selector: "node.open", style: { "padding": 8, "background-color": "#F6F6F6", "background-opacity": 0.6,
          "text-valign": "top", "text-halign": "center", "font-weight": "bold", "border-style": "dashed" } },
      // render --diff: what differs from the other spec (the colours of DIFF_COLOURS in html_view.py)
      { selector: 'node[diff = "added"]', style: { "border-color": "#2CA02C", "border-width": 3,
          "border-style": "dashed" } },
      { selector: 'node[diff = "removed"]', style: { "border-color": "#D62728", "border-width": 3 } },
      { selector: 'node[diff = "changed"]', style: { "border-color": "#FF7F0E", "border-width": 3 } },
      { selector: 'node[diff = "inside"]', style: { "border-color": "#FF7F0E", "border-width": 3,
          "border-style": "dashed" } },
      { selector: "node.found", style: { "border-color": "#0050E0", "border-width": 4 } },
      { selector: ":selected", style: { "border-color": "#0050E0", "border-width": 3 } },
      { selector: "edge", style: { "width": 1.2, "line-color": "#777", "target-arrow-color": "#777",
          "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8 } },
      ...faded,
    ],
  });

  function redraw() {
    // dagre lays out the flat graph (on compound graphs it is many times slower); the open blocks are then
    // drawn as boxes around the positions their members got
    const all = elements();
    const flat = all.filter((e) => !(e.classes === "open"))
      .map((e) => (e.group === "nodes" ? { group: "nodes", classes: e.classes, data: { ...e.data, parent: undefined } }
                                       : e));
    cy.batch(() => { cy.elements().remove(); cy.add(flat); });
    cy.layout({ name: "dagre", rankDir: data.direction, nodeSep: 14, rankSep: 26, animate: false,
                fit: false }).run();
    const placed = new Map(cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    cy.batch(() => {
      cy.elements().remove();
      cy.add(all.map((e) => (placed.has(e.data.id) ? { ...e, position: placed.get(e.data.id) } : e)));
    });
    cy.fit(undefined, 20);
    if (cy.zoom() < MIN_ZOOM) {  // a long network: readable from its input on, not a thread
      const box = cy.elements().boundingBox();
      cy.zoom(MIN_ZOOM);
      cy.pan(data.direction === "LR"
        ? { x: 20 - box.x1 * MIN_ZOOM, y: cy.height() / 2 - ((box.y1 + box.y2) / 2) * MIN_ZOOM }
        : { x: cy.width() / 2 - ((box.x1 + box.x2) / 2) * MIN_ZOOM, y: 20 - box.y1 * MIN_ZOOM });
    }
  }

  function toggle(id) {
    if (!blocks.has(id)) return;
    if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
    redraw();
  }

  function setAll(open) {
    expanded.clear();
    if (open) for (const b of data.blocks) expanded.add(b.id);
    redraw();
  }

  function describe(id) {  // rows of the info panel
    const n = nodes.get(id);
    if (n) return [["node", n.id], ["kind", n.label], ["output", n.shape], ["params", n.params],
                   ["MACs", n.macs], ["receptive field", n.rf], ["activations", n.memory],
                   ["settings", n.settings], ["defined at", n.loc]].concat(n.diff ? [[n.diff, n.change]] : []);
    const b = blocks.get(id);
    return [["block", b.id], ["what", b.kind], ["nodes", String(b.count)], ["output", b.shape],
            ["params", b.params], ["MACs", b.macs], ["activations", b.memory], ["called at", b.loc],
            ...(b.diff ? [["differs", "something inside differs from B"]] : []),
            ["", expanded.has(b.id) ? "click to collapse" : "click to expand"]];
  }

  function show(id) {
    const table = document.getElementById("info-rows");
    table.replaceChildren();
    for (const [key, value] of describe(id)) {
      const row = table.insertRow();
      row.insertCell().textContent = key;
      row.insertCell().textContent = value || "";
    }
  }

  function find(text) {
    cy.nodes().removeClass("found");
    if (!text) return [];
    const hits = data.nodes.filter((n) => n.id.includes(text)).map((n) => n.id);
    for (const id of hits) for (const a of ancestors(id)) expanded.add(a);
    redraw();
    const found = cy.collection(hits.map((id) => cy.getElementById(id)));
    found.addClass("found");
    if (found.length) { cy.fit(found, 60); show(hits[0]); }
    document.getElementById("found").textContent = text ? `${hits.length} found` : "";
    return hits;
  }

  cy.on("tap", "node", (ev) => { show(ev.target.id()); toggle(ev.target.id()); });
  cy.on("mouseover", "node", (ev) => show(ev.target.id()));
  document.getElementById("search").addEventListener("input", (ev) => find(ev.target.value.trim()));
  document.getElementById("expand-all").addEventListener("click", () => setAll(true));
  document.getElementById("collapse-all").addEventListener("click", () => setAll(false));
  redraw();

  // for scripts and tests (the page's own controls do the same)
  window.archspec = {
    toggle, find, expandAll: () => setAll(true), collapseAll: () => setAll(false),
    visible: () => cy.nodes().map((n) => n.id()), info: (id) => describe(id),
    expanded: () => Array.from(expanded), _cy: cy,
  };
  document.body.dataset.ready = "yes";
})();
