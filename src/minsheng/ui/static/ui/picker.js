/* Type-to-search pickers. A <select data-picker> becomes an ARIA combobox: a text input and a
   listbox of the options whose name, parent (data-hint or <optgroup>), code (data-code) or pinyin
   initials (data-initials, "hxz" for 和兴镇) match what is typed. The select stays in the form,
   hidden, and holds the value, so the server sees the same field; without this script it is an
   ordinary select. A multiple select lists its choices under the input, each with a remove
   button. Keys: ArrowDown/ArrowUp move, Enter chooses, Escape closes, Tab chooses and leaves.
   No framework, no inline code, no eval: it runs under a strict Content-Security-Policy. */
(function () {
  "use strict";
  var LIMIT = 60; // options listed at once; typing narrows the rest
  var syncs = [];
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var make = function (tag, cls) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    return node;
  };
  var name = function (option) { return option.textContent.trim(); }; // trims U+3000 indents
  var hint = function (option) {
    var group = option.parentNode;
    var label = group.tagName === "OPTGROUP" ? group.label : "";
    return option.getAttribute("data-hint") || (label !== name(option) ? label : "");
  };
  var matches = function (option, query) {
    var data = option.dataset;
    return !query || (name(option) + " " + hint(option)).toLowerCase().indexOf(query) >= 0 ||
      (data.code || "").toLowerCase().indexOf(query) === 0 ||
      (data.initials || "").indexOf(query) === 0;
  };
  var changed = function (select) { select.dispatchEvent(new Event("change", { bubbles: true })); };

  function enhance(select) {
    if (select.hasAttribute("data-picker-ready")) return;
    select.setAttribute("data-picker-ready", "");
    var multi = select.multiple;
    var id = select.id;
    var label = document.querySelector('label[for="' + id + '"]');
    var box = make("div", "picker");
    var input = make("input");
    var list = make("ul", "picker-list");
    var status = make("p", "picker-status");
    var chips = make("ul", "picker-chips");
    var blank = select.querySelector('option[value=""]');
    var shown = [];
    var active = -1;

    input.type = "text";
    input.id = id + "_picker";
    input.autocomplete = "off";
    input.placeholder = blank ? name(blank) : "";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", (list.id = id + "_listbox"));
    list.setAttribute("role", "listbox");
    list.hidden = true;
    if (multi) list.setAttribute("aria-multiselectable", "true");
    if (label) {
      label.htmlFor = input.id;
      label.id = label.id || id + "_label";
      list.setAttribute("aria-labelledby", label.id);
    }
    var described = (select.getAttribute("aria-describedby") || "").split(" ")
      .concat([id + "_hint", id + "_error"]).filter(function (ref, index, refs) {
        return ref && refs.indexOf(ref) === index && document.getElementById(ref);
      });
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    if (select.closest(".has-error")) input.setAttribute("aria-invalid", "true");
    if (select.required) {
      input.setAttribute("aria-required", "true");
      select.required = false; // a hidden control cannot show the browser's message
    }
    status.setAttribute("aria-live", "polite"); // "No match" is read out
    select.hidden = true;
    select.tabIndex = -1;
    select.parentNode.insertBefore(box, select);
    box.appendChild(input);
    box.appendChild(list);
    box.appendChild(status);
    if (multi) box.appendChild(chips);

    var chosen = function () {
      var option = select.options[select.selectedIndex];
      return !multi && option && option.value ? name(option) : "";
    };
    var query = function () {
      return input.value === chosen() ? "" : input.value.trim().toLowerCase();
    };
    function move(index) {
      var items = list.children;
      if (items[active]) {
        items[active].classList.remove("active");
        if (!multi) items[active].setAttribute("aria-selected", "false");
      }
      active = index;
      var item = items[index];
      if (!item) return input.removeAttribute("aria-activedescendant");
      item.classList.add("active");
      if (!multi) item.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", item.id);
      item.scrollIntoView({ block: "nearest" });
    }
    function open(text) {
      shown = Array.prototype.filter.call(select.options, function (option) {
        return option.value && !option.disabled && matches(option, text);
      }).slice(0, LIMIT);
      list.textContent = "";
      active = -1;
      each(shown, function (option, index) {
        var item = make("li", "picker-option");
        var place = hint(option);
        item.id = list.id + "_" + index;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", String(multi && option.selected));
        item.textContent = name(option);
        if (place) {
          var small = make("span", "picker-hint");
          small.textContent = " · " + place;
          item.appendChild(small);
        }
        item.addEventListener("mousedown", function (event) { event.preventDefault(); });
        item.addEventListener("click", function () { choose(index); });
        list.appendChild(item);
      });
      list.hidden = !shown.length;
      input.setAttribute("aria-expanded", String(!!shown.length));
      status.textContent = shown.length ? "" : select.getAttribute("data-empty") || "";
      move(text || multi ? (shown.length ? 0 : -1) : Math.max(shown.indexOf(select.selectedOptions[0]), 0));
    }
    function close() {
      list.hidden = true;
      list.textContent = "";
      shown = [];
      active = -1;
      status.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function choose(index) {
      var option = shown[index];
      if (!option) return;
      option.selected = multi ? !option.selected : true;
      input.value = multi ? "" : name(option);
      close();
      changed(select);
    }
    function sync() { // the select's state (changed by the server's answer, say) → the widget
      if (select.hasAttribute("data-picker-swapped")) {
        // Options moved in one by one lose the server's choice: take it from their markup.
        select.removeAttribute("data-picker-swapped");
        each(select.options, function (option) { option.selected = option.defaultSelected; });
      }
      if (document.activeElement !== input) input.value = chosen();
      if (!multi) return;
      chips.textContent = "";
      each(select.selectedOptions, function (option) {
        var chip = make("li");
        var remove = make("button", "picker-remove");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label",
          (select.getAttribute("data-remove") || "{name}").replace("{name}", name(option)));
        remove.addEventListener("click", function () {
          option.selected = false;
          changed(select);
          input.focus();
        });
        chip.textContent = name(option) + " ";
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
    }

    input.addEventListener("input", function () { open(query()); });
    input.addEventListener("click", function () { if (list.hidden) open(query()); });
    input.addEventListener("focus", function () { input.select(); }); // typing replaces
    input.addEventListener("change", function (event) { event.stopPropagation(); });
    input.addEventListener("keydown", function (event) {
      var isOpen = !list.hidden;
      var key = event.key;
      if (key === "ArrowDown" || key === "ArrowUp") {
        event.preventDefault();
        if (!isOpen) open(query());
        else move(Math.min(Math.max(active + (key === "ArrowDown" ? 1 : -1), 0), shown.length - 1));
      } else if (key === "Enter" && (isOpen || input.value !== chosen())) {
        event.preventDefault(); // choose; never send the form half-typed
        choose(active);
      } else if (key === "Escape" && isOpen) {
        event.preventDefault();
        close();
        input.value = chosen();
      } else if (key === "Tab" && isOpen && active >= 0 && !multi) {
        choose(active);
      }
    });
    input.addEventListener("blur", function () {
      close();
      if (!multi && !input.value.trim() && blank && !blank.selected) {
        blank.selected = true; // emptied: no choice
        changed(select);
      }
      input.value = chosen();
    });
    select.addEventListener("change", sync);
    syncs.push(sync);
    sync();
  }

  function init(root) {
    if (root.matches && root.matches("select[data-picker]")) enhance(root);
    if (root.querySelectorAll) each(root.querySelectorAll("select[data-picker]"), enhance);
  }
  var syncAll = function () { each(syncs, function (sync) { sync(); }); };
  init(document);
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
  document.addEventListener("htmx:afterSettle", syncAll);
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target.hasAttribute("data-picker-ready")) target.setAttribute("data-picker-swapped", "");
  });
  document.addEventListener("htmx:oobAfterSwap", syncAll);
})();
