// Package hwprofiles is the catalog of hardware that mtlsplit plans for:
// edge devices, servers and networks, each described by a few numbers (peak
// GFLOPS, memory bandwidth, memory size, per-layer overhead, per-op-class
// efficiency, power; uplink, downlink, RTT, radio power).
//
// The default catalog is a set of YAML files embedded in the binary
// (catalog/*.yaml), together with the measured latency tables that some
// entries refer to (measured/*.json). Users add or replace entries with their
// own files: Load reads a file or a directory, and Merge lays a user catalog
// over the default one.
//
// Stack entries (catalog/stacks.yaml) describe an edge device as one
// inference stack runs it (TensorRT, ncnn, TFLite, ...): precision, threads,
// clock, and the stack's efficiencies and per-layer and per-call costs,
// fitted across devices to the published latencies embedded from
// published/edge_latency.csv (package stackfit writes them). DeviceStack
// returns the device with a stack's numbers.
//
// Every number carries its Source: a URL, "measured: FILE", "derived: ..."
// (arithmetic from cited facts), "estimate: ..." (with the reason), or
// "fitted: ...". A number without a source is a validation error.
//
// Files are decoded strictly (unknown keys and a second YAML document are
// errors) and Validate reports every problem at once, each as "file:line: ...".
//
// What this package must never do: compute costs. It holds facts and where
// they came from; turning them into layer latencies or energies belongs to
// the profile package, and choosing a split to the optimizer. It never
// panics on any input, and it never reads the network or the environment.
package hwprofiles
