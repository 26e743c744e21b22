// Product page: the SKU picker (price, market price and stock follow the chosen specs; combinations
// without an active SKU are disabled), the gallery thumbnails and the share link's copy button.
(function () {
  "use strict";
  function byId(id) { return document.getElementById(id); }
  function readJson(id) {
    var node = byId(id);
    try { return node ? JSON.parse(node.textContent) : null; } catch (e) { return null; }
  }

  var skus = readJson("sku-data") || [];
  var text = readJson("sku-text") || {};
  var buttons = Array.prototype.slice.call(document.querySelectorAll(".spec-value"));
  var axes = Array.prototype.slice.call(document.querySelectorAll(".spec-axis")).map(function (f) {
    return f.getAttribute("data-axis");
  });

  function chosen() {
    var specs = {};
    buttons.forEach(function (b) {
      if (b.getAttribute("aria-pressed") === "true") specs[b.getAttribute("data-axis")] = b.getAttribute("data-value");
    });
    return specs;
  }
  function matches(sku, specs) {
    return Object.keys(specs).every(function (axis) { return sku.specs[axis] === specs[axis]; });
  }
  function exact(specs) {
    if (Object.keys(specs).length < axes.length) return null;
    for (var i = 0; i < skus.length; i++) if (matches(skus[i], specs)) return skus[i];
    return null;
  }
  function show(node, visible) { if (node) node.hidden = !visible; }

  function render() {
    var specs = chosen();
    buttons.forEach(function (b) {
      var candidate = {};
      Object.keys(specs).forEach(function (k) { candidate[k] = specs[k]; });
      candidate[b.getAttribute("data-axis")] = b.getAttribute("data-value");
      var possible = skus.some(function (s) { return matches(s, candidate); });
      b.disabled = !possible;
      b.classList.toggle("is-disabled", !possible);
    });
    var sku = exact(specs);
    var price = byId("sku-price"), market = byId("sku-market"), stock = byId("sku-stock");
    var count = byId("sku-count"), quantity = byId("quantity");
    var addToCart = byId("add-to-cart");
    if (!sku) {
      if (addToCart) addToCart.disabled = true;
      if (stock) { stock.textContent = text.unavailable || ""; stock.className = "out-of-stock"; }
      show(count, false);
      if (quantity) quantity.disabled = true;
      show(byId("restock"), false);
      return;
    }
    if (price) price.textContent = "¥" + sku.price;
    if (market) {
      market.textContent = sku.market_price ? "¥" + sku.market_price : "";
      show(market, !!sku.market_price && sku.market_price_cents > sku.price_cents);
    }
    var inStock = sku.stock > 0;
    if (byId("cart-sku")) byId("cart-sku").value = sku.id;
    if (addToCart) addToCart.disabled = !inStock;
    if (stock) { stock.textContent = sku.label || (inStock ? "" : text.out || ""); stock.className = inStock ? "in-stock" : "out-of-stock"; }
    if (count) {
      count.textContent = "(" + (text.available || "{num}").replace("{num}", sku.stock) + ")";
      show(count, inStock);
    }
    if (quantity) {
      quantity.disabled = !inStock;
      quantity.max = inStock ? sku.stock : 1;
      if (inStock && Number(quantity.value) > sku.stock) quantity.value = sku.stock;
    }
    show(byId("restock"), !inStock);
    ["restock-sku", "restock-cancel-sku"].forEach(function (id) {
      var input = byId(id);
      if (input) input.value = sku.id;
    });
    show(byId("restock-form"), !inStock && !sku.waiting);
    show(byId("restock-waiting"), !inStock && !!sku.waiting);
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      if (b.disabled) return;
      var axis = b.getAttribute("data-axis");
      var pressed = b.getAttribute("aria-pressed") === "true";
      buttons.forEach(function (other) {
        if (other.getAttribute("data-axis") === axis) other.setAttribute("aria-pressed", "false");
      });
      if (!pressed) b.setAttribute("aria-pressed", "true");
      render();
    });
  });
  if (buttons.length) render();

  // Gallery: a thumbnail shows its picture in the main frame.
  var main = byId("gallery-main");
  Array.prototype.slice.call(document.querySelectorAll(".gallery-thumbs a")).forEach(function (link, _i, all) {
    link.addEventListener("click", function (event) {
      if (!main) return;
      event.preventDefault();
      main.src = link.getAttribute("data-full");
      all.forEach(function (other) { other.removeAttribute("aria-current"); });
      link.setAttribute("aria-current", "true");
    });
  });

  // Share: copy the canonical link.
  var copy = byId("share-copy"), link = byId("share-link");
  if (copy && link) {
    copy.addEventListener("click", function () {
      var done = function () { copy.textContent = copy.getAttribute("data-copied"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(link.value).then(done, function () { link.select(); });
      } else {
        link.select();
        try { if (document.execCommand("copy")) done(); } catch (e) { /* the link stays selected */ }
      }
    });
  }
})();
