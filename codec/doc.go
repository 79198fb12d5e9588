// Package codec names the encodings of a cut tensor on the wire (fp32,
// fp16, int8, int4, the raw uint8 image, each optionally followed by zstd)
// and gives their sizes, so that the planner (profile, optimizer) predicts
// exactly the bytes the runtime (engine, splitrun) writes.
//
// It is a leaf: vocabulary and arithmetic only. The encoders themselves are
// engine.Encode and engine.Decode; this package never touches a tensor, and
// imports nothing of the project but internal/suggest, so that the runtime
// can share it without linking the planner.
package codec
