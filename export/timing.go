package export

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
)

// TimeSettings are how TimeORT times the files.
type TimeSettings struct {
	Reps, Warmup int
	// Threads is ONNX Runtime's intra-op thread count (0: its default).
	Threads int
}

// FileTiming is one file's latency for one sample (batch 1).
type FileTiming struct {
	File     string  `json:"file" yaml:"file"`
	Tier     int     `json:"tier" yaml:"tier"`
	Device   string  `json:"device" yaml:"device"`
	MedianMS float64 `json:"median_ms" yaml:"median_ms"`
	P90MS    float64 `json:"p90_ms" yaml:"p90_ms"`
}

// ReadManifest reads dir's manifest and checks every file it lists against
// its SHA-256, returning the files' bytes by name.
func ReadManifest(dir string) (*Manifest, map[string][]byte, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("%s has no %s: give a directory 'mtlsplit export --out' wrote", dir, ManifestFile)
	} else if err != nil {
		return nil, nil, err
	}
	var m Manifest
	if err := strictyaml.Decode(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Version != ManifestVersion {
		return nil, nil, fmt.Errorf("%s: version %d; this build reads version %d (export the plan again)", path, m.Version, ManifestVersion)
	}
	files := map[string][]byte{}
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			return nil, nil, err
		}
		if sum := SHA256(b); sum != f.SHA256 {
			return nil, nil, fmt.Errorf("%s has SHA-256 %s, but %s lists %s: the directory was changed after export", f.Name, sum, path, f.SHA256)
		}
		files[f.Name] = b
	}
	return &m, files, nil
}
