// Package plan is the deployment plan: the contract between planning and
// running. It holds the schema and knows how to Load, Validate and Write a
// plan; the optimizer fills it and the runtime reads it.
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
