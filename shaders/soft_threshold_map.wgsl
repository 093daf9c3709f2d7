// Elementwise y = soft_threshold(x, t) over a flat buffer.
// Launch: ceil(n / WG) workgroups, folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<uniform> params: array<vec4<u32>, 4>; // [n, bits(t)]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = params[0].x;
    let t = bitcast<f32>(params[0].y);
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (idx >= n) {
        return;
    }
    output[idx] = soft_threshold(input[idx], t);
}
