// swescale inspect: renders the JSON embedded in the page (no network). Views are chosen by the URL hash:
// "" (the run), "t=<trajectory>" (one trajectory), "i=<instance>" (a bench run's instance), both.
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const SOLVES = {};

// A bench run's instance views are gzipped JSON in base64, unpacked when first opened.
async function solveOf(id) {
  if (!(id in SOLVES)) {
    const node = Array.from(document.querySelectorAll("script.solve")).find((s) => s.dataset.id === id);
    if (!node) return null;
    const bytes = Uint8Array.from(atob(node.textContent.trim()), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    SOLVES[id] = await new Response(stream).json();
  }
  return SOLVES[id];
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick" || k === "onchange" || k === "oninput" || k === "ontoggle") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const fmt = {
  num: (v) => (v === null || v === undefined || v === "" ? "–" : Number(v).toLocaleString("en")),
  p: (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2)),
  pct: (v) => (v === null || v === undefined ? "n/a" : (100 * v).toFixed(1) + "%"),
  s: (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1) + " s"),
};

function hashParams() {
  return new URLSearchParams(location.hash.slice(1));
}

function link(params, label, cls) {
  const merged = new URLSearchParams(params);
  return el("a", { href: "#" + merged.toString(), class: cls }, label);
}

function section(title, id, ...body) {
  return el("section", { id }, el("h2", {}, title), ...body);
}

function diffView(patch, cls) {
  const pre = el("pre", { class: "diff " + (cls || "") });
  if (!patch) {
    pre.append(el("span", { class: "muted" }, "(empty)"));
    return pre;
  }
  for (const line of patch.split("\n")) {
    let c = "";
    if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) c = "meta";
    else if (line.startsWith("+")) c = "add";
    else if (line.startsWith("-")) c = "del";
    else if (line.startsWith("@@")) c = "hunk";
    pre.append(el("span", { class: c }, line + "\n"));
  }
  return pre;
}

function flagList(flags) {
  return Object.entries(flags || {}).map(([k, v]) =>
    el("span", { class: "flag", title: typeof v === "string" ? v : "" }, v === true ? k : k + ": " + String(v).slice(0, 60))
  );
}

// A long text folded: the <details> body is built only when opened.
function folded(summary, text, open) {
  const details = el("details", { class: "fold" }, el("summary", {}, summary));
  let filled = false;
  const fill = () => {
    if (filled || !details.open) return;
    filled = true;
    details.append(el("pre", { class: "obs" }, text));
  };
  details.addEventListener("toggle", fill);
  if (open) {
    details.open = true;
    fill();
  }
  return details;
}

// ---------------------------------------------------------------------------------------------- solve run

function decisionSection(view) {
  const d = view.decision;
  if (!d) return section("Decision", "decision", el("p", { class: "muted" }, view.finished ? "no decision recorded" : "the run has not decided yet"));
  const verdict = d.abstained
    ? el("span", { class: "badge abstained" }, "abstained" + (d.best ? " (best " + d.best + ")" : ""))
    : el("span", { class: "badge resolved" }, "chose " + d.chosen);
  const rows = d.signals.map((s) =>
    el("tr", { class: "signal " + s.level },
      el("td", {}, s.name, " ", el("code", {}, s.key)),
      el("td", { class: "num" }, s.shown),
      el("td", {}, el("span", { class: "bar" }, el("span", { style: "width:" + Math.round(100 * (s.value || 0)) + "%" }))),
      el("td", {}, s.level),
      el("td", { class: "meaning" }, s.meaning)
    )
  );
  return section("Decision", "decision",
    el("p", {}, verdict, " confidence ", el("strong", {}, fmt.p(d.confidence))),
    el("p", { class: "reason" }, d.reason),
    el("table", { class: "signals" }, el("tr", {}, el("th", {}, "signal"), el("th", {}, "value"), el("th", {}, ""), el("th", {}, "level"), el("th", {}, "what it measures")), rows),
    el("p", { class: "muted" }, "confidence = E × (1 − margin weight × (1 − M)); below the threshold the run abstains."),
    view.outcome.stop_reasons.length ? el("p", {}, "Stopped: " + view.outcome.stop_reasons.join("; ")) : null
  );
}

