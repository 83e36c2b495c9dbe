// The app's icons for its web app manifest (Chrome installs an app only with a 192 and a 512
// px icon), drawn here as PNGs at build time so no binary sits in the repository: the header's
// dark slate with two light brackets, `< >`.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An RGB PNG of `size`×`size` pixels, `pixel(x, y)` giving [r, g, b] for each. */
export function encodePng(size: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const raw = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3); // each row starts with filter type 0
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), row + 1 + x * 3);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, no filter, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]);
}

const BG: [number, number, number] = [0x1d, 0x23, 0x30];
const FG: [number, number, number] = [0xe4, 0xe8, 0xef];

/** The icon at `size` px: `< >` within the middle 60% (a maskable icon's safe zone). */
export function appIcon(size: number): Buffer {
  const stroke = 0.07;
  // Distance from point (u, v) to the segment (a → b), all in units of the icon's side.
  const dist = (u: number, v: number, ax: number, ay: number, bx: number, by: number) => {
    const dx = bx - ax;
    const dy = by - ay;
    const t = Math.max(0, Math.min(1, ((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy)));
    return Math.hypot(u - ax - t * dx, v - ay - t * dy);
  };
  return encodePng(size, (x, y) => {
    const u = (x + 0.5) / size;
    const v = (y + 0.5) / size;
    const left = Math.min(dist(u, v, 0.42, 0.32, 0.28, 0.5), dist(u, v, 0.28, 0.5, 0.42, 0.68));
    const right = Math.min(dist(u, v, 0.58, 0.32, 0.72, 0.5), dist(u, v, 0.72, 0.5, 0.58, 0.68));
    return Math.min(left, right) < stroke / 2 ? FG : BG;
  });
}

/** The files under the app's public folder: icons/icon-192.png and icons/icon-512.png. */
export function appIconFiles(): Map<string, Buffer> {
  return new Map([192, 512].map((s) => [`icons/icon-${s}.png`, appIcon(s)]));
}
