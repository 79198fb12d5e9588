// Package experiments reproduces the paper's studies and runs scenario
// sweeps: it builds problems from the zoo and the catalog, solves them and
// hands the numbers to results. It never solves or measures by itself.
package experiments
