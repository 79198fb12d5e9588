package engine

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// arm64Tests are the tests TestARM64UnderQEMU runs under emulation: the
// NEON kernels against Go and float64 references, the NEON GEMM's results
// independent of the thread count, the memory plan of the native backend,
// and every PyTorch fixture on the native backend (gonum is skipped: it is
// pure Go, tested natively). The split and batch tests would take half an
// hour under qemu.
const arm64Tests = "^(TestNEONSelected|TestActivations|TestNativeMaxPoolMatchesGo|TestThreadsGiveSameBits|" +
	"TestMemoryPlanMatchesCompile|TestMatchesPyTorch)$"

// arm64Tol is the relative error to PyTorch every fixture must stay within
// on the NEON path (measured: at most 1.6e-6).
const arm64Tol = 1e-5

// TestARM64UnderQEMU cross-compiles this package's tests for linux/arm64 as
// the release binary is built (cgo with Debian's aarch64 gcc, so the NEON
// kernels of native_arm64.c, no OpenBLAS, linked statically) and runs
// arm64Tests under qemu-aarch64. Emulation checks correctness only: its
// speed says nothing about a real arm64 CPU's.
func TestARM64UnderQEMU(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("on arm64 this test binary runs the NEON kernels itself")
	}
	if testing.Short() {
		t.Skip("-short: the arm64 build and its emulated run take a minute or two")
	}
	goTool := lookTool(t, "go")
	cc := lookTool(t, "aarch64-linux-gnu-gcc")
	qemu := lookTool(t, "qemu-aarch64-static", "qemu-aarch64")
	dir := t.TempDir()
	probeQEMU(t, cc, qemu, dir)

	bin := filepath.Join(dir, "engine.test")
	build := exec.Command(goTool, "test", "-c", "-tags", "noopenblas", "-ldflags=-extldflags=-static", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux", "GOARCH=arm64", "CC="+cc)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-compile the engine's tests for arm64: %v\n%s", err, out)
	}
	start := time.Now()
	run := exec.Command(qemu, bin, "-test.run", arm64Tests, "-test.skip", "^TestMatchesPyTorch$/^gonum/",
		"-test.v", "-test.count=1", "-test.timeout=8m")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("arm64 tests under %s failed: %v\n%s\nfailures:\n%s", filepath.Base(qemu), err, lastLines(out, 40), failures(out))
	}
	checkARM64Run(t, out)
	t.Logf("arm64 tests ran under %s in %s (emulated: not a measure of arm64 speed)",
		filepath.Base(qemu), time.Since(start).Round(time.Second))
}

// checkARM64Run asserts that every selected test and fixture passed on the
// native backend, and that every fixture's relative error is within
// arm64Tol.
func checkARM64Run(t *testing.T, out []byte) {
	t.Helper()
	want := strings.Split(strings.Trim(arm64Tests, "^()$"), "|")
	for _, c := range fixtureCases {
		want = append(want, fmt.Sprintf("TestMatchesPyTorch/%s/%s", BackendNative, c.name))
	}
	for _, name := range want {
		if !bytes.Contains(out, []byte("--- PASS: "+name+" ")) {
			t.Errorf("%s did not pass under qemu\n%s", name, lastLines(out, 80))
		}
	}
	rel := regexp.MustCompile(`relative(?: to output scale)? (\S+)`).FindAllSubmatch(out, -1)
	if len(rel) < len(fixtureCases) {
		t.Fatalf("found %d relative errors in the output, want one per fixture output (≥ %d)", len(rel), len(fixtureCases))
	}
	worst := 0.0
	for _, m := range rel {
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatalf("relative error %q: %v", m[1], err)
		}
		worst = max(worst, v)
	}
	if worst > arm64Tol {
		t.Errorf("NEON path: relative error to PyTorch up to %.3g > %g", worst, arm64Tol)
	}
	t.Logf("arm64 (NEON): %d fixture outputs, relative error to PyTorch at most %.3g", len(rel), worst)
}

// lookTool finds the first of names on PATH. Without it the test fails in
// CI (scripts/setup.sh installs them all) and is skipped elsewhere.
func lookTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not on PATH (make setup installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user-static)",
		strings.Join(names, " or "))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// probeQEMU skips the test when qemu cannot run an arm64 program at all
// here (a sandbox without the syscalls it needs): a static C program that
// does nothing, from the same cross compiler.
func probeQEMU(t *testing.T, cc, qemu, dir string) {
	t.Helper()
	src, bin := filepath.Join(dir, "probe.c"), filepath.Join(dir, "probe")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-static", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("%s cannot build a static arm64 program: %v\n%s", cc, err, out)
	}
	if out, err := exec.Command(qemu, bin).CombinedOutput(); err != nil {
		t.Skipf("%s cannot run arm64 programs on this machine: %v\n%s", qemu, err, out)
	}
}

// testError is a t.Errorf line that says what was wanted.
var testError = regexp.MustCompile(`_test\.go:\d+: .*want`)

// failures are the lines of a verbose test run that report a failure.
func failures(out []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "--- FAIL") || strings.Contains(l, "panic") || testError.MatchString(l) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// lastLines is the end of a long output, for failure messages.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
