//go:build !unix

package shapes3d

import "time"

func cpuTime() time.Duration { return 0 }
