/* Suggestions while typing for every search form with data-suggest (GET <url>?q= → {suggestions: [...]}).
   Keyboard: ↓/↑ move, Enter picks, Escape closes. */
(function () {
  "use strict";
  function attach(form) {
    var input = form.querySelector('input[name="q"]');
    if (!input || !form.dataset.suggest) return;
    var list = document.createElement("ul");
    var listId = (input.id || "q") + "-suggestions";
    var active = -1, timer = null, seq = 0, items = [];
    list.id = listId;
    list.className = "suggest-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    form.classList.add("has-suggest");
    input.insertAdjacentElement("afterend", list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("aria-expanded", "false");

    function close() {
      list.hidden = true;
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function pick(term) {
      input.value = term;
      close();
      form.submit();
    }
    function highlight(index) {
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0) input.setAttribute("aria-activedescendant", items[index].id);
    }
    function render(terms) {
      list.textContent = "";
      items = terms.map(function (term, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.textContent = term;
        li.addEventListener("mousedown", function (event) { event.preventDefault(); pick(term); });
        list.appendChild(li);
        return li;
      });
      active = -1;
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
    }
    function fetchSuggestions() {
      var value = input.value.trim();
      if (!value) { render([]); return; }
      var mine = ++seq;
      fetch(form.dataset.suggest + "?q=" + encodeURIComponent(value), { headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) { if (mine === seq) render(data.suggestions || []); })
        .catch(function () { /* suggestions are a convenience: stay quiet */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % items.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight((active - 1 + items.length) % items.length); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); pick(items[active].textContent); }
      else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }
  document.querySelectorAll("form[data-suggest]").forEach(attach);
})();
