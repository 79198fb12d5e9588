// Package plan is the deployment plan: the contract between planning and
// running. It holds the schema and knows how to Load, Validate and Write a
// plan; the optimizer fills it and the runtime reads it.
//
// A plan records a topology (tiers, the device first, each with the link
// into it) and, for its choice and for every switch table row, a placement:
// the tier of every graph node, the tier of every task's result and every
// tensor crossing a hop (package placement). Cut names, encodings and block
// lists are labels for people; the placement is what a runtime runs and
// what two rows are compared by.
//
// A plan is checked against itself before it is trusted: every number
// finite and in range, every encoding known, the bytes of every cut tensor
// those of its shape in its encoding, the choice, heads, tiers and switch
// table agreeing with each other. Problems are reported at file:line and
// field path.
//
// It is a leaf package: it never imports a solver, a model zoo or a device
// catalog, so a runtime that reads plans links none of them.
package plan
