/* 呼应综合指挥平台 — progressive enhancement only: every page works without this file.
   Here: the item picker's filter, the photo preview, location with consent, possible
   duplicates before submitting, and the raise form kept on the device while there is no
   signal (sent, with its Idempotency-Key, when the network returns). */
"use strict";

(function () {
  var QUEUE = "huying.offline.raise";

  function $(selector, root) { return (root || document).querySelector(selector); }

  function csrf() { var m = $('meta[name="csrf-token"]'); return m ? m.content : ""; }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + Math.random().toString(36).slice(2);
  }

  /* 事项 picker: typing filters the options by name or code. */
  function itemFilter() {
    var box = $("#item-filter"), select = $("#item_code");
    if (!box || !select) return;
    box.addEventListener("input", function () {
      var words = box.value.trim().toLowerCase();
      var first = null;
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var shown = 0;
        Array.prototype.forEach.call(group.querySelectorAll("option"), function (o) {
          var hit = !words || o.textContent.toLowerCase().indexOf(words) >= 0 || group.label.indexOf(words) >= 0;
          o.hidden = !hit;
          o.disabled = !hit;
          if (hit) { shown += 1; if (!first) first = o; }
        });
        group.hidden = shown === 0;
      });
      if (first && (select.selectedIndex < 0 || select.options[select.selectedIndex].hidden)) {
        first.selected = true;
        select.dispatchEvent(new Event("change"));
      }
    });
  }

  function photoPreview() {
    var input = $("#photo"), img = $("#photo-preview");
    if (!input || !img) return;
    input.addEventListener("change", function () {
      if (input.files && input.files[0]) { img.src = URL.createObjectURL(input.files[0]); img.hidden = false; }
      else { img.hidden = true; }
    });
  }

  /* 位置: asked only when the person presses the button; the browser asks for consent. */
  function locate(form) {
    var button = $("#locate"), status = $("#locate-status");
    if (!button) return;
    if (!navigator.geolocation) { button.hidden = true; return; }
    button.addEventListener("click", function () {
      status.textContent = "正在定位… Locating…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.elements.lat.value = pos.coords.latitude.toFixed(6);
        form.elements.lon.value = pos.coords.longitude.toFixed(6);
        status.textContent = "已定位 Located: " + form.elements.lat.value + ", " + form.elements.lon.value;
        checkDuplicates(form);
      }, function (err) {
        status.textContent = "未能定位 No location (" + err.message + ")；可填写地址 type the address instead.";
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  /* 重复提示: open calls of this item in this grid or nearby, before submitting. */
  function checkDuplicates(form) {
    var target = $("#duplicates");
    var item = form.elements.item_code.value, grid = form.elements.grid_code.value;
    if (!target || !item || !grid || !navigator.onLine) return;
    var q = "?item=" + encodeURIComponent(item) + "&grid=" + encodeURIComponent(grid);
    if (form.elements.lat.value && form.elements.lon.value) {
      q += "&lat=" + encodeURIComponent(form.elements.lat.value) + "&lon=" + encodeURIComponent(form.elements.lon.value);
    }
    fetch(target.dataset.src + q, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { target.innerHTML = html; })
      .catch(function () { /* offline: no hints, the form still works */ });
  }

  /* 离线: the queue of raise forms filled without signal. */
  function queued() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function keep(items) { localStorage.setItem(QUEUE, JSON.stringify(items)); }

  function fieldsOf(form) {
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.name === "csrf" || el.type === "submit") return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      fields[el.name] = el.value;
    });
    if (!fields.occurred_at) fields.occurred_at = new Date().toISOString();  // when it was seen, not sent
    return fields;
  }

  function readPhoto(form) {
    var input = form.elements.photo;
    return new Promise(function (resolve) {
      if (!input || !input.files || !input.files[0]) { resolve(null); return; }
      var reader = new FileReader();
      reader.onload = function () { resolve({ name: input.files[0].name, data: reader.result }); };
      reader.onerror = function () { resolve(null); };
      reader.readAsDataURL(input.files[0]);
    });
  }

  function blobOf(dataUrl) {
    var parts = dataUrl.split(","), type = parts[0].split(":")[1].split(";")[0];
    var bytes = atob(parts[1]), array = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i += 1) array[i] = bytes.charCodeAt(i);
    return new Blob([array], { type: type });
  }

  function bodyOf(item) {
    var data = new FormData();
    Object.keys(item.fields).forEach(function (k) { data.append(k, item.fields[k]); });
    data.append("csrf", csrf());
    if (item.photo) data.append("photo", blobOf(item.photo.data), item.photo.name || "photo.jpg");
    return data;
  }

  function send(item) {
    return fetch("/console/raise", {
      method: "POST", body: bodyOf(item), credentials: "same-origin",
      headers: { "Idempotency-Key": item.fields.idempotency_key, "X-CSRF-Token": csrf() }
    });
  }

  function showQueue() {
    var box = $("#offline-queue"), list = $("#offline-list");
    if (!box || !list) return;
    var items = queued();
    box.hidden = items.length === 0;
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = (item.fields.title || "") + " · " + new Date(item.savedAt).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" }) +
        (item.error ? " · 被拒绝 refused: " + item.error + " " : " · 等待网络 waiting");
      if (item.error) {
        var discard = document.createElement("button");
        discard.type = "button";
        discard.className = "secondary";
        discard.textContent = "删除 Discard";
        discard.addEventListener("click", function () {
          keep(queued().filter(function (x) { return x.fields.idempotency_key !== item.fields.idempotency_key; }));
          showQueue();
        });
        li.appendChild(discard);
      }
      list.appendChild(li);
    });
  }

  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine || !csrf()) return;
    var items = queued().filter(function (x) { return !x.error; });  // a refused form waits for its owner
    if (!items.length) return;
    flushing = true;
    var item = items[0];
    send(item).then(function (r) {
      var rest = queued().filter(function (x) { return x.fields.idempotency_key !== item.fields.idempotency_key; });
      if (r.ok) { keep(rest); }
      else { item.error = "HTTP " + r.status; keep(rest.concat([item])); if (r.status >= 500) throw new Error("later"); }
      flushing = false; showQueue(); if (r.ok) flush();
    }).catch(function () { flushing = false; showQueue(); });
  }

  function offlineForm(form) {
    var status = $("#offline-status");
    form.addEventListener("submit", function (event) {
      if (!form.checkValidity()) return;
      event.preventDefault();
      var fields = fieldsOf(form);
      readPhoto(form).then(function (photo) {
        var item = { fields: fields, photo: photo, savedAt: Date.now() };
        if (!navigator.onLine) { park(item); return; }
        send(item).then(function (r) {
          if (r.ok && r.redirected) { window.location.assign(r.url); return; }
          form.submit();  /* refused (nothing was written): let the server show why, with the same key */
        }).catch(function () { park(item); });
      });
    });

    function park(item) {
      var items = queued();
      try { keep(items.concat([item])); }
      catch (e) { item.photo = null; keep(items.concat([item])); status.textContent = "照片过大，未能保存在本机 The photo did not fit on the device."; }
      form.reset();
      form.elements.idempotency_key.value = newKey();
      status.textContent = "无网络：已保存在本机，联网后自动发送。No signal: kept on this device, sent when the network returns.";
      showQueue();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = $("form[data-offline]");
    itemFilter();
    photoPreview();
    if (form) {
      locate(form);
      offlineForm(form);
      form.elements.item_code.addEventListener("change", function () { checkDuplicates(form); });
      form.elements.grid_code.addEventListener("change", function () { checkDuplicates(form); });
    }
    showQueue();
    flush();
    window.addEventListener("online", flush);
  });
})();
