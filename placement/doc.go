// Package placement is the one description of a split: over an ordered
// list of tiers (the device first; two tiers is the common case, not a
// special one), the tier of every graph node and of every task's result,
// and every tensor that crosses a hop with its encoding. The optimizer's
// searches produce placements, plans record them and the runtime executes
// them; a block cut is simply a placement whose backbone tiers rise at a
// block boundary.
//
// It is a leaf: it knows no graph, no solver and no file format, so that
// the plan schema and the runtime can share it without linking either.
// Labels for people (a cut's name, "all on edge") are derived from a
// placement and a graph elsewhere; they never decide identity: Equal does.
package placement
