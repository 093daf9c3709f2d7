// One SGD step with momentum and weight decay on a flat parameter, in the order PyTorch's SGD
// (and Burn's) computes it, the gradient clipped first where `scaled`: g = p·wd + grad·scale[0];
// v = g on the first step, else g·(1 − dampening) + v·momentum; p' = p − v·lr. Elementwise over
// `elem` (vec4<f32> when the length is a multiple of 4: four values per thread). Bindings not
// read (velocity on the first step, scale unless scaled) hold the gradient's place.
// Launch: ceil(n / WG) workgroups (n in elems), folded into y past 65,535.
@group(0) @binding(0) var<storage, read_write> param: array<{{ elem }}>;
@group(0) @binding(1) var<storage, read_write> grad: array<{{ elem }}>;
@group(0) @binding(2) var<storage, read_write> velocity: array<{{ elem }}>;
@group(0) @binding(3) var<storage, read_write> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> param_out: array<{{ elem }}>;
@group(0) @binding(5) var<storage, read_write> velocity_out: array<{{ elem }}>;
// [n, bits(lr), bits(wd), bits(momentum)], [bits(1 − dampening), first, scaled]
@group(0) @binding(6) var<uniform> params: array<vec4<u32>, 4>;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (idx >= params[0].x) {
        return;
    }
    let lr = bitcast<f32>(params[0].y);
    let decay = bitcast<f32>(params[0].z);
    let momentum = bitcast<f32>(params[0].w);
    let keep = bitcast<f32>(params[1].x);
    var d = grad[idx];
    if (params[1].z != 0u) {
        d = d * scale[0];
    }
    let p = param[idx];
    let g = p * decay + d;
    var v = g;
    if (params[1].y == 0u) {
        v = g * keep + velocity[idx] * momentum;
    }
    velocity_out[idx] = v;
    param_out[idx] = p - v * lr;
}
