// Depthwise convolution weight gradient, first pass, one thread per (image b, piece j of the
// output rows, weight w = c·k² + ty·k + tx):
// partial[b·pieces + j, w] = Σ_{oy in piece j, ox} dy[b, c, oy, ox] · x[b, c, oy·s + ty·d − p, ox·s + tx·d − p]
// (x through ReLU where compiled in).
// `column_sums.wgsl` then sums over the rows b·pieces + j. A piece is `rows` output rows
// (params[1].z), `pieces` per plane (params[1].w): on GPUs at most 256 pixels, on software
// adapters the whole plane. No workgroup barriers: on llvmpipe each costs a switch of every
// invocation of the group, which made a per-weight workgroup reduction the slowest kernel.
// Launch: ceil(B·pieces·C·k² / WG) workgroups, folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;       // [B, C, H, W]
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;      // [B, C, H', W']
@group(0) @binding(2) var<storage, read_write> partial: array<f32>; // [B·pieces, C·k²]
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>;  // see depthwise_geometry.wgsl; rows, pieces

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = depthwise_sizes();
    let rows = params[1].z;
    let pieces = params[1].w;
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    let weights = g.channels * g.k * g.k;
    if (idx >= g.batch * pieces * weights) {
        return;
    }
    let row = idx / weights; // b · pieces + j
    let w = idx - row * weights;
    let b = row / pieces;
    let first = (row - b * pieces) * rows;
    let last = min(first + rows, g.oh);
    let c = w / (g.k * g.k);
    let ty = (w / g.k) % g.k;
    let tx = w % g.k;
    let plane = b * g.channels + c;
    let x_base = plane * g.h * g.w;
    let dy_base = plane * g.oh * g.ow;
    var acc = 0.0;
    for (var oy = first; oy < last; oy = oy + 1u) {
        let iy = tap_input(oy, ty, g);
        if (iy < 0 || iy >= i32(g.h)) {
            continue;
        }
        for (var ox = 0u; ox < g.ow; ox = ox + 1u) {
            let ix = tap_input(ox, tx, g);
            if (ix >= 0 && ix < i32(g.w)) {
                acc = acc + dy[dy_base + oy * g.ow + ox] * input_value(x[x_base + u32(iy) * g.w + u32(ix)]);
            }
        }
    }
    partial[idx] = acc;
}
