// Topic page: the composer's photos (templates/chat/_composer_photos.html).
// Up to data-max photos (each at most data-max-bytes, all together at most
// data-max-total) go with a message under "photos": chosen with the
// "Add photos" input (camera or gallery on a phone), pasted, or dropped on
// the composer. Each shows as a small thumbnail with a remove button; while
// they upload a progress bar shows. With photos the text may be empty. A
// send that fails (no answer, or a refusal) puts them back for a retry, as
// static/js/composer.js puts the text back; offline, a message with photos is
// not queued (the outbox holds text only): it is refused at the composer and
// everything stays. The form is multipart (enctype on the <form>).
(function () {
  "use strict";
  var room = window.EnishiChat;
  var picker = document.querySelector("[data-photo-picker]");
  if (!room || !picker) return;
  var form = room.form;
  var input = picker.querySelector("input[type=file][name=photos]");
  var list = picker.querySelector("[data-photo-list]");
  var progressBox = picker.querySelector("[data-photo-progress]");
  var progress = progressBox.querySelector("progress");
  var textarea = form.querySelector("textarea[name=body]");
  var errorBox = document.getElementById("composer-" + room.topicId + "-error");
  var max = parseInt(picker.dataset.max, 10) || 4;
  // Larger than the server takes (a file, or the request): refused here,
  // before a long upload ends in a refusal.
  var maxBytes = parseInt(picker.dataset.maxBytes, 10) || Infinity;
  var maxTotal = parseInt(picker.dataset.maxTotal, 10) || Infinity;
  var canCopyFiles = typeof DataTransfer === "function";

  var chosen = [];     // File objects, in the order they will be sent
  var inFlight = {};   // client id -> the files of that send

  function say(text) { errorBox.textContent = text || ""; }
  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }
  function isImage(file) {
    return /^image\//.test(file.type) || /\.(jpe?g|jfif|png|gif|webp|hei[cf]|hif)$/i.test(file.name || "");
  }

  // The input carries exactly `chosen`: that is what the form sends.
  function syncInput() {
    if (!canCopyFiles) return;
    var transfer = new DataTransfer();
    chosen.forEach(function (file) { transfer.items.add(file); });
    input.files = transfer.files;
  }

  function thumbnail(file, item) {
    // Drawn on a canvas: the Content-Security-Policy allows images from the
    // site only (no blob: URLs). A format the browser cannot draw (HEIC on
    // most) shows its name instead.
    if (typeof createImageBitmap !== "function") return;
    createImageBitmap(file).then(function (bitmap) {
      var canvas = document.createElement("canvas");
      var side = 112;
      var scale = Math.max(side / bitmap.width, side / bitmap.height);
      canvas.width = side;
      canvas.height = side;
      canvas.setAttribute("aria-hidden", "true");
      var w = bitmap.width * scale;
      var h = bitmap.height * scale;
      canvas.getContext("2d").drawImage(bitmap, (side - w) / 2, (side - h) / 2, w, h);
      if (bitmap.close) bitmap.close();
      var name = item.querySelector(".composer-photo-name");
      if (name) name.replaceWith(canvas);
    }).catch(function () { /* the name stays */ });
  }

  function render() {
    list.textContent = "";
    chosen.forEach(function (file, i) {
      var item = document.createElement("li");
      item.className = "composer-photo";
      var name = document.createElement("span");
      name.className = "composer-photo-name";
      name.textContent = file.name || "";
      name.setAttribute("aria-hidden", "true");
      item.appendChild(name);
      var label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = format(picker.dataset.chosen || "%(name)s", { n: i + 1, name: file.name || "" });
      item.appendChild(label);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "composer-photo-remove";
      remove.dataset.index = String(i);
      var cross = document.createElement("span");
      cross.setAttribute("aria-hidden", "true");
      cross.textContent = "×";
      var words = document.createElement("span");
      words.className = "visually-hidden";
      words.textContent = format(picker.dataset.remove || "", { n: i + 1 });
      remove.appendChild(cross);
      remove.appendChild(words);
      item.appendChild(remove);
      list.appendChild(item);
      thumbnail(file, item);
    });
    list.hidden = chosen.length === 0;
    // The text is optional once there are photos (the server takes either).
    textarea.required = chosen.length === 0;
  }

  // Add files from the input, a paste or a drop: images only, up to `max`;
  // the rest refused with a word at the composer.
  function add(files) {
    var refused = "";
    var total = chosen.reduce(function (sum, file) { return sum + file.size; }, 0);
    Array.prototype.forEach.call(files, function (file) {
      if (!isImage(file)) { refused = picker.dataset.notImage; return; }
      if (chosen.length >= max) { refused = picker.dataset.tooMany; return; }
      if (file.size > maxBytes) { refused = picker.dataset.tooBig; return; }
      if (total + file.size > maxTotal) { refused = picker.dataset.tooMuch; return; }
      total += file.size;
      chosen.push(file);
    });
    syncInput();
    render();
    say(refused);
  }
  function set(files) {
    chosen = files.slice();
    syncInput();
    render();
  }

  input.addEventListener("change", function () {
    // The input now holds only the new pick: what was chosen before stays.
    var picked = Array.prototype.slice.call(input.files || []);
    add(picked);
  });
  list.addEventListener("click", function (event) {
    var button = event.target.closest(".composer-photo-remove");
    if (!button) return;
    var at = parseInt(button.dataset.index, 10);
    chosen.splice(at, 1);
    syncInput();
    render();
    say("");
    // Focus stays in the list (the next photo's button), or goes to the input.
    var buttons = list.querySelectorAll(".composer-photo-remove");
    (buttons[Math.min(at, buttons.length - 1)] || input).focus();
  });

  // Paste (desktop): images on the clipboard become photos.
  form.addEventListener("paste", function (event) {
    var data = event.clipboardData;
    if (!data || !data.files || !data.files.length) return;
    var images = Array.prototype.filter.call(data.files, isImage);
    if (!images.length) return;
    event.preventDefault();
    add(images);
  });

  // Drag and drop onto the composer (desktop).
  function carriesFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }
  form.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    form.classList.add("photos-drop-target");
  });
  form.addEventListener("dragleave", function (event) {
    if (!form.contains(event.relatedTarget)) form.classList.remove("photos-drop-target");
  });
  form.addEventListener("drop", function (event) {
    form.classList.remove("photos-drop-target");
    if (!carriesFiles(event)) return;
    event.preventDefault();
    add(event.dataTransfer.files);
  });

  // Enter sends an empty text with photos too (composer.js sends only text);
  // the same IME rules.
  var coarse = window.matchMedia("(pointer: coarse)").matches;
  textarea.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.isComposing || event.keyCode === 229 || coarse) return;
    if (textarea.value.trim() !== "" || !chosen.length) return;
    event.preventDefault();
    form.requestSubmit ? form.requestSubmit() : htmx.trigger(form, "submit");
  });

  // Offline, a message with photos is not sent nor queued: said, and kept.
  // Caught before htmx (and composer.js) see the submit.
  document.addEventListener("submit", function (event) {
    if (event.target !== form || !chosen.length || navigator.onLine !== false) return;
    if (form.querySelector("[data-edit-banner]:not([hidden])")) return;  // an edit sends no photos
    event.preventDefault();
    event.stopImmediatePropagation();
    say(picker.dataset.offline);
  }, true);

  form.addEventListener("htmx:configRequest", function (event) {
    var data = event.detail.formData;
    if (event.detail.headers["X-Client-Id"] === "edit") {
      // Saving an edit (composer.js): no photos go, the chosen ones stay.
      if (data) data.delete("photos");
      return;
    }
    if (event.defaultPrevented || !chosen.length) return;  // queued (text only) or none
    if (data && !data.getAll("photos").some(function (file) { return file && file.size; })) {
      // No way to copy files into the input (an old browser): add them here.
      data.delete("photos");
      chosen.forEach(function (file) { data.append("photos", file); });
    }
    var id = event.detail.headers["X-Client-Id"];
    if (id) inFlight[id] = chosen.slice();
    set([]);
    progress.value = 0;
    progressBox.hidden = false;
  });

  form.addEventListener("htmx:xhr:progress", function (event) {
    if (progressBox.hidden || !event.detail.lengthComputable || !event.detail.total) return;
    progress.value = Math.round((100 * event.detail.loaded) / event.detail.total);
  });

  form.addEventListener("htmx:afterRequest", function (event) {
    var config = event.detail.requestConfig;
    var id = config && config.headers ? config.headers["X-Client-Id"] : null;
    var sent = id ? inFlight[id] : null;
    if (!sent) return;
    delete inFlight[id];
    progressBox.hidden = true;
    if (room.refusalOf(event) === null) return;
    // Not sent (no answer, refused, or held as text for review): the photos
    // come back, before any chosen since, for a retry.
    set(sent.concat(chosen).slice(0, max));
  });
})();
