// Zip files of text files, in the browser, without a library: `zip` stores them (no compression),
// `unzip` reads stored and deflated entries (DecompressionStream), which is what zip tools write.

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// `files`: { "katas/n_plus_one/services.py": "text", … } → a Blob of a zip file
export function zip(files) {
  const encoder = new TextEncoder();
  const parts = [];
  const central = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const path = encoder.encode(name);
    const data = encoder.encode(text);
    const crc = crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true); // version needed: 2.0
    local.setUint16(6, 0x0800, true); // names in UTF-8
    local.setUint16(8, 0, true); // stored
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, path.length, true);
    parts.push(local, path, data);
    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, 0x02014b50, true);
    entry.setUint16(4, 20, true);
    entry.setUint16(6, 20, true);
    entry.setUint16(8, 0x0800, true);
    entry.setUint32(16, crc, true);
    entry.setUint32(20, data.length, true);
    entry.setUint32(24, data.length, true);
    entry.setUint16(28, path.length, true);
    entry.setUint32(38, 0o100644 << 16, true); // a regular file, rw-r--r--
    entry.setUint32(42, offset, true);
    central.push(entry, path);
    offset += 30 + path.length + data.length;
  }
  const size = central.reduce((total, part) => total + part.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, Object.keys(files).length, true);
  end.setUint16(10, Object.keys(files).length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, end], { type: "application/zip" });
}

// a kata file is a few kilobytes: an entry or a zip beyond these is refused before it fills the memory
export const LIMITS = { entry: 1_000_000, total: 4_000_000, entries: 10_000 };

async function inflate(bytes, limit, name) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new Error(`${name} unpacks to more than ${limit.toLocaleString("en")} bytes, too large for a kata file`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

// an ArrayBuffer of a zip file → { name: text } of the files `wanted(name)` accepts (folders left out).
// Only the directory is read for the others: nothing is unpacked that the page does not need, and an
// entry over LIMITS.entry bytes, or wanted entries over LIMITS.total in all, are refused with a message.
export async function unzip(buffer, wanted = () => true) {
  const view = new DataView(buffer);
  let end = buffer.byteLength - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error("this is not a zip file");
  const count = view.getUint16(end + 10, true);
  if (count > LIMITS.entries) throw new Error(`it holds ${count} entries, more than a kata's zip ever does`);
  let at = view.getUint32(end + 16, true);
  const decoder = new TextDecoder();
  const files = {};
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > buffer.byteLength || view.getUint32(at, true) !== 0x02014b50) {
      throw new Error("the zip file's directory is damaged");
    }
    const method = view.getUint16(at + 10, true);
    const compressed = view.getUint32(at + 20, true);
    const declared = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = decoder.decode(new Uint8Array(buffer, at + 46, nameLength));
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/") || !wanted(name)) continue;
    if (declared > LIMITS.entry) {
      throw new Error(`${name} is ${declared.toLocaleString("en")} bytes, too large for a kata file`);
    }
    if (local + 30 > buffer.byteLength) throw new Error("the zip file's directory is damaged");
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + compressed > buffer.byteLength) throw new Error(`${name} is cut short: the zip file is damaged`);
    const raw = new Uint8Array(buffer, start, compressed);
    if (method !== 0 && method !== 8) throw new Error(`${name}: compressed in a way this page cannot read`);
    const bytes = method === 8 ? await inflate(raw, LIMITS.entry, name) : raw;
    if (bytes.byteLength > LIMITS.entry) throw new Error(`${name} is too large for a kata file`);
    total += bytes.byteLength;
    if (total > LIMITS.total) throw new Error("its kata files are too large in all");
    files[name] = decoder.decode(bytes);
  }
  return files;
}
