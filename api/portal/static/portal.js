// Custos portal: checks done in the client's own browser, so the client need not take the
// server's word for them. Everything else on the portal works without this file.
//
//  * Verify (trail page): recompute the entry's leaf hash, walk its RFC 9162 inclusion proof
//    up to a root, and check that root is the one in the ledger's C2SP signed checkpoint,
//    signed by the ledger's Ed25519 key (WebCrypto).
//  * Verify signature (receipt page): check the receipt's Ed25519 signature over its
//    RFC 8785 canonical JSON.
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  var utf8 = new TextEncoder();

  function Failure(reason) {
    this.reason = reason;
  }

  function fromBase64(text) {
    var bin = atob(text);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function fromHex(text) {
    if (!/^([0-9a-f]{2})*$/.test(text)) throw new Failure("path");
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  function concat() {
    var parts = Array.prototype.map.call(arguments, function (p) {
      return p instanceof Uint8Array ? p : new Uint8Array(p);
    });
    var out = new Uint8Array(parts.reduce(function (n, p) { return n + p.length; }, 0));
    var at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // RFC 9162 §2.1.3.2. BigInt, because indices may pass 2^31, where JS bit operators wrap.
  async function rootFromInclusionProof(leafIndex, treeSize, leafHash, path) {
    var fn = BigInt(leafIndex);
    var sn = BigInt(treeSize) - 1n;
    if (fn > sn) throw new Failure("path");
    var r = leafHash;
    for (var i = 0; i < path.length; i++) {
      var p = path[i];
      if (sn === 0n) throw new Failure("path");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(concat([0x01], p, r));
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await sha256(concat([0x01], r, p));
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new Failure("path");
    return r;
  }

  // "<name>+<8 hex key hash>+<base64(0x01 || 32-byte Ed25519 key)>"; the base64 may hold '+'.
  async function parseVerifierKey(vkey) {
    var text = vkey.trim();
    var i = text.indexOf("+");
    var j = text.indexOf("+", i + 1);
    if (i < 1 || j < 0) throw new Failure("key");
    var name = text.slice(0, i);
    var hash = fromHex(text.slice(i + 1, j));
    var raw = fromBase64(text.slice(j + 1));
    if (hash.length !== 4 || raw.length !== 33 || raw[0] !== 0x01) throw new Failure("key");
    var pub = raw.slice(1);
    // The key hash binds the name to the key: SHA-256(name || "\n" || 0x01 || key)[:4].
    var digest = await sha256(concat(utf8.encode(name), [0x0a, 0x01], pub));
    if (!equal(digest.slice(0, 4), hash)) throw new Failure("key");
    var key;
    try {
      key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new Failure("unsupported");
    }
    return { name: name, hash: hash, key: key };
  }

  async function ed25519Verify(key, signature, message) {
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  // A C2SP signed note: text, a blank line, then "— <name> <base64(key hash || signature)>".
  async function openCheckpoint(note, verifier) {
    var split = note.lastIndexOf("\n\n");
    if (split < 0 || !note.endsWith("\n")) throw new Failure("signature");
    var text = note.slice(0, split + 1);
    var lines = note.slice(split + 2, -1).split("\n");
    var signed = false;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      if (!line.startsWith("\u2014 ")) throw new Failure("signature");
      var fields = line.slice(2).split(" ");
      if (fields.length !== 2 || fields[0] !== verifier.name) continue;
      var sig = fromBase64(fields[1]);
      if (!equal(sig.slice(0, 4), verifier.hash)) continue;
      if (sig.length !== 68) throw new Failure("signature");
      if (!(await ed25519Verify(verifier.key, sig.slice(4), utf8.encode(text)))) {
        throw new Failure("signature");
      }
      signed = true;
    }
    if (!signed) throw new Failure("key");
    var body = text.split("\n");
    if (body.length < 4 || !/^(0|[1-9][0-9]*)$/.test(body[1])) throw new Failure("signature");
    return { origin: body[0], size: body[1], root: fromBase64(body[2]) };
  }

  async function verifyEntry(index) {
    var data;
    try {
      var response = await fetch("/portal/proof/" + index, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      data = await response.json();
    } catch (e) {
      throw new Failure("fetch");
    }
    var leaf = fromBase64(data.entry);
    var entry;
    try {
      entry = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(leaf));
    } catch (e) {
      throw new Failure("entry");
    }
    if (entry.index !== index || data.proof.leaf_index !== index) throw new Failure("entry");
    var verifier = await parseVerifierKey(data.verifier_key);
    var checkpoint = await openCheckpoint(data.checkpoint, verifier);
    if (String(data.proof.tree_size) !== checkpoint.size) throw new Failure("path");
    var leafHash = await sha256(concat([0x00], leaf));
    var path = data.proof.hashes.map(fromHex);
    var computed = await rootFromInclusionProof(index, data.proof.tree_size, leafHash, path);
    if (!equal(computed, checkpoint.root)) throw new Failure("path");
    return checkpoint.size;
  }

  function show(output, ok, text) {
    output.textContent = (ok ? "\u2713 " : "\u2717 ") + text;
    output.className = output.className.replace(/ is-(ok|fail|busy)/g, "") + (ok ? " is-ok" : " is-fail");
  }

  var strings = document.querySelector(".verify-strings");
  document.querySelectorAll("[data-verify]").forEach(function (button) {
    button.addEventListener("click", async function () {
      var index = Number(button.getAttribute("data-verify"));
      var output = document.getElementById("verify-" + index);
      button.disabled = true;
      output.textContent = strings.dataset.busy;
      output.className = output.className.replace(/ is-(ok|fail)/g, "") + " is-busy";
      try {
        var size = await verifyEntry(index);
        show(output, true, strings.dataset.ok.replace("{size}", size));
      } catch (e) {
        var reason = e instanceof Failure ? e.reason : "path";
        var why = strings.dataset["why" + reason.charAt(0).toUpperCase() + reason.slice(1)];
        show(output, false, strings.dataset.fail.replace("{reason}", why || reason));
      } finally {
        button.disabled = false;
      }
    });
  });

  // RFC 8785 for the values a receipt holds (strings, safe integers, booleans, null, arrays,
  // objects with ASCII keys): sorted keys, no white space, JSON.stringify's string escaping.
  function canonical(value) {
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    return "{" + Object.keys(value).sort().map(function (k) {
      return JSON.stringify(k) + ":" + canonical(value[k]);
    }).join(",") + "}";
  }

  var receiptButton = document.getElementById("verify-receipt");
  if (receiptButton) {
    receiptButton.addEventListener("click", async function () {
      var output = document.getElementById("receipt-result");
      try {
        var receipt = JSON.parse(document.getElementById("receipt-data").textContent);
        var signature = fromBase64(receipt.signature.value);
        var verifier = await parseVerifierKey(receipt.signature.keyId);
        var unsigned = {};
        Object.keys(receipt).forEach(function (k) {
          if (k !== "signature") unsigned[k] = receipt[k];
        });
        var ok = await ed25519Verify(verifier.key, signature, utf8.encode(canonical(unsigned)));
        show(output, ok, ok ? receiptButton.dataset.ok : receiptButton.dataset.fail);
      } catch (e) {
        var unsupported = e instanceof Failure && e.reason === "unsupported";
        show(output, false, unsupported ? receiptButton.dataset.unsupported : receiptButton.dataset.fail);
      }
    });
  }

  var printButton = document.getElementById("print-receipt");
  if (printButton) printButton.addEventListener("click", function () { window.print(); });

  // One click, one change: a second click while the first submission is on its way would
  // only meet a "nothing to change" page.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });
})();
