// 1×1 convolution weight gradient, first pass, one thread per (image b, weight r·K + k):
// partial[b, r, k] = Σ_p dy[b, r, p] · x[b, k, p], four pixels at a time (P divisible by 4).
// `column_sums.wgsl` then sums over b.
// Launch: (ceil(R·K / WG), B) workgroups, one image per y.
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;  // [B, K, P/4]
@group(0) @binding(1) var<storage, read_write> dy: array<vec4<f32>>; // [B, R, P/4]
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;  // [B, R·K]
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>;     // [R, K, P/4]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let rows = params[0].x;
    let depth = params[0].y;
    let quads = params[0].z;
    let idx = gid.x; // r · K + k
    if (idx >= rows * depth) {
        return;
    }
    let b = gid.y;
    let r = idx / depth;
    let k = idx - r * depth;
    let dy_base = (b * rows + r) * quads;
    let x_base = (b * depth + k) * quads;
    var acc = vec4<f32>(0.0);
    for (var q = 0u; q < quads; q = q + 1u) {
        acc = acc + dy[dy_base + q] * x[x_base + q];
    }
    partial[b * rows * depth + idx] = acc.x + acc.y + acc.z + acc.w;
}
