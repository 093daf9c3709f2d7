// 1×1 convolution as a channel mix, {{ tile }} rows × four pixels per thread (P divisible by 4,
// R by the tile): out[j, b, r, p] = Σ_{k in piece j} w[r·sr + k·sk] · in[b, k, p]. The forward
// pass reads w [R, K] as it is (sr = K, sk = 1); the input gradient reads the same w transposed
// (sr = 1, sk = R of dx). Each input load serves the tile's rows. K is cut into pieces of
// `span` channels (one per z; on GPUs at most 256 and enough to fill the chip, on software
// adapters one): with more than one piece, `column_sums.wgsl` adds them over j.
// Launch: (ceil(R/tile · P/4 / WG), B, pieces) workgroups, one image per y.
@group(0) @binding(0) var<storage, read_write> input: array<vec4<f32>>;  // [B, K, P/4]
@group(0) @binding(1) var<storage, read_write> weight: array<f32>;       // [R, K] or [K, R]
@group(0) @binding(2) var<storage, read_write> output: array<vec4<f32>>; // [pieces, B, R, P/4]
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>;         // [R, K, P/4, sr, sk, span, B]

const TILE: u32 = {{ tile }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let rows = params[0].x;
    let depth = params[0].y;
    let quads = params[0].z;
    let sr = params[0].w;
    let sk = params[1].x;
    let span = params[1].y;
    let batch = params[1].z;
    let idx = gid.x; // (r / tile) · P/4 + q within image b
    if (idx >= rows / TILE * quads) {
        return;
    }
    let b = gid.y;
    let first = gid.z * span;
    let last = min(first + span, depth);
    let r0 = idx / quads * TILE;
    let q = idx - idx / quads * quads;
    var at = (b * depth + first) * quads + q;
    var w = r0 * sr + first * sk;
    var acc: array<vec4<f32>, TILE>;
    for (var t = 0u; t < TILE; t = t + 1u) {
        acc[t] = vec4<f32>(0.0);
    }
    for (var k = first; k < last; k = k + 1u) {
        let v = input[at];
        for (var t = 0u; t < TILE; t = t + 1u) {
            acc[t] = acc[t] + weight[w + t * sr] * v;
        }
        at = at + quads;
        w = w + sk;
    }
    let out = (gid.z * batch + b) * rows;
    for (var t = 0u; t < TILE; t = t + 1u) {
        output[(out + r0 + t) * quads + q] = acc[t];
    }
}
