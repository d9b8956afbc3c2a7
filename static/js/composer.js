// Topic page: the composer. Enter sends (never while an IME is composing);
// each message carries a client id, so a resend is harmless; a refusal says
// why under the composer and puts the text back; editing one's own message
// and replying happen here too, and the slow mode's countdown and the lock.
// The log is static/js/chat.js, loaded first (window.EnishiChat).
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
  var textarea = form.querySelector("textarea[name=body]");
  var clientField = form.querySelector("[data-client-id]");
  var replyField = form.querySelector("[data-reply-field]");
  var replyBanner = form.querySelector("[data-reply-banner]");
  var errorBox = document.getElementById("composer-" + topicId + "-error");
  var coarse = window.matchMedia("(pointer: coarse)").matches;

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // Composer: each message gets its own client id when it is sent; a refused
  // or failed send puts the text back and keeps its id, so a retry is harmless.
  clientField.value = newClientId();
  var pending = {};

  form.addEventListener("htmx:configRequest", function (event) {
    if (editing) {
      // Saving an edit: same composer, the message's own URL.
      event.detail.path = editing.url;
      delete event.detail.parameters.client_id;
      delete event.detail.parameters.reply_to;
      event.detail.headers["X-Client-Id"] = "edit";
      pending.edit = { body: event.detail.parameters.body, edit: editing };
      stopEditing();
      textarea.value = "";
      errorBox.textContent = "";
      autosize();
      return;
    }
    var id = event.detail.parameters.client_id;
    pending[id] = { body: event.detail.parameters.body, replyTo: replyField.value };
    event.detail.headers["X-Client-Id"] = id;
    textarea.value = "";
    clientField.value = newClientId();
    clearReply();
    errorBox.textContent = "";
    autosize();
  });

  form.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var id = xhr && event.detail.requestConfig ? event.detail.requestConfig.headers["X-Client-Id"] : null;
    var sent = id ? pending[id] : null;
    if (id) delete pending[id];
    var reason = refusalOf(event);
    if (reason === null) {
      toBottom();
      return;
    }
    errorBox.textContent = reason;
    // 202: held for a moderator to review (moderation/filters.py). The
    // message is kept on the server; putting it back would invite a resend.
    var held = xhr && xhr.getResponseHeader("X-Refused") === "202";
    if (sent && !held && textarea.value.trim() === "") {
      textarea.value = sent.body;
      if (sent.edit) startEditing(sent.edit.url, sent.body);
      else clientField.value = id;
      if (sent.replyTo) replyField.value = sent.replyTo;
      autosize();
    }
  });

  // Editing one's own message happens in the composer.
  var editing = null;
  var editBanner = form.querySelector("[data-edit-banner]");
  function startEditing(url, body) {
    clearReply();
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
  editBanner.querySelector("[data-edit-cancel]").addEventListener("click", function () {
    var draft = editing ? editing.draft : "";
    stopEditing();
    textarea.value = draft;
    autosize();
  });
  log.addEventListener("click", function (event) {
    var button = event.target.closest(".msg-edit");
    if (!button) return;
    var body = button.closest("article.msg").querySelector(".msg-body");
    startEditing(button.dataset.editUrl, body ? body.textContent : "");
  });

  // Enter sends; Shift+Enter is a new line. Enter that confirms an IME
  // conversion never sends: isComposing / keyCode 229, and Safari, which ends
  // the composition before the keydown arrives. On touch screens Enter is a
  // new line and the Send button sends.
  var compositionEndedAt = 0;
  textarea.addEventListener("compositionend", function () { compositionEndedAt = Date.now(); });
  textarea.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.isComposing || event.keyCode === 229) return;
    if (Date.now() - compositionEndedAt < 100) return;
    if (coarse) return;
    event.preventDefault();
    if (textarea.value.trim() === "") return;
    form.requestSubmit ? form.requestSubmit() : htmx.trigger(form, "submit");
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
  replyBanner.querySelector("[data-reply-cancel]").addEventListener("click", clearReply);

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
  form.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || !countdown || moderator) return;
    var retry = parseInt(xhr.getResponseHeader("Retry-After"), 10);
    if (retry > 0) {
      startCountdown(retry);
    } else if (xhr.status === 201) {
      var notice = slowNotice();
      var seconds = notice ? parseInt(notice.dataset.slowMode, 10) : 0;
      if (seconds > 0) startCountdown(seconds);
    }
  });
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
})();
