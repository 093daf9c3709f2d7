// Depthwise convolution input gradient, one thread per input element of dx [B, C, H, W]:
// dx[b, c, iy, ix] = Σ over taps (ty, tx) with oy·s = iy + p − ty·d (and the same in x), 0 ≤ oy < H',
// of w[c, ty, tx] · dy[b, c, oy, ox] — a gather, so no two threads write one element — and 0 where
// the op's ReLU, when compiled in, stopped x[b, c, iy, ix].
// Launch: (ceil(H·W / WG), C, B) workgroups: the channel and the image are those of the
// workgroup (no integer division for them, and the weight reads are uniform).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;      // [B, C, H, W] (ReLU's gate)
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;     // [B, C, H', W']
@group(0) @binding(2) var<storage, read_write> weight: array<f32>; // [C, k, k]
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;     // [B, C, H, W]
@group(0) @binding(4) var<uniform> params: array<vec4<u32>, 4>; // see depthwise_geometry.wgsl

// The output coordinate that reads input coordinate i through tap t; outside 0..n_out when
// none does. The stride is a compiled-in constant, so the quotient needs no division
// instruction (llvmpipe runs a variable integer division one lane at a time).
fn tap_output(i: u32, t: u32, g: Depthwise) -> i32 {
    let q = i32(i) + g.padding - i32(t) * g.dilation;
    let o = q / {{ stride }};
    return select(-1, o, q >= 0 && o * {{ stride }} == q);
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let g = depthwise_sizes();
    let pixel = gid.x; // iy · W + ix
    if (pixel >= g.h * g.w) {
        return;
    }
    let iy = pixel / g.w;
    let ix = pixel - iy * g.w;
    let plane = wid.z * g.channels + wid.y; // b · C + c
    let taps = wid.y * g.k * g.k;
    let base = plane * g.oh * g.ow;
    var acc = 0.0;
    for (var ty = 0u; ty < g.k; ty = ty + 1u) {
        let oy = tap_output(iy, ty, g);
        if (oy < 0 || oy >= i32(g.oh)) {
            continue;
        }
        for (var tx = 0u; tx < g.k; tx = tx + 1u) {
            let ox = tap_output(ix, tx, g);
            if (ox >= 0 && ox < i32(g.ow)) {
                acc = acc + weight[taps + ty * g.k + tx] * dy[base + u32(oy) * g.ow + u32(ox)];
            }
        }
    }
    let at = plane * g.h * g.w + pixel;
    dx[at] = select(0.0, acc, passes_relu(x[at]));
}
