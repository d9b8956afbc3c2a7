// Topic page: the composer. Enter sends (never while an IME is composing);
// each message carries a client id, so a resend is harmless; a refusal says
// why under the composer and puts the text back; editing one's own message
// and replying happen here too, and the slow mode's countdown and the lock.
// The log is static/js/chat.js, loaded first (window.EnishiChat).
//
// Nothing typed is lost: the text being written is kept per member and topic
// in localStorage (a draft, restored on load, cleared once sent); a message
// sent while offline waits in an outbox (kept there too), shown after the log
// as "Sending…", and goes out once the connection is back, in order, with
// its own client id, one request at a time. Logging out clears both
// (static/js/session_end.js).
//
// Keys: Up arrow in an empty composer edits one's last message; Escape
// cancels an edit (the draft comes back) or a reply.
(function () {
  "use strict";
  var room = window.EnishiChat;
  if (!room) return;
  var topicId = room.topicId;
  var log = room.log;
  var form = room.form;
  var moderator = room.moderator;
  var toBottom = room.toBottom;
  var refusalOf = room.refusalOf;
  var fragments = window.EnishiFragments;
  var member = parseInt(room.chat.dataset.member, 10) || 0;
  var textarea = form.querySelector("textarea[name=body]");
  var clientField = form.querySelector("[data-client-id]");
  var replyField = form.querySelector("[data-reply-field]");
  var replyBanner = form.querySelector("[data-reply-banner]");
  var errorBox = document.getElementById("composer-" + topicId + "-error");
  var outboxStatus = form.querySelector("[data-outbox-status]");
  var coarse = window.matchMedia("(pointer: coarse)").matches;

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // localStorage may be missing or full (a private window): then drafts and
  // the outbox live as long as the page, no longer.
  var DRAFT_KEY = "enishi:draft:" + member + ":" + topicId;
  var OUTBOX_KEY = "enishi:outbox:" + member + ":" + topicId;
  function stored(key) {
    try { return window.localStorage.getItem(key); } catch (error) { return null; }
  }
  function store(key, value) {
    try {
      if (value) window.localStorage.setItem(key, value);
      else window.localStorage.removeItem(key);
    } catch (error) { /* kept in the page only */ }
  }

  // Drafts. Only the new message's text is a draft: while editing, the draft
  // is what was there before the edit (editing.draft), already saved. A draft
  // is written when it changed (a tab whose session ended elsewhere must not
  // write back what the logout cleared).
  var DRAFT_DELAY_MS = 300;
  var draftTimer = null;
  var savedDraft = stored(DRAFT_KEY) || "";
  function saveDraft() {
    clearTimeout(draftTimer);
    draftTimer = null;
    if (editing) return;
    var text = textarea.value.trim() ? textarea.value : "";
    if (text === savedDraft) return;
    savedDraft = text;
    store(DRAFT_KEY, text);
  }
  function saveDraftSoon() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, DRAFT_DELAY_MS);
  }
  textarea.addEventListener("input", saveDraftSoon);
  window.addEventListener("pagehide", function () { if (draftTimer) saveDraft(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && draftTimer) saveDraft();
  });

  // Composer: each message gets its own client id when it is sent; a refused
  // send puts the text back and keeps its id, so a retry is harmless.
  clientField.value = newClientId();
  var pending = {};

  // The outbox: messages sent while offline (or whose send failed at the
  // network), oldest first, each {id, body, replyTo}. Sent one at a time,
  // in order; a new message waits behind them, so the topic gets them in
  // the order they were written.
  var outbox = [];
  var outboxList = null;
  var sending = null;  // the client id of the outbox's message in flight
  var RETRY_BASE_MS = 2000;
  var RETRY_CAP_MS = 30000;
  var retryTimer = null;
  var failures = 0;

  function outboxElement() {
    if (outboxList) return outboxList;
    // After the log, not in it: the ordered log and its cursor hold only
    // the topic's messages.
    outboxList = document.createElement("ol");
    outboxList.id = "topic-" + topicId + "-outbox";
    outboxList.className = "outbox";
    outboxList.setAttribute("aria-label", form.dataset.outboxLabel || "");
    log.after(outboxList);
    return outboxList;
  }
  function saveOutbox() {
    store(OUTBOX_KEY, outbox.length ? JSON.stringify(outbox) : "");
  }
  function showOutbox() {
    var list = outboxElement();
    var shown = {};
    list.querySelectorAll("li[data-client-id]").forEach(function (li) {
      shown[li.dataset.clientId] = li;
    });
    outbox.forEach(function (item) {
      var li = shown[item.id];
      delete shown[item.id];
      if (li) return;
      li = document.createElement("li");
      li.className = "outbox-item";
      li.dataset.clientId = item.id;
      var body = document.createElement("p");
      body.className = "outbox-body";
      body.textContent = item.body;
      var state = document.createElement("p");
      state.className = "outbox-state";
      state.textContent = form.dataset.sending || "…";
      li.append(body, state);
      list.append(li);
    });
    Object.keys(shown).forEach(function (id) { shown[id].remove(); });
    list.hidden = outbox.length === 0;
    if (outboxStatus) outboxStatus.textContent = outbox.length ? form.dataset.queued || "" : "";
  }
  function enqueue(item) {
    if (outbox.some(function (queued) { return queued.id === item.id; })) return;
    outbox.push(item);
    saveOutbox();
    showOutbox();
    toBottom();
  }
  function dequeue(id) {
    outbox = outbox.filter(function (item) { return item.id !== id; });
    saveOutbox();
    showOutbox();
  }
  function online() { return navigator.onLine !== false; }

  // Send the outbox's first message, then the next, while online. One in
  // flight at a time (so never the same client id twice at once); a network
  // failure leaves it first in line until the connection is back or a
  // back-off ends.
  function pump() {
    if (sending || !outbox.length || !online()) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    var item = outbox[0];
    sending = item.id;
    var body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    body.append("client_id", item.id);
    body.append("reply_to", item.replyTo || "");
    body.append("body", item.body);
    fetch(form.getAttribute("hx-post") || form.action, {
      method: "POST", body: body, credentials: "same-origin", cache: "no-store",
      headers: { "HX-Request": "true", "X-Client-Id": item.id },
    }).then(function (response) {
      if (response.redirected) {
        // The session ended: the answer is the login page. The message
        // stays queued; the page goes to the login page (live.js).
        sending = null;
        return;
      }
      var status = response.status;
      if (!response.ok && !response.headers.get("X-Refused") &&
          (status >= 500 || status === 408 || status === 429)) {
        // The server could not answer (restarting, overloaded): later.
        throw new Error(String(status));
      }
      return response.text().then(function (html) {
        sending = null;
        failures = 0;
        var refused = response.headers.get("X-Refused") || (response.ok ? null : String(status));
        if (refused) {
          dequeue(item.id);
          var plain = (response.headers.get("Content-Type") || "").indexOf("text/plain") === 0;
          var reason = plain ? (html || "").slice(0, 300) : "";
          putBack(item, reason, refused === "202");
        } else {
          // Delivered (201), or already delivered before (200): the answer
          // inserts it into the log like any send's.
          htmx.swap(document.body, fragments.withoutAbsentTargets(html), { swapStyle: "none" });
          dequeue(item.id);
          toBottom();
        }
        afterAnswer(response.status, parseInt(response.headers.get("Retry-After"), 10));
        pump();
      });
    }).catch(function () {
      sending = null;
      var wait = Math.random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * Math.pow(2, failures));
      failures += 1;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(pump, wait);
    });
  }
  window.addEventListener("online", pump);
  window.addEventListener("pageshow", pump);  // back from the back-forward cache
  document.addEventListener("htmx:wsOpen", pump);

  // A refused message comes back to the composer with the reason (unless it
  // is held for review: it is kept on the server, a resend would be a
  // second one). What is already being written stays, after it.
  function putBack(sent, reason, held) {
    errorBox.textContent = reason || textarea.dataset.offline;
    if (held) return;
    if (editing) {
      editing.draft = sent.body + (editing.draft ? "\n" + editing.draft : "");
      store(DRAFT_KEY, editing.draft);
      savedDraft = editing.draft;
      return;
    }
    if (textarea.value.trim() === "") {
      textarea.value = sent.body;
      clientField.value = sent.id;
      if (sent.replyTo) replyField.value = sent.replyTo;
    } else {
      textarea.value = sent.body + "\n" + textarea.value;
    }
    autosize();
    saveDraft();
  }

  // Only the text, the client id and the reply go in the outbox: a message
  // with anything else (photos) is put back when offline, to be sent again.
  var QUEUEABLE = ["csrfmiddlewaretoken", "body", "client_id", "reply_to"];
  function queueable(formData) {
    var ok = true;
    formData.forEach(function (value, name) {
      if (QUEUEABLE.indexOf(name) === -1 && value !== "" && !(value instanceof File && !value.size)) ok = false;
    });
    return ok;
  }

  form.addEventListener("htmx:configRequest", function (event) {
    if (editing) {
      // Saving an edit: same composer, the message's own URL.
      event.detail.path = editing.url;
      delete event.detail.parameters.client_id;
      delete event.detail.parameters.reply_to;
      event.detail.headers["X-Client-Id"] = "edit";
      pending.edit = { body: event.detail.parameters.body, edit: editing };
      var draft = editing.draft;
      stopEditing();
      textarea.value = draft;
      errorBox.textContent = "";
      autosize();
      return;
    }
    var id = event.detail.parameters.client_id;
    clearTimeout(draftTimer);  // the draft is cleared once this is sent
    draftTimer = null;
    var sent = { id: id, body: event.detail.parameters.body, replyTo: replyField.value };
    textarea.value = "";
    clientField.value = newClientId();
    clearReply();
    errorBox.textContent = "";
    autosize();
    if ((outbox.length || !online()) && queueable(event.detail.formData || new FormData(form))) {
      // Offline, or others waiting: behind them, without a request now.
      event.preventDefault();
      enqueue(sent);
      saveDraft();
      pump();
      return;
    }
    pending[id] = sent;
    event.detail.headers["X-Client-Id"] = id;
  });

  form.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var id = xhr && event.detail.requestConfig ? event.detail.requestConfig.headers["X-Client-Id"] : null;
    var sent = id ? pending[id] : null;
    if (id) delete pending[id];
    if (xhr && !xhr.status && sent && !sent.edit && queueable(event.detail.requestConfig.formData)) {
      // No answer at all (the connection dropped): it waits in the outbox
      // and goes again, with the same client id, when the connection is back.
      enqueue(sent);
      saveDraft();
      pump();
      return;
    }
    var reason = refusalOf(event);
    if (xhr) afterAnswer(xhr.status, parseInt(xhr.getResponseHeader("Retry-After"), 10));
    if (reason === null) {
      if (sent && !sent.edit) saveDraft();  // sent: the draft is what is written since
      toBottom();
      return;
    }
    // 202: held for a moderator to review (moderation/filters.py). The
    // message is kept on the server; putting it back would invite a resend.
    var held = xhr && xhr.getResponseHeader("X-Refused") === "202";
    if (sent && sent.edit) {
      // The edit comes back; what is in the composer now is the draft again.
      errorBox.textContent = reason;
      if (!held && !editing) startEditing(sent.edit.url, sent.body);
      return;
    }
    if (sent) putBack(sent, reason, held);
    else errorBox.textContent = reason;
  });

  // Editing one's own message happens in the composer.
  var editing = null;
  var editBanner = form.querySelector("[data-edit-banner]");
  function startEditing(url, body) {
    clearReply();
    if (!editing) saveDraft();
    editing = { url: url, draft: editing ? editing.draft : textarea.value };
    textarea.value = body;
    editBanner.hidden = false;
    textarea.focus();
    autosize();
  }
  function stopEditing() {
    editing = null;
    editBanner.hidden = true;
  }
  function cancelEditing() {
    var draft = editing ? editing.draft : "";
    stopEditing();
    textarea.value = draft;
    autosize();
    textarea.focus();
  }
  editBanner.querySelector("[data-edit-cancel]").addEventListener("click", cancelEditing);
  function editMessage(article) {
    var button = article.querySelector(".msg-edit");
    if (!button) return false;
    var body = article.querySelector(".msg-body");
    startEditing(button.dataset.editUrl, body ? body.textContent : "");
    return true;
  }
  log.addEventListener("click", function (event) {
    var button = event.target.closest(".msg-edit");
    if (button) editMessage(button.closest("article.msg"));
  });
  // One's newest message still there (the log is in id order).
  function lastOwnMessage() {
    var own = log.querySelectorAll('article.msg[data-author="' + member + '"]:not(.msg-deleted)');
    return own.length ? own[own.length - 1] : null;
  }

  // Enter sends; Shift+Enter is a new line. Enter that confirms an IME
  // conversion never sends: isComposing / keyCode 229, and Safari, which ends
  // the composition before the keydown arrives. On touch screens Enter is a
  // new line and the Send button sends.
  var compositionEndedAt = 0;
  textarea.addEventListener("compositionend", function () { compositionEndedAt = Date.now(); });
  function composing(event) {
    return event.isComposing || event.keyCode === 229 || Date.now() - compositionEndedAt < 100;
  }
  textarea.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (composing(event)) return;
    if (coarse) return;
    event.preventDefault();
    if (textarea.value.trim() === "") return;
    form.requestSubmit ? form.requestSubmit() : htmx.trigger(form, "submit");
  });

  // Up arrow in an empty composer edits one's last message (as its menu's
  // Edit does); Escape cancels an edit, putting the draft back, or a reply.
  textarea.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || composing(event)) return;
    if (event.key === "ArrowUp" && !editing && textarea.value === "") {
      var last = lastOwnMessage();
      if (last && editMessage(last)) event.preventDefault();
    } else if (event.key === "Escape") {
      if (editing) cancelEditing();
      else if (!replyBanner.hidden) clearReply();
      else return;
      event.preventDefault();
    }
  });

  // Pressing Send (or a banner's Cancel) leaves the focus in the text: on a
  // phone the keyboard stays up for the next message, and the layout does
  // not change under the finger (the tab bar comes back when the text loses
  // the focus, moving the button before the press ends: no click).
  form.addEventListener("mousedown", function (event) {
    if (document.activeElement === textarea && event.target.closest("button, label")) event.preventDefault();
  });

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = Math.min(textarea.scrollHeight, 200) + "px";
  }
  textarea.addEventListener("input", autosize);

  // Replies.
  function clearReply() {
    replyField.value = "";
    replyBanner.hidden = true;
  }
  log.addEventListener("click", function (event) {
    var button = event.target.closest(".msg-reply");
    if (!button) return;
    replyField.value = button.dataset.replyTo;
    replyBanner.querySelector("[data-reply-text]").textContent =
      (replyBanner.dataset.label || "↩") + " " + button.dataset.replyAuthor;
    replyBanner.hidden = false;
    textarea.focus();
  });
  replyBanner.querySelector("[data-reply-cancel]").addEventListener("click", function () {
    clearReply();
    textarea.focus();
  });

  // Slow mode and lock (moderation/room.py): the notices above the composer
  // come live; after a send, a member waits out the slow mode with a
  // countdown (the server refuses sooner ones anyway, with Retry-After).
  var slowNotice = function () { return document.getElementById("topic-" + topicId + "-slow-mode-notice"); };
  var countdown = document.getElementById("topic-" + topicId + "-countdown");
  var countdownTimer = null;
  function startCountdown(seconds) {
    clearInterval(countdownTimer);
    var until = Date.now() + seconds * 1000;
    function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(countdownTimer);
        countdown.textContent = "";
        return;
      }
      countdown.textContent = countdown.dataset.countdown.replace("%(seconds)s", left);
    }
    tick();
    countdownTimer = setInterval(tick, 1000);
  }
  // After the answer to a send (from the form or from the outbox).
  function afterAnswer(status, retry) {
    if (!countdown || moderator) return;
    if (retry > 0) {
      startCountdown(retry);
    } else if (status === 201) {
      var notice = slowNotice();
      var seconds = notice ? parseInt(notice.dataset.slowMode, 10) : 0;
      if (seconds > 0) startCountdown(seconds);
    }
  }
  function showLocked() {
    var locked = document.getElementById("topic-" + topicId + "-locked");
    var isLocked = !!(locked && locked.hasAttribute("data-locked"));
    form.classList.toggle("composer-locked", isLocked);
    textarea.disabled = isLocked;
  }
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.target.id === "topic-" + topicId + "-locked") showLocked();
  });
  showLocked();

  // What was left here: the draft, and what still waits to be sent.
  if (savedDraft && textarea.value.trim() === "") {
    textarea.value = savedDraft;
    autosize();
  }
  try {
    var queued = JSON.parse(stored(OUTBOX_KEY) || "[]");
    if (Array.isArray(queued)) {
      queued.forEach(function (item) {
        if (item && typeof item.id === "string" && typeof item.body === "string") {
          outbox.push({ id: item.id, body: item.body, replyTo: item.replyTo || "" });
        }
      });
    }
  } catch (error) { /* nothing readable was kept */ }
  if (outbox.length) {
    showOutbox();
    toBottom();
    pump();
  }
})();
