// Package stackfit fits the catalog's inference-stack entries to published
// batch-1 latencies (hwprofiles/published/edge_latency.csv): it says how
// every published row ran (board, unit, precision, threads, clock, with the
// datasheet peak and bandwidth that go with them and their sources), builds
// the published networks as whole classifiers, fits each stack's shared
// numbers with profile.FitStacks, and writes the catalog file, the
// leave-one-out table and the README's tables ("make calibrate-stacks",
// which runs this package's tests with -update). Its tests fail when the
// committed files drift from the fit.
//
// It must never be imported by the planner or the runtime: they read the
// catalog it wrote, through hwprofiles.
package stackfit
