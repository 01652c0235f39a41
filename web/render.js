// Turns what the chat function sends (reply text, sources, marks) into DOM nodes. Everything the
// server sends is data: text goes in with textContent and links only with an http(s) address,
// so no reply, product name or error can ever become markup or script on this page.
(function () {
  "use strict";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // An absolute http(s) URL, or null: never javascript:, data: or a relative path.
  function safeUrl(value) {
    try {
      const url = new URL(String(value));
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  const URL_PATTERN = /https?:\/\/[^\s<>()"']+[^\s<>()"'.,;:!?]/g;

  // One line of a reply: **bold** becomes <strong>, and a URL becomes a link only when it is one
  // of the turn's own sources (`links`): a model talked into writing another address (a planted
  // phishing link) shows it as plain text. The rest stays text.
  function inline(line, links) {
    const fragment = document.createDocumentFragment();
    line.split(/(\*\*[^*]+\*\*)/).forEach((part) => {
      if (/^\*\*[^*]+\*\*$/.test(part)) {
        fragment.append(el("strong", null, part.slice(2, -2)));
        return;
      }
      let last = 0;
      for (const match of part.matchAll(URL_PATTERN)) {
        fragment.append(part.slice(last, match.index));
        const href = safeUrl(match[0]);
        if (href && links.has(href)) {
          const link = el("a", null, match[0]);
          link.href = href;
          link.rel = "noopener noreferrer";
          link.target = "_blank";
          fragment.append(link);
        } else {
          fragment.append(match[0]);
        }
        last = match.index + match[0].length;
      }
      fragment.append(part.slice(last));
    });
    return fragment;
  }

  // A reply as paragraphs and "- " lists: the little Markdown the writers use, and no more.
  function richText(text, links = new Set()) {
    const fragment = document.createDocumentFragment();
    let list = null;
    let paragraph = null;
    String(text).split("\n").forEach((line) => {
      const item = /^\s*[-*•]\s+(.*)$/.exec(line);
      if (item) {
        paragraph = null;
        if (!list) fragment.append((list = el("ul")));
        const entry = el("li");
        entry.append(inline(item[1], links));
        list.append(entry);
      } else if (!line.trim()) {
        list = paragraph = null;
      } else {
        list = null;
        if (paragraph) paragraph.append(document.createElement("br"));
        else fragment.append((paragraph = el("p")));
        paragraph.append(inline(line, links));
      }
    });
    return fragment;
  }

  function price(source) {
    if (typeof source.price !== "number") return null;
    try {
      return new Intl.NumberFormat(undefined, {
        style: "currency",
        currency: source.currency || "USD",
      }).format(source.price);
    } catch (error) {
      return `${source.price.toFixed(2)} ${source.currency || ""}`.trim();
    }
  }

  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const DAY_LABELS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  // Per-day hours, {"mon": ["08:00-17:00"], ..., "sun": []}, as runs of days alike:
  // ["Mon–Fri 08:00–17:00", "Sat–Sun closed"]; split shifts are joined with commas.
  function hours(value) {
    if (!value || typeof value !== "object") return [];
    const said = DAYS.map((day) => {
      const ranges = Array.isArray(value[day]) ? value[day] : [];
      return ranges.length ? ranges.map((r) => String(r).replace("-", "–")).join(", ") : "closed";
    });
    const lines = [];
    let start = 0;
    for (let i = 1; i <= DAYS.length; i += 1) {
      if (i === DAYS.length || said[i] !== said[start]) {
        const days = i - 1 > start ? `${DAY_LABELS[start]}–${DAY_LABELS[i - 1]}` : DAY_LABELS[start];
        lines.push(`${days} ${said[start]}`);
        start = i;
      }
    }
    return lines;
  }

  function card(source) {
    const kind = source.kind;
    if (kind !== "product" && kind !== "shop") return null;
    const node = el("li", `card card-${kind}`);
    node.dataset.sourceId = String(source.id || "");
    node.append(el("p", "card-name", source.name));
    if (kind === "product") {
      const cost = price(source);
      if (cost) node.append(el("p", "card-price", cost));
      if (source.category) node.append(el("p", "card-meta", source.category));
    } else {
      if (source.address) node.append(el("p", "card-address", source.address));
      const lines = hours(source.hours);
      if (lines.length) {
        const list = el("ul", "card-hours");
        list.setAttribute("aria-label", "Opening hours");
        lines.forEach((line) => list.append(el("li", null, line)));
        node.append(list);
      }
    }
    return node;
  }

  // The addresses a reply may link to: its documents' own.
  function links(items) {
    const list = Array.isArray(items) ? items : [];
    return new Set(list.map((s) => s && s.url && safeUrl(s.url)).filter(Boolean));
  }

  // Product and shop cards, then the documents the answer drew on as links.
  function sources(items) {
    const list = Array.isArray(items) ? items : [];
    const cards = list.map(card).filter(Boolean);
    const documents = list.filter((s) => s.kind === "document");
    if (!cards.length && !documents.length) return null;
    const wrap = el("div", "sources");
    if (cards.length) {
      const grid = el("ul", "cards");
      grid.setAttribute("aria-label", "What the answer draws on");
      cards.forEach((c) => grid.append(c));
      wrap.append(grid);
    }
    if (documents.length) {
      const reading = el("p", "documents muted", "Read more: ");
      documents.forEach((doc, i) => {
        if (i) reading.append(", ");
        const href = safeUrl(doc.url);
        const title = doc.title || doc.name;
        if (href) {
          const link = el("a", null, title);
          link.href = href;
          link.rel = "noopener noreferrer";
          link.target = "_blank";
          reading.append(link);
        } else {
          reading.append(title);
        }
      });
      wrap.append(reading);
    }
    return wrap;
  }

  const FALLBACKS = {
    cache: ["Earlier answer", "The assistant's model was unavailable: this is an earlier answer to a similar question."],
    static: ["Simple answer", "The assistant's model was unavailable: this answer lists what we found."],
    apology: ["Incomplete", "The assistant could not finish this answer."],
  };

  // Discreet notes under a reply: served from the cache, or a fallback instead of the model.
  function marks(reply) {
    const notes = [];
    if (reply.cached) notes.push(["cached", "Cached", "A recent answer to the same question, served from the cache."]);
    const fallback = FALLBACKS[reply.fallback];
    if (fallback) notes.push(["fallback", ...fallback]);
    if (!notes.length) return null;
    const wrap = el("p", "marks");
    notes.forEach(([kind, label, title]) => {
      const mark = el("span", `mark mark-${kind}`, label);
      mark.title = title;
      mark.dataset.mark = kind;
      wrap.append(mark);
    });
    return wrap;
  }

  window.CymbalRender = { el, richText, sources, links, marks, hours, safeUrl };
})();
