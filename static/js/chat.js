// Topic page: an ordered, de-duplicated message log fed by three paths that
// all carry the same out-of-band fragments: the live socket, the response to
// one's own send, and catch-up (from a cursor only catch-up moves) after
// every socket (re)open; the message menus and the moderator's controls.
// The composer is static/js/composer.js, which uses what this file puts in
// window.EnishiChat.
(function () {
  "use strict";
  var chat = document.querySelector(".chat[data-topic]");
  if (!chat) return;
  var topicId = chat.dataset.topic;
  var log = document.getElementById("topic-" + topicId + "-messages");
  var scroller = document.getElementById("topic-" + topicId + "-scroller");
  var form = document.getElementById("composer-" + topicId);
  var textarea = form.querySelector("textarea[name=body]");
  var errorBox = document.getElementById("composer-" + topicId + "-error");

  // One's own messages show Edit and Delete in their menu; a moderator's page
  // shows Delete on every message, and the moderator's items and controls
  // (.mod-only). The rules are built here, through the CSSOM: the
  // Content-Security-Policy allows no <style> in the page.
  var moderator = chat.hasAttribute("data-moderator");
  (function () {
    var own = '[data-author="' + parseInt(chat.dataset.member, 10) + '"]';
    var shown = [own + " .own-only", own + " .own-or-mod"];
    if (moderator) shown.push(".own-or-mod", ".mod-only");
    var sheet = new CSSStyleSheet();
    sheet.insertRule(shown.join(", ") + " { display: revert; }");
    // Nobody blocks, reports, mutes or bans themself.
    sheet.insertRule(own + " .others-only { display: none; }");
    // One's own messages read as one's own: a tinted bubble on the right,
    // without one's own avatar (static/css/chat_room.css lays out the rest).
    sheet.insertRule("article.msg" + own + " { flex-direction: row-reverse; }");
    sheet.insertRule("article.msg" + own + " .msg-main { background: var(--wash); border-color: var(--line); margin-left: auto; }");
    sheet.insertRule("article.msg" + own + " .msg-avatar { display: none; }");
    // A mention of me, and the message that has it, stand out.
    var mine = chat.dataset.memberUrl;
    if (mine) {
      var mention = 'a.mention[href="' + mine.replace(/["\\]/g, "\\$&") + '"]';
      sheet.insertRule("article.msg " + mention + " { background: var(--accent); color: var(--accent-ink); border-radius: 4px; padding: 0 3px; }");
      sheet.insertRule("article.msg:has(.msg-body " + mention + ") .msg-main { box-shadow: inset 3px 0 0 var(--accent); background: var(--accent-wash); }");
    }
    // A moderator does not delete, mute or ban the owner or another moderator.
    (chat.dataset.protected || "").split(" ").filter(Boolean).forEach(function (id) {
      var theirs = '[data-author="' + parseInt(id, 10) + '"]';
      sheet.insertRule([".msg-delete", ".msg-mute", ".msg-ban"].map(function (item) {
        return theirs + " " + item;
      }).join(", ") + " { display: none; }");
    });
    document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
  })();

  var fragments = window.EnishiFragments;
  var withoutAbsentTargets = fragments.withoutAbsentTargets;

  // Why a request of this page did not go through, or null when it did.
  function refusalOf(event) {
    return fragments.refusalOf(event, textarea.dataset.offline);
  }

  function idOf(el) { return parseInt(el.dataset.id, 10); }
  function lastId() {
    var items = log.querySelectorAll("article.msg[data-id]");
    return items.length ? idOf(items[items.length - 1]) : 0;
  }
  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }

  // Grouping, day separators and times, in the member's time zone. A live
  // fragment is one render for everyone, so each message carries only its
  // instant (data-at, epoch seconds) and the page does the rest, again for
  // the neighbours whenever messages go in or are replaced. A message follows
  // the one before under its header when both are by the same author, within
  // GROUP_SECONDS, on the same day; a day starts with a separator (Today,
  // Yesterday or its date). Separators sit among the articles but are never
  // article.msg, so the ordered insert and the cursor do not see them.
  var GROUP_SECONDS = 5 * 60;
  var zone = chat.dataset.timeZone || undefined;
  var language = document.documentElement.lang || undefined;
  function formatter(locale, options) {
    try {
      return new Intl.DateTimeFormat(locale, Object.assign({ timeZone: zone }, options));
    } catch (error) {  // a zone this browser does not know: the browser's own
      return new Intl.DateTimeFormat(locale, options);
    }
  }
  var dayParts = formatter("en-US", { year: "numeric", month: "2-digit", day: "2-digit" });
  var timeText = formatter(language, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  var fullText = formatter(language, { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  var dateText = formatter(language, { year: "numeric", month: "long", day: "numeric", weekday: "short" });
  function dayKey(ms) {
    var parts = {};
    dayParts.formatToParts(new Date(ms)).forEach(function (part) { parts[part.type] = part.value; });
    return parts.year + "-" + parts.month + "-" + parts.day;
  }
  function dayBefore(key) {
    var date = new Date(key + "T12:00:00Z");
    date.setUTCDate(date.getUTCDate() - 1);
    return date.toISOString().slice(0, 10);
  }
  function atOf(article) { return parseInt(article.dataset.at, 10) || 0; }
  function dayOf(article) {
    if (article.__day === undefined) article.__day = dayKey(atOf(article) * 1000);
    return article.__day;
  }
  // The fragment's times are written in the site's zone: rewrite them in the
  // member's (the time of day; the separators say the day).
  function zoneTimes(article) {
    if (article.__zoned) return;
    article.__zoned = true;
    var at = new Date(atOf(article) * 1000);
    var time = article.querySelector(".msg-head time");
    if (time) {
      time.textContent = timeText.format(at);
      time.title = fullText.format(at);
    }
    var edited = article.querySelector(".msg-edited[data-edited-at]");
    if (edited) {
      var when = new Date(parseInt(edited.dataset.editedAt, 10) * 1000);
      edited.title = fullText.format(when);
      var shown = article.querySelector(".msg-edited-at time");
      if (shown) {
        shown.textContent = fullText.format(when);
        shown.title = fullText.format(when);
      }
    }
  }
  function dayLabel(key) {
    var today = dayKey(Date.now());
    if (key === today) return chat.dataset.today || key;
    if (key === dayBefore(today)) return chat.dataset.yesterday || key;
    return dateText.format(new Date(atOfDay(key)));
  }
  // Noon UTC of the day: inside that day in every zone from -11 to +11 (the
  // date is what is written, not the time).
  function atOfDay(key) { return Date.parse(key + "T12:00:00Z"); }
  function separatorFor(day) {
    var separator = document.createElement("div");
    separator.className = "day-separator";
    separator.setAttribute("role", "separator");
    separator.dataset.day = day;
    separator.appendChild(document.createElement("span"));
    return separator;
  }
  function layout() {
    var free = {};
    log.querySelectorAll(":scope > .day-separator").forEach(function (separator) {
      (free[separator.dataset.day] = free[separator.dataset.day] || []).push(separator);
    });
    var previous = null;
    log.querySelectorAll("article.msg[data-id]").forEach(function (article) {
      zoneTimes(article);
      var day = dayOf(article);
      if (!previous || dayOf(previous) !== day) {
        var separator = (free[day] && free[day].shift()) || separatorFor(day);
        var before = article.previousElementSibling;
        var place = before && before.id === "new-messages-divider" ? before : article;
        if (place.previousElementSibling !== separator) place.before(separator);
        var label = dayLabel(day);
        if (separator.getAttribute("aria-label") !== label) {
          separator.setAttribute("aria-label", label);
          separator.firstChild.textContent = label;
        }
      }
      var above = article.previousElementSibling;
      var follows = !!(above && above.matches("article.msg[data-id]") &&
        above.dataset.author === article.dataset.author &&
        atOf(article) >= atOf(above) && atOf(article) - atOf(above) <= GROUP_SECONDS);
      if (article.classList.contains("msg-cont") !== follows) article.classList.toggle("msg-cont", follows);
      previous = article;
    });
    Object.keys(free).forEach(function (day) {
      free[day].forEach(function (separator) { separator.remove(); });
    });
  }
  // A message replaced (an edit, a delete) is a new node: lay it out again.
  // Laying out changes nothing the second time, so this ends.
  new MutationObserver(layout).observe(log, { childList: true });

  // "Jump to latest": shown while the reader is above the newest messages
  // and new ones arrive (their number beside it); new messages never move
  // what is being read.
  var jump = document.getElementById("topic-" + topicId + "-jump");
  var jumpCount = document.getElementById("topic-" + topicId + "-jump-count");
  var unseen = 0;
  function showJump(more) {
    if (!jump) return;
    unseen += more;
    jumpCount.textContent = unseen > 0 ? String(unseen) : "";
    jump.hidden = false;
  }
  function hideJump() {
    if (!jump) return;
    unseen = 0;
    jumpCount.textContent = "";
    jump.hidden = true;
  }
  if (jump) {
    jump.addEventListener("click", function () {
      hideJump();
      toBottom();
      scheduleRead();
      textarea.focus({ preventScroll: true });
    });
  }
  scroller.addEventListener("scroll", function () {
    if (jump && !jump.hidden && nearBottom()) {
      hideJump();
      scheduleRead();
    }
  }, { passive: true });

  // Insert a message where its id belongs; drop it when it is already shown
  // (keeping what the new copy says of the message before it).
  function insertOrdered(article) {
    var shown = document.getElementById(article.id);
    if (shown) {
      if (article.dataset.prev && !shown.dataset.prev) shown.dataset.prev = article.dataset.prev;
      return false;
    }
    return fragments.insertById(log, article, "article.msg[data-id]");
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target === log) {
      // Appends and prepends into the log go through insertOrdered.
      event.detail.shouldSwap = false;
      var stick = nearBottom();
      var beforeHeight = scroller.scrollHeight;
      var beforeTop = scroller.scrollTop;
      var firstBefore = log.querySelector("article.msg[data-id]");
      var newestBefore = lastId();
      var added = 0;
      var newOnes = 0;
      var me = chat.dataset.member;
      Array.prototype.slice.call(event.detail.fragment.children || event.detail.fragment.childNodes)
        .forEach(function (node) {
          if (node.nodeType === 1 && node.matches("article.msg[data-id]") && insertOrdered(node)) {
            added++;
            if (idOf(node) > newestBefore && node.dataset.author !== me) newOnes++;
          }
        });
      advanceCursor();
      if (!added) return;
      layout();
      var empty = document.getElementById("topic-" + topicId + "-empty");
      if (empty) empty.remove();
      var firstAfter = log.querySelector("article.msg[data-id]");
      if (firstBefore && firstAfter !== firstBefore) {
        // Older messages went in above: keep the reading position still.
        scroller.scrollTop = beforeTop + (scroller.scrollHeight - beforeHeight);
      } else if (stick) {
        toBottom();
        scheduleRead();
      } else if (newOnes) {
        // Scrolled up: the page stays where it is; the button says more came.
        showJump(newOnes);
      }
    } else if (target.id === olderId) {
      // "Load older" turns into "This is the beginning" (another height) after
      // the older messages went in below it: see htmx:oobAfterSwap.
      olderShift = { height: scroller.scrollHeight, top: scroller.scrollTop };
    } else if (target.matches && target.matches("article.msg")) {
      // A replaced message (edit, delete) keeps this viewer's own like state.
      var pressed = target.querySelector(".msg-like");
      var incoming = event.detail.fragment.querySelector(".msg-like");
      if (pressed && incoming) {
        incoming.setAttribute("aria-pressed", pressed.getAttribute("aria-pressed"));
      }
    }
  });

  // What sits above the log changed height: keep the reading position still.
  var olderId = "topic-" + topicId + "-older";
  var olderShift = null;
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (!olderShift || event.target.id !== olderId) return;
    scroller.scrollTop = olderShift.top + (scroller.scrollHeight - olderShift.height);
    olderShift = null;
  });

  // Catch-up (docs/live-protocol.md, "Catch-up"). The cursor is the id up to
  // which this page holds every visible message of the topic. Only catch-up
  // moves it, and only to the X-Cursor of an answer it received; a live frame
  // inserts its message but never moves it, so a gap between the cursor and a
  // live id is always fetched. A round asks for pages from the cursor until
  // the server has no more; every socket open starts one (or one more, after
  // the one running). A failed page is asked again with exponential back-off
  // and full jitter, no sooner than a 503's Retry-After, until it succeeds;
  // a refusal (no longer a member) ends it.
  var CATCHUP_SHOWN_AFTER_MS = 400;
  var RETRY_BASE_MS = 1000;
  var RETRY_CAP_MS = 30000;
  var cursor = parseInt(log.dataset.cursor, 10) || 0;

  // A new message that arrives live, or as the answer to one's own send,
  // names the topic's message right before it (data-prev): when that is the
  // cursor, nothing lies between the two, and the cursor moves on to it (and
  // on through any held message that names the new cursor in turn). So the
  // cursor keeps up while the socket delivers, and a catch-up after a break
  // asks only from where the break began. A message hidden from this member
  // is never delivered: the chain stops there until the next catch-up.
  function advanceCursor() {
    for (;;) {
      var next = log.querySelector('article.msg[data-prev="' + cursor + '"]');
      if (!next) return;
      cursor = idOf(next);
    }
  }
  var catchingUp = false;
  var again = false;
  var failures = 0;
  var catchupStatus = document.getElementById("catchup-status");
  var statusTimer = null;

  function showCatchingUp(shown) {
    clearTimeout(statusTimer);
    statusTimer = null;
    if (catchupStatus) catchupStatus.hidden = !shown;
  }
  function backoff(attempt) {
    return Math.random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * Math.pow(2, attempt));
  }
  function catchUp() {
    if (catchingUp) {
      again = true;  // the socket (re)opened meanwhile: one more round after this
      return;
    }
    catchingUp = true;
    again = false;
    failures = 0;
    statusTimer = setTimeout(function () { showCatchingUp(true); }, CATCHUP_SHOWN_AFTER_MS);
    fetchPage();
  }
  function roundDone() {
    if (again) {
      again = false;
      fetchPage();
      return;
    }
    catchingUp = false;
    showCatchingUp(false);
  }
  function retryLater(retryAfterSeconds) {
    showCatchingUp(true);
    var wait = (retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : 0) + backoff(failures);
    failures += 1;
    setTimeout(fetchPage, wait);
  }
  // What the page holds above the cursor (live frames past a gap), as id
  // ranges "12-15,18": the server counts them for the cursor and does not
  // send them again. At most MAX_HAVE_RANGES; past that, they come again and
  // the ordered insert drops them.
  var MAX_HAVE_RANGES = 50;
  function heldAbove(after) {
    var ids = [];
    log.querySelectorAll("article.msg[data-id]").forEach(function (el) {
      var id = idOf(el);
      if (id > after) ids.push(id);
    });
    ids.sort(function (a, b) { return a - b; });
    var ranges = [];
    for (var i = 0; i < ids.length && ranges.length < MAX_HAVE_RANGES; i++) {
      var first = ids[i];
      while (i + 1 < ids.length && ids[i + 1] === ids[i] + 1) i++;
      ranges.push(first === ids[i] ? String(first) : first + "-" + ids[i]);
    }
    return ranges.join(",");
  }
  function fetchPage() {
    var after = cursor;
    var have = heldAbove(after);
    var url = log.dataset.catchupUrl + "?after=" + after +
      "&since=" + encodeURIComponent(log.dataset.syncedAt || "") +
      (have ? "&have=" + have : "");
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected || (response.ok && response.headers.get("X-Refused"))) {
          // This page may no longer read the topic (or the session ended and
          // the answer is the login page): nothing to catch up; the socket
          // is closed for the same reason and the page says so.
          catchingUp = again = false;
          showCatchingUp(false);
          return;
        }
        if (!response.ok) {
          retryLater(response.status === 503 ? parseFloat(response.headers.get("Retry-After")) : 0);
          return;
        }
        return response.text().then(function (html) {
          htmx.swap(document.body, withoutAbsentTargets(html), { swapStyle: "none" });
          log.dataset.syncedAt = response.headers.get("X-Synced-At") || log.dataset.syncedAt;
          var next = parseInt(response.headers.get("X-Cursor"), 10);
          if (next > cursor) cursor = next;
          advanceCursor();
          failures = 0;
          // More after this page: ask from the cursor, which this answer (or
          // the live chain meanwhile) moved past where this page started.
          if (response.headers.get("X-More") === "1" && cursor > after) fetchPage();
          else roundDone();
        });
      })
      .catch(function () { retryLater(0); });
  }
  document.addEventListener("htmx:wsOpen", catchUp);

  // While the server cannot deliver live (it lost Redis: a live-degraded
  // frame), the page asks for what is new every data-poll ms, each time at a
  // random point of a window around it so a server's pages do not ask
  // together, until its socket opens again, whose catch-up takes over. A
  // poll that finds a round still running (a slow or busy server) is
  // skipped, not queued: the server sized the interval to what it can take.
  var DEFAULT_POLL_MS = 5000;
  var pollTimer = null;
  function stopPolling() {
    clearTimeout(pollTimer);
    pollTimer = null;
  }
  function pollEvery(interval) {
    stopPolling();
    (function next() {
      pollTimer = setTimeout(function () {
        if (!catchingUp) catchUp();
        next();
      }, interval * (0.5 + Math.random()));
    })();
  }
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string" || message.indexOf('<template id="live-degraded"') !== 0) return;
    var poll = /data-poll="(\d+)"/.exec(message);
    var interval = poll ? parseInt(poll[1], 10) : 0;
    pollEvery(interval >= 1000 ? interval : DEFAULT_POLL_MS);
  });
  document.addEventListener("htmx:wsOpen", stopPolling);

  // Read position: tell the server what has been seen while the tab is visible.
  var readTimer = null;
  function scheduleRead() {
    if (document.visibilityState !== "visible") return;
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      var body = new FormData();
      body.append("last_id", lastId());
      fetch(log.dataset.readUrl, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value },
      }).catch(function () { /* offline: the next read position says it */ });
    }, 1000);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && nearBottom()) scheduleRead();
  });

  // Older messages load when the "load older" button scrolls into view
  // (hx-trigger="click, intersect"), and the ordered insert above keeps the
  // reading position.

  // Refusals come as 200 (see refusalOf), but a plain-text 4xx can still come
  // from elsewhere (a middleware refusing bad input). Under DEBUG, django-htmx's
  // helper (a document listener) would replace the whole page with any 400/403/
  // 404 answer; keep plain text from reaching it. Django's HTML error pages still do.
  chat.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 400 &&
        (xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0) {
      event.stopPropagation();
    }
  });

  fragments.keepToShown(chat);

  // Likes, deletes, pins and unpins are sent from the log, not from their
  // buttons: a live update can replace the message (an edit, a delete from
  // another tab) while the request is in flight, and htmx looks for the
  // answer's out-of-band targets inside the element that made the request,
  // which is then no longer in the page (htmx:oobErrorNoTarget, the answer
  // lost).
  chat.addEventListener("click", function (event) {
    var button = event.target.closest(".msg-like, .msg-delete, .msg-pin, .msg-unpin");
    if (!button) return;
    if (button.classList.contains("msg-delete") && !window.confirm(button.dataset.confirm)) return;
    htmx.ajax("POST", button.dataset.url, { source: log, swap: "none" });
  });

  // A message's menu ("More actions", a menu button): Enter or Space opens
  // it on its first item (ArrowDown too; ArrowUp on its last), the arrow
  // keys, Home and End move among the items this viewer is shown, Escape
  // closes it and gives the focus back to its button; choosing an item,
  // Tab or a click elsewhere closes it.
  var openMenu = null;
  function menuItems(list) {
    return Array.prototype.filter.call(list.querySelectorAll("[role^=menuitem]"), function (item) {
      return item.getClientRects().length > 0;
    });
  }
  // Report, Mute author and Ban author lead where the page says (the same
  // for every message; empty while that page does not exist yet).
  function completeLinks(list) {
    list.querySelectorAll("[data-link]").forEach(function (item) {
      var base = chat.dataset[item.dataset.link + "Url"] || "";
      item.parentNode.hidden = !base;
      if (!base) return;
      // Back to this topic when its form is done.
      var next = "next=" + encodeURIComponent(location.pathname);
      item.href = item.dataset.link === "report"
        ? base + "?kind=message&id=" + item.dataset.id + "&" + next
        : base.replace("{member}", item.dataset.id) + "?" + next;
    });
  }
  function closeMenu(returnFocus) {
    if (!openMenu) return;
    var menu = openMenu;
    openMenu = null;
    menu.list.hidden = true;
    menu.button.setAttribute("aria-expanded", "false");
    if (returnFocus) menu.button.focus();
  }
  function showMenu(button, last) {
    closeMenu(false);
    var list = document.getElementById(button.getAttribute("aria-controls"));
    if (!list) return;
    completeLinks(list);
    // Like! in the menu (the way to it on a touch screen) says whether this
    // viewer likes the message, as the like button does.
    list.querySelectorAll(".msg-like-item").forEach(function (item) {
      var like = document.getElementById(item.dataset.like);
      item.setAttribute("aria-checked", like && like.getAttribute("aria-pressed") === "true" ? "true" : "false");
    });
    list.hidden = false;
    // Too near the bottom of the log to open downwards: it opens upwards.
    list.classList.remove("msg-menu-up");
    if (getComputedStyle(list).position === "absolute" &&
        list.getBoundingClientRect().bottom > scroller.getBoundingClientRect().bottom) {
      list.classList.add("msg-menu-up");
    }
    button.setAttribute("aria-expanded", "true");
    openMenu = { button: button, list: list };
    var items = menuItems(list);
    if (items.length) items[last ? items.length - 1 : 0].focus();
  }
  log.addEventListener("click", function (event) {
    var button = event.target.closest(".msg-menu-button");
    if (button) {
      if (openMenu && openMenu.button === button) closeMenu(true);
      else showMenu(button, false);
      return;
    }
    var likeItem = event.target.closest(".msg-like-item");
    if (likeItem) {
      var like = document.getElementById(likeItem.dataset.like);
      if (like) htmx.ajax("POST", like.dataset.url, { source: log, swap: "none" });
      // Back to the menu's button, so a keyboard goes on from the message.
      closeMenu(true);
      return;
    }
    // Copy text: on a touch screen a long press opens this menu rather than
    // selecting words, so the menu copies the message's text.
    var copyItem = event.target.closest(".msg-copy");
    if (copyItem && navigator.clipboard) {
      var copied = copyItem.closest("article.msg").querySelector(".msg-body");
      navigator.clipboard.writeText(copied ? copied.innerText : "").catch(function () {});
    }
    if (openMenu && event.target.closest("[role^=menuitem]")) closeMenu(false);
    // "(edited)": the time of the edit, shown and hidden (the title says it
    // to a pointer's hover).
    var edited = event.target.closest(".msg-edited");
    if (edited) {
      var time = document.getElementById(edited.getAttribute("aria-controls"));
      var open = edited.getAttribute("aria-expanded") !== "true";
      edited.setAttribute("aria-expanded", open ? "true" : "false");
      if (time) time.hidden = !open;
    }
  });

  // Touch: a long press on a message (or the context menu Android opens
  // with one) opens its actions; moving or scrolling first cancels it.
  var LONG_PRESS_MS = 500;
  var MOVE_TOLERANCE_PX = 10;
  var press = null;
  function cancelPress() {
    if (press) clearTimeout(press.timer);
    press = null;
  }
  function openActions(article) {
    var button = article && article.querySelector(".msg-menu-button");
    if (!button || (openMenu && openMenu.button === button)) return;
    showMenu(button, false);
  }
  log.addEventListener("touchstart", function (event) {
    cancelPress();
    if (event.touches.length !== 1) return;
    var article = event.target.closest("article.msg");
    if (!article || event.target.closest(".msg-menu-list")) return;
    var touch = event.touches[0];
    press = { x: touch.clientX, y: touch.clientY, fired: false };
    var current = press;
    press.timer = setTimeout(function () {
      current.fired = true;
      openActions(article);
    }, LONG_PRESS_MS);
  }, { passive: true });
  log.addEventListener("touchmove", function (event) {
    if (!press || press.fired) return;
    var touch = event.touches[0];
    if (Math.abs(touch.clientX - press.x) > MOVE_TOLERANCE_PX || Math.abs(touch.clientY - press.y) > MOVE_TOLERANCE_PX) {
      cancelPress();
    }
  }, { passive: true });
  log.addEventListener("touchend", function (event) {
    // The press opened the menu: the tap that ends it follows no link.
    if (press && press.fired && event.cancelable) event.preventDefault();
    if (press) clearTimeout(press.timer);
    press = null;
  });
  log.addEventListener("touchcancel", cancelPress);
  scroller.addEventListener("scroll", cancelPress, { passive: true });
  log.addEventListener("contextmenu", function (event) {
    var article = event.target.closest("article.msg");
    if (!article || !(press || window.matchMedia("(hover: none)").matches)) return;
    if (event.target.closest("a[href]:not(.mention)") && !press) return;
    event.preventDefault();
    openActions(article);
  });
  document.addEventListener("click", function (event) {
    if (openMenu && !openMenu.list.contains(event.target) && !openMenu.button.contains(event.target)) {
      closeMenu(false);
    }
  });
  log.addEventListener("keydown", function (event) {
    var button = event.target.closest(".msg-menu-button");
    if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      showMenu(button, event.key === "ArrowUp");
      return;
    }
    if (!openMenu || !openMenu.list.contains(event.target)) return;
    var items = menuItems(openMenu.list);
    var at = items.indexOf(event.target);
    var next = null;
    if (event.key === "ArrowDown") next = items[(at + 1) % items.length];
    else if (event.key === "ArrowUp") next = items[(at - 1 + items.length) % items.length];
    else if (event.key === "Home") next = items[0];
    else if (event.key === "End") next = items[items.length - 1];
    else if (event.key === "Escape") {
      event.preventDefault();
      closeMenu(true);
      return;
    } else if (event.key === "Tab") {
      closeMenu(false);
      return;
    } else if (event.key === " " && event.target.tagName === "A") {
      event.preventDefault();
      event.target.click();
      return;
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  // The moderator's controls (slow mode, lock) are sent from the log too:
  // the socket brings their new state, replacing the form that asked, often
  // before the answer (see above). A refusal says why at the composer.
  chat.addEventListener("submit", function (event) {
    var controls = event.target.closest(".topic-moderate");
    if (!controls) return;
    event.preventDefault();
    var values = {};
    new FormData(event.target).forEach(function (value, name) { values[name] = value; });
    htmx.ajax("POST", event.target.action, { source: log, swap: "none", values: values });
  });

  // Refused deletes and likes say why at the composer.
  log.addEventListener("htmx:afterRequest", function (event) {
    var reason = refusalOf(event);
    if (reason !== null) errorBox.textContent = reason;
  });

  // What the composer (static/js/composer.js) needs of the log.
  window.EnishiChat = {
    chat: chat, topicId: topicId, log: log, scroller: scroller, form: form,
    moderator: moderator, refusalOf: refusalOf, toBottom: toBottom,
    nearBottom: nearBottom, scheduleRead: scheduleRead,
  };

  // Opening the topic: at the first unread message (the "New messages"
  // divider near the top of the view) when there is one, else at the newest.
  layout();
  var divider = document.getElementById("new-messages-divider");
  if (divider) {
    scroller.scrollTop += divider.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
  } else {
    toBottom();
  }
  if (nearBottom()) scheduleRead();
  else if (divider) showJump(0);
})();
