// Package shapes3d renders scenes like DeepMind's 3D Shapes (3dshapes)
// dataset on demand: a room with a floor and walls, one shaded object,
// indexed by six factors exactly as the original (480,000 scenes, floor hue
// slowest, orientation fastest). It also holds the MTL-Split paper's
// out-of-distribution colour split, seeded sampling, salt-and-pepper noise
// and a writer for an image folder with labels.csv.
//
// Nothing is stored: every scene is a pure function of its factors and the
// image size, so the full scene space exists without a download. The
// renderer must stay deterministic (no clocks, no unseeded randomness, no
// data races between workers): tests pin hashes of rendered scenes.
// It is not the original dataset — the scene geometry, lighting and capsule
// pose are this package's choices, documented in render.go.
package shapes3d
