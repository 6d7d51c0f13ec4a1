// A small, safe Markdown renderer for article previews. It builds DOM nodes directly: text becomes
// text nodes, so HTML in an article (<script>, onerror=...) is shown as written and never runs.
// Supported: headings, paragraphs, **strong**, *em*, `code`, fenced code, lists (- * 1.), > quotes,
// --- rules, [links](https://...) and images as links (no remote loads from a preview).

const SAFE_URL = /^(https?:|mailto:|\/|#|\.{0,2}\/)/i;

function el(tag, ...children) {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

function safeHref(url) {
  const trimmed = url.trim();
  return SAFE_URL.test(trimmed) && !/^\/\//.test(trimmed) ? trimmed : null;
}

const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|!\[([^\]]*)\]\(([^)\s]+)\)|\[([^\]]+)\]\(([^)\s]+)\)|(\*\*|__)(.+?)\7|(\*|_)(?!\s)(.+?)\9|(https?:\/\/[^\s<]+[^\s<.,;:!?)])/;

export function inline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) {
      out.push(rest);
      break;
    }
    if (match.index > 0) out.push(rest.slice(0, match.index));
    const [whole, , code, alt, imageUrl, label, url, , strong, , em, bare] = match;
    if (code !== undefined) out.push(el("code", code.trim()));
    else if (imageUrl !== undefined) out.push(link(`image: ${alt || imageUrl}`, imageUrl));
    else if (url !== undefined) out.push(link(label, url, true));
    else if (strong !== undefined) out.push(el("strong", ...inline(strong)));
    else if (em !== undefined) out.push(el("em", ...inline(em)));
    else if (bare !== undefined) out.push(link(bare, bare));
    rest = rest.slice(match.index + whole.length);
  }
  return out;
}

function link(label, url, rich = false) {
  const href = safeHref(url);
  const children = rich ? inline(label) : [label];
  if (!href) return el("span", ...children);
  const anchor = el("a", ...children);
  anchor.href = href;
  anchor.rel = "noopener noreferrer";
  anchor.target = "_blank";
  return anchor;
}

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*(\d+)[.)]\s+(.*)$/;
const FENCE = /^\s*(```|~~~)\s*([\w+-]*)\s*$/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s*>\s?(.*)$/;

/** Renders Markdown into a DocumentFragment. */
export function render(markdown) {
  const lines = String(markdown ?? "").replace(/\r\n?/g, "\n").split("\n");
  const out = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let match;
    if (!line.trim()) {
      i += 1;
    } else if ((match = FENCE.exec(line))) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(match[1])) body.push(lines[i++]);
      i += 1;
      const code = el("code", body.join("\n"));
      if (match[2]) code.className = `language-${match[2]}`;
      out.append(el("pre", code));
    } else if ((match = HEADING.exec(line))) {
      out.append(el(`h${match[1].length}`, ...inline(match[2])));
      i += 1;
    } else if (RULE.test(line)) {
      out.append(el("hr"));
      i += 1;
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (match = QUOTE.exec(lines[i]))) {
        body.push(match[1]);
        i += 1;
      }
      out.append(el("blockquote", render(body.join("\n"))));
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? NUMBERED : BULLET;
      const list = el(ordered ? "ol" : "ul");
      if (ordered && Number(NUMBERED.exec(line)[1]) !== 1) list.start = Number(NUMBERED.exec(line)[1]);
      while (i < lines.length && (match = pattern.exec(lines[i]))) {
        const text = [ordered ? match[2] : match[1]];
        i += 1;
        // Lazy continuation lines (indented, not a new item) belong to the item.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !BULLET.test(lines[i]) && !NUMBERED.test(lines[i])) {
          text.push(lines[i].trim());
          i += 1;
        }
        list.append(el("li", ...inline(text.join(" "))));
      }
      out.append(list);
    } else {
      const body = [];
      while (i < lines.length && lines[i].trim() && !HEADING.test(lines[i]) && !FENCE.test(lines[i])
        && !BULLET.test(lines[i]) && !NUMBERED.test(lines[i]) && !QUOTE.test(lines[i]) && !RULE.test(lines[i])) {
        body.push(lines[i].trim());
        i += 1;
      }
      const paragraph = el("p");
      body.forEach((text, index) => {
        if (index) paragraph.append(el("br"));
        paragraph.append(...inline(text));
      });
      out.append(paragraph);
    }
  }
  return out;
}
