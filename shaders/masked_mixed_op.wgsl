// Masked mixed op: out[i] = Σ_j coeffs[support[j]] · ops[j, i].
// `ops` holds the outputs of the active ops only ([S, N], row j is op support[j]);
// inactive ops are never computed, stored or read.
// Launch: ceil(N / WG) workgroups, folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> ops: array<f32>;       // [S * N]
@group(0) @binding(1) var<storage, read_write> coeffs: array<f32>;    // [n]
@group(0) @binding(2) var<storage, read_write> support: array<u32>;   // [S]
@group(0) @binding(3) var<storage, read_write> output: array<f32>;    // [N]
@group(0) @binding(4) var<uniform> params: array<vec4<u32>, 4>;    // [N, S]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = params[0].x;
    let s = params[0].y;
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (idx >= n) {
        return;
    }
    var acc = 0.0;
    for (var j = 0u; j < s; j = j + 1u) {
        acc = acc + coeffs[support[j]] * ops[j * n + idx];
    }
    output[idx] = acc;
}
