//go:build !amd64 || amd64.v3

package shapes3d

// exactFloats: the compiler may fuse multiply-adds here, so golden hashes
// of rendered scenes are not checked.
const exactFloats = false
