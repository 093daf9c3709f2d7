// Depthwise convolution weight gradient, one workgroup per weight (c, ty, tx):
// dw[c, ty, tx] = Σ_{b, oy, ox} dy[b, c, oy, ox] · x[b, c, oy·s + ty·d − p, ox·s + tx·d − p].
// Launch: C·k·k workgroups, folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;      // [B, C, H, W]
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;     // [B, C, H', W']
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;     // [C, k, k]
@group(0) @binding(3) var<storage, read_write> params: array<u32>; // see depthwise_geometry.wgsl

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let g = depthwise_sizes();
    let weight_index = wid.x + wid.y * nwg.x; // c · k² + ty · k + tx
    let weights = g.channels * g.k * g.k;
    let c = weight_index / (g.k * g.k);
    let ty = (weight_index / g.k) % g.k;
    let tx = weight_index % g.k;
    let out_plane = g.oh * g.ow;
    var acc = 0.0;
    if (weight_index < weights) {
        for (var i = tid; i < g.batch * out_plane; i = i + {{ workgroup_size }}u) {
            let b = i / out_plane;
            let oy = (i % out_plane) / g.ow;
            let ox = i % g.ow;
            let iy = tap_input(oy, ty, g);
            let ix = tap_input(ox, tx, g);
            if (iy >= 0 && iy < i32(g.h) && ix >= 0 && ix < i32(g.w)) {
                let plane = b * g.channels + c;
                acc = acc + dy[plane * out_plane + i % out_plane]
                    * x[plane * g.h * g.w + u32(iy) * g.w + u32(ix)];
            }
        }
    }
    let total = workgroup_sum(acc, tid);
    if (tid == 0u && weight_index < weights) {
        dw[weight_index] = total;
    }
}
