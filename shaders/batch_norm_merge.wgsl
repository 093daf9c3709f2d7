// Pass 2 of the training-mode batch statistics: workgroup c merges the K partials of channel c
// (Chan; moments of x − x[0, c, 0]) into its batch mean and biased variance, written with the
// running statistics by `write_statistics`.
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;     // [C, K, 3]
@group(0) @binding(1) var<storage, read_write> x: array<f32>;            // [B, C, P]
@group(0) @binding(2) var<storage, read_write> running_mean: array<f32>; // [C]
@group(0) @binding(3) var<storage, read_write> running_var: array<f32>;  // [C]
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;        // [2, C]
@group(0) @binding(5) var<storage, read_write> mean_out: array<f32>;     // [C]
@group(0) @binding(6) var<storage, read_write> var_out: array<f32>;      // [C]
@group(0) @binding(7) var<uniform> params: array<vec4<u32>, 4>;       // [C, K, n, bits(m)], [P]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let channels = params[0].x;
    let chunks = params[0].y;
    let count = params[0].z;
    let momentum = bitcast<f32>(params[0].w);
    let c = wid.x;
    var acc = Moments(0.0, 0.0, 0.0);
    for (var k = tid; k < chunks; k = k + {{ workgroup_size }}u) {
        let at = (c * chunks + k) * 3u;
        acc = moments_merge(acc, Moments(partials[at], partials[at + 1u], partials[at + 2u]));
    }
    let total = workgroup_moments(acc, tid);
    if (tid == 0u) {
        let mean = x[c * params[1].x] + total.mean;
        write_statistics(c, channels, mean, total.m2 / f32(count), count, momentum);
    }
}
