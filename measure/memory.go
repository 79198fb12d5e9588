package measure

import (
	"io"
	"os"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/internal/procfs"
	"github.com/mtlsplit/mtlsplit/profile"
)

// PlannedMemory is the memory plan of p's graph with p's options, as the
// profile records it: what Compile added up before it allocated.
func PlannedMemory(p *engine.Program) (*profile.TableMemory, error) {
	m, err := engine.PlanMemory(p.Graph(), p.Options())
	if err != nil {
		return nil, err
	}
	return &profile.TableMemory{ParamsBytes: profile.Bytes(m.ParamBytes), WeightsBytes: profile.Bytes(m.WeightBytes),
		ActivationsBytes: profile.Bytes(m.ActivationBytes), ScratchBytes: profile.Bytes(m.ScratchBytes), TotalBytes: profile.Bytes(m.TotalBytes())}, nil
}

// statusPath is the kernel's per-process memory record (Linux only).
const statusPath = "/proc/self/status"

// PeakRSS follows the resident memory of this process from the moment it
// is made: Growth is how far the peak rose above the resident set at the
// start. Made where /proc does not exist, it reports nothing.
type PeakRSS struct {
	startRSS, startHWM int64
	reset, ok          bool
}

// StartPeakRSS reads the resident set now, and resets the kernel's
// high-water mark (VmHWM) so that an earlier, larger run does not hide
// this one's peak.
func StartPeakRSS() *PeakRSS {
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	rss, hwm, ok := readStatus()
	return &PeakRSS{startRSS: rss, startHWM: hwm, reset: reset, ok: ok}
}

// Growth is the rise of the peak resident set since StartPeakRSS, in
// bytes, ≥ 0; ok is false where it cannot be read.
func (p *PeakRSS) Growth() (bytes int64, ok bool) {
	if !p.ok {
		return 0, false
	}
	rss, hwm, ok := readStatus()
	if !ok {
		return 0, false
	}
	return growth(p.startRSS, p.startHWM, rss, hwm, p.reset), true
}

// growth is the peak's rise. With the mark reset, the peak since the start
// is hwm. Without, hwm is the whole process's and counts only when it
// rose; the current RSS is a lower bound either way.
func growth(startRSS, startHWM, rss, hwm int64, reset bool) int64 {
	g := rss - startRSS
	if reset || hwm > startHWM {
		g = max(g, hwm-startRSS)
	}
	return max(g, 0)
}

// readStatus reads VmRSS and VmHWM, in bytes.
func readStatus() (rss, hwm int64, ok bool) {
	f, err := os.Open(statusPath)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	return parseStatus(f)
}

// parseStatus reads "VmRSS:     1668 kB" lines; the kernel's kB are KiB.
func parseStatus(r io.Reader) (rss, hwm int64, ok bool) {
	v := procfs.KiB(r, "VmRSS", "VmHWM")
	rss, okR := v["VmRSS"]
	hwm, okH := v["VmHWM"]
	return rss * 1024, hwm * 1024, okR && okH
}
