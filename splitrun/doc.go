// Package splitrun executes a deployment plan's placement (its choice, or
// any switch table row): the device runs its nodes, encodes the tensors
// crossing its uplink and sends them over a real TCP socket; each tier
// behind decodes them, runs its nodes, sends on what crosses the next hop
// and returns the results of the tasks finished at or beyond it; the
// device runs its own heads meanwhile. Block cuts, cuts between layers and
// placements over more tiers take the same path.
// Each inference is timed part by part and set against the plan's
// prediction.
//
// It reads plans (package plan) and runs graphs (package engine); it never
// solves or plans.
package splitrun
