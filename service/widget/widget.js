/* readalso widget: a "Read also" box for an article page. Plain JavaScript, no framework.
 *   <div data-readalso-article="ID" data-readalso-k="5"></div>
 *   <script src="https://HOST/widget.js" async></script>
 * Options (data-readalso-*), CSS custom properties and the CSP contract: README "Embedding the widget"
 * and docs/service.md. Data is only written with textContent / setAttribute (nothing from the API is
 * parsed as HTML), and only absolute http(s) links are ever rendered (a link template too, resolved
 * against the page); the <style> carries the nonce of its own <script> tag.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var defaultBase = script ? new URL(script.src, location.href).origin : location.origin;
  var nonce = script ? script.nonce || script.getAttribute("nonce") || "" : "";
  var CSS =
    ".readalso{font:var(--readalso-font,inherit);color:var(--readalso-color,inherit);" +
    "background:var(--readalso-bg,transparent);border-top:3px solid var(--readalso-accent,currentColor);" +
    "border-radius:var(--readalso-radius,0);padding:var(--readalso-gap,.75rem) 0;margin:1.5rem 0}" +
    ".readalso__title{font-size:1.1em;margin:0 0 .5rem;text-transform:uppercase;letter-spacing:.04em}" +
    ".readalso__list{list-style:none;margin:0;padding:0}" +
    ".readalso__item{padding:var(--readalso-gap,.75rem) 0;border-bottom:1px solid var(--readalso-border,rgba(0,0,0,.12))}" +
    ".readalso__item:last-child{border-bottom:0}" +
    ".readalso__link{color:var(--readalso-link,inherit);font-weight:600;text-decoration:none}" +
    ".readalso__link:hover,.readalso__link:focus{color:var(--readalso-link-hover,inherit);text-decoration:underline}" +
    ".readalso__meta{display:block;font-size:.85em;color:var(--readalso-muted,#666);margin-top:.2rem}" +
    // data-readalso-theme="dark": other defaults for whatever custom properties the page leaves unset.
    ".readalso--dark{color:var(--readalso-color,#f2f2f2);background:var(--readalso-bg,#1b1b1d);" +
    "border-top-color:var(--readalso-accent,#ff5a5a);border-radius:var(--readalso-radius,6px);" +
    "padding-left:var(--readalso-gap,.75rem);padding-right:var(--readalso-gap,.75rem)}" +
    ".readalso--dark .readalso__link{color:var(--readalso-link,#f2f2f2)}" +
    ".readalso--dark .readalso__link:hover,.readalso--dark .readalso__link:focus{color:var(--readalso-link-hover,#ff8a8a)}" +
    ".readalso--dark .readalso__item{border-bottom-color:var(--readalso-border,rgba(255,255,255,.18))}" +
    ".readalso--dark .readalso__meta{color:var(--readalso-muted,#b8b8b8)}";

  function addStyle() {
    if (document.getElementById("readalso-style")) return;
    var style = document.createElement("style");
    style.id = "readalso-style";
    if (nonce) style.nonce = nonce;
    style.textContent = CSS;
    (document.head || document.documentElement).appendChild(style);
  }

  function beacon(base, events) {
    var url = base + "/v1/events", body = JSON.stringify(events);
    try {
      // A string body is sent as text/plain: a CORS-safelisted type, so no preflight.
      if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
      fetch(url, { method: "POST", body: body, keepalive: true, mode: "cors", credentials: "omit",
                   headers: { "Content-Type": "text/plain;charset=UTF-8" } }).catch(function () {});
    } catch (e) { /* beacons are best effort */ }
  }

  // The link as an absolute http(s) URL, or null: nothing else may become an href.
  function safeHref(url, base) {
    if (typeof url !== "string") return null;
    try {
      var parsed = base ? new URL(url, base) : new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) { return null; }
  }

  function formatDate(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    try {
      return date.toLocaleDateString(document.documentElement.lang || undefined,
                                     { year: "numeric", month: "short", day: "numeric" });
    } catch (e) { return iso.slice(0, 10); }
  }

  function render(el, base, articleId, data) {
    var linkTemplate = el.getAttribute("data-readalso-link");
    function href(item) {  // the page's link template (as written, if it resolves to http(s)), else the story's URL
      if (!linkTemplate) return safeHref(item.url);
      var link = linkTemplate.split("{id}").join(encodeURIComponent(item.id));
      return safeHref(link, document.baseURI) === null ? null : link;
    }
    var items = (data && Array.isArray(data.related) ? data.related : []).filter(function (item) {
      return item && typeof item.id === "string" && typeof item.headline === "string" &&
        safeHref(item.url) !== null && href(item) !== null;
    });
    if (!items.length) return;
    var showMeta = el.getAttribute("data-readalso-meta") !== "false";
    var headingId = "readalso-" + Math.random().toString(36).slice(2);
    var section = document.createElement("section");
    section.className = "readalso" + (el.getAttribute("data-readalso-theme") === "dark" ? " readalso--dark" : "");
    section.setAttribute("aria-labelledby", headingId);
    var heading = document.createElement("h2");
    heading.className = "readalso__title";
    heading.id = headingId;
    heading.textContent = el.getAttribute("data-readalso-title") || "Read also";
    var list = document.createElement("ol");
    list.className = "readalso__list";
    items.forEach(function (item, index) {
      var li = document.createElement("li");
      li.className = "readalso__item";
      var link = document.createElement("a");
      link.className = "readalso__link";
      link.href = href(item);
      link.textContent = item.headline;
      link.setAttribute("data-readalso-target", item.id);
      link.addEventListener("click", function () {
        beacon(base, [{ type: "click", article: articleId, target: item.id, position: index + 1,
                        time: Date.now(), model: data.model_version }]);
      });
      li.appendChild(link);
      var parts = showMeta ? [item.section || "", item.published_at ? formatDate(item.published_at) : ""] : [];
      if (parts.join("")) {
        var meta = document.createElement("span");
        meta.className = "readalso__meta";
        if (parts[0]) meta.appendChild(document.createTextNode(parts[0]));
        if (parts[0] && parts[1]) meta.appendChild(document.createTextNode(" \u00b7 "));
        if (parts[1]) {
          var time = document.createElement("time");
          time.setAttribute("datetime", item.published_at);
          time.textContent = parts[1];
          meta.appendChild(time);
        }
        li.appendChild(meta);
      }
      list.appendChild(li);
    });
    section.appendChild(heading);
    section.appendChild(list);
    el.textContent = "";
    el.appendChild(section);
    el.setAttribute("data-readalso-state", "rendered");
    whenVisible(section, 0.5, function () {
      beacon(base, items.map(function (item, index) {
        return { type: "impression", article: articleId, target: item.id, position: index + 1,
                 time: Date.now(), model: data.model_version };
      }));
    });
  }

  function load(el) {
    var articleId = el.getAttribute("data-readalso-article");
    var base = (el.getAttribute("data-readalso-api") || defaultBase).replace(/\/+$/, "");
    var params = new URLSearchParams();
    params.set("k", el.getAttribute("data-readalso-k") || "5");
    [["section", "data-readalso-section"], ["max_age_days", "data-readalso-max-age-days"]].forEach(function (p) {
      var value = el.getAttribute(p[1]);
      if (value) params.set(p[0], value);
    });
    el.setAttribute("data-readalso-state", "loading");
    fetch(base + "/v1/articles/" + encodeURIComponent(articleId) + "/related?" + params, {
      credentials: "omit", headers: { Accept: "application/json" }
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (data) {
      render(el, base, articleId, data);
      if (el.getAttribute("data-readalso-state") !== "rendered") el.setAttribute("data-readalso-state", "empty");
    }).catch(function () {
      el.setAttribute("data-readalso-state", "failed"); // render nothing: the page stays as it was
    });
  }

  function whenVisible(el, threshold, callback) {
    if (!("IntersectionObserver" in window)) return callback();
    var observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) {
        observer.disconnect();
        callback();
      }
    }, { rootMargin: threshold ? "0px" : "300px 0px", threshold: threshold });
    observer.observe(el);
  }

  function init() {
    addStyle();
    var boxes = document.querySelectorAll("[data-readalso-article]:not([data-readalso-state])");
    Array.prototype.forEach.call(boxes, function (el) {
      if (!el.getAttribute("data-readalso-article")) return;
      el.setAttribute("data-readalso-state", "waiting");
      whenVisible(el, 0, function () { load(el); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
