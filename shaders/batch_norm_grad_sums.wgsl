// The per-channel sums of the batch-norm backward pass, one workgroup per channel c:
// sums[0, c] = Σ dy (= dβ), sums[1, c] = Σ dy · x̂ (= dγ), x̂ = (x − mean) / sqrt(var + ε), over B·P.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;      // [B, C, P]
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;     // [B, C, P]
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;  // [2, C]
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;   // [2, C]
@group(0) @binding(4) var<uniform> params: array<vec4<u32>, 4>; // [B, C, P, bits(ε)]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let channels = params[0].y;
    let plane = params[0].z;
    let c = wid.x;
    let mean = stats[c];
    let inv_std = 1.0 / sqrt(stats[channels + c] + bitcast<f32>(params[0].w));
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    let batch = params[0].x;
    for (var w = walk_from(tid, plane); w.b < batch; w = walk_next(w, plane)) {
        let at = walk_index(w, c, channels, plane);
        sum_dy = sum_dy + dy[at];
        sum_dy_xhat = sum_dy_xhat + dy[at] * (x[at] - mean) * inv_std;
    }
    let total_dy = workgroup_sum(sum_dy, tid);
    let total_dy_xhat = workgroup_sum(sum_dy_xhat, tid);
    if (tid == 0u) {
        sums[c] = total_dy;
        sums[channels + c] = total_dy_xhat;
    }
}
