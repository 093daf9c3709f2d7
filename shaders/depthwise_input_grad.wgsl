// Depthwise convolution input gradient, one thread per input element of dx [B, C, H, W]:
// dx[b, c, iy, ix] = Σ over taps (ty, tx) with oy·s = iy + p − ty·d (and the same in x), 0 ≤ oy < H',
// of w[c, ty, tx] · dy[b, c, oy, ox] — a gather, so no two threads write one element.
// Launch: ceil(len / WG) workgroups, folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> dy: array<f32>;     // [B, C, H', W']
@group(0) @binding(1) var<storage, read_write> weight: array<f32>; // [C, k, k]
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;     // [B, C, H, W]
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>; // see depthwise_geometry.wgsl

// The output coordinate that reads input coordinate i through tap t, or −1 when none does.
// Stride 1 skips the division (llvmpipe runs integer division one lane at a time).
fn tap_output(i: u32, t: u32, n_out: u32, g: Depthwise) -> i32 {
    let q = i32(i) + g.padding - i32(t) * g.dilation;
    if (q < 0) {
        return -1;
    }
    var o = q;
    if (g.stride != 1) {
        if (q % g.stride != 0) {
            return -1;
        }
        o = q / g.stride;
    }
    if (o >= i32(n_out)) {
        return -1;
    }
    return o;
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = depthwise_sizes();
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (idx >= g.batch * g.channels * g.h * g.w) {
        return;
    }
    let ix = idx % g.w;
    let iy = (idx / g.w) % g.h;
    let plane = idx / (g.w * g.h);
    let taps = (plane % g.channels) * g.k * g.k;
    let base = plane * g.oh * g.ow;
    var acc = 0.0;
    for (var ty = 0u; ty < g.k; ty = ty + 1u) {
        let oy = tap_output(iy, ty, g.oh, g);
        if (oy < 0) {
            continue;
        }
        for (var tx = 0u; tx < g.k; tx = tx + 1u) {
            let ox = tap_output(ix, tx, g.ow, g);
            if (ox >= 0) {
                acc = acc + weight[taps + ty * g.k + tx] * dy[base + u32(oy) * g.ow + u32(ox)];
            }
        }
    }
    dx[idx] = acc;
}
