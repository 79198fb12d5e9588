// Package splitrun executes a deployment plan: an edge process runs the
// backbone up to the cut, encodes the cut tensor and sends it over a real
// TCP socket; a server process decodes it, runs the rest and the server's
// heads, and returns their results; the edge runs its own heads meanwhile.
// Each inference is timed part by part and set against the plan's
// prediction.
//
// It reads plans (package plan) and runs graphs (package engine); it never
// solves or plans.
package splitrun
