// A one-node ONNX model, y[M,N] = x[M,K] · W[K,N] with W an f32 initializer, written as
// protobuf bytes by hand (the few fields of onnx.proto it needs): the peer kernel for
// `npm run bench -- --real-size`, run by onnxruntime-web on the same adapter.

/** Protobuf wire format: varints, and length-delimited fields (wire type 2). */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
type Part = Uint8Array | number[];
const concat = (parts: Part[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
/** Field `num` holding a varint. */
const int = (num: number, v: number): number[] => [...varint(num * 8), ...varint(v)];
/** Field `num` holding bytes, a string or an embedded message. */
const bytes = (num: number, v: Uint8Array | string | Part[]): Uint8Array => {
  const body = typeof v === 'string' ? new TextEncoder().encode(v) : v instanceof Uint8Array ? v : concat(v);
  return concat([varint(num * 8 + 2), varint(body.length), body]);
};

const FLOAT = 1; // TensorProto.DataType.FLOAT

/** ValueInfoProto { name, type: TypeProto { tensor_type { elem_type: FLOAT, shape { dim { dim_value }… } } } }. */
function valueInfo(name: string, dims: number[]): Part[] {
  const shape = dims.map((d) => bytes(1, [int(1, d)]));
  return [bytes(1, name), bytes(2, [bytes(1, [int(1, FLOAT), bytes(2, shape)])])];
}

/** The ONNX model bytes for MatMul(x [M,K], W [K,N]) → y [M,N]; W row-major [K, N]. */
export function matMulModel(M: number, K: number, N: number, W: Float32Array): Uint8Array {
  if (W.length !== K * N) throw new Error(`W has ${W.length} values, not K·N = ${K * N}`);
  const node = [bytes(1, 'x'), bytes(1, 'W'), bytes(2, 'y'), bytes(4, 'MatMul')]; // NodeProto: input, output, op_type
  // TensorProto: dims (1), data_type (2), name (8), raw_data (9, little-endian f32).
  const init = [int(1, K), int(1, N), int(2, FLOAT), bytes(8, 'W'), bytes(9, new Uint8Array(W.buffer, W.byteOffset, W.byteLength))];
  const graph = [
    bytes(1, node), // node
    bytes(2, 'matmul'), // name
    bytes(5, init), // initializer
    bytes(11, valueInfo('x', [M, K])), // input
    bytes(12, valueInfo('y', [M, N])), // output
  ];
  return concat([
    int(1, 8), // ir_version
    bytes(2, 'homecoder-bench'), // producer_name
    bytes(7, graph), // graph
    bytes(8, [int(2, 13)]), // opset_import { version: 13 } (default domain)
  ]);
}
