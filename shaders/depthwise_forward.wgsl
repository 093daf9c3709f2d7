// Depthwise convolution forward, one thread per output element of y [B, C, H', W']:
// y[b, c, oy, ox] = Σ_{ty, tx} w[c, ty, tx] · x[b, c, oy·s + ty·d − p, ox·s + tx·d − p], with x
// through ReLU as it is loaded where the program has the op's ReLU compiled in.
// Launch: (ceil(H'·W' / WG), C, B) workgroups: the channel and the image are those of the
// workgroup (no integer division for them, and the weight reads are uniform).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;      // [B, C, H, W]
@group(0) @binding(1) var<storage, read_write> weight: array<f32>; // [C, k, k]
@group(0) @binding(2) var<storage, read_write> y: array<f32>;      // [B, C, H', W']
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>; // see depthwise_geometry.wgsl

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let g = depthwise_sizes();
    let pixel = gid.x; // oy · W' + ox
    if (pixel >= g.oh * g.ow) {
        return;
    }
    let oy = pixel / g.ow;
    let ox = pixel - oy * g.ow;
    let plane = wid.z * g.channels + wid.y; // b · C + c
    let taps = wid.y * g.k * g.k;
    let base = plane * g.h * g.w;
    var acc = 0.0;
    for (var ty = 0u; ty < g.k; ty = ty + 1u) {
        let iy = tap_input(oy, ty, g);
        if (iy < 0 || iy >= i32(g.h)) {
            continue;
        }
        for (var tx = 0u; tx < g.k; tx = tx + 1u) {
            let ix = tap_input(ox, tx, g);
            if (ix >= 0 && ix < i32(g.w)) {
                acc = acc + weight[taps + ty * g.k + tx] * input_value(x[base + u32(iy) * g.w + u32(ix)]);
            }
        }
    }
    y[plane * g.oh * g.ow + pixel] = acc;
}
