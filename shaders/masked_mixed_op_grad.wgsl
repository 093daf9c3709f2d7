// The masked mixed op's gradient for its op outputs: d_ops[j, i] = coeffs[support[j]] · g[i]
// for the S active ops (row j is op support[j]); a thread per i (four when `elem` is vec4<f32>),
// a loop over the ops. `width` is N in elems.
// Launch: ceil(N / WG) workgroups (N in elems), folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> g: array<{{ elem }}>;       // [N]
@group(0) @binding(1) var<storage, read_write> coeffs: array<f32>;         // [n]
@group(0) @binding(2) var<storage, read_write> support: array<u32>;        // [S]
@group(0) @binding(3) var<storage, read_write> d_ops: array<{{ elem }}>;   // [S, N]
@group(0) @binding(4) var<uniform> params: array<vec4<u32>, 4>;            // [N, S]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let width = params[0].x;
    let s = params[0].y;
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (idx >= width) {
        return;
    }
    let value = g[idx];
    for (var j = 0u; j < s; j = j + 1u) {
        d_ops[j * width + idx] = coeffs[support[j]] * value;
    }
}