function generationsSection(view, base) {
  const gens = view.outcome.generations || [];
  const byGen = {};
  for (const t of view.trajectories) {
    if (t.generation === null || t.generation === undefined) continue;
    (byGen[t.generation] = byGen[t.generation] || []).push(t);
  }
  const numbers = Array.from(new Set([...gens.map((g) => g.generation), ...Object.keys(byGen).map(Number)])).sort((a, b) => a - b);
  const rows = numbers.map((n) => {
    const g = gens.find((x) => x.generation === n) || {};
    const trajs = byGen[n] || [];
    const parents = (trajs.find((t) => t.parents.length) || { parents: [] }).parents;
    return el("tr", {},
      el("td", {}, n),
      el("td", {}, trajs.map((t) => [link({ ...base, t: t.id }, t.id), " "])),
      el("td", {}, parents.length ? parents.map((p) => [el("code", {}, p.id), " (" + p.score + ") "]) : el("span", { class: "muted" }, "none (issue only)")),
      el("td", { class: "num" }, fmt.num(g.candidates)),
      el("td", {}, g.best_candidate || "–", g.best_score !== undefined ? " (" + fmt.p(g.best_score) + ")" : ""),
      el("td", { class: "num" }, fmt.num(g.tokens))
    );
  });
  return section("Generations", "generations",
    el("table", {}, el("tr", {}, ["generation", "trajectories", "parents fed forward (score)", "new candidates", "best after it", "tokens so far"].map((h) => el("th", {}, h))), rows));
}

function candidatesSection(view, base) {
  const trajIds = new Set(view.trajectories.map((t) => t.id));
  const rows = view.candidates.map((c) =>
    el("tr", { class: (c.chosen ? "chosen " : "") + (Object.keys(c.flags).length ? "flagged" : "") },
      el("td", { class: "num" }, c.rank),
      el("td", {}, trajIds.has(c.id) ? link({ ...base, t: c.id }, c.id) : c.id, c.chosen ? " ✔" : ""),
      el("td", { class: "num" }, c.generation ?? "–"),
      el("td", {}, c.exit_status),
      el("td", { class: "num" }, c.steps),
      el("td", { class: "num" }, fmt.num(c.tokens)),
      el("td", {}, el("code", {}, (c.group || "").slice(0, 8))),
      el("td", {}, c.cluster),
      el("td", { class: "num" }, fmt.p(c.generated)),
      el("td", { class: "num" }, fmt.p(c.judge)),
      el("td", { class: "num" }, fmt.p(c.hybrid)),
      el("td", {}, c.new_failures.length ? c.new_failures.length + " broken" : ""),
      el("td", {}, flagList(c.flags))
    )
  );
  const options = () => view.candidates.map((c) => el("option", { value: c.id }, c.id + " (" + (c.group || "").slice(0, 8) + ")"));
  const left = el("select", { id: "diff-left" }, options());
  const right = el("select", { id: "diff-right" }, options());
  const panes = el("div", { class: "side-by-side" });
  const show = () => {
    panes.replaceChildren();
    for (const sel of [left, right]) {
      const c = view.candidates.find((x) => x.id === sel.value);
      if (c) panes.append(el("div", { class: "pane" }, el("h3", {}, c.id, " · group ", el("code", {}, (c.group || "–").slice(0, 8)), " · cluster ", c.cluster || "–"), diffView(c.patch)));
    }
  };
  left.addEventListener("change", show);
  right.addEventListener("change", show);
  const first = view.decision && (view.decision.chosen || view.decision.best);
  if (first) left.value = first;
  if (view.runner_up) right.value = view.runner_up;
  else if (view.candidates[1]) right.value = view.candidates[1].id;
  show();
  return section("Candidates", "candidates",
    el("table", { id: "candidate-table" }, el("tr", {}, ["rank", "candidate", "gen", "exit", "steps", "tokens", "normalized group", "cluster", "generated", "judge P(YES)", "hybrid", "regressions", "flags"].map((h) => el("th", {}, h))), rows),
    el("p", {}, "Compare ", left, " with ", right),
    panes);
}

