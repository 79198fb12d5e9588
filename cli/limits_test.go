package cli

import (
	"strings"
	"testing"
)

// TestCountLimits runs the commands that once printed wrapped-around
// (negative) MACs and bytes with exit 0: each must now exit 2 with one line
// naming the flag and its valid range.
func TestCountLimits(t *testing.T) {
	const inputRange = "zoo models take square inputs of 1 to 16384 px"
	const classRange = "each task is a number of classes from 1 to 1000000"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"models, huge input", []string{"models", "--input", "100000000"}, "--input 100000000: " + inputRange},
		{"inspect, huge input", []string{"inspect", "resnet18", "--input", "2000000000"}, "--input 2000000000: " + inputRange},
		{"inspect, one pixel too many", []string{"inspect", "vgg16", "--input", "16385"}, "--input 16385: " + inputRange},
		{"inspect, int64 classes", []string{"inspect", "resnet18", "--tasks", "9223372036854775807"}, `--tasks "9223372036854775807": ` + classRange},
		{"inspect, classes past int64", []string{"inspect", "resnet18", "--tasks", "8,99999999999999999999"}, classRange},
		{"plan, huge input", []string{"plan", "resnet18", "--input", "2000000000"}, "--input 2000000000: " + inputRange},
		{"plan, int64 classes", []string{"plan", "resnet18", "--tasks", "9223372036854775807"}, classRange},
		{"plan, a million and one classes", []string{"plan", "resnet18", "--tasks", "1000001"}, classRange},
		{"sweep, huge input", []string{"sweep", "mobilenet_v3_small", "--input", "100000000"}, inputRange},
		{"plan, 17 tasks", []string{"plan", "resnet18", "--tasks", strings.Repeat("2,", 16) + "2"}, "names 17 tasks: at most 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := run(t, tc.args...)
			if code != 2 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2, one line with %q", code, out, errs, tc.want)
			}
		})
	}
	// The bounds themselves are valid.
	for _, args := range [][]string{
		{"inspect", "vgg16", "--input", "16384", "--tasks", "1000000", "-o", "json"},
		{"models", "--input", "16384", "-o", "csv"},
	} {
		out, errs, code := run(t, args...)
		if code != 0 || strings.Contains(out, ",-") || strings.Contains(out, ": -") {
			t.Errorf("%v: exit %d, %s; a negative count in %.200q", args, code, errs, out)
		}
	}
}
