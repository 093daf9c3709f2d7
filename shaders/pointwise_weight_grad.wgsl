// 1×1 convolution weight gradient, first pass, one thread per (image b, piece j of the plane,
// block of {{ tile }} × {{ tile }} weights) on a flat grid:
// partial[b·pieces + j, r, k] = Σ_{p in piece j} dy[b, r, p] · x[b, k, p], four pixels at a time
// (P divisible by 4, R and K by the tile); each load serves a row or column of the block. A
// piece is `span` fours of pixels, `pieces` per plane (on GPUs at most 256 fours and enough
// pieces to fill the chip, on software adapters the plane whole).
// `column_sums.wgsl` then sums over the rows b·pieces + j.
// Launch: ceil(B·pieces·R/tile·K/tile / WG) workgroups, folded into y past 65,535.
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;  // [B, K, P/4]
@group(0) @binding(1) var<storage, read_write> dy: array<vec4<f32>>; // [B, R, P/4]
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;  // [B·pieces, R·K]
@group(0) @binding(3) var<uniform> params: array<vec4<u32>, 4>;     // [R, K, P/4, span, pieces, B]

const TILE: u32 = {{ tile }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = params[0].x;
    let depth = params[0].y;
    let quads = params[0].z;
    let span = params[0].w;
    let pieces = params[1].x;
    let batch = params[1].y;
    let blocks_k = depth / TILE;
    let blocks = rows / TILE * blocks_k;
    let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
    if (idx >= batch * pieces * blocks) {
        return;
    }
    let row = idx / blocks; // b · pieces + j
    let block = idx - row * blocks; // (r / tile) · K/tile + k / tile
    let b = row / pieces;
    let first = (row - b * pieces) * span;
    let last = min(first + span, quads);
    let r0 = block / blocks_k * TILE;
    let k0 = (block - block / blocks_k * blocks_k) * TILE;
    let dy_base = (b * rows + r0) * quads;
    let x_base = (b * depth + k0) * quads;
    var acc: array<vec4<f32>, {{ tile_squared }}>;
    for (var i = 0u; i < TILE * TILE; i = i + 1u) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var q = first; q < last; q = q + 1u) {
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
            partial[(row * rows + r0 + i) * depth + k0 + j] = a.x + a.y + a.z + a.w;
        }
    }
}