function heatmapSection(view) {
  const m = view.matrix;
  if (!m.tests.length && !m.rows.length) return section("Verifier matrix", "matrix", el("p", { class: "muted" }, "no verifier table yet"));
  const head = el("tr", {}, el("th", {}, "candidate \\ test"),
    m.tests.map((t) => el("th", { class: "test " + t.kind, title: t.id + "\n" + t.kind + ", weight " + t.weight + (t.reason ? "\n" + t.reason : "") },
      el("div", { class: "tname" }, (t.distinguishing ? "★ " : "") + t.id),
      el("div", { class: "weight" }, "w " + Number(t.weight).toFixed(2)), flagList(t.flags))));
  const reference = el("tr", { class: "reference" }, el("th", {}, "original code"),
    m.tests.map((t) => el("td", { class: "cell ref " + t.reference, title: "original: " + t.reference }, t.reference)));
  const rows = m.rows.map((r) =>
    el("tr", { class: "mrow" + (Object.keys(r.flags).length ? " flagged" : "") },
      el("th", {}, r.id, r.applies ? "" : " (does not apply)", " ", flagList(r.flags)),
      r.cells.map((s, i) => el("td", { class: "cell " + s, title: r.id + " × " + m.tests[i].id + ": " + s + (r.excerpts[m.tests[i].id] ? "\n" + r.excerpts[m.tests[i].id] : "") }, s))));
  return section("Verifier matrix", "matrix",
    el("p", { class: "legend" }, ["pass", "fail", "timeout", "error", "notrun"].map((s) => el("span", { class: "cell " + s }, s)), " ★ distinguishing test (fails on the original, passes on a candidate); w: weight"),
    el("div", { class: "scroll" }, el("table", { id: "heatmap" }, head, reference, rows)),
    Object.keys(m.meta).length ? folded("table details", Object.entries(m.meta).map(([k, v]) => k + ": " + v).join("\n")) : null);
}

function clustersSection(view) {
  if (!view.clusters.length) return null;
  const rows = view.clusters.map((c) =>
    el("tr", { class: c.viable ? "" : "muted" },
      el("td", {}, c.cluster_id), el("td", {}, c.members.join(", ")), el("td", {}, c.representative),
      el("td", { class: "num" }, c.support), el("td", { class: "num" }, fmt.p(c.hybrid)), el("td", { class: "num" }, fmt.p(c.generated)),
      el("td", { class: "num" }, fmt.p(c.judge)), el("td", { class: "num" }, c.new_regressions + " / " + c.regression_run), el("td", {}, c.viable ? "yes" : "no")));
  return section("Behavioural clusters", "clusters",
    el("table", {}, el("tr", {}, ["cluster", "members", "representative", "votes", "hybrid", "generated", "judge", "new regressions / run", "viable"].map((h) => el("th", {}, h))), rows));
}

function trajectoriesSection(view, base) {
  const rows = view.trajectories.map((t) =>
    el("tr", {}, el("td", {}, link({ ...base, t: t.id }, t.id, "traj-link")), el("td", {}, t.mode), el("td", { class: "num" }, t.generation ?? "–"),
      el("td", {}, el("span", { class: "exit " + t.exit_status }, t.exit_status)), el("td", { class: "num" }, t.steps.length),
      el("td", { class: "num" }, fmt.num(t.tokens)), el("td", { class: "num" }, fmt.s(t.seconds)), el("td", { class: "err" }, (t.error || "").slice(0, 120))));
  return section("Trajectories", "trajectories",
    el("table", { id: "trajectory-table" }, el("tr", {}, ["trajectory", "mode", "gen", "exit status", "steps", "tokens", "wall time", "error"].map((h) => el("th", {}, h))), rows));
}

