/* Reloads a node's penalty box (warning, suspension, appeal) when a live event concerns it: a
 * spot-check verdict or an appeal opened/decided. live.js re-dispatches each event as "live:<kind>". */
(function () {
  "use strict";
  if (window.streamrPenaltyBoxes) return;  // the partial is included once per node
  window.streamrPenaltyBoxes = true;

  function reload(nodeId) {
    var box = document.querySelector('[data-penalty-node="' + nodeId + '"]');
    if (!box) return;
    fetch(box.getAttribute("data-penalty-url"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("[data-penalty-node]");
        if (fresh) box.replaceWith(fresh);
      });
  }

  ["live:spotcheck.verdict", "live:appeal.changed"].forEach(function (name) {
    document.addEventListener(name, function (event) { if (event.detail) reload(event.detail.node_id); });
  });
})();
