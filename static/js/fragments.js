// What a page that shows a live list (a topic's messages, a diary entry's
// comments) does with the fragments it receives, whichever way they come:
// over the socket, as a catch-up, or as the answer to its own request.
//
// - insertById(list, node, selector): put an item where its id belongs,
//   once: the socket, the catch-up and one's own post may all bring it.
// - withoutAbsentTargets(html): drop out-of-band fragments about something
//   the page does not show (a like on a message older than the loaded page,
//   a comment deleted that never reached it), which htmx would log as
//   htmx:oobErrorNoTarget.
// - keepToShown(scope): apply withoutAbsentTargets to the socket's fragments
//   and to the answers of requests made inside `scope`.
// - refusalOf(event, offline): why a request did not go through, or null.
window.EnishiFragments = (function () {
  "use strict";

  function idOf(el) { return parseInt(el.dataset.id, 10) || 0; }

  function insertById(list, node, selector) {
    if (document.getElementById(node.id)) return false;
    var id = idOf(node);
    var items = list.querySelectorAll(selector);
    var anchor = null;
    for (var i = items.length - 1; i >= 0; i--) {
      if (idOf(items[i]) < id) { anchor = items[i]; break; }
    }
    if (anchor) anchor.after(node);
    else list.prepend(node);
    htmx.process(node);
    return true;
  }

  function targetShown(el) {
    var value = el.getAttribute("hx-swap-oob");
    var colon = value.indexOf(":");
    var selector = colon > 0 ? value.slice(colon + 1) : el.id ? "#" + CSS.escape(el.id) : "";
    if (!selector) return true;  // nothing to look for: htmx's to judge
    try {
      return document.querySelector(selector) !== null;
    } catch (error) {
      return true;  // not a selector this browser reads: htmx's to judge
    }
  }

  function withoutAbsentTargets(html) {
    if (html.indexOf("hx-swap-oob") === -1) return html;
    var template = document.createElement("template");
    template.innerHTML = html;
    var dropped = false;
    template.content.querySelectorAll("[hx-swap-oob]").forEach(function (el) {
      if (!targetShown(el)) {
        el.remove();
        dropped = true;
      }
    });
    return dropped ? template.innerHTML : html;
  }

  function keepToShown(scope) {
    // The socket's fragments (live.js handles its control frames).
    document.addEventListener("htmx:wsBeforeMessage", function (event) {
      var message = event.detail.message;
      if (typeof message !== "string" || message.indexOf('<template id="live-') === 0) return;
      var kept = withoutAbsentTargets(message);
      if (kept === message) return;
      event.preventDefault();
      if (kept.trim()) htmx.swap(document.body, kept, { swapStyle: "none" });
    });
    // Answers to the page's own requests.
    scope.addEventListener("htmx:beforeSwap", function (event) {
      if (typeof event.detail.serverResponse === "string") {
        event.detail.serverResponse = withoutAbsentTargets(event.detail.serverResponse);
      }
    });
  }

  // The server answers a refusal to htmx with 200 and X-Refused (a 4xx would
  // be logged by the browser as an error: project/refusals.py), its reason as
  // plain text; no answer at all means the network failed.
  function refusalOf(event, offline) {
    var xhr = event.detail.xhr;
    if (!xhr || !xhr.status) return offline;
    if (event.detail.successful && !xhr.getResponseHeader("X-Refused")) return null;
    return (xhr.responseText || "").slice(0, 300) || offline;
  }

  return {
    insertById: insertById,
    withoutAbsentTargets: withoutAbsentTargets,
    keepToShown: keepToShown,
    refusalOf: refusalOf,
  };
})();
