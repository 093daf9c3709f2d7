// y = (x − mean) / sqrt(var + ε) · γ + β, elementwise over x [B, C, P], with the batch mean and
// variance from the rows of stats [2, C]; γ = 1 and β = 0 (not read) unless `affine`.
// `elem` is f32, or vec4<f32> (four pixels per thread; P counted in fours) when 4 divides P.
// Launch: see batch_norm_pixel.wgsl.
@group(0) @binding(0) var<storage, read_write> x: array<{{ elem }}>;      // [B, C, P]
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;  // [2, C]
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;  // [C]
@group(0) @binding(3) var<storage, read_write> beta: array<f32>;   // [C]
@group(0) @binding(4) var<storage, read_write> output: array<{{ elem }}>; // [B, C, P]
@group(0) @binding(5) var<uniform> params: array<vec4<u32>, 4>; // [C, P, bits(ε), affine, -, B]

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
    let normalised = (x[idx] - stats[c]) / sqrt(stats[channels + c] + bitcast<f32>(params[0].z));
    if (params[0].w != 0u) {
        output[idx] = normalised * gamma[c] + beta[c];
    } else {
        output[idx] = normalised;
    }
}
