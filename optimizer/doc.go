// Package optimizer finds the exact best split of a multi-task network over
// a topology (an ordered list of tiers, the device first, and the links
// between them): a placement (package placement) putting every node and
// task head on a tier and encoding every tensor that crosses a hop, under
// latency, energy and accuracy objectives and constraints. It also computes
// the Pareto set and the exact uplink bandwidths at which the optimum
// changes. Every method — exhaustive over block cuts, the ILP at block or
// layer level — returns placements; labels (a cut's name) are derived for
// people and never compared.
//
// A Problem is plain data; a Method solves it. The package never runs a
// network and never measures: costs come from profile.
package optimizer
