// Placeholder drawn until this page's module is written (issue 12 in progress).
export async function show(root, session) {
  root.querySelector(".page-body").textContent = session ? `Signed in as ${session.label}` : "";
}
