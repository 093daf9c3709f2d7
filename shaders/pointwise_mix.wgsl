// 1×1 convolution as a channel mix, four pixels per thread (P divisible by 4):
// out[b, r, p] = Σ_k w[r·sr + k·sk] · in[b, k, p]. The forward pass reads w [R, K] as it is
// (sr = K, sk = 1); the input gradient reads the same w transposed (sr = 1, sk = R of dx).
// Launch: (ceil(R·P/4 / WG), B) workgroups, one image per y.
@group(0) @binding(0) var<storage, read_write> input: array<vec4<f32>>;  // [B, K, P/4]
@group(0) @binding(1) var<storage, read_write> weight: array<f32>;       // [R, K] or [K, R]
@group(0) @binding(2) var<storage, read_write> output: array<vec4<f32>>; // [B, R, P/4]
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>;         // [R, K, P/4, sr, sk]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let rows = params[0].x;
    let depth = params[0].y;
    let quads = params[0].z;
    let sr = params[0].w;
    let sk = params[1].x;
    let idx = gid.x; // r · P/4 + q within image b
    if (idx >= rows * quads) {
        return;
    }
    let b = gid.y;
    let r = idx / quads;
    let q = idx - r * quads;
    var at = b * depth * quads + q;
    var w = r * sr;
    var acc = vec4<f32>(0.0);
    for (var k = 0u; k < depth; k = k + 1u) {
        acc = acc + weight[w] * input[at];
        at = at + quads;
        w = w + sk;
    }
    output[b * rows * quads + idx] = acc;
}
