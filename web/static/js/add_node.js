/* "Add a node": copy buttons, and the waiting line that turns green when the new node's first
 * heartbeat arrives (live.js dispatches each websocket event as a "live:<kind>" DOM event; a
 * heartbeat is pushed to its node's owner). The new node is any node not on the page's list of
 * nodes the friend had when the token was made. */
(function () {
  "use strict";

  function copied(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "Copied" : "Select and copy";
    setTimeout(function () { button.textContent = label; }, 1500);
  }

  function fallbackCopy(text) {
    // The clipboard API needs a secure context (https or localhost); plain-http sites get this.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var text = button.getAttribute("data-copy");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { copied(button, true); },
        function () { copied(button, fallbackCopy(text)); }
      );
    } else {
      copied(button, fallbackCopy(text));
    }
  });

  document.addEventListener("live:node.heartbeat", function (event) {
    var line = document.querySelector("[data-first-beat]");
    if (!line || line.getAttribute("data-node-id")) return;
    var known = (line.getAttribute("data-known-nodes") || "").split(/\s+/);
    var beat = event.detail || {};
    if (known.indexOf(String(beat.node_id)) !== -1) return;
    line.setAttribute("data-node-id", String(beat.node_id));
    line.className = "first-beat arrived";
    var text = line.querySelector('[data-field="first-beat-text"]') || line;
    text.textContent = "Your node \u201c" + beat.name + "\u201d is connected: its first heartbeat just arrived" +
      (beat.relaying ? " and it relays " + beat.relaying + "." : ". It relays as soon as the site assigns it a live stream.");
    var more = document.createElement("a");
    more.href = "/me";
    more.textContent = " See it on My nodes (reachability, earnings) \u2192";
    line.appendChild(more);
  });
})();
