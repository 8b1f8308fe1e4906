// "Remember on this device": a key file kept in IndexedDB, never in plain text.
//
// A plain key file is encrypted with AES-GCM under a WebCrypto key generated as
// non-extractable: the browser stores that CryptoKey object in IndexedDB but no script,
// ours included, can ever read its bytes, so the stored key file is only usable by
// this browser profile on this origin. A passphrase-protected key file is stored as it
// is: opening it again needs the passphrase.
const DB = "healthledger-portal";
const STORE = "keys";

function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "keyId" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, action) {
  const db = await database();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// Keep `text` (the key file as opened) for `keyId`; `isProtected` stores it as it is.
export async function remember(keyId, label, text, isProtected) {
  let entry;
  if (isProtected) {
    entry = { keyId, label, protected: true, text };
  } else {
    const wrapping = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, wrapping, new TextEncoder().encode(text));
    entry = { keyId, label, protected: false, wrapping, iv, sealed };
  }
  await run("readwrite", (store) => store.put(entry));
}

export async function remembered() {
  const entries = await run("readonly", (store) => store.getAll());
  return entries.map(({ keyId, label, protected: isProtected }) => ({ keyId, label, protected: isProtected }));
}

// The key file text kept for `keyId` (still protected if it was).
export async function recall(keyId) {
  const entry = await run("readonly", (store) => store.get(keyId));
  if (!entry) throw new Error("this device does not remember that key");
  if (entry.protected) return entry.text;
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: entry.iv }, entry.wrapping, entry.sealed);
  return new TextDecoder().decode(plain);
}

export async function forget(keyId) {
  await run("readwrite", (store) => store.delete(keyId));
}
