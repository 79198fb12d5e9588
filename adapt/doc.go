// Package adapt lets the edge follow a plan's switch table at run time: an
// Estimator turns the edge's own transfers into uplink samples, and a
// Policy picks the row of the switch table with the lowest expected cost
// over them, with hysteresis and a minimum dwell, so the split does not
// flap when the uplink sits at a breakpoint.
//
// It must never measure the network itself (callers feed it the bytes and
// times of transfers they made, or of a probe they sent when Idle says one
// is due), never sleep or read the wall clock in its decisions (time is
// passed in or injected), and never solve anything: the rows and their
// boundaries come from the plan, which the optimizer wrote.
package adapt
