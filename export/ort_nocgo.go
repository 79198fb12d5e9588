//go:build !cgo || noort

package export

import "fmt"

func (b *Bundle) ortRunner(string) (runner, error) {
	return nil, fmt.Errorf("%w any library: this build has no cgo or was built with tag noort (the static arm64 release)", ErrORTLoad)
}

// TimeORT needs cgo, and no tag noort, to load ONNX Runtime.
func TimeORT(dir, lib string, s TimeSettings) ([]FileTiming, error) {
	return nil, fmt.Errorf("%w any library: this build has no cgo or was built with tag noort (the static arm64 release)", ErrORTLoad)
}
