// Pass 2 of the batch-norm backward on GPUs, on the grid of pass 1
// (`batch_norm_grad_partials.wgsl`): workgroup (k, c) adds the K partials of channel c into
// Σdy (= dβ) and Σdy·x̂ (= dγ), which workgroup (0, c) writes to sums, then writes the input
// gradient of chunk k of the channel, through the batch mean and variance too (n = B·P):
// dx = γ / sqrt(var + ε) · (dy − Σdy / n − x̂ · Σ(dy·x̂) / n), γ = 1 (not read) unless `affine`.
@group(0) @binding(0) var<storage, read_write> partials: array<f32>; // [C, K, 2]
@group(0) @binding(1) var<storage, read_write> x: array<f32>;        // [B, C, P]
@group(0) @binding(2) var<storage, read_write> dy: array<f32>;       // [B, C, P]
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;    // [2, C]
@group(0) @binding(4) var<storage, read_write> gamma: array<f32>;    // [C]
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;       // [B, C, P]
@group(0) @binding(6) var<storage, read_write> sums: array<f32>;     // [2, C]
@group(0) @binding(7) var<uniform> params: array<vec4<u32>, 4>;   // [B, C, P, L], [bits(ε), affine]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let chunks = nwg.x;
    let k = wid.x;
    let c = wid.y;
    let ch = chunk_of(params[0], k, tid);
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    for (var j = tid; j < chunks; j = j + {{ workgroup_size }}u) {
        let at = (c * chunks + j) * 2u;
        sum_dy = sum_dy + partials[at];
        sum_dy_xhat = sum_dy_xhat + partials[at + 1u];
    }
    let total_dy = workgroup_sum(sum_dy, tid);
    let total_dy_xhat = workgroup_sum(sum_dy_xhat, tid);
    if (k == 0u && tid == 0u) {
        sums[c] = total_dy;
        sums[ch.channels + c] = total_dy_xhat;
    }
    let n = f32(ch.count);
    let mean = stats[c];
    let inv_std = 1.0 / sqrt(stats[ch.channels + c] + bitcast<f32>(params[1].x));
    var scale = inv_std;
    if (params[1].y != 0u) {
        scale = gamma[c] * inv_std;
    }
    var w = walk_from(ch.start, ch.plane);
    for (var e = ch.start; e < ch.end; e = e + {{ workgroup_size }}u) {
        let at = walk_index(w, c, ch.channels, ch.plane);
        let xhat = (x[at] - mean) * inv_std;
        dx[at] = scale * (dy[at] - total_dy / n - xhat * total_dy_xhat / n);
        w = walk_next(w, ch.plane);
    }
}
