// Pass 2 of the batch-norm backward sums: workgroup c adds the K partials of channel c,
// sums[0, c] = Σ dy (= dβ), sums[1, c] = Σ dy · x̂ (= dγ).
@group(0) @binding(0) var<storage, read_write> partials: array<f32>; // [C, K, 2]
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;     // [2, C]
@group(0) @binding(2) var<uniform> params: array<vec4<u32>, 4>;   // [C, K]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let channels = params[0].x;
    let chunks = params[0].y;
    let c = wid.x;
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    for (var k = tid; k < chunks; k = k + {{ workgroup_size }}u) {
        let at = (c * chunks + k) * 2u;
        sum_dy = sum_dy + partials[at];
        sum_dy_xhat = sum_dy_xhat + partials[at + 1u];
    }
    let total_dy = workgroup_sum(sum_dy, tid);
    let total_dy_xhat = workgroup_sum(sum_dy_xhat, tid);
    if (tid == 0u) {
        sums[c] = total_dy;
        sums[channels + c] = total_dy_xhat;
    }
}
