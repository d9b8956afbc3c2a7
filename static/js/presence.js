// Topic page: "Who's here" and "… is typing…" (presence/here.py,
// presence/typing.py). Both come as <template id="live-..."> control frames
// on the page's one socket, which live.js keeps htmx from swapping.
//
// The list: a live-here frame carries the whole list at a version; the page
// shows it only if that version is newer than the one it shows (lists from
// two server processes may cross). A live-here-changed frame carries only the
// version: the list itself is not sent to a socket whose member is hidden by
// a block from someone on it, so a page still behind that version asks for
// its own list over HTTP (it comes without the members hidden from it). So
// does a page whose socket (re)opened and brought no newer list soon after.
//
// Typing: while the composer holds text, a typing frame goes out at most
// every TYPING_EVERY_MS; a notice shows for TYPING_SHOWN_MS unless another
// comes from the same member.
(function () {
  "use strict";
  var list = document.querySelector("[data-here]");
  if (!list) return;
  var chat = document.querySelector(".chat[data-topic]");
  var topicId = list.dataset.topic;
  var me = chat ? chat.dataset.member : "";
  var version = parseInt(list.dataset.version, 10) || 0;
  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 5000;
  var AFTER_OPEN_MS = 2000;
  var FETCH_SPREAD_MS = 500;

  function frameOf(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var frame = holder.content.firstElementChild;
    if (!frame || frame.tagName !== "TEMPLATE" || frame.dataset.topic !== topicId) return null;
    return frame;
  }

  function showList(frame) {
    var next = parseInt(frame.dataset.version, 10) || 0;
    if (next <= version) return false;
    version = next;
    list.dataset.version = String(next);
    list.replaceChildren(frame.content.cloneNode(true));
    return true;
  }

  // One request at a time; one more after it when asked meanwhile.
  var fetching = false;
  var again = false;
  var waiting = null;
  function fetchList() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    fetch(list.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok || response.redirected) return;
        return response.text().then(function (html) {
          var frame = frameOf(html.trim());
          if (frame) showList(frame);
        });
      })
      .catch(function () {})
      .then(function () {
        fetching = false;
        if (again) {
          again = false;
          fetchList();
        }
      });
  }
  function fetchSoon() {
    if (waiting) return;
    waiting = setTimeout(function () {
      waiting = null;
      fetchList();
    }, Math.random() * FETCH_SPREAD_MS);
  }

  // Typing notices, one line per member, each gone after TYPING_SHOWN_MS.
  var line = document.querySelector("[data-typing]");
  var typing = {};
  function renderTyping() {
    if (!line) return;
    var texts = Object.keys(typing).map(function (id) { return typing[id].text; });
    line.textContent = texts.join(" ");
  }
  function showTyping(frame) {
    var member = frame.dataset.member;
    if (!member || member === me) return;
    var shown = typing[member];
    if (shown) clearTimeout(shown.timer);
    typing[member] = {
      text: frame.content.textContent,
      timer: setTimeout(function () {
        delete typing[member];
        renderTyping();
      }, TYPING_SHOWN_MS),
    };
    renderTyping();
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string") return;
    var frame;
    if (message.indexOf('<template id="live-here" ') === 0) {
      frame = frameOf(message);
      if (frame) showList(frame);
    } else if (message.indexOf('<template id="live-here-changed" ') === 0) {
      frame = frameOf(message);
      if (frame && (parseInt(frame.dataset.version, 10) || 0) > version) fetchSoon();
    } else if (message.indexOf('<template id="live-typing" ') === 0) {
      frame = frameOf(message);
      if (frame) showTyping(frame);
    }
  });

  // The socket, for sending typing frames while it is open.
  var socket = null;
  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    var shownAtOpen = version;
    setTimeout(function () {
      if (version === shownAtOpen) fetchSoon();
    }, AFTER_OPEN_MS);
  });
  document.addEventListener("htmx:wsClose", function () { socket = null; });

  var composer = chat ? chat.querySelector("textarea[name=body]") : null;
  var sentAt = 0;
  if (composer) {
    composer.addEventListener("input", function () {
      if (!socket || composer.value.trim() === "") return;
      var now = Date.now();
      if (now - sentAt < TYPING_EVERY_MS) return;
      sentAt = now;
      try {
        socket.sendImmediately(JSON.stringify({ type: "typing", topic: parseInt(topicId, 10) }));
      } catch (error) {
        sentAt = 0;  // not open after all: the next keystroke tries again
      }
    });
  }
})();