function stagesTable(stages) {
  const names = Object.keys(stages || {});
  if (!names.length) return null;
  return el("table", {}, el("tr", {}, el("th", {}, "stage"), el("th", {}, "tokens"), el("th", {}, "seconds")),
    names.map((n) => el("tr", {}, el("td", {}, n), el("td", { class: "num" }, fmt.num(stages[n].tokens)), el("td", { class: "num" }, fmt.s(stages[n].seconds)))));
}

function renderSolve(view, base) {
  const params = hashParams();
  if (params.get("t")) return renderTrajectory(view, params.get("t"), base);
  const usage = view.outcome.usage || {};
  return el("div", { class: "solve" },
    el("h1", {}, view.instance_id, view.repo ? el("span", { class: "muted" }, " · " + view.repo) : ""),
    view.finished ? null : el("p", { class: "badge running" }, "run in progress"),
    decisionSection(view),
    folded("The issue", view.issue || "(no task.json)"),
    generationsSection(view, base),
    candidatesSection(view, base),
    heatmapSection(view),
    clustersSection(view),
    trajectoriesSection(view, base),
    section("Cost", "cost", el("p", {}, "tokens " + fmt.num((usage.prompt_tokens || 0) + (usage.completion_tokens || 0)) + " in " + fmt.num(usage.calls) + " model calls"), stagesTable(view.outcome.stages)));
}

function stepView(s) {
  const head = el("div", { class: "step-head" }, el("strong", {}, "Step " + s.n),
    el("span", { class: "muted" }, " · " + fmt.num(s.tokens) + " tokens · model " + s.model_seconds + " s · tools " + s.tool_seconds + " s" + (s.finish_reason ? " · " + s.finish_reason : "")));
  const body = [head];
  if (s.reasoning) body.push(el("div", { class: "reasoning" }, el("div", { class: "label" }, "reasoning"), el("pre", {}, s.reasoning)));
  if (s.content) body.push(el("div", { class: "content" }, el("pre", {}, s.content)));
  s.calls.forEach((c, i) => {
    const args = typeof c.args === "string" ? c.args : JSON.stringify(c.args, null, 2);
    body.push(el("div", { class: "call" }, el("div", { class: "label" }, "tool call ", el("code", {}, c.name)), el("pre", { class: "args" }, args)));
    if (c.edit) body.push(el("div", { class: "edit" }, el("div", { class: "label" }, "edit"), diffView(c.edit)));
    const o = s.observations[i];
    if (o) body.push(observationView(o));
  });
  for (const o of s.observations.slice(s.calls.length)) if (!s.format_error) body.push(observationView(o));
  if (s.diff != null) body.push(el("div", { class: "step-diff" }, el("div", { class: "label" }, "working tree diff after this step"), diffView(s.diff)));
  if (s.format_error) body.push(el("div", { class: "format-error" }, el("div", { class: "label" }, "format error"), el("pre", {}, s.format_error)));
  if (s.error) body.push(el("div", { class: "step-error" }, el("div", { class: "label" }, "error"), el("pre", {}, s.error)));
  return el("div", { class: "step", id: "step-" + s.n }, body);
}

function observationView(o) {
  const first = (o.text.split("\n")[0] || "").slice(0, 100);
  const summary = "observation · " + o.length.toLocaleString("en") + " chars" + (o.cut ? " (cut)" : "") + " · " + first;
  return el("div", { class: "observation" }, folded(summary, o.text, o.length <= 600));
}

function renderTrajectory(view, id, base) {
  const t = view.trajectories.find((x) => x.id === id);
  const back = link(base, "← " + view.instance_id);
  if (!t) return el("div", {}, back, el("p", {}, "no trajectory " + id));
  return el("div", { class: "trajectory", id: "trajectory" }, back,
    el("h1", {}, "Trajectory " + t.id),
    el("p", {}, el("span", { class: "exit " + t.exit_status }, t.exit_status), " · " + t.mode + " · " + t.steps.length + " steps · " + fmt.num(t.tokens) + " tokens · " + fmt.s(t.seconds) + (t.model ? " · " + t.model : "")),
    t.error ? el("pre", { class: "step-error" }, t.error) : null,
    t.parents.length ? el("p", {}, "Parents fed forward: ", t.parents.map((p) => [el("code", {}, p.id), " (" + p.score + ") "])) : null,
    t.system ? folded("system prompt", t.system.text) : null,
    folded("task prompt", t.prompt.text),
    el("div", { class: "steps" }, t.steps.map(stepView)),
    el("h2", {}, "Final patch"), diffView(t.patch),
    Object.keys(t.extra).length ? folded("extra", JSON.stringify(t.extra, null, 2)) : null);
}

