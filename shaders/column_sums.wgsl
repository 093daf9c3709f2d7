// out[j] = Σ_i m[i, j] over the rows of m [R, N], one thread per column (sums in row order).
// Launch: ceil(N / WG) workgroups, folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> m: array<f32>;      // [R, N]
@group(0) @binding(1) var<storage, read_write> out: array<f32>;    // [N]
@group(0) @binding(2) var<uniform> params: array<vec4<u32>, 4>; // [R, N]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = params[0].x;
    let n = params[0].y;
    let j = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (j >= n) {
        return;
    }
    var acc = 0.0;
    for (var i = 0u; i < rows; i = i + 1u) {
        acc = acc + m[i * n + j];
    }
    out[j] = acc;
}
