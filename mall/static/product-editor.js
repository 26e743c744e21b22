// Progressive enhancement of the product editor and store categories. Everything also works
// without it: the category and spec buttons redraw the form on the server, positions are numbers.
(function () {
  "use strict";

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  var form = document.getElementById("product-form");
  if (!form) return;

  function submitWith(button) {
    if (form.requestSubmit) form.requestSubmit(button);
    else button.click();
  }

  // A new category reloads the form with its attributes and suggested specs.
  var category = document.getElementById("category_id");
  var refresh = form.querySelector("[data-refresh]");
  if (category && refresh) {
    category.addEventListener("change", function () { submitWith(refresh); });
  }

  // The SKU table follows the specs as they are typed (rows are kept by their spec key).
  var table = document.getElementById("sku-table");
  var template = document.getElementById("sku-row-template");
  var SEPARATORS = /[\n,\uff0c\u3001;\uff1b]/;
  var MAX_SKUS = 400;

  function fold(text) { return (text.normalize ? text.normalize("NFKC") : text).toLowerCase(); }

  function axes() {
    var result = [];
    var names = {};
    form.querySelectorAll(".pe-spec").forEach(function (row) {
      var name = row.querySelector("[data-spec-name]").value.trim();
      var values = [];
      var seen = {};
      row.querySelector("[data-spec-values]").value.split(SEPARATORS).forEach(function (value) {
        value = value.trim();
        if (value && value.length <= 30 && !/[:|]/.test(value) && !seen[fold(value)]) {
          seen[fold(value)] = true;
          values.push(value);
        }
      });
      if (!name || !values.length || name.length > 20 || /[:|]/.test(name) || names[fold(name)]) return;
      names[fold(name)] = true;
      result.push({ name: name, values: values.slice(0, 20) });
    });
    return result.slice(0, 3);
  }

  function matrix(list) {
    var cells = [{ key: [], label: [] }];
    list.forEach(function (axis) {
      var next = [];
      cells.forEach(function (cell) {
        axis.values.forEach(function (value) {
          next.push({ key: cell.key.concat([axis.name + ":" + value]), label: cell.label.concat([value]) });
        });
      });
      cells = next;
    });
    return cells.map(function (cell) { return { key: cell.key.join("|"), label: cell.label.join(" / ") }; });
  }

  function rebuild() {
    var cells = matrix(axes());
    if (cells.length > MAX_SKUS) return;
    var body = table.tBodies[0];
    var existing = {};
    Array.prototype.forEach.call(body.rows, function (row) { existing[row.getAttribute("data-key")] = row; });
    var rows = cells.map(function (cell) {
      var row = existing[cell.key];
      if (!row) {
        row = template.content.firstElementChild.cloneNode(true);
        row.setAttribute("data-key", cell.key);
        row.querySelector("[data-label]").textContent = cell.label || table.getAttribute("data-single-label");
        row.querySelector('[data-field="key"]').value = cell.key;
      }
      return row;
    });
    while (body.firstChild) body.removeChild(body.firstChild);
    rows.forEach(function (row, index) {
      row.querySelectorAll("[data-field]").forEach(function (input) {
        input.name = "sku-" + index + "-" + input.getAttribute("data-field");
      });
      body.appendChild(row);
    });
  }

  if (table && template) {
    var timer = null;
    form.querySelectorAll("[data-spec-name], [data-spec-values]").forEach(function (input) {
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(rebuild, 300);
      });
    });
    var fill = form.querySelector("[data-fill]");
    if (fill) {
      fill.hidden = false;
      fill.querySelector("[data-fill-button]").addEventListener("click", function () {
        var value = document.getElementById("fill-price").value.trim();
        table.querySelectorAll('[data-field="price"]').forEach(function (input) { input.value = value; });
      });
    }
  }

  // Images: move up and down; the position fields follow the order on screen.
  var list = form.querySelector("[data-images]");
  if (list) {
    var renumber = function () {
      list.querySelectorAll("[data-pos]").forEach(function (input, index) { input.value = index + 1; });
    };
    list.querySelectorAll("[data-move]").forEach(function (span) { span.hidden = false; });
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-up], [data-down]");
      if (!button) return;
      var item = button.closest("[data-image]");
      if (button.hasAttribute("data-up") && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
      } else if (button.hasAttribute("data-down") && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
      }
      renumber();
    });
  }
})();
