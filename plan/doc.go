// Package plan is the deployment plan: the contract between planning and
// running. It holds the schema and knows how to Load, Validate and Write a
// plan; the optimizer fills it and the runtime reads it.
//
// It is a leaf package: it never imports a solver, a model zoo or a device
// catalog, so a runtime that reads plans links none of them.
package plan
