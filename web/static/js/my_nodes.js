/* "My nodes": keeps each node's "earning now / why not", its reachability and the open hour's
 * estimate current. live.js re-dispatches every pushed event as "live:<kind>"; the events that can
 * change them (heartbeats, spot-check verdicts, credits, reachability probes, streams going live or
 * off, appeals) schedule one re-fetch of /me as JSON, at most one per few seconds (heartbeats come
 * every 10 s from every node: they are coalesced). "Check again" probes the node from outside
 * without leaving the page. */
(function () {
  "use strict";
  var holder = document.querySelector("[data-me-state]");
  if (!holder) return;
  var url = holder.getAttribute("data-me-state");
  var MIN_GAP = 5000;   // ms between two re-fetches
  var QUIET = 60000;    // re-fetch at least this often: the estimate grows by the minute
  var last = 0;
  var timer = null;
  var busy = false;

  function each(root, selector, fn) { Array.prototype.forEach.call(root.querySelectorAll(selector), fn); }
  function field(root, name, fn) { each(root, '[data-field="' + name + '"]', fn); }
  function setText(root, name, text) { field(root, name, function (el) { el.textContent = text; }); }

  function showReach(row, reach) {
    field(row, "reach", function (el) {
      var unknown = reach.verdict === "unknown";
      el.textContent = reach.ok ? "yes" : unknown ? "not checked yet" : "no";
      el.className = reach.ok ? "pass" : unknown ? "muted" : "fail";
    });
    setText(row, "reach-detail", reach.verdict === "unknown" ? "" : reach.detail);
    if (reach.checked_at) {
      field(row, "reach-checked", function (el) { el.setAttribute("data-ts", reach.checked_at); el.textContent = "just now"; });
    }
  }

  function apply(state) {
    setText(document, "earned-today", state.earned_today);
    setText(document, "open-hour-estimate", state.open_hour.estimate);
    var earning = 0;
    Object.keys(state.nodes).forEach(function (id) {
      var node = state.nodes[id];
      if (node.earning.ok) earning += 1;
      each(document, 'tr[data-node="' + id + '"]', function (row) {
        field(row, "earning", function (el) { el.textContent = node.earning.ok ? "yes" : "no"; el.className = node.earning.ok ? "pass" : "fail"; });
        field(row, "earning-why", function (el) { el.textContent = node.earning.why; el.setAttribute("data-reason", node.earning.reason); });
        setText(row, "estimate", node.estimate);
        setText(row, "earned-today-node", node.earned_today);
        showReach(row, node.reachability);
      });
    });
    setText(document, "earning-count", String(earning));
  }

  function refresh() {
    timer = null;
    if (busy) { schedule(MIN_GAP); return; }
    busy = true;
    last = Date.now();
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) { if (state) apply(state); })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  function schedule(soon) {
    if (timer !== null) return;  // one re-fetch already on its way covers this event too
    var wait = Math.max(soon, last + MIN_GAP - Date.now(), 0);
    timer = setTimeout(refresh, wait);
  }

  // The server keeps each stream's split a few seconds (rewards/services/estimate.py, CACHE_SECONDS):
  // a re-fetch right after an event may still show the split from before it, so one more follows
  // once that has surely expired.
  var FOLLOW_UP = 11000;
  var followUp = null;
  function changed(soon) {
    schedule(soon);
    if (followUp === null) followUp = setTimeout(function () { followUp = null; schedule(0); }, FOLLOW_UP);
  }

  ["node.heartbeat", "spotcheck.verdict", "earnings.credited", "node.reachability", "stream.state", "appeal.changed"]
    .forEach(function (kind) {
      document.addEventListener("live:" + kind, function () { changed(kind === "node.heartbeat" ? 2000 : 300); });
    });
  setInterval(function () { if (Date.now() - last >= QUIET) schedule(0); }, 5000);
  last = Date.now();  // the page itself is fresh

  each(document, "form[data-probe]", function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var row = form.closest("tr");
      var button = form.querySelector("button");
      var token = form.querySelector("[name=csrfmiddlewaretoken]");
      button.disabled = true;
      setText(row, "reach-detail", "Checking from outside…");
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" }
      })
        .then(function (response) {
          if (response.status === 429) {
            var wait = response.headers.get("Retry-After");
            setText(row, "reach-detail", "Checked a moment ago: try again in " + (wait || "a few") + " s.");
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (body) {
          if (body && body.reachability) { showReach(row, body.reachability); changed(0); }
        })
        .catch(function () { setText(row, "reach-detail", "Could not ask the site: try again."); })
        .then(function () { button.disabled = false; });
    });
  });
})();
