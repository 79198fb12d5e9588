// Package results writes what people look at: tables as CSV and figures as
// PNG or SVG. It knows nothing of networks or solvers — it is given numbers
// and draws them.
package results
