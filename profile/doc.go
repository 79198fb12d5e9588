// Package profile turns a model graph and a device into costs: the latency of
// every layer, block and head (predicted from the device's cost model, or
// imported from a measured table, which then wins), the bytes of every cut
// tensor per encoding, edge memory, and per-task accuracy per cut and
// encoding.
//
// The package never decides: it only answers "what does this cost".
package profile
