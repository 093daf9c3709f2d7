// Training-mode batch statistics, one workgroup per channel c of x [B, C, P] (P = H·W):
// stats[0, c] = batch mean, stats[1, c] = biased batch variance (two passes), and the running
// statistics moved towards them, mean_out[c] = (1 − m)·running_mean + m·mean,
// var_out[c] = (1 − m)·running_var + m·n/(n − 1)·var (unbiased, as PyTorch), n = B·P.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;            // [B, C, P]
@group(0) @binding(1) var<storage, read_write> running_mean: array<f32>; // [C]
@group(0) @binding(2) var<storage, read_write> running_var: array<f32>;  // [C]
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;        // [2, C]
@group(0) @binding(4) var<storage, read_write> mean_out: array<f32>;     // [C]
@group(0) @binding(5) var<storage, read_write> var_out: array<f32>;      // [C]
@group(0) @binding(6) var<uniform> params: array<vec4<u32>, 4>;       // [B, C, P, bits(m)]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let channels = params[0].y;
    let plane = params[0].z;
    let momentum = bitcast<f32>(params[0].w);
    let count = params[0].x * plane;
    let c = wid.x;
    let batch = params[0].x;
    var sum = 0.0;
    for (var w = walk_from(tid, plane); w.b < batch; w = walk_next(w, plane)) {
        sum = sum + x[walk_index(w, c, channels, plane)];
    }
    let mean = workgroup_sum(sum, tid) / f32(count);
    var squares = 0.0;
    for (var w = walk_from(tid, plane); w.b < batch; w = walk_next(w, plane)) {
        let d = x[walk_index(w, c, channels, plane)] - mean;
        squares = squares + d * d;
    }
    let variance = workgroup_sum(squares, tid) / f32(count);
    if (tid == 0u) {
        write_statistics(c, channels, mean, variance, count, momentum);
    }
}
