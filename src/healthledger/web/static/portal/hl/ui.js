// DOM helpers. Ledger values only ever enter the page as text (textContent), never as
// markup, so nothing a member writes on the chain can run as script here.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function $(root, selector) {
  const found = root.querySelector(selector);
  if (found === null) throw new Error(`missing element ${selector}`);
  return found;
}

// A short announcement for screen readers and eyes alike; `kind` is ok | error | info.
export function say(message, kind = "info") {
  const box = document.getElementById("toast");
  replace(box, el("p", { class: `toast ${kind}` }, message));
  box.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 12000 : 6000);
}

// The text for an error: the node's stable code and its message when there is one.
export function describe(error) {
  if (error && error.code) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

// A status line inside a page region (role=status so it is announced).
export function status(node, message, kind = "info") {
  return replace(node, el("p", { class: `status ${kind}`, role: kind === "error" ? "alert" : "status" }, message));
}

// A table with column headers; `rows` are arrays of cells or ready <tr> elements. Each
// cell carries its column's name (data-label), so a `class: "stack"` table can lay its rows
// out as labelled lines on a phone (portal.css table.stack).
export function table(headers, rows, caption = null, attrs = {}) {
  const body = rows.map((row) => (row instanceof Node ? row : el("tr", {}, row.map((cell) => el("td", {}, cell)))));
  for (const tr of body) [...tr.children].forEach((td, i) => { if (headers[i]) td.dataset.label = headers[i]; });
  return el(
    "table",
    attrs,
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, body),
  );
}

// A ledger code as words: "public_health" -> "public health".
export function words(code) {
  return String(code ?? "").replaceAll("_", " ");
}

export function when(ms) {
  if (typeof ms !== "number") return "";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function short(id, n = 12) {
  return typeof id === "string" && id.length > n ? `${id.slice(0, n)}…` : id;
}

// Offer bytes or text to the person as a file download (made in the browser).
export function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A form that sends one thing at a time: a second press while the first is under way
// does nothing (a double click must not sign and submit twice).
export function onSubmitOnce(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
}
