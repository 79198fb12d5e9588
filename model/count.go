package model

import (
	"fmt"
	"math"
	"math/bits"
)

// Every count of a graph (elements, parameters, MACs, and the bytes later
// made of them) is an int64. The builder refuses a graph whose counts do
// not fit rather than letting them wrap around to garbage.
const (
	// MaxElems bounds the elements of all the graph's tensors together, and
	// its parameters together, so that their bytes at up to 8 bytes per
	// element (an fp64 value; fp32 weights plus fp32 activations) fit in an
	// int64.
	MaxElems int64 = math.MaxInt64 / 8
	// MaxOps bounds a graph's MACs and any node's elementwise operations.
	MaxOps int64 = math.MaxInt64
)

// Policy bounds on what the zoo builds: far beyond any use of these
// networks, and far below what int64 counts allow for every zoo model.
const (
	// MaxInputSize is the largest input side New builds: 16384 px is a
	// 268-megapixel image, whose first activations already take about
	// 70 GB in fp32.
	MaxInputSize = 16384
	// MaxClasses is the most classes a task head may have: a million,
	// beyond the largest classification vocabularies in use (ImageNet-21k
	// has 21,841).
	MaxClasses = 1_000_000
)

// product multiplies non-negative factors; ok is false when the product
// exceeds limit. The float product is exact enough for a message.
func product(limit int64, factors ...int64) (n int64, f float64, ok bool) {
	n, f, ok = 1, 1, true
	for _, x := range factors {
		n, f, ok = times(limit, n, f, ok, x)
	}
	return n, f, ok
}

// times is one step of product: n·x if it stays within limit, and the
// float product f·x either way.
func times(limit, n int64, f float64, ok bool, x int64) (int64, float64, bool) {
	f *= float64(x)
	hi, lo := bits.Mul64(uint64(n), uint64(x))
	if !ok || x < 0 || hi != 0 || lo > uint64(limit) {
		return 0, f, false
	}
	return int64(lo), f, true
}

// sum adds non-negative terms; ok is false when the sum exceeds limit.
func sum(limit int64, terms ...int64) (n int64, ok bool) {
	for _, x := range terms {
		if x < 0 || x > limit-n {
			return 0, false
		}
		n += x
	}
	return n, true
}

// limitError says a count at node lbl would exceed limit.
func limitError(lbl nodeLabel, what string, value float64, unit string, limit int64) error {
	return fmt.Errorf("%s: %s would be %.3g %s, more than the %.3g an int64 count allows", lbl, what, value, unit, float64(limit))
}

// nodeLabel names a node in messages by its op and name, formatted only
// when a message is made.
type nodeLabel struct {
	op   Op
	name string
}

func label(op Op, name string) nodeLabel { return nodeLabel{op, name} }

func (l nodeLabel) String() string { return fmt.Sprintf("%s %q", l.op, l.name) }
