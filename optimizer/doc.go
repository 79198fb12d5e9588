// Package optimizer finds the exact best split of a multi-task network: the
// cut, the encoding of the cut tensor and the side each task head runs on,
// under latency, energy and accuracy objectives and constraints. It also
// computes the Pareto set and the exact uplink bandwidths at which the
// optimum changes.
//
// A Problem is plain data; a Method solves it. The package never runs a
// network and never measures: costs come from profile.
package optimizer
