package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/mtlsplit/mtlsplit/export"
)

// runProfileORT times the files of an export directory under ONNX
// Runtime: "profile DIR --measure --backend ort".
func runProfileORT(opts *ProfileOptions) error {
	switch {
	case opts.Runtime != "ort":
		return fmt.Errorf("--backend %q: want engine or ort", opts.Runtime)
	case !opts.Measure || opts.Accuracy || opts.Fidelity != 0 || opts.Out != "":
		return fmt.Errorf("--backend ort times the files of an export directory: it takes --measure, and neither --accuracy, --fidelity nor --out")
	case opts.Reps < 1 || opts.Warmup < 0:
		return fmt.Errorf("--reps %d --warmup %d: want at least one timed run and no negative warm-up", opts.Reps, opts.Warmup)
	}
	if st, err := os.Stat(opts.Model); err != nil || !st.IsDir() {
		return fmt.Errorf("profile --backend ort %s: give the directory 'mtlsplit export --out DIR' wrote", opts.Model)
	}
	lib := opts.ORTLib
	if lib == "" {
		lib = export.FindORT()
	}
	if lib == "" {
		return fmt.Errorf("--backend ort: no libonnxruntime.so found; give --ort-lib or $ORT_LIB (make bench-engine fetches it from the npm package onnxruntime-node)")
	}
	if _, err := os.Stat(lib); err != nil {
		return fmt.Errorf("--ort-lib %s: %w", lib, err)
	}
	// Parse the manifest first: a bad directory is the user's to fix.
	if _, _, err := export.ReadManifest(opts.Model); err != nil {
		return err
	}
	ts, err := export.TimeORT(opts.Model, lib, export.TimeSettings{Reps: opts.Reps, Warmup: opts.Warmup, Threads: opts.Threads})
	if errors.Is(err, export.ErrORTLoad) {
		return err
	}
	if err != nil {
		return internal(err)
	}
	switch opts.Format {
	case "json":
		return writeJSON(opts.IO.Out, ts)
	case "yaml":
		return writeYAML(opts.IO.Out, ts)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s under ONNX Runtime on this machine (batch 1, %d reps after %d warm-up)\n", opts.Model, opts.Reps, opts.Warmup)
	fmt.Fprintf(w, "%-16s %-6s %-14s %10s %10s\n", "FILE", "TIER", "PLAN DEVICE", "MEDIAN ms", "P90 ms")
	for _, t := range ts {
		fmt.Fprintf(w, "%-16s %-6d %-14s %10.2f %10.2f\n", t.File, t.Tier, t.Device, t.MedianMS, t.P90MS)
	}
	return nil
}
