// out[g, j] = Σ_i m[i, j] over rows i = g·G … (g + 1)·G − 1 of m [R, N] (G rows per group), one
// thread per column and row group: the batch sums of the weight gradients run in two such
// launches (groups of a few rows, then the group sums), parallel over the batch too.
// Launch: ceil(N / WG) workgroups along x, folded into y past 65,535; one z per row group.
@group(0) @binding(0) var<storage, read_write> m: array<f32>;      // [R, N]
@group(0) @binding(1) var<storage, read_write> out: array<f32>;    // [ceil(R / G), N]
@group(0) @binding(2) var<uniform> params: array<vec4<u32>, 4>; // [R, N, G]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let rows = params[0].x;
    let n = params[0].y;
    let group = params[0].z;
    let j = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (j >= n) {
        return;
    }
    let g = wid.z;
    let end = min((g + 1u) * group, rows);
    var acc = 0.0;
    for (var i = g * group; i < end; i = i + 1u) {
        acc = acc + m[i * n + j];
    }
    out[g * n + j] = acc;
}
