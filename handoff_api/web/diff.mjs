// Line diff (longest common subsequence) between two texts, for article revisions.

const MAX_CELLS = 4_000_000;

/** Returns [{op: "same" | "add" | "del", text}] turning `before` into `after`. */
export function diffLines(before, after) {
  const a = String(before ?? "").split("\n");
  const b = String(after ?? "").split("\n");
  // Common head and tail are cheap and make the table small.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const middle = (x.length + 1) * (y.length + 1) > MAX_CELLS ? replaceAll(x, y) : lcs(x, y);
  return [
    ...a.slice(0, head).map((text) => ({ op: "same", text })),
    ...middle,
    ...a.slice(a.length - tail).map((text) => ({ op: "same", text })),
  ];
}

function replaceAll(x, y) {
  return [...x.map((text) => ({ op: "del", text })), ...y.map((text) => ({ op: "add", text }))];
}

function lcs(x, y) {
  const width = y.length + 1;
  const table = new Uint32Array((x.length + 1) * width);
  for (let i = x.length - 1; i >= 0; i -= 1) {
    for (let j = y.length - 1; j >= 0; j -= 1) {
      table[i * width + j] = x[i] === y[j]
        ? table[(i + 1) * width + j + 1] + 1
        : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push({ op: "same", text: x[i] });
      i += 1;
      j += 1;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
      out.push({ op: "del", text: x[i++] });
    } else {
      out.push({ op: "add", text: y[j++] });
    }
  }
  while (i < x.length) out.push({ op: "del", text: x[i++] });
  while (j < y.length) out.push({ op: "add", text: y[j++] });
  return out;
}
