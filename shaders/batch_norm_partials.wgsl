// Pass 1 of the training-mode batch statistics, on a 2-D grid: workgroup (k, c) reduces chunk k
// of channel c of x [B, C, P] (elements k·L … (k + 1)·L − 1 of the channel's B·P, L the chunk
// length, L / WG values per thread) to partials[c, k] = (count, mean, M2) of x − s, s = x[0, c, 0]:
// Welford per thread, Chan's merge over the workgroup. The shift keeps the values near zero,
// where f32 resolves them finely, whatever the channel's mean. `batch_norm_merge.wgsl` merges the
// K chunks of a channel and adds the shift back.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;        // [B, C, P]
@group(0) @binding(1) var<storage, read_write> partials: array<f32>; // [C, K, 3]
@group(0) @binding(2) var<uniform> params: array<vec4<u32>, 4>;   // [B, C, P, L]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let k = wid.x;
    let c = wid.y;
    let ch = chunk_of(params[0], k, tid);
    let shift = x[c * ch.plane];
    var acc = Moments(0.0, 0.0, 0.0);
    var w = walk_from(ch.start, ch.plane);
    for (var e = ch.start; e < ch.end; e = e + {{ workgroup_size }}u) {
        acc = moments_add(acc, x[walk_index(w, c, ch.channels, ch.plane)] - shift);
        w = walk_next(w, ch.plane);
    }
    let total = workgroup_moments(acc, tid);
    if (tid == 0u) {
        let at = (c * nwg.x + k) * 3u;
        partials[at] = total.n;
        partials[at + 1u] = total.mean;
        partials[at + 2u] = total.m2;
    }
}
