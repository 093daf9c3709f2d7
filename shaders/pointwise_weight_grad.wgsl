// 1×1 convolution weight gradient, first pass, one thread per (image b, block of {{ tile }} × {{ tile }}
// weights): partial[b, r, k] = Σ_p dy[b, r, p] · x[b, k, p], four pixels at a time (P divisible
// by 4, R and K by the tile); each load serves a row or column of the block.
// `column_sums.wgsl` then sums over b.
// Launch: (ceil(R/tile · K/tile / WG), B) workgroups, one image per y.
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;  // [B, K, P/4]
@group(0) @binding(1) var<storage, read_write> dy: array<vec4<f32>>; // [B, R, P/4]
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;  // [B, R·K]
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>;     // [R, K, P/4]

const TILE: u32 = {{ tile }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let rows = params[0].x;
    let depth = params[0].y;
    let quads = params[0].z;
    let blocks_k = depth / TILE;
    let idx = gid.x; // (r / tile) · K/tile + k / tile
    if (idx >= rows / TILE * blocks_k) {
        return;
    }
    let b = gid.y;
    let r0 = idx / blocks_k * TILE;
    let k0 = (idx - idx / blocks_k * blocks_k) * TILE;
    let dy_base = (b * rows + r0) * quads;
    let x_base = (b * depth + k0) * quads;
    var acc: array<vec4<f32>, {{ tile_squared }}>;
    for (var i = 0u; i < TILE * TILE; i = i + 1u) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var q = 0u; q < quads; q = q + 1u) {
        var xs: array<vec4<f32>, TILE>;
        for (var j = 0u; j < TILE; j = j + 1u) {
            xs[j] = x[x_base + j * quads + q];
        }
        for (var i = 0u; i < TILE; i = i + 1u) {
            let d = dy[dy_base + i * quads + q];
            for (var j = 0u; j < TILE; j = j + 1u) {
                acc[i * TILE + j] = acc[i * TILE + j] + d * xs[j];
            }
        }
    }
    for (var i = 0u; i < TILE; i = i + 1u) {
        for (var j = 0u; j < TILE; j = j + 1u) {
            let a = acc[i * TILE + j];
            partial[(b * rows + r0 + i) * depth + k0 + j] = a.x + a.y + a.z + a.w;
        }
    }
}
