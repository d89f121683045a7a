/* The run report's sample browser: filters and a page of samples at a time, built from the
   JSON in #report-data (runlocalai_bench/report/page.py documents its shape). No framework,
   no network. Sets <html data-ready="1"> once the first page is rendered. */
(function () {
  "use strict";
  var PAGE = 50;
  var ID = 0, SUBJECT = 1, OUTCOME = 2, PREFIX = 3, PROMPT = 4, RESPONSE = 5, EXTRACTED = 6,
    GOLD = 7, LOGPROBS = 8, FAILING = 9, ERROR = 10, EXPECTED = 11, GOT = 12;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var list = $("sample-list");

  function ready() { document.documentElement.setAttribute("data-ready", "1"); }
  if (!list || !data.runs.length) { ready(); return; }

  var samples = data.runs[0];
  // each other run's samples by id (B, C, …), shown beside A's
  var others = data.runs.slice(1).map(function (run) {
    var byId = {};
    run.forEach(function (s) { byId[s[ID]] = s; });
    return byId;
  });
  var haystacks = null;
  var matches = [];
  var page = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function field(parent, label, cls, text, pre) {
    if (text === undefined || text === null || text === "") { return; }
    var box = el("div", "field");
    box.appendChild(el("h4", null, label));
    box.appendChild(el(pre ? "pre" : "div", cls, text));
    parent.appendChild(box);
  }

  function prompt(s) {
    var box = el("div", "prompt");
    if (s[PREFIX] >= 0) {
      var context = data.prefixes[s[PREFIX]];
      var shared = el("details", "context");
      shared.appendChild(el("summary", null, "shared context, " + context.length +
        " characters (stored once for every sample that repeats it)"));
      shared.appendChild(el("pre", null, context));
      box.appendChild(shared);
    }
    box.appendChild(el("pre", "prompt-text", s[PROMPT]));
    return box;
  }

  function answer(s, label) {
    var side = el("div", "side");
    if (label) { side.appendChild(el("h3", null, label + ": " + s[OUTCOME])); }
    field(side, "raw response", "raw-response", s[RESPONSE], true);
    field(side, "extracted", "extracted", s[EXTRACTED] === null ? "(nothing)" : s[EXTRACTED],
      true);
    field(side, "gold", "gold", s[GOLD], false);
    if (s[LOGPROBS].length) {
      var table = el("table", "logprobs");
      s[LOGPROBS].forEach(function (pair) {
        var row = el("tr");
        row.appendChild(el("th", null, pair[0]));
        row.appendChild(el("td", null, pair[1].toFixed(3)));
        table.appendChild(row);
      });
      var box = el("div", "field");
      box.appendChild(el("h4", null, "letter log-probabilities"));
      box.appendChild(table);
      side.appendChild(box);
    }
    field(side, "failing input", "failing-input", s[FAILING], true);
    field(side, "expected", "expected", s[EXPECTED], true);
    field(side, "got", "got", s[GOT], true);
    field(side, "error", "error", s[ERROR], true);
    return side;
  }

  function render(s) {
    var node = el("details", "sample");
    node.setAttribute("data-id", s[ID]);
    node.setAttribute("data-outcome", s[OUTCOME]);
    node.setAttribute("data-subject", s[SUBJECT]);
    var theirs = others.map(function (byId) { return byId[s[ID]]; });
    var summary = el("summary");
    summary.appendChild(el("span", "sample-id", s[ID]));
    summary.appendChild(el("span", "sample-subject", s[SUBJECT]));
    summary.appendChild(el("span", "outcome o-" + s[OUTCOME], s[OUTCOME]));
    theirs.forEach(function (o, k) {
      if (o) {
        summary.appendChild(el("span", "outcome o-" + o[OUTCOME],
          data.labels[k + 1] + " " + o[OUTCOME]));
      }
    });
    if (s[EXTRACTED] !== null && s[EXTRACTED].length <= 40) {
      summary.appendChild(el("span", "sample-answer", "answered " + s[EXTRACTED] +
        (s[GOLD].length <= 40 ? ", gold " + s[GOLD] : "")));
    }
    node.appendChild(summary);
    node.appendChild(prompt(s));
    if (data.mode !== "compare") {
      node.appendChild(answer(s, null));
      return node;
    }
    var flip = data.flips[s[ID]];
    if (flip) { node.setAttribute("data-flip", flip[0]); }
    var sides = el("div", "sides");
    sides.appendChild(answer(s, data.labels[0]));
    theirs.forEach(function (o, k) {
      if (o) { sides.appendChild(answer(o, data.labels[k + 1])); }
      else { sides.appendChild(el("p", "notice", "not in run " + data.labels[k + 1])); }
    });
    node.appendChild(sides);
    if (flip && flip[1]) { field(node, "the two programs", "diff", flip[1], true); }
    return node;
  }

  function haystack(i) {
    if (haystacks === null) { haystacks = new Array(samples.length); }
    if (haystacks[i] === undefined) {
      var s = samples[i];
      haystacks[i] = [s[ID], s[PROMPT], s[RESPONSE], s[EXTRACTED] || ""].join("\n")
        .toLowerCase();
    }
    return haystacks[i];
  }

  function value(id) { var node = $(id); return node ? node.value : ""; }

  function show() {
    var start = page * PAGE;
    var frag = document.createDocumentFragment();
    matches.slice(start, start + PAGE).forEach(function (i) {
      frag.appendChild(render(samples[i]));
    });
    list.textContent = "";
    list.appendChild(frag);
    var pages = Math.max(1, Math.ceil(matches.length / PAGE));
    $("page-info").textContent = "(page " + (page + 1) + " of " + pages + ")";
    $("page-prev").disabled = page === 0;
    $("page-next").disabled = page + 1 >= pages;
  }

  function filter() {
    var subject = value("filter-subject"), outcome = value("filter-outcome"),
      flip = value("filter-flip"), needle = value("search").toLowerCase();
    matches = [];
    for (var i = 0; i < samples.length; i++) {
      var s = samples[i];
      if (subject && s[SUBJECT] !== subject) { continue; }
      if (outcome && s[OUTCOME] !== outcome) { continue; }
      if (flip && !(data.flips[s[ID]] && data.flips[s[ID]][0] === flip)) { continue; }
      if (needle && haystack(i).indexOf(needle) < 0) { continue; }
      matches.push(i);
    }
    var count = $("sample-count");
    count.setAttribute("data-count", String(matches.length));
    count.textContent = String(matches.length);
    page = 0;
    show();
  }

  ["filter-subject", "filter-outcome", "filter-flip"].forEach(function (id) {
    var node = $(id);
    if (node) { node.addEventListener("change", filter); }
  });
  $("search").addEventListener("input", filter);
  $("page-prev").addEventListener("click", function () { page -= 1; show(); });
  $("page-next").addEventListener("click", function () { page += 1; show(); });
  filter();
  ready();
}());
