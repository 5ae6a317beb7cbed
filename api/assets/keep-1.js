// Nothing typed is lost when a session ends. What a form sends is kept in
// this tab (sessionStorage) until its page answers. When the session had
// ended, the service answers with the sign-in page and, once signed in,
// sends the person back to the form's page: what she typed is put back
// there, with a message that nothing was saved yet. Any other answer (saved,
// or refused and shown again by the service) forgets it.
// Progressive enhancement: without this script the way back still works.
(function () {
  'use strict';
  var KEY = 'avip-form-sent';
  var store;
  try { store = window.sessionStorage; } catch (e) { return; }

  function read() {
    try { return JSON.parse(store.getItem(KEY) || 'null'); } catch (e) { return null; }
  }

  function signInPage() {
    return document.body.hasAttribute('data-sign-in');
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || signInPage()) return;
    if (form.method.toLowerCase() !== 'post' || form.hasAttribute('data-no-keep')) return;
    var submitter = event.submitter || null;
    var fields = [];
    new FormData(form, submitter).forEach(function (value, name) {
      if (name !== 'csrf' && typeof value === 'string') fields.push([name, value]);
    });
    var action = (submitter && submitter.getAttribute('formaction')) || form.getAttribute('action');
    try {
      store.setItem(KEY, JSON.stringify({ page: location.pathname, action: action, fields: fields, signIn: false }));
    } catch (e) { /* storage full or refused: nothing kept */ }
  });

  function formFor(action) {
    var forms = document.querySelectorAll('form[method="post"]');
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].getAttribute('action') === action) return forms[i];
    }
    var buttons = document.querySelectorAll('button[formaction]');
    for (var j = 0; j < buttons.length; j++) {
      if (buttons[j].getAttribute('formaction') === action) return buttons[j].form;
    }
    return null;
  }

  function fill(form, fields) {
    var sent = {};
    fields.forEach(function (pair) { (sent[pair[0]] = sent[pair[0]] || []).push(pair[1]); });
    Array.prototype.forEach.call(form.elements, function (el) {
      var values = sent[el.name];
      if (!values || el.type === 'submit' || el.type === 'button' || el.type === 'hidden') return;
      if (el.type === 'checkbox' || el.type === 'radio') {
        el.checked = values.indexOf(el.value) >= 0;
      } else {
        el.value = values.shift();
      }
    });
  }

  function restore() {
    var kept = read();
    if (!kept) return;
    if (signInPage()) {
      // The session had ended: keep it for the page she comes back to.
      kept.signIn = true;
      try { store.setItem(KEY, JSON.stringify(kept)); } catch (e) { /* nothing kept */ }
      return;
    }
    store.removeItem(KEY);
    if (!kept.signIn || location.pathname !== kept.page) return;
    var form = formFor(kept.action);
    if (!form) return;
    fill(form, kept.fields);
    var folded = form.closest('details');
    if (folded) folded.open = true;
    var message = document.createElement('p');
    message.className = 'notice';
    message.setAttribute('role', 'status');
    message.tabIndex = -1;
    message.id = 'saisie-retablie';
    message.textContent = 'Votre session avait pris fin : rien n’a encore été enregistré. '
      + 'Ce que vous aviez saisi est rétabli ci-dessous ; vérifiez-le, puis envoyez de nouveau.';
    form.parentNode.insertBefore(message, form);
    message.focus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', restore);
  else restore();
})();
