package shapes3d

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/mtlsplit/mtlsplit/internal/cores"
)

// WriteOptions say how Write renders and stores the scenes.
type WriteOptions struct {
	Size  int     // image side in pixels; 0 means 64
	Noise float64 // salt-and-pepper probability per pixel
	Seed  uint64  // seeds the noise (with each scene's index)
	// Force replaces an existing non-empty directory.
	Force bool
	// Workers render and encode in parallel; 0 means GOMAXPROCS. The
	// output does not depend on it.
	Workers int
	// Progress, if set, hears how many scenes are done (from one goroutine).
	Progress func(done, total int)
}

// ImagePath is where Write stores a scene, relative to the directory.
func ImagePath(index int) string { return fmt.Sprintf("img/%06d.png", index) }

// Write renders the scenes (indices into the full scene space) into dir as
// img/NNNNNN.png files named by scene index, plus labels.csv with the
// header "file,floor_hue,wall_hue,object_hue,scale,shape,orientation" and
// one row of class indices per scene, in the order given. It builds
// everything in a temporary sibling directory and renames it into place,
// so dir is never seen half written. An existing dir that is not empty is
// replaced only with Force; a file is never replaced.
func Write(dir string, indices []int, opts WriteOptions) error {
	if opts.Size == 0 {
		opts.Size = 64
	}
	if err := CheckNoise(opts.Noise); err != nil {
		return err
	}
	r, err := NewRenderer(opts.Size)
	if err != nil {
		return err
	}
	scenes := make([]Factors, len(indices))
	seen := make(map[int]bool, len(indices))
	for i, idx := range indices {
		if scenes[i], err = FromIndex(idx); err != nil {
			return err
		}
		if seen[idx] {
			return fmt.Errorf("shapes3d: scene %d listed twice", idx)
		}
		seen[idx] = true
	}
	exists, err := checkTarget(dir, opts.Force)
	if err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	if err := fill(tmp, r, scenes, opts); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if exists {
		old := tmp + "-old"
		if err := os.Rename(dir, old); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		defer os.RemoveAll(old)
	}
	return os.Rename(tmp, dir)
}

// checkTarget says whether dir exists, and refuses it when it is a file or
// a non-empty directory without force.
func checkTarget(dir string, force bool) (bool, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s is a file, not a directory (choose another output directory)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	if len(entries) > 0 && !force {
		return false, fmt.Errorf("%s exists and is not empty (use --force to replace it)", dir)
	}
	return true, nil
}

// fill writes the images with a pool of workers, then labels.csv.
func fill(dir string, r *Renderer, scenes []Factors, opts WriteOptions) error {
	if err := os.Mkdir(filepath.Join(dir, "img"), 0o755); err != nil {
		return err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = cores.N()
	}
	jobs := make(chan Factors)
	errs := make(chan error, len(scenes))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img := image.NewRGBA(image.Rect(0, 0, r.Size(), r.Size()))
			enc := pngEncoder()
			var buf bytes.Buffer
			for f := range jobs {
				r.RenderInto(img, f)
				SaltPepper(img, opts.Noise, NoiseSource(opts.Seed, f.Index()))
				buf.Reset()
				err := enc.Encode(&buf, img)
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, ImagePath(f.Index())), buf.Bytes(), 0o644)
				}
				errs <- err
			}
		}()
	}
	go func() {
		for _, f := range scenes {
			jobs <- f
		}
		close(jobs)
	}()
	var first error
	for done := 1; done <= len(scenes); done++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
		if opts.Progress != nil {
			opts.Progress(done, len(scenes))
		}
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return writeLabels(filepath.Join(dir, "labels.csv"), scenes)
}

func writeLabels(path string, scenes []Factors) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString("file")
	for _, c := range Columns {
		w.WriteString("," + c)
	}
	w.WriteString("\n")
	for _, s := range scenes {
		w.WriteString(ImagePath(s.Index()))
		for _, v := range s.values() {
			w.WriteString("," + strconv.Itoa(v))
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pngEncoder favours speed over size (noisy 64×64 scenes hardly compress)
// and keeps its compressor between images: allocating a new one per image
// costs more than the encoding itself.
func pngEncoder() *png.Encoder {
	return &png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: new(onePool)}
}

// onePool holds one encoder buffer: each worker has its own encoder, so
// there is nothing to share.
type onePool struct{ b *png.EncoderBuffer }

func (p *onePool) Get() *png.EncoderBuffer  { return p.b }
func (p *onePool) Put(b *png.EncoderBuffer) { p.b = b }
