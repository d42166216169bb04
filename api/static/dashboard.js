// PaymentKit dashboard: copy to clipboard, fields that depend on other fields, more item rows.
// Plain JavaScript, no build step; the pages work without it (every field is sent and checked
// on the server), this only makes them easier to use.
"use strict";

function currentValue(form, name) {
  const fields = form.querySelectorAll(`[name="${name}"]`);
  for (const field of fields) {
    if ((field.type === "radio" || field.type === "checkbox")) {
      if (field.checked) return field.value;
    } else {
      return field.value;
    }
  }
  return "";
}

// data-show-when="mode=payment,subscription": shown only while the form's `mode` is one of those.
function applyShowWhen(form) {
  for (const element of form.querySelectorAll("[data-show-when]")) {
    const [name, values] = element.dataset.showWhen.split("=");
    element.hidden = !values.split(",").includes(currentValue(form, name));
  }
}

function copyText(button) {
  const text = button.dataset.copy;
  const note = document.getElementById(button.dataset.copiedNote || "");
  const done = () => { if (note) { note.textContent = "Copied!"; setTimeout(() => { note.textContent = ""; }, 2500); } };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(button, done));
  } else {
    fallbackCopy(button, done);
  }
}

function fallbackCopy(button, done) {
  const input = document.getElementById(button.dataset.copyFrom || "");
  if (!input) return;
  input.select();
  if (document.execCommand("copy")) done();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form")) {
    if (!form.querySelector("[data-show-when]")) continue;
    applyShowWhen(form);
    form.addEventListener("change", () => applyShowWhen(form));
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copyText(button));
  }
  for (const button of document.querySelectorAll("[data-add-row]")) {
    button.addEventListener("click", () => {
      const next = document.querySelector(`${button.dataset.addRow} .row[hidden]`);
      if (next) next.hidden = false;
      if (!document.querySelector(`${button.dataset.addRow} .row[hidden]`)) button.hidden = true;
    });
  }
  for (const input of document.querySelectorAll("input[data-select-on-focus]")) {
    input.addEventListener("focus", () => input.select());
  }
});
