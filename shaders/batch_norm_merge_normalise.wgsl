// Pass 2 of the training-mode batch norm forward on GPUs, on the grid of pass 1
// (`batch_norm_partials.wgsl`): workgroup (k, c) merges the K partials of channel c (Chan;
// moments of x − x[0, c, 0]) into the batch mean and biased variance, which workgroup (0, c)
// writes with the running statistics (`write_statistics`), then normalises chunk k of the
// channel (elements k·L … (k + 1)·L − 1 of its B·P): y = (x − mean) / sqrt(var + ε) · γ + β,
// γ = 1 and β = 0 (not read) unless `affine`. Every workgroup of a channel merges the same
// partials in the same order, so all of them normalise with the same statistics.
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;     // [C, K, 3]
@group(0) @binding(1) var<storage, read_write> x: array<f32>;            // [B, C, P]
@group(0) @binding(2) var<storage, read_write> running_mean: array<f32>; // [C]
@group(0) @binding(3) var<storage, read_write> running_var: array<f32>;  // [C]
@group(0) @binding(4) var<storage, read_write> gamma: array<f32>;        // [C]
@group(0) @binding(5) var<storage, read_write> beta: array<f32>;         // [C]
@group(0) @binding(6) var<storage, read_write> output: array<f32>;       // [B, C, P]
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;        // [2, C]
@group(0) @binding(8) var<storage, read_write> mean_out: array<f32>;     // [C]
@group(0) @binding(9) var<storage, read_write> var_out: array<f32>;      // [C]
// [B, C, P, L], [bits(m), bits(ε), affine]
@group(0) @binding(10) var<uniform> params: array<vec4<u32>, 4>;

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
    var acc = Moments(0.0, 0.0, 0.0);
    for (var j = tid; j < chunks; j = j + {{ workgroup_size }}u) {
        let at = (c * chunks + j) * 3u;
        acc = moments_merge(acc, Moments(partials[at], partials[at + 1u], partials[at + 2u]));
    }
    let total = workgroup_moments(acc, tid);
    let mean = x[c * ch.plane] + total.mean;
    let variance = total.m2 / f32(ch.count);
    if (k == 0u && tid == 0u) {
        write_statistics(c, ch.channels, mean, variance, ch.count, bitcast<f32>(params[1].x));
    }
    let root = sqrt(variance + bitcast<f32>(params[1].y));
    let affine = params[1].z != 0u;
    var w = walk_from(ch.start, ch.plane);
    for (var e = ch.start; e < ch.end; e = e + {{ workgroup_size }}u) {
        let at = walk_index(w, c, ch.channels, ch.plane);
        let normalised = (x[at] - mean) / root;
        if (affine) {
            output[at] = normalised * gamma[c] + beta[c];
        } else {
            output[at] = normalised;
        }
        w = walk_next(w, ch.plane);
    }
}
