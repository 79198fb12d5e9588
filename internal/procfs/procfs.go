// Package procfs reads the "Key:   value kB" lines of Linux's /proc files
// (meminfo, self/status) that the engine's memory budget and the
// profiler's peak-memory reading both need.
package procfs

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// KiB reads the lines of r whose key (without the colon) is one of keys
// and whose value is a non-negative number of kB (KiB, as the kernel
// writes them), and returns those values by key; a key r lacks is absent.
func KiB(r io.Reader, keys ...string) map[string]int64 {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k+":"] = true
	}
	out := make(map[string]int64, len(keys))
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] != "kB" || !want[f[0]] {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil && v >= 0 {
			out[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return out
}
