package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for mtlsplit: a child started with
// MTLSPLIT_AS_MAIN=1 runs main, so the tests below see what a user sees —
// exit codes, signals and the Go runtime's fatal errors, which no in-process
// test survives.
func TestMain(m *testing.M) {
	if os.Getenv("MTLSPLIT_AS_MAIN") == "1" {
		// Bound the child's address space: an input that makes it allocate
		// without limit fails fast here instead of starving the machine.
		lim := &syscall.Rlimit{Cur: 6 << 30, Max: 6 << 30}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
			panic(err)
		}
		main()
	}
	os.Exit(m.Run())
}

// mtlsplit runs the CLI in a child process and returns its output and how
// it ended.
func mtlsplit(t *testing.T, args ...string) (stdout, stderr string, code int, signal string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MTLSPLIT_AS_MAIN=1")
	cmd.Dir = t.TempDir()
	var out, errw strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errw
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			signal = ws.Signal().String()
		}
	default:
		t.Fatal(err)
	}
	return out.String(), errw.String(), code, signal
}

// TestNoCrashOnHostileInput runs the inputs that used to crash the tool or
// print garbage: each must end with the expected exit code, no signal and,
// when it fails, one line on stderr.
func TestNoCrashOnHostileInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// A measured profile and a plan as the tool writes them, then spoiled.
	run := func(args ...string) {
		if _, stderr, code, _ := mtlsplit(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
	}
	profile, planFile := filepath.Join(dir, "p.yaml"), filepath.Join(dir, "plan.yaml")
	run("profile", "mobilenet_v3_small", "--measure", "--reps", "1", "--warmup", "0", "-q", "--out", profile)
	run("plan", "efficientnet_b0", "--device", "rpi4", "--server", "h100", "--network", "wifi", "--tasks", "8,4", "--encodings", "fp32,fp16,int8", "--out", planFile)
	spoil := func(name, file, old, new string) string {
		b, err := os.ReadFile(file)
		if err != nil || !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q", file, old)
		}
		return write(name, strings.Replace(string(b), old, new, 1))
	}
	nanProfile := spoil("nan.yaml", profile, "median_ms: ", "median_ms: .nan #")
	negProfile := spoil("neg.yaml", profile, "median_ms: ", "median_ms: -1 #")
	int3Plan := spoil("int3.yaml", planFile, "encoding: int8", "encoding: int3")
	nanUplink := spoil("uplink.yaml", planFile, "uplink_mbps: 18.88", "uplink_mbps: .nan")
	negRTT := spoil("rtt.yaml", planFile, "rtt_ms: 20", "rtt_ms: -20")
	fp16Plan := spoil("fp16.yaml", planFile, "encoding: int8", "encoding: fp16")
	layer := []string{"--granularity", "layer", "--encodings", "fp32", "-o", "json"}
	tests := []struct {
		name string
		args []string
		code int
		want string // a substring of stderr when code ≠ 0
	}{
		{"cbc abort wifi", append([]string{"plan", "resnet18", "--device", "rpi4", "--server", "epyc-16c", "--network", "wifi", "--tasks", "8"}, layer...), 0, ""},
		{"cbc abort 3g two tasks", append([]string{"plan", "resnet18", "--device", "rpi5", "--server", "epyc-16c", "--network", "3g", "--tasks", "8,4"}, layer...), 0, ""},
		{"cbc abort rtt", append([]string{"plan", "resnet18", "--device", "rpi4", "--server", "epyc-16c", "--network", "wifi6", "--tasks", "8", "--rtt-ms", "5"}, layer...), 0, ""},
		{"models huge input", []string{"models", "--input", "100000000"}, 2, "input"},
		{"inspect huge input", []string{"inspect", "resnet18", "--input", "2000000000"}, 2, "input"},
		{"huge class count", []string{"plan", "resnet18", "--tasks", "9223372036854775807"}, 2, "tasks"},
		{"infer huge size", []string{"infer", "vgg16", "--size", "100000", "--input", "x.f32", "--out", "y.f32"}, 2, ""},
		{"fidelity huge input", []string{"profile", "resnet18", "--fidelity", "1", "--input", "100000"}, 2, ""},
		{"NaN in a measured profile", []string{"plan", "mobilenet_v3_small", "--profile", nanProfile}, 2, "nan.yaml"},
		{"negative latency in a profile", []string{"plan", "mobilenet_v3_small", "--profile", negProfile}, 2, "neg.yaml"},
		{"NaN in calibration", []string{"calibrate", "--profile", nanProfile}, 2, "nan.yaml"},
		{"plan with encoding int3", []string{"run", "--plan", int3Plan, "--n", "1"}, 2, "int3"},
		{"plan with NaN uplink", []string{"run", "--plan", nanUplink, "--n", "1"}, 2, "uplink"},
		{"plan with negative RTT", []string{"run", "--plan", negRTT, "--n", "1"}, 2, "rtt"},
		{"plan whose encoding no longer matches its bytes", []string{"serve", "--plan", fp16Plan}, 2, "encoding"},
		{"plan out to a directory", []string{"plan", "resnet18", "--out", dir}, 2, "directory"},
		{"near-miss subcommand", []string{"experiment", "scenario"}, 2, "scenarios"},
		{"serve on every interface", []string{"serve", "--plan", planFile, "--listen", ""}, 2, "listen"},
		{"negative threads", []string{"serve", "--plan", planFile, "--threads", "-1"}, 2, "threads"},
		{"export a spoiled plan", []string{"export", "--plan", int3Plan, "--out", filepath.Join(dir, "x")}, 2, "int3"},
		{"export over a directory", []string{"export", "--plan", planFile, "--out", dir}, 2, "--force"},
		{"export checked with a non-library", []string{"export", "--plan", planFile, "--out", filepath.Join(dir, "y"), "--check", "--samples", "1", "--ort-lib", planFile}, 2, "ONNX Runtime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code, signal := mtlsplit(t, tc.args...)
			if signal != "" {
				t.Fatalf("killed by %s: %s", signal, lastLines(stderr, 3))
			}
			for _, s := range []string{"goroutine ", "panic:", "fatal error:", "Assertion"} {
				if strings.Contains(stderr, s) {
					t.Fatalf("stderr shows a crash (%q): %s", s, lastLines(stderr, 3))
				}
			}
			if code != tc.code {
				t.Fatalf("exit code %d, want %d: %s", code, tc.code, lastLines(stderr, 3))
			}
			if code != 0 && (strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want)) {
				t.Errorf("want one line naming %q, got %q", tc.want, stderr)
			}
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
