// ReLU forward, y = x where x > 0 else 0 (NaN passes through, as Burn's), or its backward,
// dx = dy where y > 0 or y is NaN, else 0, elementwise over a flat buffer of `elem` (f32, or
// vec4<f32> when the length is a multiple of 4: four elements per thread). The gate is tested
// by its bits, not by an IEEE comparison, which fast-math compilers (Metal's) may fold for NaN.
// Launch: ceil(n / WG) workgroups (n in elems), folded into y when above 65,535 per dimension.
@group(0) @binding(0) var<storage, read_write> gate: array<{{ elem }}>;   // forward: x; backward: y
@group(0) @binding(1) var<storage, read_write> value: array<{{ elem }}>;  // forward: x; backward: dy
@group(0) @binding(2) var<storage, read_write> output: array<{{ elem }}>; // forward: y; backward: dx
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>;           // [n]

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (idx >= params[0].x) {
        return;
    }
    let bits = bitcast<{{ bits }}>(gate[idx]);
    // positive: 0x00000001 (the smallest subnormal) … 0x7F800000 (+∞); NaN: exponent all ones,
    // mantissa not zero, either sign
    let positive = (bits - {{ bits }}(1u)) < {{ bits }}(0x7F800000u);
    let nan = (bits & {{ bits }}(0x7FFFFFFFu)) > {{ bits }}(0x7F800000u);
    output[idx] = select({{ elem }}(0.0), value[idx], positive | nan);
}
