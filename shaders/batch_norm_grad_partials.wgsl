// Pass 1 of the batch-norm backward sums, on a 2-D grid: workgroup (k, c) sums chunk k of
// channel c (elements k·L … (k + 1)·L − 1 of its B·P) into partials[c, k] = (Σ dy, Σ dy·x̂),
// x̂ = (x − mean) / sqrt(var + ε). `batch_norm_grad_merge.wgsl` adds the K chunks of a channel.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;        // [B, C, P]
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;       // [B, C, P]
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;    // [2, C]
@group(0) @binding(3) var<storage, read_write> partials: array<f32>; // [C, K, 2]
@group(0) @binding(4) var<uniform> params: array<vec4<u32>, 4>;   // [B, C, P, L], [bits(ε)]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let k = wid.x;
    let c = wid.y;
    let ch = chunk_of(params[0], k, tid);
    let mean = stats[c];
    let inv_std = 1.0 / sqrt(stats[ch.channels + c] + bitcast<f32>(params[1].x));
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    var w = walk_from(ch.start, ch.plane);
    for (var e = ch.start; e < ch.end; e = e + {{ workgroup_size }}u) {
        let at = walk_index(w, c, ch.channels, ch.plane);
        sum_dy = sum_dy + dy[at];
        sum_dy_xhat = sum_dy_xhat + dy[at] * (x[at] - mean) * inv_std;
        w = walk_next(w, ch.plane);
    }
    let total_dy = workgroup_sum(sum_dy, tid);
    let total_dy_xhat = workgroup_sum(sum_dy_xhat, tid);
    if (tid == 0u) {
        let at = (c * nwg.x + k) * 2u;
        partials[at] = total_dy;
        partials[at + 1u] = total_dy_xhat;
    }
}
