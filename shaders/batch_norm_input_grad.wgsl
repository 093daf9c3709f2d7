// dx = γ / sqrt(var + ε) · (dy − Σdy / n − x̂ · Σ(dy·x̂) / n), elementwise over [B, C, P]: the
// batch-norm input gradient through the batch mean and variance too (n = B·P); γ = 1 (not read)
// unless `affine`. `elem` is f32, or vec4<f32> (four pixels per thread; P counted in fours)
// when 4 divides P.
// Launch: see batch_norm_pixel.wgsl.
@group(0) @binding(0) var<storage, read_write> x: array<{{ elem }}>;      // [B, C, P]
@group(0) @binding(1) var<storage, read_write> dy: array<{{ elem }}>;     // [B, C, P]
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;  // [2, C]
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;   // [2, C]
@group(0) @binding(4) var<storage, read_write> gamma: array<f32>;  // [C]
@group(0) @binding(5) var<storage, read_write> dx: array<{{ elem }}>;     // [B, C, P]
@group(0) @binding(6) var<uniform> params: array<vec4<u32>, 4>; // [C, P, n, bits(ε), affine, B]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let channels = params[0].x;
    let plane = params[0].y; // in elems
    let batch = params[1].y;
    let at = pixel_at(gid, wid, nwg, batch, channels, plane);
    if (at.x >= batch * channels * plane) {
        return;
    }
    let idx = at.x;
    let c = at.y;
    let n = f32(params[0].z);
    let inv_std = 1.0 / sqrt(stats[channels + c] + bitcast<f32>(params[0].w));
    let xhat = (x[idx] - stats[c]) * inv_std;
    var scale = inv_std;
    if (params[1].x != 0u) {
        scale = gamma[c] * inv_std;
    }
    dx[idx] = scale * (dy[idx] - sums[c] / n - xhat * sums[channels + c] / n);
}