// ---------------------------------------------------------------------------------------------- bench run

const COLUMNS = [
  ["instance_id", "instance"], ["repo", "repository"], ["outcome", "outcome"], ["tokens", "tokens"], ["seconds", "wall time"],
  ["fix", "fix tokens"], ["verification", "verification s"], ["judge", "judge tokens"], ["attempts", "attempts"], ["candidates", "candidates"], ["error_class", "error class"],
];
const benchState = { sort: "instance_id", desc: false };

function cellValue(item, key) {
  if (key === "fix" || key === "judge") return item.stage_tokens[key] || 0;
  if (key === "verification") return item.stage_seconds[key] || 0;
  return item[key] ?? "";
}

function renderBench() {
  const s = DATA.summary;
  const figures = el("table", { class: "figures" },
    [["instances", s.instances + " (" + s.done + " done, " + s.errors + " errors, " + s.pending + " pending)"],
      ["resolve rate", fmt.pct(s.resolve_rate) + " (" + s.resolved + " of " + s.instances + ", " + s.graded + " graded)"],
      ["coverage (oracle)", fmt.pct(s.coverage)], ["selection accuracy", fmt.pct(s.selection_accuracy)],
      ["abstentions", s.abstentions + ", precision " + fmt.pct(s.abstention_precision)],
      ["tokens per instance", "mean " + fmt.num(Math.round(s.tokens_per_instance.mean)) + ", median " + fmt.num(Math.round(s.tokens_per_instance.median))],
      ["wall time per instance", "mean " + fmt.s(s.seconds_per_instance.mean) + ", median " + fmt.s(s.seconds_per_instance.median)]].map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))));
  const plots = el("div", { class: "charts" });
  for (const [key, title] of [["tokens", "Resolve rate against tokens"], ["steps", "Trajectory length against resolve rate"], ["stage_tokens", "Tokens per stage"], ["stage_seconds", "Seconds per stage"]]) {
    const box = el("div", { class: "chart-box" }, el("h3", {}, title));
    const holder = el("div", {});
    holder.innerHTML = DATA.plots[key] || ""; // SVG built by swescale.bench.plots (labels escaped there)
    box.append(holder);
    plots.append(box);
  }
  const repos = el("table", { id: "repo-table" }, el("tr", {}, ["repository", "instances", "resolved", "unresolved", "abstained", "error", "resolve rate", "tokens (mean)", "seconds (mean)"].map((h) => el("th", {}, h))),
    DATA.repositories.map((r) => el("tr", {}, el("td", {}, r.repo), el("td", { class: "num" }, r.instances), el("td", { class: "num" }, r.resolved), el("td", { class: "num" }, r.unresolved),
      el("td", { class: "num" }, r.abstained), el("td", { class: "num" }, r.error), el("td", { class: "num" }, fmt.pct(r.resolve_rate)), el("td", { class: "num" }, fmt.num(Math.round(r.tokens_mean))), el("td", { class: "num" }, fmt.s(r.seconds_mean)))));

  const outcomes = Array.from(new Set(DATA.instances.map((i) => i.outcome))).sort();
  const outcomeSel = el("select", { id: "filter-outcome" }, el("option", { value: "" }, "any outcome"), outcomes.map((o) => el("option", { value: o }, o)));
  const repoSel = el("select", { id: "filter-repo" }, el("option", { value: "" }, "any repository"), DATA.repositories.map((r) => el("option", { value: r.repo }, r.repo)));
  const search = el("input", { id: "filter-text", type: "search", placeholder: "instance or error text" });
  const count = el("span", { id: "instance-count" });
  const table = el("table", { id: "instances" });
  const draw = () => {
    const text = search.value.toLowerCase();
    const shown = DATA.instances.filter((i) =>
      (!outcomeSel.value || i.outcome === outcomeSel.value) && (!repoSel.value || (i.repo || "(unknown)") === repoSel.value) &&
      (!text || (i.instance_id + " " + (i.error || "") + " " + (i.error_class || "")).toLowerCase().includes(text)));
    const key = benchState.sort;
    shown.sort((a, b) => {
      const x = cellValue(a, key), y = cellValue(b, key);
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return benchState.desc ? -c : c;
    });
    const head = el("tr", {}, COLUMNS.map(([k, label]) => el("th", { class: "sortable" + (k === key ? (benchState.desc ? " desc" : " asc") : ""), "data-key": k, onclick: () => {
      benchState.desc = benchState.sort === k ? !benchState.desc : false;
      benchState.sort = k;
      draw();
    } }, label)));
    const body = shown.map((i) => el("tr", { class: "inst " + i.outcome, "data-id": i.instance_id },
      el("td", {}, i.has_run ? link({ i: i.instance_id }, i.instance_id) : i.instance_id), el("td", {}, i.repo), el("td", {}, el("span", { class: "badge " + i.outcome }, i.outcome)),
      el("td", { class: "num" }, fmt.num(i.tokens)), el("td", { class: "num" }, fmt.s(i.seconds)), el("td", { class: "num" }, fmt.num(cellValue(i, "fix"))),
      el("td", { class: "num" }, fmt.s(cellValue(i, "verification"))), el("td", { class: "num" }, fmt.num(cellValue(i, "judge"))), el("td", { class: "num" }, i.attempts),
      el("td", { class: "num" }, i.candidates), el("td", { title: i.error || "" }, i.error_class || "")));
    table.replaceChildren(head, ...body);
    count.textContent = shown.length + " of " + DATA.instances.length + " instances";
  };
  for (const control of [outcomeSel, repoSel]) control.addEventListener("change", draw);
  search.addEventListener("input", draw);
  draw();
  return el("div", { class: "bench" },
    el("h1", {}, "Bench run ", el("span", { class: "muted" }, DATA.run_dir)),
    figures,
    section("Instances", "instances-section", el("p", { class: "filters" }, outcomeSel, " ", repoSel, " ", search, " ", count), el("div", { class: "scroll" }, table)),
    section("Per repository", "repositories", repos),
    section("Cost per stage and plots", "plots", stagesTable(Object.fromEntries(Object.entries(s.stages).map(([k, v]) => [k, { tokens: v.tokens.total, seconds: v.seconds.total }]))), plots));
}

// ---------------------------------------------------------------------------------------------- routing

let rendering = 0;

async function render() {
  const ticket = ++rendering;
  const app = document.getElementById("app");
  const params = hashParams();
  const crumbs = document.getElementById("crumbs");
  let view;
  if (DATA.kind === "bench") {
    const id = params.get("i");
    if (id) {
      const solve = await solveOf(id);
      if (ticket !== rendering) return; // another navigation came first
      view = solve ? el("div", {}, link({}, "← all instances"), renderSolve(solve, { i: id })) : el("p", {}, "no run folder for " + id);
    } else {
      view = renderBench();
    }
    crumbs.textContent = id ? id + (params.get("t") ? " / " + params.get("t") : "") : "";
  } else {
    view = renderSolve(DATA, {});
    crumbs.textContent = params.get("t") || "";
  }
  app.replaceChildren(view);
  app.dataset.view = location.hash || "#";
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", render);
render();

if (window.SWESCALE_LIVE) {
  let seen = null;
  setInterval(() => {
    fetch("version").then((r) => r.text()).then((v) => {
      if (seen !== null && v !== seen) location.reload();
      seen = v;
    }).catch(() => {});
  }, 2000);
}
