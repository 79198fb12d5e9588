//go:build !cgo

package export

import "fmt"

func (b *Bundle) ortRunner(string) (runner, error) {
	return nil, fmt.Errorf("%w any library: this build has no cgo", ErrORTLoad)
}

// TimeORT needs cgo to load ONNX Runtime.
func TimeORT(dir, lib string, s TimeSettings) ([]FileTiming, error) {
	return nil, fmt.Errorf("%w any library: this build has no cgo", ErrORTLoad)
}
