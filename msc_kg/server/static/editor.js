// The landing page's query editor: runs the query against /sparql and renders a table.
(function () {
  "use strict";
  const form = document.getElementById("editor");
  const textarea = document.getElementById("query");
  const status = document.getElementById("status");
  const results = document.getElementById("results");
  const purpose = document.getElementById("example-purpose");
  const examples = JSON.parse(document.getElementById("examples-data").textContent || "[]");

  document.querySelectorAll("button.example").forEach(function (button) {
    button.addEventListener("click", function () {
      const ex = examples[Number(button.dataset.index)];
      textarea.value = ex.query;
      purpose.textContent = ex.purpose + (ex.returns ? " Returns: " + ex.returns : "");
    });
  });

  const XSD = "http://www.w3.org/2001/XMLSchema#";

  // A term of SPARQL 1.1 (and 1.2) JSON results as text: a triple term was "[object Object]",
  // a blank node lost its "_:" and a literal its datatype (hostile testing).
  function text(term) {
    if (term.type === "uri") return "<" + term.value + ">";
    if (term.type === "bnode") return "_:" + term.value;
    if (term.type === "triple") {
      const t = term.value;
      return "<<( " + text(t.subject) + " " + text(t.predicate) + " " + text(t.object) + " )>>";
    }
    let shown = term.value;
    if (term["xml:lang"]) shown += " @" + term["xml:lang"];
    else if (term.datatype && term.datatype !== XSD + "string")
      shown += " ^^" + (term.datatype.startsWith(XSD) ? "xsd:" + term.datatype.slice(XSD.length) : term.datatype);
    return shown;
  }

  function cell(term) {
    const td = document.createElement("td");
    if (!term) return td;
    if (term.type === "uri") {
      const a = document.createElement("a");
      a.href = "/entity?iri=" + encodeURIComponent(term.value);
      a.textContent = term.value;
      td.appendChild(a);
    } else {
      td.textContent = text(term);
    }
    return td;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    status.textContent = "running…";
    results.replaceChildren();
    const started = performance.now();
    const response = await fetch("/sparql", {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/sparql-results+json, text/turtle;q=0.9"},
      body: new URLSearchParams({query: textarea.value}),
    });
    const ms = Math.round(performance.now() - started);
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = response.status + " " + await response.text();
      results.appendChild(p);
      status.textContent = "";
      return;
    }
    const truncated = response.headers.get("X-SPARQL-Truncated") === "true";
    if (type.startsWith("application/sparql-results+json")) {
      const data = await response.json();
      if ("boolean" in data) {
        results.textContent = String(data.boolean);
      } else {
        const table = document.createElement("table");
        const head = table.insertRow();
        data.head.vars.forEach(function (v) {
          const th = document.createElement("th"); th.textContent = v; head.appendChild(th);
        });
        data.results.bindings.forEach(function (b) {
          const tr = table.insertRow();
          data.head.vars.forEach(function (v) { tr.appendChild(cell(b[v])); });
        });
        results.appendChild(table);
        status.textContent = data.results.bindings.length + " rows in " + ms + " ms" +
          (truncated ? " (truncated at " + response.headers.get("X-SPARQL-Max-Rows") + ")" : "");
        return;
      }
    } else {
      const pre = document.createElement("pre");
      pre.textContent = await response.text();
      results.appendChild(pre);
    }
    status.textContent = ms + " ms" + (truncated ? " (truncated)" : "");
  });
})();
