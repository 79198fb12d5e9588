package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// ManifestFile is the manifest's name in the output directory.
const ManifestFile = "manifest.yaml"

// Write writes the bundle under dir, every file atomically. An existing
// dir is refused unless force is set, and then only the bundle's own
// files are replaced.
func (b *Bundle) Write(dir string, force bool) error {
	if err := CheckOut(dir, force); err != nil {
		return err
	}
	m, err := yaml.Marshal(b.Manifest)
	if err != nil {
		return err
	}
	b.Files[ManifestFile] = m
	for _, p := range b.Paths() {
		path := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(path, b.Files[p], force); err != nil {
			return err
		}
	}
	return nil
}

// CheckOut refuses an output directory that exists (unless force) or is
// a file, before any work is done.
func CheckOut(dir string, force bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("--out %s is a file; give a directory", dir)
	case !force:
		return fmt.Errorf("--out %s exists (pass --force to replace the export's files in it)", dir)
	}
	return nil
}

// ErrORTLoad is wrapped by the error for a library ONNX Runtime cannot
// load from (a wrong --ort-lib).
var ErrORTLoad = errors.New("cannot load ONNX Runtime from")

// FindORT is ONNX Runtime's shared library: $ORT_LIB, else the copy
// scripts/bench-engine.sh installs (npm onnxruntime-node) in the cache;
// "" when there is none.
func FindORT() string {
	if p := os.Getenv("ORT_LIB"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	found, _ := filepath.Glob(filepath.Join(cache, "mtlsplit", "bench", "ort", "node_modules", "onnxruntime-node", "bin", "napi-v*", runtime.GOOS, arch, "libonnxruntime.so.1"))
	if len(found) == 0 {
		return ""
	}
	return found[len(found)-1]
}
